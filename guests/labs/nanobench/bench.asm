; nanobench: the timed loops and the lean handlers they cross into.
; Every loop reads the TSC with RDTSC (not serialized: CPUID would itself be a crossing under
; the hypervisor modes, and the loops are long enough for the skew to vanish), runs bench_iters
; operations, each followed by DEC/JNZ, and reads the TSC again into bench_t0 / bench_t1.
bits 32

KDATA equ 0x10
UDATA equ 0x23
UCODE equ 0x1b

section .bss
global bench_iters, bench_t0, bench_t1, pf_probe_addr
bench_iters: resd 1
pf_probe_addr: resd 1
bench_t0: resd 2
bench_t1: resd 2
saved_kesp: resd 1

section .text
extern isr_stub_0
extern isr_stub_14

%macro T0 0
  rdtsc
  mov [bench_t0], eax
  mov [bench_t0+4], edx
%endmacro
%macro T1 0
  rdtsc
  mov [bench_t1], eax
  mov [bench_t1+4], edx
%endmacro
%macro SAVE 0
  push ebx
  push esi
  push edi
  push ebp
%endmacro
%macro RESTORE 0
  pop ebp
  pop edi
  pop esi
  pop ebx
%endmacro

; void enter_user(void (*fn)(void), u32 user_esp): IRET to ring 3 at fn; fn ends with
; INT 0x80, EAX = 1, which comes back here.
global enter_user
enter_user:
  SAVE
  mov [saved_kesp], esp
  mov eax, [esp+20]
  mov ecx, [esp+24]
  mov dx, UDATA
  mov ds, dx
  mov es, dx
  mov fs, dx
  mov gs, dx
  push UDATA
  push ecx
  push 0x2                      ; EFLAGS: IF = 0, IOPL = 0
  push UCODE
  push eax
  iret

; INT 0x80 (gate DPL 3): EAX = 0 is the null system call, EAX = 1 leaves ring 3 for good.
global int80_handler
int80_handler:
  cmp eax, 1
  je .exit
  iret
.exit:
  mov ax, KDATA
  mov ds, ax
  mov es, ax
  mov fs, ax
  mov gs, ax
  mov esp, [saved_kesp]
  RESTORE
  ret

; SYSENTER lands here on the ring-0 stack of MSR 0x175 and goes straight back:
; SYSEXIT loads ESP from ECX and EIP from EDX.
global sysenter_entry
sysenter_entry:
  sysexit

; #PF: the probe load faults on a not-present page; the handler skips it (fix-up) and returns.
global pf_handler
pf_handler:
  cmp dword [esp+4], pf_probe
  jne isr_stub_14
  mov dword [esp+4], pf_probe_end
  add esp, 4                    ; the error code
  iret

; #DE: the probe DIV divides by zero; the handler skips it.
global de_handler
de_handler:
  cmp dword [esp], de_probe
  jne isr_stub_0
  mov dword [esp], de_probe_end
  iret

; ---- ring-3 loops (entered with enter_user) ----
%macro USER_EXIT 0
  mov eax, 1
  int 0x80
%endmacro

global user_int80
user_int80:
  mov esi, [bench_iters]
  T0
  xor eax, eax
.l:
  int 0x80
  dec esi
  jnz .l
  T1
  USER_EXIT

global user_sysenter
user_sysenter:
  mov esi, [bench_iters]
  T0
.l:
  mov ecx, esp
  mov edx, .back
  sysenter
.back:
  dec esi
  jnz .l
  T1
  USER_EXIT

global user_pgfault
user_pgfault:
  mov esi, [bench_iters]
  mov ebx, [pf_probe_addr]
  T0
pf_probe:
  mov eax, [ebx]
pf_probe_end:
  dec esi
  jnz pf_probe
  T1
  USER_EXIT

global user_divzero
user_divzero:
  mov esi, [bench_iters]
  T0
  xor ecx, ecx
de_loop:
  xor edx, edx
  mov eax, 1
de_probe:
  div ecx
de_probe_end:
  dec esi
  jnz de_loop
  T1
  USER_EXIT

; ---- ring-0 loops: void k_xxx(u32 iters[, ...]) ----
global k_in80
k_in80:
  SAVE
  mov esi, [esp+20]
  T0
.l:
  in al, 0x80
  dec esi
  jnz .l
  T1
  RESTORE
  ret

; The privileged register write: CLTS (clears CR0.TS). See the README: it stands in for the
; 64-bit CR8 (TPR) write of Adams & Agesen's cr8wr.
%ifdef PV
; pv: the FPU task-switch hypercall with EBX = 0 (Xen's fpu_taskswitch(0)) clears CR0.TS instead.
; EAX carries the result back, so the number is loaded again for every operation.
PV_HC_FPU_TASKSWITCH equ 70
global k_clts
k_clts:
  SAVE
  mov esi, [esp+20]
  xor ebx, ebx
  T0
.l:
  mov eax, PV_HC_FPU_TASKSWITCH
  vmcall
  dec esi
  jnz .l
  T1
  RESTORE
  ret
%else
global k_clts
k_clts:
  SAVE
  mov esi, [esp+20]
  T0
.l:
  clts
  dec esi
  jnz .l
  T1
  RESTORE
  ret
%endif

global k_callret
k_callret:
  SAVE
  mov esi, [esp+20]
  T0
.l:
  call .f
  dec esi
  jnz .l
  T1
  RESTORE
  ret
.f:
  ret

%ifdef PV
; pv: void k_ptwrite(u32 iters, u32 *pte, void *page): the same toggles of the page's R/W bit,
; queued as {pte_gpa, value} pairs (the kernel is identity-mapped, so the PTE's address is its
; GPA) and applied PT_BATCH at a time by the batched page-table hypercall, which also flushes the
; TLB in place of the INVLPGs; a partial batch is applied after the last operation, inside the
; timed region. A refused batch leaves its EAX in pt_error.
PV_HC_MMU_UPDATE equ 65
PT_BATCH equ 32

section .bss
pt_queue: resd 2 * PT_BATCH
global pt_error
pt_error: resd 1

section .text
global k_ptwrite
k_ptwrite:
  SAVE
  mov esi, [esp+20]
  mov ebx, [esp+24]
  mov ecx, [ebx]
  xor edi, edi                  ; entries queued
  T0
.l:
  xor ecx, 2
  mov [pt_queue + edi*8], ebx
  mov [pt_queue + edi*8 + 4], ecx
  inc edi
  cmp edi, PT_BATCH
  jne .next
  call pt_flush
.next:
  dec esi
  jnz .l
  test edi, edi
  jz .done
  call pt_flush
.done:
  T1
  RESTORE
  ret

; Applies the EDI queued entries; EBX, ECX and ESI survive, EDI becomes 0.
pt_flush:
  push ebx
  push ecx
  mov eax, PV_HC_MMU_UPDATE
  mov ebx, pt_queue
  mov ecx, edi
  vmcall
  cmp eax, edi
  je .ok
  mov [pt_error], eax
.ok:
  pop ecx
  pop ebx
  xor edi, edi
  ret
%else
; void k_ptwrite(u32 iters, u32 *pte, void *page): toggles the page's R/W bit in its PTE
; and invalidates the page's TLB entry, once per operation.
global k_ptwrite
k_ptwrite:
  SAVE
  mov esi, [esp+20]
  mov ebx, [esp+24]
  mov edi, [esp+28]
  mov ecx, [ebx]
  T0
.l:
  xor ecx, 2
  mov [ebx], ecx
  invlpg [edi]
  dec esi
  jnz .l
  T1
  RESTORE
  ret
%endif
