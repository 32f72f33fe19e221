// The one definition of the numbers the core and the host must agree on besides the memory
// layout (layout.mjs): VM-exit reasons, VMX control bits, crossing-event kinds and reasons,
// binary-translation callouts, hypercall numbers and errors, and the words of the trap VMM's
// virtual CPU. scripts/gen-abi.mjs turns it into core/generated/abi.ts (AssemblyScript
// constants) and vmm/generated/abi.ts (TypeScript objects and name tables); the stats, the exit
// handlers and the translator's generator read it from there.

/**
 * VMX basic exit reasons (SDM vol. 3C, Appendix C): [number, key, the SDM's name]. The key
 * names ExitReason.<key> in TypeScript and EXIT_<KEY IN SNAKE CASE> in AssemblyScript.
 */
export const exitReasons = [
  [0, "exceptionOrNmi", "Exception or NMI"],
  [1, "externalInterrupt", "External interrupt"],
  [2, "tripleFault", "Triple fault"],
  [3, "init", "INIT signal"],
  [4, "sipi", "Start-up IPI (SIPI)"],
  [5, "ioSmi", "I/O SMI"],
  [6, "otherSmi", "Other SMI"],
  [7, "interruptWindow", "Interrupt window"],
  [8, "nmiWindow", "NMI window"],
  [9, "taskSwitch", "Task switch"],
  [10, "cpuid", "CPUID"],
  [11, "getsec", "GETSEC"],
  [12, "hlt", "HLT"],
  [13, "invd", "INVD"],
  [14, "invlpg", "INVLPG"],
  [15, "rdpmc", "RDPMC"],
  [16, "rdtsc", "RDTSC"],
  [17, "rsm", "RSM"],
  [18, "vmcall", "VMCALL"],
  [19, "vmclear", "VMCLEAR"],
  [20, "vmlaunch", "VMLAUNCH"],
  [21, "vmptrld", "VMPTRLD"],
  [22, "vmptrst", "VMPTRST"],
  [23, "vmread", "VMREAD"],
  [24, "vmresume", "VMRESUME"],
  [25, "vmwrite", "VMWRITE"],
  [26, "vmxoff", "VMXOFF"],
  [27, "vmxon", "VMXON"],
  [28, "crAccess", "Control-register access"],
  [29, "movDr", "MOV DR"],
  [30, "ioInstruction", "I/O instruction"],
  [31, "rdmsr", "RDMSR"],
  [32, "wrmsr", "WRMSR"],
  [33, "entryFailInvalidGuestState", "VM-entry failure: invalid guest state"],
  [34, "entryFailMsrLoading", "VM-entry failure: MSR loading"],
  [36, "mwait", "MWAIT"],
  [37, "monitorTrapFlag", "Monitor trap flag"],
  [39, "monitor", "MONITOR"],
  [40, "pause", "PAUSE"],
  [41, "entryFailMachineCheck", "VM-entry failure: machine-check"],
  [43, "tprBelowThreshold", "TPR below threshold"],
  [44, "apicAccess", "APIC access"],
  [45, "virtualizedEoi", "Virtualized EOI"],
  [46, "gdtrIdtrAccess", "Access to GDTR or IDTR"],
  [47, "ldtrTrAccess", "Access to LDTR or TR"],
  [48, "eptViolation", "EPT violation"],
  [49, "eptMisconfig", "EPT misconfiguration"],
  [50, "invept", "INVEPT"],
  [51, "rdtscp", "RDTSCP"],
  [52, "preemptionTimer", "VMX-preemption timer expired"],
  [53, "invvpid", "INVVPID"],
  [54, "wbinvd", "WBINVD / WBNOINVD"],
  [55, "xsetbv", "XSETBV"],
  [56, "apicWrite", "APIC write"],
  [57, "rdrand", "RDRAND"],
  [58, "invpcid", "INVPCID"],
  [59, "vmfunc", "VMFUNC"],
  [60, "encls", "ENCLS"],
  [61, "rdseed", "RDSEED"],
  [62, "pmlFull", "Page-modification log full"],
  [63, "xsaves", "XSAVES"],
  [64, "xrstors", "XRSTORS"],
  [65, "pconfig", "PCONFIG"],
  [66, "sppEvent", "SPP-related event"],
  [67, "umwait", "UMWAIT"],
  [68, "tpause", "TPAUSE"],
  [69, "loadiwkey", "LOADIWKEY"],
  [70, "enclv", "ENCLV"],
  [71, "sgxConflict", "SGX conflict"],
  [72, "enqcmdPasidFail", "ENQCMD PASID translation failure"],
  [73, "enqcmdsPasidFail", "ENQCMDS PASID translation failure"],
  [74, "busLock", "Bus lock"],
  [75, "instructionTimeout", "Instruction timeout"],
  [76, "seamcall", "SEAMCALL"],
  [77, "tdcall", "TDCALL"],
];

