; String/memory copy benchmark. Each round: REP STOSD fills a 16 KiB source buffer, two pokes
; make the round's data unique, REP MOVSD copies it to a second buffer, a byte loop
; (MOV/MOV/INC/INC/CMP/JNE) copies 4 KiB of it at a round-dependent offset to a third buffer,
; and a dword loop folds the third buffer into the checksum.
; In: ECX = rounds (> 0). Out: EAX = checksum. Ends with HLT at CPL 0.
bits 32
org 0x10000

SRC     equ 0x100000
DST     equ 0x110000
DST2    equ 0x120000
DWORDS  equ 4096                        ; 16 KiB per REP

start:
        mov     ebp, ecx                ; rounds left
        xor     ebx, ebx                ; checksum
        cld
.round:
        mov     eax, ebp                ; fill value: rounds * 0x01010101 ^ 0xA5A5A5A5
        imul    eax, eax, 0x01010101
        xor     eax, 0xA5A5A5A5
        mov     edi, SRC
        mov     ecx, DWORDS
        rep stosd
        mov     eax, ebp                ; pokes at (rounds * 37) mod 4096
        imul    eax, eax, 37
        and     eax, DWORDS - 1
        mov     [SRC + eax*4], ebx
        mov     [SRC + 100 + eax], bl
        mov     esi, SRC
        mov     edi, DST
        mov     ecx, DWORDS
        rep movsd
        mov     esi, ebp                ; byte copy of 4 KiB from DST + (rounds mod 256)
        and     esi, 255
        add     esi, DST
        mov     edi, DST2
        lea     edx, [esi + 4096]
.bcopy:
        mov     al, [esi]
        mov     [edi], al
        inc     esi
        inc     edi
        cmp     esi, edx
        jne     .bcopy
        mov     esi, DST2               ; fold 1024 dwords into the checksum
        mov     ecx, 1024
.sum:
        add     ebx, [esi]
        rol     ebx, 3
        add     esi, 4
        dec     ecx
        jnz     .sum
        dec     ebp
        jnz     .round
        mov     eax, ebx
        hlt
