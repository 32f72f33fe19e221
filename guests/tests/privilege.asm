; Privilege levels: entering CPL 3 with IRET, privileged instructions at CPL 3, IOPL and the
; I/O permission bitmap, interrupt gates with a stack switch, gate DPL checks for INT n, call
; gates with parameter copying, conforming code, and SYSENTER/SYSEXIT.
;
; SDM vol. 3: 5.9 "Privileged Instructions" (#GP(0) at CPL > 0); 6.12.1 "Exception- or
; Interrupt-Handler Procedures" (stack switch from the TSS: SS, ESP, EFLAGS, CS, EIP pushed on
; the new stack) and 6.12.1.1 (INT n through a gate with DPL < CPL is #GP with error code
; vector * 8 + 2); 5.8.5 "Stack Switching" (call gates copy parameters to the new stack) and
; 5.8.6 "Returning from a Called Procedure" (RET n to the outer level pops SS:ESP);
; 5.8.1.2 "Accessing Conforming Code Segments" (CPL does not change); 5.6 "Privilege Level
; Checking When Accessing Data Segments" (DPL >= max(CPL, RPL)); vol. 1, 19.5.1 "I/O Privilege
; Level" and 19.5.2 "I/O Permission Bit Map"; vol. 2 "CLI", "IRET" (data segment registers
; with DPL < CPL are nulled on a return to an outer level), "SYSENTER", "SYSEXIT".

%include "lib.inc"

GATE    equ 0x48                ; call gate, DPL 3 -> KCODE:gate_target, 1 parameter
TSS2    equ 0x50                ; a TSS with an I/O permission bitmap
CONFORM equ 0x58                ; conforming code, DPL 0
GATE3   equ GATE | 3

%macro USER_GP 2                ; USER_GP "text", instruction...: at CPL 3 it is #GP(0)
        EXPECT_FAULT %%r
        TO_USER %%u
%%u:    %2
        int 0x30
%%r:    CHECK_EXC 13, 0, %1
%endmacro

main:
        NOTE "privilege: CPL 3 via IRET"
        EXPECT_FAULT .k1
        TO_USER .u1
.u1:    mov eax, cs
        mov [user_cs], eax
        mov eax, ss
        mov [user_ss], eax
        mov [user_esp], esp
        int 0x30
.k1:    CHECK [exc_vector], 0x30, "INT 0x30 (gate DPL 3) from CPL 3 reaches its handler"
        CHECK [user_cs], UCODE, "CS at CPL 3 is the DPL 3 code segment, RPL 3"
        CHECK [user_ss], UDATA, "SS at CPL 3 is the DPL 3 data segment"
        CHECK [user_esp], USTACK, "ESP at CPL 3 came from the IRET frame"
        CHECK [exc_cs], UCODE, "the interrupt frame holds the CPL 3 CS"
        CHECK [exc_esp], ESP0 - 8, "the frame is on the TSS stack (SS0:ESP0) (SDM 6.12.1)"
        mov eax, [exc_esp]
        CHECK [eax], USTACK, "the frame holds the CPL 3 ESP"
        CHECK [eax + 4], UDATA, "the frame holds the CPL 3 SS"

        EXPECT_FAULT .k2
        int 0x30
.k2:    mov ebx, [resume_esp]
        mov ecx, [ebx - 12]             ; read the frame before CHECK's pushes overwrite it
        CHECK [exc_esp], ebx, "INT at CPL 0 to a CPL 0 handler: no stack switch, 3-dword frame"
        CHECK ecx, .k2, "the same-level frame's EIP follows the INT"

        NOTE "privilege: privileged instructions at CPL 3 (SDM vol. 3, 5.9)"
        USER_GP "HLT at CPL 3 is #GP(0)", hlt
        USER_GP "LGDT at CPL 3 is #GP(0)", {lgdt [gdt_desc]}
        USER_GP "LIDT at CPL 3 is #GP(0)", {lidt [idt_desc]}
        USER_GP "LTR at CPL 3 is #GP(0)", {ltr ax}
        USER_GP "LLDT at CPL 3 is #GP(0)", {lldt ax}
        USER_GP "MOV CR0, EAX at CPL 3 is #GP(0)", {mov cr0, eax}
        USER_GP "MOV EAX, CR3 at CPL 3 is #GP(0)", {mov eax, cr3}
        USER_GP "MOV DR7, EAX at CPL 3 is #GP(0)", {mov dr7, eax}
        USER_GP "LMSW at CPL 3 is #GP(0)", {lmsw ax}
        USER_GP "CLTS at CPL 3 is #GP(0)", clts
        USER_GP "INVLPG at CPL 3 is #GP(0)", {invlpg [0]}
        USER_GP "WBINVD at CPL 3 is #GP(0)", wbinvd
        USER_GP "RDMSR at CPL 3 is #GP(0)", rdmsr
        USER_GP "CLI at CPL 3 with IOPL 0 is #GP(0)", cli
        USER_GP "STI at CPL 3 with IOPL 0 is #GP(0)", sti
        USER_GP "OUT at CPL 3 with IOPL 0 and no bitmap is #GP(0)", {out 0xe9, al}
        USER_GP "IN at CPL 3 with IOPL 0 is #GP(0)", {in al, 0x60}

        EXPECT_FAULT .k3
        TO_USER .u3
