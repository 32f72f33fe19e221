; Guest code for test/unit/protected.test.ts. Built with:
;   nasm -f bin -o pm.bin pm.asm
; Loaded at guest-physical 0x10000. The test builds the GDT, IDT and TSSs (see
; test/unit/protected-harness.ts) and starts each scenario at its fixed entry point.
; Selectors: 08 code0, 10 data0, 1B code3, 23 data3, 28 TSS A, 30 TSS B, 3B call gate (DPL 3),
; 43 task gate (DPL 3) to TSS B, 48 not-present data, 50 16-bit call gate, 58 code0 16-bit.
; Handlers write through SS (flat ring-0 data) so they work whatever DS holds.

bits 32
org 0x10000

%macro pad_to 1
  times (%1 - 0x10000) - ($ - $$) nop
%endmacro

; ---- 0x10000: far call through a 32-bit call gate from ring 3, two parameters ---------------
callgate_test:
  push dword 0x11111111        ; param 1 (deeper)
  push dword 0x22222222        ; param 0
  call 0x3b:0                  ; offset ignored: the gate supplies it
  mov [0x600], eax             ; ring 3 again: results in memory
  mov [0x604], ebx
  mov [0x608], ecx
  mov [0x60c], edx
  mov [0x610], esi
  mov ax, fs
  mov [0x614], eax
  mov [0x618], esp
  mov ax, cs
  mov [0x61c], eax
  jmp $

; ---- 0x10100: INT from ring 3 to a ring-0 interrupt gate, IRET back ------------------------
pad_to 0x10100
int_test:
  mov eax, 0xaaaa
  int 0x40
  mov [0x620], esp
  mov ax, cs
  mov [0x624], eax
  mov ax, ss
  mov [0x628], eax
  pushfd
  pop dword [0x62c]
  jmp $

; ---- 0x10200: INT to a DPL-0 gate from ring 3 -> #GP(vector*8+2) ---------------------------
pad_to 0x10200
gp_dpl_test:
  nop
  int 0x41
  jmp $

; ---- 0x10300: load of a not-present data segment -> #NP(selector) --------------------------
pad_to 0x10300
np_test:
  mov ax, 0x48
  mov ds, ax
  jmp $

; ---- 0x10400: call gate to ring 0 with a bad SS0 in the TSS -> #TS(SS0) ---------------------
pad_to 0x10400
ts_test:
  call 0x3b:0
  jmp $

; ---- 0x10500: CALL through a task gate to task B; task B returns with IRET (NT) -------------
pad_to 0x10500
task_test:
  mov eax, 0xa1
  mov ebx, 0xa2
  call 0x43:0
  mov [0x630], eax             ; task A's registers are back
  mov [0x634], ebx
  pushfd
  pop dword [0x638]
  mov eax, cr0
  mov [0x63c], eax
  str ax
  mov [0x640], eax
  hlt

; ---- 0x10600: IRETD to virtual-8086 mode (CS:IP = 1200:0000, SS:SP = 2000:0100) -------------
pad_to 0x10600
v86_enter:
  push dword 0x0000            ; GS
  push dword 0x0000            ; FS
  push dword 0x3000            ; DS
  push dword 0x4000            ; ES
  push dword 0x2000            ; SS
  push dword 0x0100            ; ESP
  push dword [0x7e0]           ; EFLAGS (the test puts VM | IOPL there)
  push dword 0x1200            ; CS
  push dword [0x7e4]           ; EIP (the test chooses the v86 entry)
  iretd

; ---- 0x10700: I/O from ring 3 with IOPL 0 -> the TSS bitmap ---------------------------------
pad_to 0x10700
io_test:
  mov al, 0x5a
  out 0x81, al                 ; bitmap bit clear: allowed
  in al, 0x80                  ; bitmap bit set: #GP(0)
  jmp $

; ---- 0x10800: #GP whose IDT gate is not present -> #NP during delivery -> #DF ---------------
pad_to 0x10800
df_test:
  mov ax, 0x1230               ; beyond the GDT limit
  mov ds, ax
  jmp $

; ---- 0x10900: far call through a 16-bit call gate to a 16-bit ring-0 segment ---------------
pad_to 0x10900
callgate16_test:
  push word 0x3333
  call 0x53:0
  mov [0x650], eax
  mov [0x654], esp
  mov ax, cs
  mov [0x658], eax
  jmp $

; ---- 0x10a00: JMP to TSS B (no nesting: no back link use, NT clear, A not busy) -------------
pad_to 0x10a00
jmp_task_test:
  jmp 0x30:0
  hlt

; ---- 0x10b00: a loop that an external interrupt interrupts (then records and stops) --------
pad_to 0x10b00
idle_test:
  mov eax, 0xcafe
  jmp $

; ---- 0x10c00: IRETD to ring 3 sets IOPL 3 (CPL 0 may); a ring-3 IRETD changes IF but not IOPL
pad_to 0x10c00
iopl_test:
  push dword 0x23              ; SS
  push dword 0x9000            ; ESP
  push dword 0x3002            ; EFLAGS: IOPL 3, IF 0
  push dword 0x1b              ; CS
  push dword .ring3            ; EIP
  iretd
