; Hardware task switches: CALL and JMP to a TSS descriptor, IRET with NT back to the previous
; task, a task gate in the IDT, busy bits, the back link, and CR0.TS.
;
; SDM vol. 3: 7.3 "Task Switching" (the steps: the current task's state is saved in its TSS,
; the new TSS loaded; CR0.TS is set); 7.4 "Task Linking" (CALL and interrupts through task
; gates write the back link and set NT in the new task; IRET with NT=1 returns to the linked
; task), 7.4.1 "Use of Busy Flag To Prevent Recursive Task Switching" (JMP clears the old
; task's busy flag, CALL keeps it; a switch to a busy task is #GP(selector)), table 7-2;
; 7.2.5 "Task-Gate Descriptor"; vol. 2 "JMP"/"CALL" (task-switch forms) and "IRET" (NT=1).

%include "lib.inc"

TSSB    equ 0x48
NT      equ 0x4000

main:
        ; TSS B descriptor: base tssb, limit 0x67, 32-bit available TSS
        mov eax, tssb
        mov word [gdt_extra], 0x67
        mov [gdt_extra + 2], ax
        shr eax, 16
        mov [gdt_extra + 4], al
        mov byte [gdt_extra + 5], 0x89
        mov byte [gdt_extra + 6], 0
        mov [gdt_extra + 7], ah
        mov eax, cr3
        mov [tssb + 28], eax

        NOTE "tasks: CALL to a TSS and IRET back (SDM vol. 3, 7.3, 7.4)"
        mov esi, 0x11223344
        mov edi, 0x55667788
        mov ebp, 0x99aabbcc
        call TSSB:0
        CHECK esi, 0x11223344, "ESI restored from the caller's TSS on the return"
        CHECK edi, 0x55667788, "EDI restored"
        CHECK ebp, 0x99aabbcc, "EBP restored"
        CHECK [b_tr], TSSB, "task B runs with TR = its TSS"
        CHECK [b_link], TSSSEL, "CALL wrote the back link into task B's TSS"
        CHECK [b_nt], NT, "CALL set NT in task B"
        CHECK [b_ts], 8, "the task switch set CR0.TS"
        CHECK [b_cs], KCODE, "task B's CS came from its TSS"
        CHECK [b_eax], 0xb0b0b0b0, "task B's EAX came from its TSS"
        movzx eax, byte [gdt + TSSSEL + 5]
        CHECK eax, 0x8b, "back in task A: A's TSS is busy"
        movzx eax, byte [gdt_extra + 5]
        CHECK eax, 0x89, "IRET cleared task B's busy bit"
        pushfd
        pop eax
        and eax, NT
        CHECK eax, 0, "task A runs with NT clear"
        str ax
        movzx eax, ax
        CHECK eax, TSSSEL, "TR is task A's again"
        mov eax, tss_iret_resume
        CHECK [tssb + 32], eax, "task B's EIP was saved after its IRET"
        clts

        NOTE "tasks: JMP to a TSS and back"
        call clear_b
        jmp TSSB:0
a_after_jmp:
        CHECK [b_link], 0, "JMP does not write the back link"
        CHECK [b_nt], 0, "JMP does not set NT"
        movzx eax, byte [b_a_busy]
        CHECK eax, 0x89, "JMP cleared task A's busy bit while B ran"
        movzx eax, byte [gdt_extra + 5]
        CHECK eax, 0x89, "task B's JMP back cleared B's busy bit"
        movzx eax, byte [gdt + TSSSEL + 5]
        CHECK eax, 0x8b, "and set A's"
        clts

        NOTE "tasks: a task gate in the IDT (SDM vol. 3, 7.2.5)"
        mov word [idt + 0x21 * 8], 0
        mov word [idt + 0x21 * 8 + 2], TSSB
        mov word [idt + 0x21 * 8 + 4], 0x8500      ; P, DPL 0, task gate
        mov word [idt + 0x21 * 8 + 6], 0
        call clear_b
        int 0x21
        CHECK [b_link], TSSSEL, "INT through a task gate links back to the interrupted task"
        CHECK [b_nt], NT, "and sets NT in the handler task"
        CHECK [b_tr], TSSB, "the handler task runs with its own TR"
        clts

        NOTE "tasks: busy tasks (SDM vol. 3, 7.4.1)"
        EXPECT_FAULT .busy
        jmp TSSSEL:0                    ; the current task is busy
.busy:  CHECK_EXC 13, TSSSEL, "JMP to the busy current task: #GP(selector)"
        mov byte [gdt_extra + 5], 0x8b  ; mark B busy by hand
        EXPECT_FAULT .busy2
        call TSSB:0
.busy2: CHECK_EXC 13, TSSB, "CALL to a busy TSS: #GP(selector)"
        mov byte [gdt_extra + 5], 0x89
        jmp done

clear_b:
        mov dword [b_link], 0xffffffff
        mov dword [b_nt], 0xffffffff
        mov dword [b_tr], 0xffffffff
        mov dword [tssb], 0             ; back link
        ret

; ---- task B ----------------------------------------------------------------------------
task_b:
        call record_b
        iretd                           ; back to the caller (NT = 1)
tss_iret_resume:
        call record_b                   ; second entry: by JMP
        movzx eax, byte [gdt + TSSSEL + 5]
        mov [b_a_busy], eax
        jmp TSSSEL:a_after_jmp_thunk    ; offset ignored for a TSS
a_after_jmp_thunk:
        call record_b                   ; third entry: through the task gate
        iretd
        jmp task_b

record_b:
        mov [b_eax], eax
        mov eax, [tssb]
        mov [b_link], eax
        pushfd
        pop eax
        and eax, NT
        mov [b_nt], eax
        str ax
        movzx eax, ax
        mov [b_tr], eax
        mov eax, cr0
        and eax, 8
        mov [b_ts], eax
        mov eax, cs
        mov [b_cs], eax
        mov eax, [b_eax]
        ret

        align 4
b_eax:  dd 0
b_link: dd 0xffffffff
b_nt:   dd 0xffffffff
b_tr:   dd 0xffffffff
b_ts:   dd 0xffffffff
b_cs:   dd 0xffffffff
b_a_busy: dd 0xffffffff

        align 4
tssb:   dd 0                    ; 0 back link
        dd ESP0, KDATA          ; 4 ESP0, SS0
        dd 0, 0, 0, 0           ; 12 ESP1 SS1 ESP2 SS2
        dd 0                    ; 28 CR3 (filled in)
        dd task_b               ; 32 EIP
        dd 2                    ; 36 EFLAGS
        dd 0xb0b0b0b0, 0, 0, 0  ; 40 EAX ECX EDX EBX
        dd 0x6000, 0, 0, 0      ; 56 ESP EBP ESI EDI
        dd KDATA, KCODE, KDATA, KDATA, KDATA, KDATA     ; 72 ES CS SS DS FS GS
        dd 0                    ; 96 LDT
        dw 0, 104               ; 100 T, I/O map base