.u3:    smsw eax
        mov [user_value], eax
        sgdt [scratch]
        str eax
        mov [user_tr], eax
        int 0x30
.k3:    CHECK [exc_vector], 0x30, "SMSW, SGDT and STR are allowed at CPL 3"
        mov eax, cr0
        and eax, 0xffff
        CHECK [user_value], eax, "SMSW at CPL 3 reads CR0"
        movzx eax, word [user_tr]
        CHECK eax, TSSSEL, "STR at CPL 3 reads TR"

        NOTE "privilege: INT n and the gate DPL (SDM vol. 3, 6.12.1.1)"
        EXPECT_FAULT .k4
        TO_USER .u4
.u4:    int 0x0d                        ; gate DPL 0
        int 0x30
.k4:    CHECK_EXC 13, 0x0d * 8 + 2, "INT 0x0D from CPL 3 through a DPL 0 gate: #GP(vector*8+2)"
        EXPECT_FAULT .k5
        TO_USER .u5
.u5:    int 0x40                        ; beyond the IDT limit
        int 0x30
.k5:    CHECK_EXC 13, 0x40 * 8 + 2, "INT 0x40 beyond the IDT limit: #GP(vector*8+2)"
        EXPECT_FAULT .k6
        TO_USER .u6
.u6:    int3                            ; gate DPL 3
        int 0x30
.k6:    CHECK [exc_vector], 3, "INT3 from CPL 3 through a DPL 3 gate"
        mov eax, .u6 + 1
        CHECK [exc_eip], eax, "INT3 is a trap: the frame's EIP follows it"

        NOTE "privilege: data segment loads at CPL 3 (SDM vol. 3, 5.6)"
        EXPECT_FAULT .k7
        TO_USER .u7
.u7:    mov ax, KDATA
        mov ds, ax
        int 0x30
.k7:    CHECK_EXC 13, KDATA, "MOV DS, DPL 0 data at CPL 3 is #GP(selector)"
        EXPECT_FAULT .k8
        mov ax, KDATA
        mov fs, ax                      ; FS keeps a DPL 0 segment across the IRET...
        TO_USER .u8
.u8:    mov eax, fs
        mov [user_value], eax
        int 0x30
.k8:    CHECK [user_value], 0, "IRET to CPL 3 nulls FS holding a DPL 0 segment (SDM vol. 2, IRET)"

        NOTE "privilege: IOPL 3 (SDM vol. 1, 19.5.1)"
        pushfd
        or dword [esp], 0x3000
        popfd
        EXPECT_FAULT .k9
        TO_USER .u9
.u9:    cli
        pushfd
        pop eax
        mov [user_value], eax
        mov al, '#'
        out 0xe9, al
        mov al, 10
        out 0xe9, al
        sti
        int 0x30
.k9:    CHECK [exc_vector], 0x30, "CLI, OUT and STI at CPL 3 with IOPL 3 execute"
        mov eax, [user_value]
        and eax, 0x3200
        CHECK eax, 0x3000, "CLI at CPL 3 with IOPL 3 cleared IF"
        pushfd
        and dword [esp], ~0x3000
        popfd

        NOTE "privilege: I/O permission bitmap (SDM vol. 1, 19.5.2)"
        mov eax, tss2
        mov word [gdt_extra + 8], tss2_end - tss2 - 1
        mov [gdt_extra + 10], ax
        shr eax, 16
        mov [gdt_extra + 12], al
        mov byte [gdt_extra + 13], 0x89
        mov byte [gdt_extra + 14], 0
        mov [gdt_extra + 15], ah
        mov ax, TSS2
        ltr ax
        EXPECT_FAULT .k10
        TO_USER .u10
.u10:   mov al, '#'
        out 0xe9, al                    ; bit clear in the bitmap
        mov al, 10
        mov dx, 0xe9
        out dx, al
        int 0x30
.k10:   CHECK [exc_vector], 0x30, "OUT to a port whose bitmap bit is 0 is allowed at CPL 3"
        USER_GP "OUT to a port whose bitmap bit is 1 is #GP(0)", {out 0xe8, al}
        USER_GP "a 16-bit OUT needs both ports' bits clear (0xE9 and 0xEA)", {out 0xe9, ax}
        mov edx, 0x3f8
        USER_GP "a port whose bit lies beyond the TSS limit is #GP(0)", {out dx, al}

        NOTE "privilege: call gate with a stack switch (SDM vol. 3, 5.8.5)"
        mov eax, gate_target
        mov [gdt_extra], ax
        mov word [gdt_extra + 2], KCODE
        mov byte [gdt_extra + 4], 1
        mov byte [gdt_extra + 5], 0xec  ; P, DPL 3, 32-bit call gate
        shr eax, 16
        mov [gdt_extra + 6], ax
        EXPECT_FAULT .k11
        TO_USER .u11
