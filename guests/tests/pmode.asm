; Real-address mode to protected mode and back, and segment-register loads.
;
; SDM vol. 3, 9.9.1 "Switching to Protected Mode" (lib.inc does LGDT, MOV CR0.PE=1, far JMP);
; 9.9.2 "Switching Back to Real-Address Mode" (via a 16-bit segment with 64 KiB limits, then
; clear PE and far JMP to a real-mode segment); 3.4.3 (the hidden part of a segment register
; keeps base/limit: a 4 GiB limit loaded in protected mode survives into real mode);
; vol. 2 "MOV—Move" (segment register forms): #GP(selector) beyond the table limit,
; #NP(selector) for a not-present segment, #GP(0) for SS = null; vol. 3, 5.3 "Limit Checking".

%include "lib.inc"

main:
        NOTE "pmode: real -> protected (SDM vol. 3, 9.9.1)"
        smsw eax
        and eax, 1
        CHECK eax, 1, "CR0.PE is set after MOV CR0"
        mov eax, cs
        CHECK eax, KCODE, "the far JMP loaded CS"
        mov eax, ss
        CHECK eax, KDATA, "SS loaded with a flat data segment"
        sgdt [scratch]
        movzx eax, word [scratch]
        CHECK eax, gdt_end - gdt - 1, "SGDT returns the limit LGDT loaded"
        mov eax, [scratch + 2]
        CHECK eax, gdt, "SGDT returns the base LGDT loaded"

        ; ---- limit checks (SDM vol. 3, 5.3) -------------------------------------------
        mov ax, DATA16
        mov es, ax
        mov eax, [es:0xfffc]
        CHECK eax, [0xfffc], "a read inside a 64 KiB data segment works"
        EXPECT_FAULT .lim
        mov eax, [es:0xfffd]            ; bytes 0xfffd-0x10000: past the limit
.lim:   CHECK_EXC 13, 0, "a read crossing the segment limit is #GP(0)"

        ; ---- segment register loads (SDM vol. 2, MOV Sreg) ----------------------------
        EXPECT_FAULT .ss
        xor eax, eax
        mov ss, ax
.ss:    CHECK_EXC 13, 0, "MOV SS, null is #GP(0)"
        mov eax, ss
        CHECK eax, KDATA, "SS unchanged after the fault"

        xor eax, eax
        mov es, ax
        CHECK eax, 0, "MOV ES, null is allowed"
        EXPECT_FAULT .nul
        mov eax, [es:0x1000]
.nul:   CHECK_EXC 13, 0, "a memory access through a null ES is #GP(0)"

        EXPECT_FAULT .lim2
        mov ax, gdt_end - gdt + 8       ; beyond the GDT limit
        mov ds, ax
.lim2:  CHECK_EXC 13, gdt_end - gdt + 8, "MOV DS, selector beyond the GDT limit is #GP(selector)"

        ; A not-present data segment at 0x48.
        mov dword [gdt_extra], 0x0000ffff
        mov dword [gdt_extra + 4], 0x00cf1200     ; P = 0
        EXPECT_FAULT .np
        mov ax, 0x48
        mov ds, ax
.np:    CHECK_EXC 11, 0x48, "MOV DS, not-present segment is #NP(selector)"

        ; A DPL 3 data segment is fine at CPL 0; a DPL 0 one with RPL 3 is not.
        EXPECT_FAULT .rpl
        mov ax, KDATA | 3
        mov ds, ax
.rpl:   CHECK_EXC 13, KDATA, "MOV DS with RPL 3 > DPL 0 is #GP(selector)"

        EXPECT_FAULT .cs
        mov ax, KCODE                   ; readable code may go in DS, never in SS
        mov ss, ax
.cs:    CHECK_EXC 13, KCODE, "MOV SS, code segment is #GP(selector)"

        ; ---- back to real mode (SDM vol. 3, 9.9.2) ------------------------------------
        NOTE "pmode: protected -> real with a 4 GiB DS limit kept (unreal mode)"
        mov dword [0x200000], 0
        mov ax, BIGDATA
        mov fs, ax                      ; FS: base 0, limit 4 GiB, kept into real mode
        mov ax, DATA16
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov gs, ax
        jmp CODE16:.pm16
[bits 16]
.pm16:  mov eax, cr0
        and eax, ~1
        mov cr0, eax
        jmp 0:.rm
.rm:    xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, KSTACK
        mov ebx, 0x200000
        mov dword [fs:ebx], 0x1234abcd  ; above 1 MiB, through the cached 4 GiB limit
        mov eax, cr0
        mov [real_cr0], eax
        mov [real_cs], cs
        ; a real-mode software interrupt through the IVT (vector 0x40 -> rm_int)
        mov word [0x40 * 4], rm_int
        mov word [0x40 * 4 + 2], 0
        lidt [real_idt]
        int 0x40
        ; and back to protected mode to report
        lgdt [gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp KCODE:pm_back
rm_int: mov byte [rm_int_ran], 1
        iret
[bits 32]
pm_back:
        mov ax, KDATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, KSTACK
        lidt [idt_desc]
        mov eax, [real_cr0]
        and eax, 1
        CHECK eax, 0, "CR0.PE was clear in real mode"
        movzx eax, word [real_cs]
        CHECK eax, 0, "CS was a real-mode segment (0) after the far JMP"
        CHECK [0x200000], 0x1234abcd, "real mode wrote above 1 MiB through a 4 GiB cached FS limit"
        movzx eax, byte [rm_int_ran]
        CHECK eax, 1, "INT 0x40 in real mode went through the IVT"
        jmp done

        align 4
scratch:   times 8 db 0
real_cr0:  dd 0xffffffff
real_cs:   dw 0xffff
rm_int_ran: db 0
        align 4
real_idt:  dw 0x3ff
           dd 0
