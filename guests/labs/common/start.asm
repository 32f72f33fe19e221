; Entry, Multiboot v1 header, trap stubs and setjmp/longjmp shared by the lab kernels.
bits 32

MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x3                ; page-aligned modules, memory information

section .multiboot
align 4
  dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

section .bss
align 16
  resb 16384
global boot_stack_top
boot_stack_top:
  resb 8192
global int_stack_top            ; ring-0 stack for crossings from ring 3 (TSS.esp0, SYSENTER)
int_stack_top:

section .text
extern lab_main
extern lab_trap
global _start
_start:
  cli
  mov esp, boot_stack_top
  push ebx                      ; Multiboot information
  push eax                      ; 0x2BADB002
  call lab_main
.stop:
  cli
  hlt
  jmp .stop

; One stub per vector: push a dummy error code where the CPU pushes none, then the vector.
%macro STUB 1
global isr_stub_%1
isr_stub_%1:
%if %1 = 8 || (%1 >= 10 && %1 <= 14) || %1 = 17
  push dword %1
%else
  push dword 0
  push dword %1
%endif
  jmp isr_common
%endmacro

%assign v 0
%rep 256
STUB v
%assign v v+1
%endrep

; Frame for lab_trap: es, ds, pushad block, vector, error, eip, cs, eflags (, esp, ss).
isr_common:
  pushad
  push ds
  push es
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  push esp
  call lab_trap
  add esp, 4
  pop es
  pop ds
  popad
  add esp, 8
  iret

section .rodata
global isr_stub_table
isr_stub_table:
%assign v 0
%rep 256
  dd isr_stub_%[v]
%assign v v+1
%endrep

section .text
; int lab_setjmp(u32 buf[6]); void lab_longjmp(u32 buf[6], int value)
global lab_setjmp
lab_setjmp:
  mov eax, [esp+4]
  mov [eax], ebx
  mov [eax+4], esi
  mov [eax+8], edi
  mov [eax+12], ebp
  lea ecx, [esp+4]
  mov [eax+16], ecx             ; esp after return
  mov ecx, [esp]
  mov [eax+20], ecx             ; return address
  xor eax, eax
  ret

global lab_longjmp
lab_longjmp:
  mov edx, [esp+4]
  mov eax, [esp+8]
  mov ebx, [edx]
  mov esi, [edx+4]
  mov edi, [edx+8]
  mov ebp, [edx+12]
  mov esp, [edx+16]
  jmp [edx+20]