.u11:   push dword 0x12345678
        call GATE3:0
        mov [user_esp], esp
        mov eax, cs
        mov [user_cs], eax
        int 0x30
.k11:   CHECK [gate_cs], KCODE, "the call gate entered CPL 0 code"
        CHECK [gate_ss], KDATA, "SS came from TSS.SS0"
        CHECK [gate_esp], ESP0 - 20, "new stack: SS, ESP, 1 parameter, CS, EIP"
        CHECK [gate_param], 0x12345678, "the parameter was copied to the new stack"
        CHECK [gate_ret_cs], UCODE, "the return CS on the new stack is the caller's"
        CHECK [user_cs], UCODE, "RETF 4 returned to CPL 3"
        CHECK [user_esp], USTACK, "RETF 4 released the parameter on the CPL 3 stack"

        NOTE "privilege: conforming code keeps the CPL (SDM vol. 3, 5.8.1.2)"
        mov dword [gdt_extra + 16], 0x0000ffff
        mov dword [gdt_extra + 20], 0x00cf9e00  ; P, DPL 0, conforming readable code
        EXPECT_FAULT .k12
        TO_USER .u12
.u12:   jmp CONFORM:.conf
.conf:  mov eax, cs
        mov [user_cs], eax
        int 0x30
.k12:   CHECK [user_cs], CONFORM | 3, "JMP to conforming DPL 0 code from CPL 3: CS.RPL stays 3"
        CHECK [exc_cs], CONFORM | 3, "the interrupt frame shows CPL 3"

        NOTE "privilege: SYSENTER and SYSEXIT (SDM vol. 2B)"
        mov ecx, 0x174
        mov eax, KCODE
        xor edx, edx
        wrmsr
        mov ecx, 0x175
        mov eax, 0x6800
        wrmsr
        mov ecx, 0x176
        mov eax, sysenter_entry
        wrmsr
        EXPECT_FAULT .k13
        TO_USER .u13
.u13:   mov ecx, esp
        mov edx, .u13b
        sysenter
.u13b:  mov eax, cs
        mov [user_cs], eax
        mov eax, ss
        mov [user_ss], eax
        mov [user_esp], esp
        int 0x30
.k13:   CHECK [sys_cs], KCODE, "SYSENTER: CS = SYSENTER_CS"
        CHECK [sys_ss], KDATA, "SYSENTER: SS = SYSENTER_CS + 8"
        CHECK [sys_esp], 0x6800, "SYSENTER: ESP = SYSENTER_ESP"
        CHECK [sys_if], 0, "SYSENTER clears IF"
        CHECK [user_cs], KCODE + 16 + 3, "SYSEXIT: CS = SYSENTER_CS + 16, RPL 3"
        CHECK [user_ss], KCODE + 24 + 3, "SYSEXIT: SS = SYSENTER_CS + 24, RPL 3"
        CHECK [user_esp], USTACK, "SYSEXIT: ESP = ECX"
        USER_GP "SYSEXIT at CPL 3 is #GP(0)", sysexit
        jmp done

gate_target:
        mov eax, cs
        mov [gate_cs], eax
        mov eax, ss
        mov [gate_ss], eax
        mov [gate_esp], esp
        mov eax, [esp + 8]
        mov [gate_param], eax
        mov eax, [esp + 4]
        mov [gate_ret_cs], eax
        retf 4

sysenter_entry:
        mov eax, cs
        mov [sys_cs], eax
        mov eax, ss
        mov [sys_ss], eax
        mov [sys_esp], esp
        pushfd
        pop eax
        and eax, 0x200
        mov [sys_if], eax
        sysexit

        align 4
user_cs:    dd 0
user_ss:    dd 0
user_esp:   dd 0
user_value: dd 0xffffffff
user_tr:    dd 0
gate_cs:    dd 0
gate_ss:    dd 0
gate_esp:   dd 0
gate_param: dd 0
gate_ret_cs: dd 0
sys_cs:     dd 0
sys_ss:     dd 0
sys_esp:    dd 0
sys_if:     dd 0xffffffff
scratch:    times 8 db 0

        align 4
tss2:   dd 0, ESP0, KDATA
        times 22 dd 0
        dw 0, iomap - tss2
iomap:  times 29 db 0xff        ; ports 0x00-0xE7
        db 0xfd                 ; ports 0xE8-0xEF: only 0xE9 allowed
        times 2 db 0xff         ; ports 0xF0-0xFF
        db 0xff                 ; the required all-ones byte after the map
tss2_end:
