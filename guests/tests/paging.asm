; Two-level paging: 4 KiB and 4 MiB pages, #PF error codes and CR2, accessed/dirty bits,
; CR0.WP, INVLPG against a stale TLB entry, and global pages across CR3 loads.
;
; SDM vol. 3: 4.3 "32-Bit Paging" (CR4.PSE and PDE.PS select 4 MiB pages); 4.6 "Access Rights"
; (U/S and R/W, the stricter of PDE and PTE; CR0.WP=1 makes read-only pages read-only for
; supervisor writes too); 4.7 "Page-Fault Exceptions" (error code: P bit 0, W/R bit 1, U/S
; bit 2; CR2 holds the linear address); 4.8 "Accessed and Dirty Flags"; 4.10.4.1 (MOV to CR3
; invalidates all non-global TLB entries; a change of CR4.PGE invalidates all of them; INVLPG
; invalidates the page's entry, global or not); 4.10.4.3 (a processor may keep using a stale
; translation until it is invalidated: this TLB does, which the test shows).

%include "lib.inc"

PD      equ 0x20000
PT0     equ 0x21000             ; maps linear 0 - 4 MiB
PTE_P   equ 1
PTE_W   equ 2
PTE_U   equ 4
PTE_A   equ 0x20
PTE_D   equ 0x40
PDE_PS  equ 0x80
PTE_G   equ 0x100
MARK_A  equ 0x305000            ; physical pages holding recognisable values
MARK_B  equ 0x306000

%define PTE(lin) (PT0 + ((lin) >> 12) * 4)

main:
        NOTE "paging: identity map 0-4 MiB with 4 KiB pages, 4-8 MiB with one 4 MiB page"
        mov dword [MARK_A], 0xaaaa0001
        mov dword [MARK_B], 0xbbbb0002
        mov dword [0x400000 + MARK_A], 0xcccc0003       ; physical, paging still off
        mov edi, PT0
        mov eax, PTE_P | PTE_W | PTE_U
        mov ecx, 1024
.fill:  mov [edi], eax
        add eax, 0x1000
        add edi, 4
        loop .fill
        mov edi, PD
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov dword [PD], PT0 | PTE_P | PTE_W | PTE_U
        mov dword [PD + 4], 0x000000 | PDE_PS | PTE_P | PTE_W | PTE_U   ; 4 MiB -> physical 0
        mov eax, PD
        mov cr3, eax
        mov eax, cr4
        or eax, 0x10                    ; PSE
        mov cr4, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on                         ; SDM 9.9.1: a branch after setting PG
.on:    mov eax, cr0
        shr eax, 31
        CHECK eax, 1, "CR0.PG set; execution continues through the identity map"

        ; ---- 4 MiB page (SDM 4.3) ----------------------------------------------------
        mov dword [0x400000 + 0x300100], 0x5a5a1234
        CHECK [0x300100], 0x5a5a1234, "a write through the 4 MiB page lands at physical 0 + offset"
        mov eax, [PD + 4]
        and eax, PTE_A | PTE_D
        CHECK eax, PTE_A | PTE_D, "the 4 MiB PDE got its accessed and dirty bits"
        CHECK [0x400000 + MARK_A], 0xaaaa0001, "linear 4 MiB + x maps physical x"
        mov dword [PD + 4], 0x400000 | PDE_PS | PTE_P | PTE_W | PTE_U
        invlpg [0x400000]               ; another 4 KiB of the same 4 MiB page
        CHECK [0x400000 + MARK_A], 0xcccc0003, "INVLPG of any address in a 4 MiB page drops the whole page"
        mov dword [PD + 4], 0x000000 | PDE_PS | PTE_P | PTE_W | PTE_U
        invlpg [0x400000]

        ; ---- accessed and dirty bits (SDM 4.8) ----------------------------------------
        and dword [PTE(0x300000)], ~(PTE_A | PTE_D)
        invlpg [0x300000]
        mov eax, [0x300000]
        mov eax, [PTE(0x300000)]
        and eax, PTE_A | PTE_D
        CHECK eax, PTE_A, "a read sets the PTE's accessed bit, not the dirty bit"
        mov dword [0x300000], 1
        mov eax, [PTE(0x300000)]
        and eax, PTE_A | PTE_D
        CHECK eax, PTE_A | PTE_D, "a write sets the dirty bit"
        mov eax, [PD]
        and eax, PTE_A
        CHECK eax, PTE_A, "the PDE of a 4 KiB page gets its accessed bit"

        ; ---- not-present pages (SDM 4.7) ------------------------------------------------
        mov dword [PTE(0x301000)], 0
        invlpg [0x301000]
        EXPECT_FAULT .np1
        mov eax, [0x301234]
