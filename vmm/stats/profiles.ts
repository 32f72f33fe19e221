// Cost-model profiles as data (issue 4, item 5; issue 13, item 7). Each figure carries its source:
// the paper, manual or mailing-list message it comes from, by figure, table or section. None is
// fitted to a benchmark of this project. A figure with `cycles: null` has no published value: the
// event kind is then reported as unpriced, never guessed.
//
// Provenance tags: "V" verified against the primary text, "Q" the paper's sentence seen verbatim in a
// secondary copy (the PDF itself was not at hand), "M" an approximate value as commonly quoted
// (verify before publishing), "derived" arithmetic on cited figures (the arithmetic is in the
// source string), "none" no figure.
//
// How the software VMM's work is split (all from Adams & Agesen's Figure 4, Pentium 4 672 cycles):
//   R = BT's exception round trip through the VMM (fault into the VMM, reflection to the guest's
//       handler, IRET back through a callout)      = divzero BT 3,223 - divzero native 889 = 2,334
//   M = the software MMU's work on a true page fault = pgfault BT 3,927 - native 1,093 - R  =   500
//   E = a #PF exit's round trip with its VMM dispatch = pgfault HW 11,242 - native 1,093 - M = 9,649
// Both of their VMMs ran the same software MMU (shadow tables with traces), so M is paid alike under
// bt and under hvm with shadow paging; what differs is how the fault reaches the VMM (R or E).
// Page numbers of the papers are not given: figures are cited by figure and section.

export type Provenance = "V" | "Q" | "M" | "derived" | "none";

export interface Figure {
  /** Cycles per event, or null when no published figure exists. */
  cycles: number | null;
  source: string;
  provenance: Provenance;
  note?: string;
}

/** The event kinds the cost model prices. Other kinds are counted only (see cost-model.ts). */
export const PRICED_KINDS = [
  "exit",
  "callout",
  "hypercall",
  "shadowFault",
  "walkRef",
  "translation",
  "guestInstr",
  "trap",
] as const;
export type PricedKind = (typeof PRICED_KINDS)[number];

/** A published nanobenchmark measurement, for checking claims (not used by price()). */
export interface ReferenceRow {
  benchmark: string;
  native: Figure;
  softwareVmm: Figure;
  hardwareVmm: Figure;
}

export interface Profile {
  id: string;
  name: string;
  cpu: Figure & { description: string };
  costs: Record<PricedKind, Figure>;
  /**
   * Reasons whose published (or derived) cost differs from their kind's figure, by kind and
   * reason: e.g. an indirect-branch lookup in the translation cache (callout 29), which Adams &
   * Agesen measure apart from a callout to the VMM, or a #PF exit (exit 0), whose round trip they
   * measure apart from an I/O exit's.
   */
  byReason?: Readonly<Partial<Record<PricedKind, Readonly<Record<number, Figure>>>>>;
  reference?: ReferenceRow[];
}

const AA =
  "K. Adams, O. Agesen, A Comparison of Software and Hardware Techniques for x86 Virtualization, ASPLOS 2006 " +
  "(doi:10.1145/1168857.1168860), Figure 4 (virtualization nanobenchmarks, 3.8 GHz Pentium 4 672)";

function q(cycles: number, what: string): Figure {
  return { cycles, provenance: "Q", source: `${AA}: ${what}` };
}

function none(why: string): Figure {
  return { cycles: null, provenance: "none", source: why };
}

/** R, M and E of the header comment, from Figure 4's bold numbers. */
const AA_REFLECT = 3223 - 889; // 2,334
const AA_MMU_TRUE_FAULT = 3927 - 1093 - AA_REFLECT; // 500
const AA_PF_EXIT = 11242 - 1093 - AA_MMU_TRUE_FAULT; // 9,649

const REFLECT_SOURCE =
  `${AA}: BT's exception round trip through the VMM = divzero under the software VMM 3,223 - divzero native 889 ` +
  `= ${AA_REFLECT.toLocaleString("en-US")} cycles (divzero involves no MMU work, so the difference is the VMM's ` +
  "reflection of the fault to the guest's handler and the return). This bt counts one IRET callout per such round " +
  "trip, so the round trip is priced on it. Consistent with the paper's syscall figure under BT, native + ~2,000";
