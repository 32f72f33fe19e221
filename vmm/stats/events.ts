// Event kinds the hypervisor reports into the stats module (issue 4, item 4).
//
// Every event has a kind, a reason (a number whose meaning depends on the kind) and the place it
// was handled (in the core, i.e. inside the Wasm CPU without leaving it, or in the host, i.e. in
// the TypeScript VMM). Numbers are the architectural ones where they exist: VMX exit reasons are
// the SDM's basic exit reasons (Vol. 3C Appendix C; reference/virtualization.md section 5.1),
// hypercall reasons are the hypercall numbers in EAX (KVM's numbers, section 6.3, plus the
// project range).
//
// This file imports nothing: it runs in Node and in a browser Worker.

/** Where a crossing was handled. */
export const Where = { core: 0, host: 1 } as const;
export type Where = (typeof Where)[keyof typeof Where];
export const WHERE_NAMES = ["core", "host"] as const;
export type WhereName = (typeof WHERE_NAMES)[number];

/**
 * Event kinds. The numeric value is stored in the trace ring; the name appears in snapshots.
 *
 * - exit: a VM exit and the entry that resumes the guest (one round trip); reason = VMX basic exit reason.
 * - callout: a binary-translated sensitive instruction calling into a VMM routine; reason = CalloutKind.
 * - hypercall: a para-virtual call (VMCALL with EAX = number); reason = the hypercall number.
 *   A hypercall is counted as a hypercall, not also as an exit (reason 18), so it is priced once.
 * - shadowFault: a page fault seen by the shadow MMU; reason = ShadowFault (hidden, true, PT write).
 * - eptViolation: an EPT violation filled or reflected by the VMM; reason = EptAccess. The exit that
 *   delivered it (reason 48) is counted separately as an exit.
 * - walkRef: memory references made by page walks; reason = WalkRef (guest table or nested table).
 * - translation: guest instructions translated by the binary translator; reason = TranslationKind.
 * - guestInstr: guest instructions executed; reason = ExecKind (direct or from the translation cache).
 * - io: a port access; reason = the port number.
 * - mmio: a memory-mapped I/O access; reason = a caller-chosen region number (e.g. base GPA >>> 12).
 * - trap: an exception the trap-and-emulate VMM took from the deprivileged guest; reason = the
 *   vector (13: a privileged instruction to emulate, 14: a page fault for the shadow MMU, ...),
 *   32 for an external interrupt, 33 for a software interrupt (INT n) the VMM reflected.
 */