.np1:   CHECK_EXC 14, 0, "supervisor read of a not-present page: #PF, error 0"
        CHECK [exc_cr2], 0x301234, "CR2 holds the faulting linear address"
        EXPECT_FAULT .np2
        mov dword [0x301ffe], 0         ; also checks CR2 is the first byte, not the page
.np2:   CHECK_EXC 14, 2, "supervisor write to a not-present page: #PF, error 2 (W)"
        CHECK [exc_cr2], 0x301ffe, "CR2 for the write"
        EXPECT_FAULT .np3
        mov eax, [0x300ffe]             ; crosses into the not-present page
.np3:   CHECK_EXC 14, 0, "a read crossing into a not-present page faults"
        CHECK [exc_cr2], 0x301000, "CR2 is the first byte of the missing page"
        EXPECT_FAULT .np4
        jmp 0x301000
.np4:   CHECK_EXC 14, 0, "instruction fetch from a not-present page: #PF, error 0"
        CHECK [exc_eip], 0x301000, "the fault's EIP is the target"
        CHECK [exc_cr2], 0x301000, "CR2 is the target"

        mov dword [PD + 8], 0           ; PDE 2 not present
        EXPECT_FAULT .np5
        mov eax, [0x800010]
.np5:   CHECK_EXC 14, 0, "a not-present PDE faults the same way"
        CHECK [exc_cr2], 0x800010, "CR2 for a not-present PDE"

        ; ---- user/supervisor and read/write (SDM 4.6) ----------------------------------
        and dword [PTE(0x302000)], ~PTE_U                   ; supervisor page
        and dword [PTE(0x303000)], ~PTE_W                   ; read-only user page
        invlpg [0x302000]
        invlpg [0x303000]
        mov eax, [0x302000]
        CHECK eax, [0x302000], "CPL 0 reads a supervisor page"

        EXPECT_FAULT .us1
        TO_USER .user1
.user1: mov eax, [0x302010]
        int 0x30
.us1:   CHECK_EXC 14, 5, "CPL 3 read of a supervisor page: #PF, error 5 (P|U)"
        CHECK [exc_cr2], 0x302010, "CR2 for the user read"

        EXPECT_FAULT .us2
        TO_USER .user2
.user2: mov eax, [0x303010]             ; allowed
        mov [user_value], eax
        mov dword [0x303010], 0         ; not allowed
        int 0x30
.us2:   CHECK_EXC 14, 7, "CPL 3 write to a read-only page: #PF, error 7 (P|W|U)"
        CHECK [exc_cr2], 0x303010, "CR2 for the user write"
        mov eax, [0x303010]
        CHECK [user_value], eax, "the CPL 3 read of the read-only page worked"

        EXPECT_FAULT .us3
        TO_USER .user3
.user3: mov eax, [0x301000]
        int 0x30
.us3:   CHECK_EXC 14, 4, "CPL 3 read of a not-present page: #PF, error 4 (U)"

        and dword [PD], ~PTE_U          ; the PDE decides too: the stricter level wins
        mov eax, cr3                    ; (drop the user entries cached so far)
        mov cr3, eax
        EXPECT_FAULT .us4
        TO_USER .user4