const MMU_SOURCE =
  `${AA}: the software MMU's work on a true page fault = pgfault under the software VMM 3,927 - pgfault native 1,093 ` +
  `- BT's exception round trip ${AA_REFLECT.toLocaleString("en-US")} (divzero's) = ${AA_MMU_TRUE_FAULT} cycles. ` +
  "Section 4 of the paper: both VMMs use the same software MMU, so the same work is priced under bt and under hvm " +
  "with shadow paging; how the fault reaches the VMM (an IRET callout under bt, a #PF exit under hvm) is priced apart";
const CARRIED =
  "The same VMM software path priced at Adams & Agesen's Pentium 4 cycle count: no later publication measures it. " +
  "A core with a higher IPC runs it in fewer cycles, so for later cores this is an upper bound.";

export const PENTIUM4_2006: Profile = {
  id: "pentium4-2006",
  name: "Pentium 4 672 (NetBurst, first-generation VT-x), Adams & Agesen 2006",
  cpu: {
    description: "HP xw4300, VT-enabled 3.8 GHz Intel Pentium 4 672, hyper-threading off",
    cycles: null,
    provenance: "M",
    source: "Adams & Agesen, ASPLOS 2006, section 5 (experimental setup)",
  },
  costs: {
    exit: {
      cycles: 15826,
      provenance: "Q",
      source: `${AA}: \`in\` from port 0x80 under the hardware VMM, 15,826 cycles for VM exit + VMM emulation + VM entry`,
      note:
        "Includes the VMM's handling of the exit; the paper publishes no bare exit+entry figure. A #PF exit is " +
        "priced apart (exit reason 0, derived from the pgfault row).",
    },
    callout: {
      cycles: 391,
      provenance: "Q",
      source:
        `${AA}: \`ptemod\` under the software VMM, 391 cycles: adaptive BT turns the traced PTE store into a callout ` +
        "to the software MMU instead of a fault (section 3.3 of the paper)",
    },
    hypercall: {
      cycles: 15826,
      provenance: "Q",
      source: `${AA}: \`in\` under the hardware VMM, 15,826 cycles (one exit round trip with handling)`,
      note:
        "VMCALL exits unconditionally (Intel SDM Vol. 3C, 'Instructions That Cause VM Exits Unconditionally'); " +
        "the paper has no hypercall figure, so a hypercall is priced as one exit round trip.",
    },
    shadowFault: {
      cycles: AA_MMU_TRUE_FAULT,
      provenance: "derived",
      source: MMU_SOURCE,
      note:
        "A hidden fault is priced with the same figure (the paper measures true faults only); under bt the " +
        "hardware fault that enters the VMM for a hidden fault has no separate figure and is not priced.",
    },
    walkRef: none(
      "No figure: the Pentium 4 had no nested paging (Adams & Agesen section 7) and no per-reference memory cost is published for it.",
    ),
    translation: none("No figure: Adams & Agesen do not break out translation cost per instruction."),
    guestInstr: none(
      "No figure: the paper's native numbers are whole nanobenchmark operations, not a cost per instruction.",
    ),
    trap: {
      cycles: 889,
      provenance: "derived",
      source:
        `${AA}: \`divzero\` native, 889 cycles: one exception delivered to a ring-0 handler and its IRET, ` +
        "the hardware part of a trap into a trap-and-emulate VMM",
      note: "The VMM's decode and emulation work after the trap is not included (no published figure).",
    },
  },
  byReason: {
    exit: {
      0: {
        cycles: AA_PF_EXIT,
        provenance: "derived",
        source:
          `${AA}: a #PF exit's round trip with its VMM dispatch and the fault's injection = pgfault under the hardware VMM ` +
          `11,242 - pgfault native 1,093 - the software MMU's work ${AA_MMU_TRUE_FAULT} (priced as the shadow fault) ` +
          `= ${AA_PF_EXIT.toLocaleString("en-US")} cycles`,
      },
    },
    callout: {
      4: { cycles: AA_REFLECT, provenance: "derived", source: REFLECT_SOURCE },
      29: {
        cycles: 40,
        provenance: "derived",
        source: `${AA}: \`call/ret\` 51 cycles under the software VMM vs 11 native, 'average penalty 40' per indirect branch (the RET's lookup in the translation cache)`,
      },
    },
  },
  reference: [
    {
      benchmark: "syscall",
      native: none("Adams & Agesen Figure 4: the native bar's value is not given in the text"),
      softwareVmm: {
        cycles: null,
        provenance: "Q",
        source: `${AA}: 'native + ~2000' per syscall under BT`,
        note: "only the difference to native is given",
      },
      hardwareVmm: none("Adams & Agesen Figure 4: '≈ native', no value given in the text"),
    },
    {
      benchmark: "in",
      native: q(3209, "`in` native, 3,209 cycles"),
      softwareVmm: {
        cycles: 214,
        provenance: "derived",
        source: `${AA}: BT is '15x faster than native' on \`in\`, 3,209 / 15 ≈ 214`,
      },
      hardwareVmm: q(15826, "`in` under the hardware VMM, 15,826 cycles"),
    },
    {
      benchmark: "cr8wr",
      native: {
        cycles: 140,
        provenance: "derived",
        source: `${AA}: native cr8wr '≈ 4x the BT cost' of 35 cycles`,
      },
      softwareVmm: q(35, "`cr8wr` under the software VMM, 35 cycles (inline sequence)"),
      hardwareVmm: {
        cycles: 140,
        provenance: "derived",
        source: `${AA}: '≈ native' under the hardware VMM (no exit taken)`,
      },
    },
    {
      benchmark: "call/ret",
      native: q(11, "`call/ret` native, 11 cycles"),
      softwareVmm: q(51, "`call/ret` under the software VMM, 51 cycles (average penalty 40)"),
      hardwareVmm: q(11, "`call/ret` under the hardware VMM, 11 cycles"),
    },
    {
      benchmark: "pgfault",
      native: q(1093, "`pgfault` native, 1,093 cycles"),
      softwareVmm: q(3927, "`pgfault` under the software VMM, 3,927 cycles"),
      hardwareVmm: q(11242, "`pgfault` under the hardware VMM, 11,242 cycles"),
    },
    {
      benchmark: "divzero",
      native: q(889, "`divzero` native, 889 cycles"),
      softwareVmm: q(3223, "`divzero` under the software VMM, 3,223 cycles"),
      hardwareVmm: q(1014, "`divzero` under the hardware VMM, 1,014 cycles"),
    },
    {
      benchmark: "ptemod",
      native: {
        cycles: 1,
        provenance: "derived",
        source: `${AA}: native ptemod '~1 (single store)'`,
      },
      softwareVmm: q(391, "`ptemod` under the software VMM, 391 cycles"),
      hardwareVmm: q(12733, "`ptemod` under the hardware VMM, 12,733 cycles"),
    },
  ],
};

