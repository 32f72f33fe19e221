; Branchy benchmark. Each round: a sieve of Eratosthenes below 8192 (byte array, REP STOSD
; clear), an LCG fills 128 dwords, a bubble sort with early exit sorts them, and 64 binary
; searches (half for keys present, half for key+1) probe the sorted array. Subroutines are
; reached with CALL/RET and save registers with PUSH/POP; the branches depend on the data.
; In: ECX = rounds (> 0). Out: EAX = checksum. Ends with HLT at CPL 0.
bits 32
org 0x10000

SIEVE   equ 0x100000
N       equ 8192
ARR     equ 0x120000
M       equ 128

        jmp     start                   ; subroutines first, so HLT is the last byte

; sieve: EAX = number of primes below N, EDX = their sum. Clobbers ECX.
sieve:
        push    ebx
        push    edi
        mov     edi, SIEVE
        mov     ecx, N / 4
        xor     eax, eax
        cld
        rep stosd
        xor     edx, edx
        mov     ecx, 2
.outer:
        cmp     byte [SIEVE + ecx], 0
        jne     .next
        inc     eax
        add     edx, ecx
        mov     edi, ecx
        imul    edi, ecx
        cmp     edi, N
        jae     .next
.mark:
        mov     byte [SIEVE + edi], 1
        add     edi, ecx
        cmp     edi, N
        jb      .mark
.next:
        inc     ecx
        cmp     ecx, N
        jb      .outer
        pop     edi
        pop     ebx
        ret

; fill: ARR[i] = (seed = seed * 1103515245 + 12345) >> 16 for i < M, seed from EAX.
; Clobbers EAX, ECX, EDX, EDI.
fill:
        mov     edi, ARR
        mov     ecx, M
.f:
        imul    eax, eax, 1103515245
        add     eax, 12345
        mov     edx, eax
        shr     edx, 16
        mov     [edi], edx
        add     edi, 4
        dec     ecx
        jnz     .f
        ret

; bsort: sorts ARR[0..M-1] ascending (unsigned), stops after a pass without swaps.
; Clobbers EAX, ECX, EDX, ESI, EDI.
bsort:
        push    ebx
        mov     ecx, M - 1
.outer:
        mov     esi, ARR
        mov     edx, ecx
        xor     ebx, ebx
.inner:
        mov     eax, [esi]
        mov     edi, [esi + 4]
        cmp     eax, edi
        jbe     .noswap
        mov     [esi], edi
        mov     [esi + 4], eax
        mov     ebx, 1
.noswap:
        add     esi, 4
        dec     edx
        jnz     .inner
        test    ebx, ebx
        jz      .done
        dec     ecx
        jnz     .outer
.done:
        pop     ebx
        ret

; bsearch: EAX = key -> EAX = index of key in ARR, or -1. Clobbers ECX, EDX, ESI.
bsearch:
        push    ebx
        xor     esi, esi                ; lo
        mov     edx, M                  ; hi (exclusive)
.loop:
        cmp     esi, edx
        jae     .notfound
        lea     ecx, [esi + edx]
        shr     ecx, 1
        mov     ebx, [ARR + ecx*4]
        cmp     ebx, eax
        je      .found
        jb      .right
        mov     edx, ecx
        jmp     .loop
.right:
        lea     esi, [ecx + 1]
        jmp     .loop
.found:
        mov     eax, ecx
        pop     ebx
        ret
.notfound:
        mov     eax, -1
        pop     ebx
        ret

start:
        mov     ebp, ecx                ; rounds left
        xor     ebx, ebx                ; checksum
.round:
        call    sieve
        add     ebx, eax
        xor     ebx, edx
        mov     eax, ebp
        call    fill
        call    bsort
        mov     ecx, 64
.search:
        push    ecx
        mov     eax, ecx
        imul    eax, eax, 7
        and     eax, M - 1
        mov     eax, [ARR + eax*4]
        test    cl, 1
        jz      .exact
        inc     eax
.exact:
        call    bsearch
        pop     ecx
        add     ebx, eax
        rol     ebx, 1
        dec     ecx
        jnz     .search
        add     ebx, [ARR]
        xor     ebx, [ARR + (M - 1) * 4]
        dec     ebp
        jnz     .round
        mov     eax, ebx
        hlt
