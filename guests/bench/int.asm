; Integer loop benchmark: a xorshift32 generator and an LCG mixed with adds, rotates, shifts,
; compares and one data-dependent branch per iteration.
; In: ECX = iterations (> 0). Out: EAX = checksum. Ends with HLT at CPL 0.
; Loaded at 0x10000 in flat 32-bit protected mode (see bench/cpu.ts).
bits 32
org 0x10000

start:
        mov     eax, 0x2545F491         ; xorshift32 state (non-zero)
        mov     ebx, 0x9E3779B9         ; accumulator a
        xor     edx, edx                ; accumulator b
        mov     edi, 12345              ; LCG state
.loop:
        mov     esi, eax                ; xorshift32: x ^= x << 13; x ^= x >> 17; x ^= x << 5
        shl     esi, 13
        xor     eax, esi
        mov     esi, eax
        shr     esi, 17
        xor     eax, esi
        mov     esi, eax
        shl     esi, 5
        xor     eax, esi
        imul    edi, edi, 1664525       ; LCG (Numerical Recipes)
        add     edi, 1013904223
        mov     esi, edi
        xor     esi, eax
        add     ebx, esi
        rol     ebx, 5
        sub     edx, esi
        cmp     esi, ebx                ; data-dependent branch, taken about half the time
        jae     .noswap
        xor     edx, ebx
        inc     edx
.noswap:
        and     esi, 0xff
        lea     edx, [edx + esi*4 + 7]
        dec     ecx
        jnz     .loop
        mov     eax, ebx
        xor     eax, edx
        hlt