export const Kind = {
  exit: 0,
  callout: 1,
  hypercall: 2,
  shadowFault: 3,
  eptViolation: 4,
  walkRef: 5,
  translation: 6,
  guestInstr: 7,
  io: 8,
  mmio: 9,
  trap: 10,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
export const KIND_NAMES = [
  "exit",
  "callout",
  "hypercall",
  "shadowFault",
  "eptViolation",
  "walkRef",
  "translation",
  "guestInstr",
  "io",
  "mmio",
  "trap",
] as const;
export type KindName = (typeof KIND_NAMES)[number];
export const KIND_COUNT = KIND_NAMES.length;

/** VMX basic exit reasons (SDM Vol. 3C Appendix C; reference/virtualization.md section 5.1). */
export const ExitReason = {
  exceptionOrNmi: 0,
  externalInterrupt: 1,
  tripleFault: 2,
  init: 3,
  sipi: 4,
  ioSmi: 5,
  otherSmi: 6,
  interruptWindow: 7,
  nmiWindow: 8,
  taskSwitch: 9,
  cpuid: 10,
  getsec: 11,
  hlt: 12,
  invd: 13,
  invlpg: 14,
  rdpmc: 15,
  rdtsc: 16,
  rsm: 17,
  vmcall: 18,
  vmclear: 19,
  vmlaunch: 20,
  vmptrld: 21,
  vmptrst: 22,
  vmread: 23,
  vmresume: 24,
  vmwrite: 25,
  vmxoff: 26,
  vmxon: 27,
  crAccess: 28,
  movDr: 29,
  ioInstruction: 30,
  rdmsr: 31,
  wrmsr: 32,
  entryFailInvalidGuestState: 33,
  entryFailMsrLoading: 34,
  mwait: 36,
  monitorTrapFlag: 37,
  monitor: 39,
  pause: 40,
  entryFailMachineCheck: 41,
  tprBelowThreshold: 43,
  apicAccess: 44,
  virtualizedEoi: 45,
  gdtrIdtrAccess: 46,
  ldtrTrAccess: 47,
  eptViolation: 48,
  eptMisconfig: 49,
  invept: 50,
  rdtscp: 51,
  preemptionTimer: 52,
  invvpid: 53,
  wbinvd: 54,
  xsetbv: 55,
  apicWrite: 56,
  rdrand: 57,
  invpcid: 58,
  vmfunc: 59,
  encls: 60,
  rdseed: 61,
  pmlFull: 62,
  xsaves: 63,
  xrstors: 64,
  pconfig: 65,
  sppEvent: 66,
  umwait: 67,
  tpause: 68,
  loadiwkey: 69,
  enclv: 70,
  sgxConflict: 71,
  enqcmdPasidFail: 72,
  enqcmdsPasidFail: 73,
  busLock: 74,
  instructionTimeout: 75,
  seamcall: 76,
  tdcall: 77,
} as const;

/** The SDM's names for the basic exit reasons (reference/virtualization.md section 5.1). */
export const EXIT_REASON_NAMES: Readonly<Record<number, string>> = {
  0: "Exception or NMI",
  1: "External interrupt",
  2: "Triple fault",
  3: "INIT signal",
  4: "Start-up IPI (SIPI)",
  5: "I/O SMI",
  6: "Other SMI",
  7: "Interrupt window",
  8: "NMI window",
  9: "Task switch",
  10: "CPUID",
  11: "GETSEC",
  12: "HLT",
  13: "INVD",
  14: "INVLPG",
  15: "RDPMC",
  16: "RDTSC",
  17: "RSM",
  18: "VMCALL",
  19: "VMCLEAR",
  20: "VMLAUNCH",
  21: "VMPTRLD",
  22: "VMPTRST",
  23: "VMREAD",
  24: "VMRESUME",
  25: "VMWRITE",
  26: "VMXOFF",
  27: "VMXON",
  28: "Control-register access",
  29: "MOV DR",
  30: "I/O instruction",
  31: "RDMSR",
  32: "WRMSR",
  33: "VM-entry failure: invalid guest state",
  34: "VM-entry failure: MSR loading",
  36: "MWAIT",
  37: "Monitor trap flag",
  39: "MONITOR",
  40: "PAUSE",
  41: "VM-entry failure: machine-check",
  43: "TPR below threshold",
  44: "APIC access",
  45: "Virtualized EOI",
  46: "Access to GDTR or IDTR",
  47: "Access to LDTR or TR",
  48: "EPT violation",
  49: "EPT misconfiguration",
  50: "INVEPT",
  51: "RDTSCP",
  52: "VMX-preemption timer expired",
  53: "INVVPID",
  54: "WBINVD / WBNOINVD",
  55: "XSETBV",
  56: "APIC write",
  57: "RDRAND",
  58: "INVPCID",
  59: "VMFUNC",
  60: "ENCLS",
  61: "RDSEED",
  62: "Page-modification log full",
  63: "XSAVES",
  64: "XRSTORS",
  65: "PCONFIG",
  66: "SPP-related event",
  67: "UMWAIT",
  68: "TPAUSE",
  69: "LOADIWKEY",
  70: "ENCLV",
  71: "SGX conflict",
  72: "ENQCMD PASID translation failure",
  73: "ENQCMDS PASID translation failure",
  74: "Bus lock",
  75: "Instruction timeout",
  76: "SEAMCALL",
  77: "TDCALL",
};

/** Binary-translation callouts: sensitive instructions that call a VMM routine (issue 4, `bt`). */
export const CALLOUT_NAMES = [
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
] as const;
export const Callout = Object.fromEntries(CALLOUT_NAMES.map((name, i) => [name, i])) as {
  readonly [K in (typeof CALLOUT_NAMES)[number]]: number;
};

/** Hypercall numbers with names: KVM's (reference section 6.3) and the project's pv range 64-79 (docs/hypercalls.md). */
export const HYPERCALL_NAMES: Readonly<Record<number, string>> = {
  1: "KVM_HC_VAPIC_POLL_IRQ",
  2: "KVM_HC_MMU_OP",
  3: "KVM_HC_FEATURES",
  4: "KVM_HC_PPC_MAP_MAGIC_PAGE",
  5: "KVM_HC_KICK_CPU",
  9: "KVM_HC_CLOCK_PAIRING",
  10: "KVM_HC_SEND_IPI",
  11: "KVM_HC_SCHED_YIELD",
  12: "KVM_HC_MAP_GPA_RANGE",
  64: "PV_HC_CONSOLE_WRITE",
  65: "PV_HC_MMU_UPDATE",
  66: "PV_HC_SET_SHARED_PAGE",
  67: "PV_HC_YIELD",
  68: "PV_HC_BLOCK",
  69: "PV_HC_SET_TIMER",
  70: "PV_HC_FPU_TASKSWITCH",
};

/** Shadow page-table faults. */
export const ShadowFault = { hidden: 0, true: 1, ptWrite: 2 } as const;
export const SHADOW_FAULT_NAMES = [
  "hidden (shadow table not yet filled; guest never sees it)",
  "true (reflected to the guest)",
  "write to a tracked guest page-table page",
] as const;

/** EPT violations by access type (qualification bits 0-2). */
export const EptAccess = { read: 0, write: 1, fetch: 2 } as const;
export const EPT_ACCESS_NAMES = ["data read", "data write", "instruction fetch"] as const;

/** Memory references of a (2-D) page walk. */
export const WalkRef = { guestTable: 0, nestedTable: 1 } as const;
export const WALK_REF_NAMES = ["guest page-table reference", "nested (EPT) table reference"] as const;

/** Translated guest instructions. */
export const TranslationKind = { ident: 0, nonIdent: 1 } as const;
export const TRANSLATION_NAMES = ["IDENT (copied)", "non-IDENT (rewritten)"] as const;

/** Executed guest instructions. */
export const ExecKind = { direct: 0, translated: 1, interpreted: 2 } as const;
export const EXEC_NAMES = ["direct", "from the translation cache", "interpreted"] as const;

/** Exception vectors as trap reasons. */
export const TRAP_NAMES: Readonly<Record<number, string>> = {
  0: "#DE divide error",
  1: "#DB debug",
  3: "#BP breakpoint",
  6: "#UD invalid opcode",
  13: "#GP general protection (privileged instruction)",
  14: "#PF page fault",
  32: "external interrupt",
  33: "software interrupt (INT n)",
};

function hex(n: number, width: number): string {
  return "0x" + n.toString(16).padStart(width, "0");
}

/** A human name for a reason of a kind; unknown numbers are named by number, never rejected. */
export function reasonName(kind: Kind, reason: number): string {
  switch (kind) {
    case Kind.exit:
      return EXIT_REASON_NAMES[reason] ?? `exit reason ${reason}`;
    case Kind.callout:
      return CALLOUT_NAMES[reason] ?? `callout ${reason}`;
    case Kind.hypercall:
      return HYPERCALL_NAMES[reason] ?? `hypercall ${reason}`;
    case Kind.shadowFault:
      return SHADOW_FAULT_NAMES[reason] ?? `shadow fault ${reason}`;
    case Kind.eptViolation:
      return EPT_ACCESS_NAMES[reason] ?? `EPT access ${reason}`;
    case Kind.walkRef:
      return WALK_REF_NAMES[reason] ?? `walk reference ${reason}`;
    case Kind.translation:
      return TRANSLATION_NAMES[reason] ?? `translation ${reason}`;
    case Kind.guestInstr:
      return EXEC_NAMES[reason] ?? `execution ${reason}`;
    case Kind.io:
      return "port " + hex(reason, 4);
    case Kind.mmio:
      return "MMIO region " + hex(reason, 5);
    case Kind.trap:
      return TRAP_NAMES[reason] ?? `vector ${reason}`;
    default:
      return String(reason);
  }
}

export function kindByName(name: KindName): Kind {
  return Kind[name];
}
