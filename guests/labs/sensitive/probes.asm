; sensitive: the far-transfer and IRET probes (each returns what it observed in EAX).
bits 32

section .text

; far CALL: the callee reads the CS selector the call pushed (its RPL is the caller's CPL).
global probe_farcall
probe_farcall:
  call dword 0x08:.callee
  ret
.callee:
  mov eax, [esp+4]
  and eax, 0xffff
  retf

; far JMP to the kernel code selector: the CS it arrives with.
global probe_farjmp
probe_farjmp:
  jmp dword 0x08:.next
.next:
  xor eax, eax
  mov ax, cs
  ret

; far RET to the kernel code selector (RPL 0): the CS it arrives with.
global probe_farret
probe_farret:
  push dword 0x08
  push dword .next
  retf
.next:
  xor eax, eax
  mov ax, cs
  ret

; IRET with IF = 1 and IOPL = 3 in the image: the IF and IOPL bits it really loaded.
global probe_iret
probe_iret:
  pushfd
  pop eax
  or eax, 0x3200
  xor ecx, ecx
  mov cx, cs
  push eax
  push ecx
  push dword .next
  iret
.next:
  pushfd
  pop eax
  push dword 0x2                ; back to IF = 0, IOPL = 0
  popfd
  and eax, 0x3200
  ret