/**
 * VM-execution control bits the VMM uses (SDM vol. 3C, 24.6.1-24.6.2, tables 24-5 to 24-7):
 * [group, key, bit]. TypeScript: PIN.<key>, PROC.<key>, PROC2.<key>; AssemblyScript:
 * PIN_<KEY>, PROC_<KEY>, PROC2_<KEY>.
 */
export const vmxControls = [
  ["PIN", "externalInterruptExiting", 0],
  ["PROC", "interruptWindowExiting", 2],
  ["PROC", "useTscOffsetting", 3],
  ["PROC", "hltExiting", 7],
  ["PROC", "invlpgExiting", 9],
  ["PROC", "rdpmcExiting", 11],
  ["PROC", "rdtscExiting", 12],
  ["PROC", "cr3LoadExiting", 15],
  ["PROC", "cr3StoreExiting", 16],
  ["PROC", "movDrExiting", 23],
  ["PROC", "unconditionalIoExiting", 24],
  ["PROC", "useIoBitmaps", 25],
  ["PROC", "useMsrBitmaps", 28],
  ["PROC", "activateSecondary", 31],
  ["PROC2", "enableEpt", 1],
  ["PROC2", "descriptorTableExiting", 2],
  ["PROC2", "wbinvdExiting", 6],
];

/** Where a crossing was handled: inside the core, or in the host's TypeScript VMM. */
export const wheres = ["core", "host"];

/**
 * Kinds of crossing events, numbered in order (the number is stored in HV_EVENTS and the trace
 * ring): [key, what the reason means]. AssemblyScript: KIND_<KEY>.
 */
export const eventKinds = [
  ["exit", "a VM exit and the entry that resumes the guest; reason = VMX basic exit reason"],
  ["callout", "a binary-translated sensitive instruction calling a VMM routine; reason = callout"],
  ["hypercall", "a para-virtual call (VMCALL with EAX = number); reason = the hypercall number"],
  ["shadowFault", "a page fault seen by the shadow MMU; reason = shadowFault reason"],
  ["eptViolation", "an EPT violation filled or reflected by the VMM; reason = eptAccess reason"],
  ["walkRef", "memory references made by page walks; reason = walkRef reason"],
  ["translation", "guest instructions translated by the binary translator; reason = translation reason"],
  ["guestInstr", "guest instructions executed; reason = exec reason"],
  ["io", "a port access; reason = the port number"],
  ["mmio", "a memory-mapped I/O access; reason = a caller-chosen region number"],
  ["trap", "an exception or interrupt the trap VMM took; reason = the vector, or a trap reason"],
];

/** Reasons per event kind in HV_EVENTS (larger reasons share the last cell). */
export const eventReasons = 128;

/** The trace ring in HV_TRACE: entries of 8 u32 (kind|where<<8|reason<<16, qualification, EIP, GPA, vtime lo, hi). */
export const traceEntries = 256;
export const traceEntryWords = 8;

/**
 * Reasons of the kinds that have named reasons: [TypeScript object, [[key, name], ...] numbered
 * in order]. TypeScript: ShadowFault.ptWrite and SHADOW_FAULT_NAMES; AssemblyScript:
 * SHADOW_FAULT_PT_WRITE.
 */
export const eventReasonNames = [
  [
    "ShadowFault",
    [
      ["hidden", "hidden (shadow table not yet filled; guest never sees it)"],
      ["true", "true (reflected to the guest)"],
      ["ptWrite", "write to a tracked guest page-table page"],
    ],
  ],
  [
    "EptAccess",
    [
      ["read", "data read"],
      ["write", "data write"],
      ["fetch", "instruction fetch"],
    ],
  ],
  [
    "WalkRef",
    [
      ["guestTable", "guest page-table reference"],
      ["nestedTable", "nested (EPT) table reference"],
    ],
  ],
  [
    "TranslationKind",
    [
      ["ident", "IDENT (copied)"],
      ["nonIdent", "non-IDENT (rewritten)"],
      ["compiled", "compiled to WebAssembly (the JIT; sensitive instructions as callouts)"],
    ],
  ],
  [
    "ExecKind",
    [
      ["direct", "direct"],
      ["translated", "from the translation cache"],
      ["interpreted", "interpreted"],
    ],
  ],
];

/** Trap-kind reasons: exception vectors by number, and two numbers past the vectors. */
export const trapReasons = [
  [0, null, "#DE divide error"],
  [1, null, "#DB debug"],
  [3, null, "#BP breakpoint"],
  [6, null, "#UD invalid opcode"],
  [13, null, "#GP general protection (privileged instruction)"],
  [14, null, "#PF page fault"],
  [32, "external", "external interrupt"],
  [33, "software", "software interrupt (INT n)"],
];

