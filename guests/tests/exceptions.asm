; Exceptions: vectors, error codes, fault vs trap return addresses, priorities between
; simultaneous conditions, and the double-fault rules.
;
; SDM vol. 3: 6.3 and table 6-1 (vectors; which push an error code); 6.5 "Exception
; Classifications" (faults report the faulting instruction, traps the next one); 6.9 and
; table 6-2 "Priority Among Simultaneous Exceptions and Interrupts" (class 7: faults from
; fetching the next instruction, before class 8: decode faults - instruction length, #UD, #NM -
; before class 9: faults from executing it); 6.15 "Exception and Interrupt Reference" and
; table 6-5 (contributory + contributory, or #PF + #PF/contributory, is a double fault with
; error code 0; a benign first exception lets the second be handled serially); 6.13 (error
; code: EXT, IDT and TI bits, selector index; EXT is set for an exception raised while
; delivering an earlier exception); 17.3.1.4 (single-step trap after the
; instruction; after a POPF that sets TF the trap follows the next instruction); 17.2.4
; (DR7.GD: a MOV to or from a debug register is a #DB fault with DR6.BD set, GD cleared).

%include "lib.inc"

NPCODE  equ 0x48                ; a not-present code segment (for gates that point at it)

main:
        NOTE "exceptions: vectors and return addresses (SDM vol. 3, 6.5, 6.15)"
        EXPECT_FAULT .de
        xor edx, edx
        xor ecx, ecx
        mov eax, 1
.de_at: div ecx
.de:    CHECK [exc_vector], 0, "DIV by zero: #DE"
        CHECK [exc_eip], .de_at, "#DE is a fault: EIP of the DIV"

        EXPECT_FAULT .ud
.ud_at: ud2
.ud:    CHECK [exc_vector], 6, "UD2: #UD"
        CHECK [exc_eip], .ud_at, "#UD is a fault: EIP of the UD2"

        EXPECT_FAULT .bp
        int3
.bp_after:
.bp:    CHECK [exc_vector], 3, "INT3: #BP"
        CHECK [exc_eip], .bp_after, "#BP is a trap: EIP after the INT3"

        EXPECT_FAULT .of
        mov al, 0x7f
        add al, 1                       ; OF = 1
        into
.of_after:
.of:    CHECK [exc_vector], 4, "INTO with OF=1: #OF"
        CHECK [exc_eip], .of_after, "#OF is a trap"

        EXPECT_FAULT .br
        mov eax, 10
.br_at: bound eax, [bounds]
.br:    CHECK [exc_vector], 5, "BOUND out of range: #BR"
        CHECK [exc_eip], .br_at, "#BR is a fault"

        EXPECT_FAULT .gp
        mov [cs:scratch], eax
.gp:    CHECK_EXC 13, 0, "a write through CS: #GP(0)"

        EXPECT_FAULT .ss
        mov ax, DATA16
        mov ss, ax
        mov ebp, 0xfffe
        mov eax, [ebp]                  ; SS-relative, crosses the 64 KiB limit
.ss:    CHECK_EXC 12, 0, "a stack-segment limit violation: #SS(0)"

        EXPECT_FAULT .nm
        mov eax, cr0
        or eax, 8                       ; TS
        mov cr0, eax
        fld1
.nm:    CHECK [exc_vector], 7, "an x87 instruction with CR0.TS=1: #NM"
        clts

        EXPECT_FAULT .nm2
        mov eax, cr0
        or eax, 4                       ; EM
        mov cr0, eax
        fld1
.nm2:   CHECK [exc_vector], 7, "an x87 instruction with CR0.EM=1: #NM"
        mov eax, cr0
        and eax, ~4
        mov cr0, eax

        EXPECT_FAULT .ac
        mov eax, cr0
        or eax, 0x40000                 ; AM
        mov cr0, eax
        pushfd
        or dword [esp], 0x40000         ; AC
        popfd
        TO_USER .u_ac
.u_ac:  mov eax, [USTACK - 7]           ; misaligned, CPL 3
        int 0x30
.ac:    CHECK_EXC 17, 0, "a misaligned access at CPL 3 with CR0.AM and EFLAGS.AC: #AC(0)"
        pushfd
        and dword [esp], ~0x40000
        popfd

        NOTE "exceptions: error codes (SDM vol. 3, 6.13)"
        ; a not-present interrupt gate: #NP with IDT=1
        and byte [idt + 0x22 * 8 + 5], 0x7f
        EXPECT_FAULT .npg
        int 0x22
.npg:   CHECK_EXC 11, 0x22 * 8 + 2, "INT through a not-present gate: #NP(vector*8 + IDT bit)"
        or byte [idt + 0x22 * 8 + 5], 0x80

        NOTE "exceptions: priorities (SDM vol. 3, table 6-2)"
        EXPECT_FAULT .len
.len_at: db 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66
        nop                             ; 15 bytes in all: allowed
        EXPECT_FAULT .len2
.len2_at: db 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66
        nop                             ; 16 bytes: #GP(0)
.len2:  CHECK_EXC 13, 0, "an instruction longer than 15 bytes: #GP(0)"
        CHECK [exc_eip], .len2_at, "the length fault reports the instruction's first byte"
        jmp .len_done
.len:   CHECK 1, 0, "a 15-byte instruction must not fault"
.len_done:

        EXPECT_FAULT .nmgp              ; class 8 (#NM) before class 9 (#GP for the operand)
        mov eax, cr0
        or eax, 8
        mov cr0, eax
        mov ax, DATA16
        mov es, ax
        fld dword [es:0xfffff0]         ; beyond ES's limit
.nmgp:  CHECK [exc_vector], 7, "#NM (decode class) wins over the operand's #GP (execute class)"
        clts
        mov ax, KDATA
        mov es, ax

        EXPECT_FAULT .udgp              ; an invalid opcode is found before its operand is used
        mov ax, DATA16
        mov es, ax
        db 0x26, 0x0f, 0xff, 0x05       ; ES: 0F FF /0 with a disp32 operand (undefined opcode)
        dd 0xfffff0
.udgp:  CHECK [exc_vector], 6, "#UD (decode class) for an undefined opcode with a bad operand"
        mov ax, KDATA
        mov es, ax

        mov byte [0x300fff], 0x0f       ; UD2 = 0F 0B, split across a page boundary...
        mov byte [0x301000], 0x0b       ; ...whose second page will not be present
        call paging_on
        EXPECT_FAULT .pfud              ; class 7 (fetch) before class 8 (decode)
        jmp 0x300fff
.pfud:  CHECK_EXC 14, 0, "UD2 split onto a not-present page: #PF (fetch) before #UD (decode)"
        CHECK [exc_cr2], 0x301000, "CR2 is the first byte on the missing page"
        CHECK [exc_eip], 0x300fff, "EIP is the instruction's first byte"

        ; segmentation comes before paging: an offset beyond the limit whose linear address
        ; is also not present is #GP(0), never #PF (SDM vol. 3, 3.1: the linear address is
        ; formed, with its checks, before paging translates it)
        mov dword [gdt_extra + 8], 0x00000fff           ; 0x50: data, base 0x300000, limit 0xFFF
        mov dword [gdt_extra + 12], 0x00409230
        mov ax, 0x50
        mov es, ax
        EXPECT_FAULT .segpf
        mov eax, [es:0x1000]            ; linear 0x301000: not present, but beyond the limit
.segpf: CHECK_EXC 13, 0, "beyond the segment limit and on a missing page: #GP(0) before #PF"
        mov ax, KDATA
        mov es, ax

        NOTE "exceptions: double faults (SDM vol. 3, table 6-5)"
        ; #GP whose gate is not present: delivering it raises #NP (contributory + contributory)
        and byte [idt + 13 * 8 + 5], 0x7f
        EXPECT_FAULT .df1
        mov [cs:scratch], eax
.df1:   CHECK_EXC 8, 0, "#NP while delivering #GP: #DF with error code 0"
        or byte [idt + 13 * 8 + 5], 0x80

        ; #UD (benign) whose gate is not present: the #NP is handled serially
        and byte [idt + 6 * 8 + 5], 0x7f
        EXPECT_FAULT .df2
        ud2
.df2:   CHECK_EXC 11, 6 * 8 + 3, "#NP while delivering #UD (benign): #NP(6*8+IDT+EXT), no #DF"
        or byte [idt + 6 * 8 + 5], 0x80

        ; #DE whose gate points at a not-present code segment: #NP(selector) -> #DF
        mov dword [gdt_extra], 0x0000ffff
        mov dword [gdt_extra + 4], 0x00cf1a00     ; code, P = 0
        mov word [idt + 0 * 8 + 2], NPCODE
        EXPECT_FAULT .df3
        xor ecx, ecx
        div ecx
.df3:   CHECK_EXC 8, 0, "#NP(selector) while delivering #DE: #DF"
        mov word [idt + 0 * 8 + 2], KCODE

        ; #PF whose handler's code segment is not present: #PF + contributory -> #DF
        mov word [idt + 14 * 8 + 2], NPCODE
        EXPECT_FAULT .df4
        mov eax, [0x301000]
.df4:   CHECK_EXC 8, 0, "#NP while delivering #PF: #DF"
        mov word [idt + 14 * 8 + 2], KCODE

        ; #PF while delivering #PF: the IDT entry for 14 sits on a not-present page
NEWIDT  equ 0x303000 - 100              ; entries 0-12 on a present page, 13 and up on the next
        mov esi, idt
        mov edi, NEWIDT
        mov ecx, NVEC * 2
        rep movsd
        mov dword [newidt + 2], NEWIDT
        mov dword [PT + 0x303 * 4], 0   ; now take the second page away
        invlpg [0x303000]
        lidt [newidt]
        EXPECT_FAULT .df5
        mov eax, [0x301000]
.df5:   lidt [idt_desc]
        CHECK_EXC 8, 0, "#PF while delivering #PF (IDT entry on a missing page): #DF"
        mov eax, [exc_cr2]
        sub eax, NEWIDT
        shr eax, 3
        CHECK eax, 14, "CR2 points into the IDT entry for #PF"
        call paging_off

        NOTE "exceptions: single-step (SDM vol. 3, 17.3.1.4)"
        EXPECT_FAULT .db
        pushfd
        or dword [esp], 0x100           ; TF
        popfd
.db_first:
        nop                             ; the trap follows this instruction, not the POPF
.db_after:
        nop
.db:    CHECK [exc_vector], 1, "TF set: #DB"
        CHECK [exc_eip], .db_after, "the single-step trap follows the instruction after POPF"
        mov eax, dr6
        and eax, 0x4000
        CHECK eax, 0x4000, "DR6.BS is set"
        mov eax, [exc_eflags]
        and eax, 0x100
        CHECK eax, 0x100, "the frame's EFLAGS has TF set"
        pushfd
        pop eax
        and eax, 0x100
        CHECK eax, 0, "the handler runs with TF clear"

        NOTE "exceptions: debug-register general detect (SDM vol. 3, 17.2.4)"
        mov eax, 0x2000
        mov dr7, eax                    ; DR7.GD
        EXPECT_FAULT .gd
.gd_at: mov eax, dr0
.gd:    CHECK [exc_vector], 1, "MOV from DR0 with DR7.GD set: #DB"
        CHECK [exc_eip], .gd_at, "general detect is a fault: the frame's EIP is the MOV"
        mov eax, dr6
        and eax, 0x2000
        CHECK eax, 0x2000, "DR6.BD is set"
        mov eax, dr7
        and eax, 0x2000
        CHECK eax, 0, "GD is cleared so the handler can use the debug registers"
        jmp done

PT      equ 0x21000
PD      equ 0x20000

paging_on:                              ; identity map 0-4 MiB, page 0x301000 not present
        mov edi, PT
        mov eax, 7
        mov ecx, 1024
.f:     mov [edi], eax
        add eax, 0x1000
        add edi, 4
        loop .f
        mov dword [PT + 0x301 * 4], 0
        mov edi, PD
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov dword [PD], PT | 7
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        ret

paging_off:
        mov eax, cr0
        and eax, 0x7fffffff
        mov cr0, eax
        ret

        align 4
bounds:  dd 0, 5
scratch: dd 0
newidt:  dw NVEC * 8 - 1
         dd 0