/** The software VMM's figures of the Pentium 4 profile, carried to a later core (see CARRIED). */
function carried(): Pick<Profile["costs"], "callout" | "shadowFault"> & { byReason: Profile["byReason"] } {
  const c = (f: Figure): Figure => ({ ...f, provenance: "derived", note: CARRIED });
  const p4 = PENTIUM4_2006;
  return {
    callout: c(p4.costs.callout),
    shadowFault: c(p4.costs.shadowFault),
    byReason: { callout: { 4: c(p4.byReason!.callout![4]!), 29: c(p4.byReason!.callout![29]!) } },
  };
}

const AGESEN_2012 =
  "O. Agesen, J. Mattson, R. Rugina, J. Sheldon, Software Techniques for Avoiding Hardware Virtualization Exits, " +
  "USENIX ATC 2012, Figure 1 (round-trip latency by processor generation)";

const HASWELL = carried();
export const INTEL_HASWELL_PLUS: Profile = {
  id: "intel-haswell-plus",
  name: "Recent Intel core (Haswell and later, VT-x with EPT)",
  cpu: { description: "Intel Haswell or later", cycles: null, provenance: "M", source: AGESEN_2012 },
  costs: {
    exit: {
      cycles: 1250,
      provenance: "M",
      source:
        `${AGESEN_2012} (the falling trend); the value as commonly quoted, not from a stored primary text: a complete ` +
        "KVM CPUID exit seen from the guest on Haswell and later ≈ 1,000-1,500 cycles (midpoint taken)",
      note: "Approximate ([M], verify before publishing); the hardware-only round trip is ~400-600 cycles on these cores.",
    },
    callout: HASWELL.callout,
    hypercall: {
      cycles: 1250,
      provenance: "M",
      source: `${AGESEN_2012}; ≈ 1,000-1,500 cycles per complete exit on Haswell and later (midpoint taken)`,
      note: "VMCALL exits unconditionally (Intel SDM Vol. 3C): priced as one exit round trip.",
    },
    shadowFault: HASWELL.shadowFault,
    walkRef: none(
      "No figure: Bhargava et al., Accelerating Two-Dimensional Page Walks for Virtualized Systems, ASPLOS 2008, count the references of a 2-D walk but give no cycles per reference.",
    ),
    translation: none("No figure: no published translation cost per instruction for a recent core."),
    guestInstr: none("No figure: no published cost per guest instruction for a recent core."),
    trap: none("No figure: no published exception-delivery cost for a recent core."),
  },
  byReason: HASWELL.byReason,
};

