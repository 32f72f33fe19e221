; CPUID, model-specific registers and the time-stamp counter as a guest kernel sees them.
;
; SDM vol. 2A "CPUID" (leaf 0: maximum leaf and vendor; leaf 1: signature in EAX, feature
; flags in EDX, table 3-11; a leaf above the maximum returns the highest basic leaf's data);
; vol. 3, 19.1 and vol. 1, 3.4.3 (EFLAGS.ID can be toggled when CPUID exists; AC can be
; toggled on a 486 or later); vol. 2B "RDMSR"/"WRMSR" (#GP(0) for a reserved or unimplemented
; MSR address), vol. 4 table 2-3 (P6 MSRs: SYSENTER_CS/ESP/EIP at 174H-176H, TSC at 10H);
; vol. 3, 17.17 (P6: WRMSR to the TSC writes the low 32 bits and clears the high 32);
; vol. 2B "RDTSC" (CR4.TSD = 1 makes it #GP(0) at CPL > 0); vol. 3, 2.5 (CR4 bits the
; processor does not support are reserved: setting them is #GP(0)).

%include "lib.inc"

main:
        NOTE "cpuid: identification"
        xor eax, eax
        cpuid
        CHECK eax, 2, "CPUID.0: maximum basic leaf 2"
        CHECK ebx, 'Genu', "CPUID.0: EBX = 'Genu'"
        CHECK edx, 'ineI', "CPUID.0: EDX = 'ineI'"
        CHECK ecx, 'ntel', "CPUID.0: ECX = 'ntel'"
        mov eax, 1
        cpuid
        CHECK eax, 0x633, "CPUID.1: family 6, model 3, stepping 3"
        CHECK edx, 0xa93f, "CPUID.1: FPU VME DE PSE TSC MSR CX8 SEP PGE CMOV, nothing else"
        CHECK ecx, 0, "CPUID.1: no ECX features"
        mov eax, 0x80000000
        cpuid
        CHECK eax, 0x03020101, "CPUID.80000000H: no extended leaves, leaf 2 data returned"

        NOTE "cpuid: EFLAGS.ID and EFLAGS.AC toggle"
        pushfd
        pop eax
        mov ebx, eax
        xor eax, 0x240000
        push eax
        popfd
        pushfd
        pop eax
        xor eax, ebx
        CHECK eax, 0x240000, "ID (bit 21) and AC (bit 18) can be flipped"
        push ebx
        popfd

        NOTE "cpuid: CR4 accepts exactly the advertised features"
        mov eax, 0x9f
        mov cr4, eax
        mov eax, cr4
        CHECK eax, 0x9f, "CR4 takes VME PVI TSD DE PSE PGE"
        xor eax, eax
        mov cr4, eax
        EXPECT_FAULT .pae
        mov eax, 0x20
        mov cr4, eax
.pae:   CHECK_EXC 13, 0, "CR4.PAE (not advertised) is #GP(0)"
        EXPECT_FAULT .mce
        mov eax, 0x40
        mov cr4, eax
.mce:   CHECK_EXC 13, 0, "CR4.MCE (not advertised) is #GP(0)"
        EXPECT_FAULT .fxsr
        mov eax, 0x200
        mov cr4, eax
.fxsr:  CHECK_EXC 13, 0, "CR4.OSFXSR (not advertised) is #GP(0)"
        mov eax, cr4
        CHECK eax, 0, "CR4 unchanged by the faulting writes"

        NOTE "cpuid: model-specific registers"
        mov ecx, 0x174
        mov eax, KCODE
        xor edx, edx
        wrmsr
        mov ecx, 0x176
        mov eax, 0xc0ffee00
        wrmsr
        mov ecx, 0x174
        rdmsr
        CHECK eax, KCODE, "SYSENTER_CS reads back"
        mov ecx, 0x176
        rdmsr
        CHECK eax, 0xc0ffee00, "SYSENTER_EIP reads back"
        CHECK edx, 0, "SYSENTER_EIP high half is 0"
        EXPECT_FAULT .apic
        mov ecx, 0x1b
        rdmsr
.apic:  CHECK_EXC 13, 0, "APIC_BASE without the APIC feature is #GP(0)"
        EXPECT_FAULT .mtrr
        mov ecx, 0xfe
        rdmsr
.mtrr:  CHECK_EXC 13, 0, "MTRRcap without the MTRR feature is #GP(0)"
        EXPECT_FAULT .bad
        mov ecx, 0x40000000
        wrmsr
.bad:   CHECK_EXC 13, 0, "WRMSR to an unimplemented MSR is #GP(0)"
        mov ecx, 0x8b
        xor eax, eax
        xor edx, edx
        wrmsr                           ; the microcode-revision protocol: write 0, CPUID, read
        mov eax, 1
        cpuid
        mov ecx, 0x8b
        rdmsr
        CHECK edx, 0, "BIOS_SIGN_ID: microcode revision 0"

        NOTE "cpuid: time-stamp counter"
        mov ecx, 0x10
        mov eax, 0x40000000
        mov edx, 0x12345678
        wrmsr
        rdtsc
        CHECK edx, 0, "WRMSR to the TSC cleared the high half (P6)"
        mov ebx, eax
        sub ebx, 0x40000000
        cmp ebx, 0x10000
        setb al
        movzx eax, al
        CHECK eax, 1, "RDTSC reads the value written plus a little"
        mov eax, cr4
        or eax, 4                       ; TSD
        mov cr4, eax
        rdtsc                           ; CPL 0: still allowed
        EXPECT_FAULT .tsd
        TO_USER .u_tsd
.u_tsd: rdtsc
        int 0x30
.tsd:   CHECK_EXC 13, 0, "RDTSC at CPL 3 with CR4.TSD: #GP(0)"
        mov eax, cr4
        and eax, ~4
        mov cr4, eax
        EXPECT_FAULT .notsd
        TO_USER .u_ntsd
.u_ntsd: rdtsc
        int 0x30
.notsd: CHECK [exc_vector], 0x30, "RDTSC at CPL 3 without CR4.TSD executes"
        jmp done