.user4: nop                             ; the fetch itself faults
        int 0x30
.us4:   CHECK_EXC 14, 5, "PDE with U/S=0 blocks CPL 3 even when the PTE allows it"
        or dword [PD], PTE_U
        mov eax, cr3
        mov cr3, eax

        ; ---- CR0.WP (SDM 4.6.1) ----------------------------------------------------------
        mov dword [0x303020], 0x11112222
        CHECK [0x303020], 0x11112222, "WP=0: a supervisor write to a read-only page succeeds"
        mov eax, cr0
        or eax, 0x10000
        mov cr0, eax
        EXPECT_FAULT .wp
        mov dword [0x303020], 0
.wp:    CHECK_EXC 14, 3, "WP=1: a supervisor write to a read-only page is #PF, error 3 (P|W)"
        CHECK [0x303020], 0x11112222, "the faulting write changed nothing"
        mov eax, cr0
        and eax, ~0x10000
        mov cr0, eax

        ; ---- INVLPG and the TLB (SDM 4.10.4) -------------------------------------------
        mov dword [PTE(0x304000)], MARK_A | PTE_P | PTE_W
        invlpg [0x304000]
        CHECK [0x304000], 0xaaaa0001, "linear 0x304000 maps the page holding A"
        mov dword [PTE(0x304000)], MARK_B | PTE_P | PTE_W
        CHECK [0x304000], 0xaaaa0001, "without INVLPG the TLB keeps the old translation (SDM 4.10.4.3)"
        invlpg [0x304000]
        CHECK [0x304000], 0xbbbb0002, "after INVLPG the new translation is used"
        mov dword [PTE(0x304000)], MARK_A | PTE_P | PTE_W
        mov eax, cr3
        mov cr3, eax
        CHECK [0x304000], 0xaaaa0001, "a MOV to CR3 flushes non-global entries"

        ; ---- global pages (SDM 4.10.2.4, 4.10.4.1) ------------------------------------------
        mov eax, cr4
        or eax, 0x80                    ; PGE
        mov cr4, eax
        mov dword [PTE(0x307000)], MARK_A | PTE_P | PTE_W | PTE_G
        mov dword [PTE(0x308000)], MARK_A | PTE_P | PTE_W
        invlpg [0x307000]
        invlpg [0x308000]
        mov eax, [0x307000]
        mov eax, [0x308000]
        mov dword [PTE(0x307000)], MARK_B | PTE_P | PTE_W | PTE_G
        mov dword [PTE(0x308000)], MARK_B | PTE_P | PTE_W
        mov eax, cr3
        mov cr3, eax
        CHECK [0x307000], 0xaaaa0001, "a global page's entry survives a MOV to CR3"
        CHECK [0x308000], 0xbbbb0002, "a non-global page's entry does not"
        invlpg [0x307000]
        CHECK [0x307000], 0xbbbb0002, "INVLPG invalidates a global entry"
        ; 0x307000 is cached again (B, global); point the PTE back at A.
        mov dword [PTE(0x307000)], MARK_A | PTE_P | PTE_W | PTE_G
        mov eax, cr3
        mov cr3, eax
        CHECK [0x307000], 0xbbbb0002, "the global entry survives the next MOV to CR3 too"
        mov eax, cr4
        and eax, ~0x80
        mov cr4, eax
        CHECK [0x307000], 0xaaaa0001, "clearing CR4.PGE flushes global entries too"

        ; ---- paging off again ------------------------------------------------------------
        mov eax, cr0
        and eax, 0x7fffffff
        mov cr0, eax
        jmp .off
.off:   mov dword [0x304000], 0x77777777
        CHECK [0x304000], 0x77777777, "with PG=0 linear = physical again"
        jmp done

        align 4
user_value: dd 0