const LKML_SVM =
  "LKML thread on SVM vmload/wrgsbase, Dec 2020 (lkml.iu.edu/hypermail/linux/kernel/2012.2/00527.html), rdtsc samples " +
  "'ioctl entry ... total cycles: 2528'";

const AMD = carried();
export const AMD_SVM_2020: Profile = {
  id: "amd-svm-2020",
  name: "Recent AMD core (SVM, 2020), KVM exit measured through KVM_RUN",
  cpu: { description: "AMD (SVM), 2020", cycles: null, provenance: "V", source: LKML_SVM },
  costs: {
    exit: {
      cycles: 2528,
      provenance: "V",
      source: LKML_SVM + ": full KVM_RUN round trip incl. return to userspace ≈ 2,528 cycles",
      note: "Of which VMRUN to #VMEXIT ≈ 1,344-1,376 cycles in the samples; the figure includes the host-side (userspace) return.",
    },
    callout: AMD.callout,
    hypercall: {
      cycles: 2528,
      provenance: "V",
      source: LKML_SVM + ": one exit round trip ≈ 2,528 cycles",
      note: "VMMCALL/VMCALL exits unconditionally: priced as one exit round trip.",
    },
    shadowFault: AMD.shadowFault,
    walkRef: none("No figure: no published cycles per 2-D walk reference for this core."),
    translation: none("No figure: no published translation cost per instruction for a recent core."),
    guestInstr: none("No figure: no published cost per guest instruction for a recent core."),
    trap: none("No figure: no published exception-delivery cost for a recent core."),
  },
  byReason: AMD.byReason,
};

export const PROFILES: readonly Profile[] = [PENTIUM4_2006, INTEL_HASWELL_PLUS, AMD_SVM_2020];

/**
 * One published exit cost per processor generation, oldest first: the points of the exit-cost
 * sweep (claim 14), in which the software VMM's figures stay at Adams & Agesen's and only the
 * exit's cost changes. Each is a complete exit as the guest sees it (transition plus the VMM's
 * dispatch), not the hardware transition alone.
 */
export interface ExitCostPoint {
  id: string;
  generation: string;
  exit: Figure;
}

export const EXIT_COST_SWEEP: readonly ExitCostPoint[] = [
  {
    id: "pentium4-2006",
    generation: "Pentium 4 672, NetBurst (2006)",
    exit: PENTIUM4_2006.byReason!.exit![0]!,
  },
  {
    id: "nehalem-2009",
    generation: "Xeon X5570, Nehalem (2009), KVM with EPT and VPID",
    exit: {
      cycles: 2000,
      provenance: "Q",
      source:
        "A. Landau, M. Ben-Yehuda, A. Gordon, SplitX: Split Guest/Hypervisor Execution on Multi-Core, WIOV 2011, " +
        "section 1 and Table 1: 'The direct cost on its own is high: 2,000 cycles' (the world switch of one exit, " +
        "Xeon X5570 2.93 GHz, KVM on Linux 2.6.34)",
      note: "The direct cost only: the handler's (synchronous) and cache (indirect) costs come on top, by the paper's Table 1.",
    },
  },
  {
    id: "intel-haswell-plus",
    generation: "Intel Haswell and later, KVM CPUID exit",
    exit: INTEL_HASWELL_PLUS.costs.exit,
  },
  {
    id: "amd-svm-2020",
    generation: "AMD SVM (2020), KVM_RUN round trip incl. userspace",
    exit: AMD_SVM_2020.costs.exit,
  },
];

export function profileById(id: string): Profile {
  const p = PROFILES.find((x) => x.id === id);
  if (p === undefined)
    throw new RangeError(`unknown cost profile ${id} (have ${PROFILES.map((x) => x.id).join(", ")})`);
  return p;
}