/**
 * Binary-translation callouts, numbered in order: the reason of callout events and the callout
 * index in the translator's forms (scripts/gen-bt.mjs). AssemblyScript: CALLOUT_<NAME> with
 * every run of other characters turned into "_".
 */
export const callouts = [
  "cli",
  "sti",
  "popf",
  "pushf",
  "iret",
  "int",
  "hlt",
  "in",
  "out",
  "mov to CR0",
  "mov to CR3",
  "mov to CR4",
  "mov from CR",
  "lgdt",
  "lidt",
  "lldt",
  "ltr",
  "sgdt",
  "sidt",
  "sldt",
  "str",
  "smsw/lmsw",
  "segment load",
  "far call/jmp/ret",
  "invlpg",
  "wrmsr",
  "rdmsr",
  "cpuid",
  "rdtsc",
  "indirect branch lookup",
  "page-table write",
  "other",
];

/**
 * Hypercall numbers (docs/hypercalls.md): KVM's (Linux include/uapi/linux/kvm_para.h) and the
 * project's pv range, kept below eventReasons so each has its own counter cell.
 */
export const hypercalls = [
  [1, "KVM_HC_VAPIC_POLL_IRQ"],
  [2, "KVM_HC_MMU_OP"],
  [3, "KVM_HC_FEATURES"],
  [4, "KVM_HC_PPC_MAP_MAGIC_PAGE"],
  [5, "KVM_HC_KICK_CPU"],
  [9, "KVM_HC_CLOCK_PAIRING"],
  [10, "KVM_HC_SEND_IPI"],
  [11, "KVM_HC_SCHED_YIELD"],
  [12, "KVM_HC_MAP_GPA_RANGE"],
  [64, "PV_HC_CONSOLE_WRITE"],
  [65, "PV_HC_MMU_UPDATE"],
  [66, "PV_HC_SET_SHARED_PAGE"],
  [67, "PV_HC_YIELD"],
  [68, "PV_HC_BLOCK"],
  [69, "PV_HC_SET_TIMER"],
  [70, "PV_HC_FPU_TASKSWITCH"],
  [71, "PV_HC_VIRTIO_NOTIFY"],
];

/** Other numbers of the hypercall ABI: [name, value, comment]. */
export const hypercallConstants = [
  ["PV_HC_FIRST", 64, "first number of the project's range (pv mode only)"],
  ["PV_HC_LAST", 79, "last number of the project's range"],
  ["KVM_EPERM", 1, "error (returned negated in EAX): hypercall from CPL > 0"],
  ["EFAULT", 14, "error: a guest address is not RAM"],
  ["EINVAL", 22, "error: a bad argument"],
  ["KVM_EOPNOTSUPP", 95, "error: not supported by this host"],
  ["KVM_ENOSYS", 1000, "error: unknown hypercall number"],
  ["PV_MMU_BATCH_MAX", 512, "entries one PV_HC_MMU_UPDATE may carry (one 4 KiB page of pairs)"],
  ["PV_CONSOLE_MAX", 4096, "bytes one PV_HC_CONSOLE_WRITE may carry"],
  ["PV_SHARED_MASK", 0, "pv shared page: offset of the u32 event mask (1 = events masked)"],
  ["PV_SHARED_PENDING", 4, "pv shared page: offset of the u32 pending flag"],
];

/**
 * Words of TRAP_VIRTUAL (the trap VMM's virtual CPU), in order: [name, words, comment].
 * AssemblyScript: TV_<NAME> = the first word's index.
 */
export const trapWords = [
  ["ACTIVE", 1, "1 while the guest runs deprivileged (protected mode entered under the trap mode)"],
  ["FLAGS", 1, "the guest's IF and IOPL, in their EFLAGS positions (the real IF stays 1, IOPL 0)"],
  ["CPL", 1, "the privilege level the guest believes it runs at (0 while the real CPL is 1)"],
  ["GDTR_BASE", 1, ""],
  ["GDTR_LIMIT", 1, ""],
  ["IDTR_BASE", 1, ""],
  ["IDTR_LIMIT", 1, ""],
  ["LDTR", 4, "LDTR: selector, base, limit, attributes | TV_VALID (TV_SEG_* words)"],
  ["TR", 4, "TR: the same four words"],
  ["SYSENTER_CS", 1, "the guest's IA32_SYSENTER_CS"],
];

/** Other trap-state numbers: [name, value, comment]. */
export const trapConstants = [
  ["TV_VALID", 0x80000000, "set in a system segment's attributes word when it holds a descriptor"],
  ["TV_SEG_SELECTOR", 0, "word of a system segment (TV_LDTR, TV_TR): selector"],
  ["TV_SEG_BASE", 1, "word of a system segment: base"],
  ["TV_SEG_LIMIT", 2, "word of a system segment: limit"],
  ["TV_SEG_ATTR", 3, "word of a system segment: attributes | TV_VALID"],
];