.ring3:
  mov [ss:0x66c], ds           ; nulled by the return to ring 3 (DS held a DPL-0 segment)
  push dword 0x23
  pop ds
  pushfd
  pop dword [0x670]            ; IOPL 3 now
  push dword 0x0202            ; EFLAGS image: IOPL 0, IF 1
  push dword 0x1b
  push dword .after
  iretd                        ; same level: IF may change (CPL <= IOPL), IOPL may not (CPL > 0)
.after:
  pushfd
  pop dword [0x674]
  jmp $

; ---- handlers (ring 0) --------------------------------------------------------------------
pad_to 0x11000
gate_entry:                    ; call gate target: [esp] EIP, CS, param0, param1, ESP, SS
  mov eax, [esp + 8]
  mov ebx, [esp + 12]
  mov ecx, ss
  mov edx, esp
  mov esi, cs
  mov di, 0x10
  mov fs, di                   ; a ring-0 data segment: RET to ring 3 must null FS
  retf 8

pad_to 0x11100
int40_handler:                 ; [esp] EIP, CS, EFLAGS, ESP, SS
  mov ebx, [esp]
  mov [ss:0x700], ebx
  mov ebx, [esp + 4]
  mov [ss:0x704], ebx
  mov ebx, [esp + 8]
  mov [ss:0x708], ebx
  mov ebx, [esp + 12]
  mov [ss:0x70c], ebx
  mov ebx, [esp + 16]
  mov [ss:0x710], ebx
  mov [ss:0x714], esp
  pushfd
  pop dword [ss:0x718]
  mov [ss:0x71c], eax
  iretd

; Faults with an error code: record vector, error, EIP, CS, EFLAGS, ESP then halt.
%macro fault_entry 2
pad_to %1
  mov dword [ss:0x7f0], %2
  jmp fault_common
%endmacro
fault_entry 0x11200, 13
fault_entry 0x11210, 11
fault_entry 0x11220, 10
fault_entry 0x11230, 8
fault_entry 0x11240, 12

pad_to 0x11280
fault_common:
  pop dword [ss:0x740]         ; error code
  mov ebx, [esp]
  mov [ss:0x744], ebx
  mov ebx, [esp + 4]
  mov [ss:0x748], ebx
  mov ebx, [esp + 8]
  mov [ss:0x74c], ebx
  mov [ss:0x750], esp
  mov bx, ds
  mov [ss:0x754], ebx
  mov ebx, [esp + 12]          ; (ESP, SS, ES, DS of an outer or v86 frame)
  mov [ss:0x758], ebx
  mov ebx, [esp + 16]
  mov [ss:0x75c], ebx
  mov ebx, [esp + 20]
  mov [ss:0x760], ebx
  mov ebx, [esp + 24]
  mov [ss:0x764], ebx
  hlt

pad_to 0x11400
task_b:                        ; runs as task B (TSS B: CS=08, EIP here)
  mov dword [0x660], 0xb0b0
  pushfd
  pop dword [0x664]            ; NT must be set
  str ax
  mov [0x668], eax
  mov eax, 0xbbbb              ; clobber: task A's EAX comes back from its TSS
  iretd
  jmp task_b

pad_to 0x11500
v86_handler:                   ; INT 0x42 from v86: EIP CS EFLAGS ESP SS ES DS FS GS
  mov ebx, [esp]
  mov [ss:0x780], ebx
  mov ebx, [esp + 4]
  mov [ss:0x784], ebx
  mov ebx, [esp + 8]
  mov [ss:0x788], ebx
  mov ebx, [esp + 12]
  mov [ss:0x78c], ebx
  mov ebx, [esp + 16]
  mov [ss:0x790], ebx
  mov ebx, [esp + 20]
  mov [ss:0x794], ebx
  mov ebx, [esp + 24]
  mov [ss:0x798], ebx
  mov bx, ds
  mov [ss:0x79c], ebx
  mov [ss:0x7a0], eax
  mov [ss:0x7a4], esp
  iretd                        ; back to v86 (the frame has VM set, CPL 0)

pad_to 0x11600
bits 16
gate16_entry:                  ; 16-bit ring 0 code: [sp] IP, CS, param, SP, SS
  mov bp, sp
  mov ax, [bp + 4]
  mov bx, ss
  shl ebx, 16
  mov bx, sp
  o16 retf 2
bits 32

pad_to 0x11700
bits 16
task16:                        ; a task with a 16-bit TSS, CS = 58 (16-bit, base 0x10000)
  mov dword [ss:0x680], 0x1616
  pushfd
  pop dword [ss:0x684]         ; NT set: nested
  mov [ss:0x688], sp
  iret                         ; NT: return to the back link whatever the operand size
  jmp task16
bits 32

; ---- virtual-8086 code at linear 0x12000 (CS = 0x1200) -------------------------------------
pad_to 0x12000
bits 16
v86_code:
  mov ax, 0x1234
  int 0x42
  mov [es:0x10], ax            ; ES base 0x40000: after the handler's IRET
  mov bx, ss
  mov [es:0x12], bx
  mov [es:0x14], sp
  jmp $

; ---- virtual-8086 code at linear 0x12100: an 8086 interrupt handler (and an IRET test) --------
pad_to 0x12100
bits 16
v86_ivt_handler:
  mov ax, 0x5678
  iret
bits 32

; ---- virtual-8086 code at linear 0x12200: INT3 is not IOPL-sensitive -----------------------
pad_to 0x12200
bits 16
v86_int3:
  int3
  jmp $
bits 32
