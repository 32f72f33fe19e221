; Virtual-8086 mode: entry by IRET, 8086-style addressing, interrupts to a protected-mode
; handler, IOPL-sensitive instructions, I/O, and the virtual-mode extensions (CR4.VME).
;
; SDM vol. 3: 20.2.1 (linear address = selector * 16 + offset); 20.2.5 "Entering
; Virtual-8086 Mode" (IRET at CPL 0 with VM=1 in the image pops EIP, CS, EFLAGS, ESP, SS, ES,
; DS, FS, GS); 20.3.1.1 "Handling an Interrupt or Exception Through a Protected-Mode Trap or
; Interrupt Gate" (CPL 0 handler, frame with GS FS DS ES SS ESP EFLAGS CS EIP, data segment
; registers zeroed, VM cleared); 20.2.7 "Sensitive Instructions" (CLI, STI, PUSHF, POPF, INT n,
; IRET are #GP(0) when IOPL < 3); 20.2.8.1 (I/O in virtual-8086 mode consults only the I/O
; permission bitmap, not IOPL); 20.4 "Virtual Mode Extensions" (with CR4.VME and IOPL < 3,
; CLI/STI act on VIF, PUSHF shows VIF as IF and IOPL as 3, and INT n whose bit in the
; interrupt redirection bitmap is 0 goes through the 8086 vector table at linear 0).

%include "lib.inc"

VM      equ 0x20000
VIF     equ 0x80000

; V86 label, iopl: IRETD into virtual-8086 mode at 0000:label, SS:SP = 0000:USTACK,
; DS = ES = 0, FS = 0x1000, GS = 0x2000.
%macro V86 2
        push dword 0x2000               ; GS
        push dword 0x1000               ; FS
        push dword 0                    ; DS
        push dword 0                    ; ES
        push dword 0                    ; SS
        push dword USTACK               ; ESP
        push dword VM | 2 | (%2 << 12)  ; EFLAGS
        push dword 0                    ; CS
        push dword %1                   ; EIP
        iretd
%endmacro

main:
        NOTE "v86: IRET into virtual-8086 mode (SDM vol. 3, 20.2.5)"
        EXPECT_FAULT .k1
        V86 v86_basic, 3
.k1:    CHECK [exc_vector], 0x30, "INT 0x30 with IOPL 3 leaves virtual-8086 mode through the IDT"
        mov eax, [exc_eflags]
        and eax, VM
        CHECK eax, VM, "the frame's EFLAGS has VM set"
        CHECK [exc_cs], 0, "the frame's CS is the 8086 segment"
        mov eax, v86_basic_int + 2
        CHECK [exc_eip], eax, "the frame's EIP follows the INT"
        mov ebx, [exc_esp]
        CHECK [ebx], USTACK, "frame: ESP"
        CHECK [ebx + 4], 0, "frame: SS"
        CHECK [ebx + 8], 0x3000, "frame: ES (the v86 code loaded 0x3000)"
        CHECK [ebx + 12], 0, "frame: DS"
        CHECK [ebx + 16], 0x1000, "frame: FS"
        CHECK [ebx + 20], 0x2000, "frame: GS"
        movzx eax, word [exc_ds]
        CHECK eax, 0, "the handler runs with DS = 0"
        movzx eax, word [exc_gs]
        CHECK eax, 0, "the handler runs with GS = 0"
        CHECK [v86_seen_cs], 0, "CS in virtual-8086 mode reads as the 8086 segment"
        CHECK [0x30010], 0x5a, "ES = 0x3000: [ES:0x10] is linear 0x30010"
        mov eax, [v86_seen_flags]
        and eax, 0x3000
        CHECK eax, 0x3000, "PUSHF with IOPL 3 shows IOPL 3"

        NOTE "v86: sensitive instructions with IOPL 0 (SDM vol. 3, 20.2.7)"
        EXPECT_FAULT .k2
        V86 v86_cli, 0
.k2:    CHECK_EXC 13, 0, "CLI with IOPL 0: #GP(0)"
        mov eax, v86_cli
        CHECK [exc_eip], eax, "the #GP is a fault at the CLI"
        EXPECT_FAULT .k3
        V86 v86_pushf, 0
.k3:    CHECK_EXC 13, 0, "PUSHF with IOPL 0: #GP(0)"
        EXPECT_FAULT .k4
        V86 v86_int, 0
.k4:    CHECK_EXC 13, 0, "INT n with IOPL 0: #GP(0)"
        EXPECT_FAULT .k5
        V86 v86_hlt, 3
.k5:    CHECK_EXC 13, 0, "HLT in virtual-8086 mode (CPL 3): #GP(0)"
        EXPECT_FAULT .k6
        V86 v86_out, 3
.k6:    CHECK_EXC 13, 0, "OUT with IOPL 3 but no I/O bitmap: #GP(0) (IOPL is not consulted)"
        EXPECT_FAULT .k7
        V86 v86_lgdt, 3
.k7:    CHECK_EXC 13, 0, "LGDT in virtual-8086 mode: #GP(0)"
        EXPECT_FAULT .k8
        V86 v86_sldt, 3
.k8:    CHECK [exc_vector], 6, "SLDT in virtual-8086 mode: #UD"

        NOTE "v86: virtual mode extensions (SDM vol. 3, 20.4)"
        mov word [0x40 * 4], v86_isr    ; 8086 vector 0x40 -> 0000:v86_isr
        mov word [0x40 * 4 + 2], 0
        mov eax, cr4
        or eax, 1                       ; VME
        mov cr4, eax
        EXPECT_FAULT .k9
        V86 v86_vme, 0
.k9:    CHECK_EXC 13, 0, "(the VME program ends with HLT: #GP(0))"
        mov eax, [exc_eflags]
        and eax, VIF | 0x200
        CHECK eax, VIF, "STI set VIF; IF itself stayed 0 (as IRET loaded it)"
        movzx eax, word [v86_seen_flags]
        and eax, 0x3200
        CHECK eax, 0x3000, "PUSHF after CLI: IF shows VIF (0), IOPL shows 3"
        movzx eax, byte [v86_isr_ran]
        CHECK eax, 1, "INT 0x40 with a clear redirection bit ran the 8086 handler"
        movzx eax, byte [v86_after_isr]
        CHECK eax, 1, "IRET from the 8086 handler returned to the program"
        mov eax, cr4
        and eax, ~1
        mov cr4, eax
        jmp done

[bits 16]
v86_basic:
        mov ax, cs
        mov [v86_seen_cs], ax
        mov ax, 0x3000
        mov es, ax
        mov byte [es:0x10], 0x5a
        pushf
        pop ax
        mov [v86_seen_flags], ax
v86_basic_int:
        int 0x30
v86_cli:
        cli
        int 0x30
v86_pushf:
        pushf
        int 0x30
v86_int:
        int 0x30
v86_hlt:
        hlt
v86_out:
        out 0xe9, al
        int 0x30
v86_lgdt:
        lgdt [gdt_desc]
        int 0x30
v86_sldt:
        sldt ax
        int 0x30
v86_vme:
        cli
        pushf
        pop ax
        mov [v86_seen_flags], ax
        int 0x40
        mov byte [v86_after_isr], 1
        sti
        hlt
v86_isr:
        mov byte [v86_isr_ran], 1
        iret
[bits 32]

        align 4
v86_seen_cs:    dw 0xffff, 0
v86_seen_flags: dd 0
v86_isr_ran:    db 0
v86_after_isr:  db 0
