// Cost-model profiles as data (issue 4, item 5). Each figure carries its source: the paper, manual
// or mailing-list post that published it. None is fitted to a benchmark of this project. A figure
// with `cycles: null` has no published value we know of: the event kind is then reported as
// unpriced, never guessed.
//
// Sources: K. Adams and O. Agesen, "A Comparison of Software and Hardware Techniques for x86
// Virtualization", ASPLOS 2006 (Figure 4, the nanobenchmarks); O. Agesen, J. Mattson, R. Rugina
// and J. Sheldon, "Software Techniques for Avoiding Hardware Virtualization Exits", USENIX ATC
// 2012 (Figure 1, exit latency by processor generation); R. Bhargava, B. Serebrin, F. Spadini and
// S. Manne, "Accelerating Two-Dimensional Page Walks for Virtualized Systems", ASPLOS 2008; the
// Intel SDM vol. 3C, 25.1.2 (instructions that cause VM exits unconditionally: VMCALL); and an
// LKML thread (below) for an AMD exit measured through KVM_RUN.
//
// Provenance tags: "V" verified against the primary text, "Q" the paper's sentence seen verbatim
// in a secondary copy, "M" recalled / approximate (verify before publishing), "derived"
// arithmetic on published figures, "none" no figure.
//
// Page numbers of the papers are not given: figures are cited by figure number.

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
   * Callouts whose published cost differs from the kind's figure, by callout reason (index in
   * CALLOUT_NAMES): e.g. an indirect-branch lookup in the translation cache, which Adams & Agesen
   * measure separately from a callout to the VMM.
   */
  calloutByReason?: Readonly<Record<number, Figure>>;
  reference?: ReferenceRow[];
}

const AA = "Adams & Agesen, ASPLOS 2006, Figure 4 (virtualization nanobenchmarks, 3.8 GHz Pentium 4 672)";

function q(cycles: number, what: string): Figure {
  return { cycles, provenance: "Q", source: `${AA}: ${what}` };
}

function none(why: string): Figure {
  return { cycles: null, provenance: "none", source: why };
}

export const PENTIUM4_2006: Profile = {
  id: "pentium4-2006",
  name: "Pentium 4 672 (NetBurst, first-generation VT-x), Adams & Agesen 2006",
  cpu: {
    description: "HP xw4300, VT-enabled 3.8 GHz Intel Pentium 4 672, hyper-threading off",
    cycles: null,
    provenance: "M",
    source: "Adams & Agesen, ASPLOS 2006, section 6 (the test machine)",
  },
  costs: {
    exit: {
      cycles: 15826,
      provenance: "Q",
      source: `${AA}: \`in\` from port 0x80 under the hardware VMM, 15,826 cycles for VM exit + VMM emulation + VM entry`,
      note:
        "Includes the VMM's handling of the exit; the paper publishes no bare exit+entry figure. " +
        "Agesen et al., USENIX ATC 2012, Figure 1 shows ~2,500-4,000 cycles for the hardware transition alone on this generation ([M]).",
    },
    callout: {
      cycles: 391,
      provenance: "Q",
      source:
        `${AA}: \`ptemod\` under the software VMM, 391 cycles: adaptive BT turns the traced PTE store into a callout ` +
        "to the software MMU instead of a fault",
    },
    hypercall: {
      cycles: 15826,
      provenance: "Q",
      source: `${AA}: \`in\` under the hardware VMM, 15,826 cycles (one exit round trip with handling)`,
      note: "VMCALL exits unconditionally (Intel SDM vol. 3C, 25.1.2); the paper has no hypercall figure, so a hypercall is priced as one exit round trip.",
    },
    shadowFault: {
      cycles: 3927,
      provenance: "Q",
      source:
        `${AA}: \`pgfault\` under the software VMM, 3,927 cycles for a true guest page fault handled by the ` +
        `software MMU (shadow page tables) without a VM exit`,
      note: "Under hvm with shadow paging the exit that delivers the fault is counted and priced separately as an exit.",
    },
    walkRef: none(
      "No figure: the Pentium 4 had no nested paging, and no published per-reference memory cost is known for it.",
    ),
    translation: none("No figure: Adams & Agesen do not break out translation cost per instruction."),
    guestInstr: none(
      "No figure: Adams & Agesen's native numbers are whole nanobenchmark operations, not a cost per instruction.",
    ),
    trap: {
      cycles: 889,
      provenance: "derived",
      source:
        `${AA}: \`divzero\` native, 889 cycles: one exception delivered to a ring-0 handler and its IRET, ` +
        `the hardware part of a trap into a trap-and-emulate VMM`,
      note: "The VMM's decode and emulation work after the trap is not included (no published figure).",
    },
  },
  calloutByReason: {
    29: {
      cycles: 40,
      provenance: "derived",
      source:
        `${AA}: \`call/ret\` 51 cycles under the software VMM vs 11 native, 'average penalty 40' per indirect ` +
        "branch (the RET's lookup in the translation cache)",
    },
  },
  reference: [
    {
      benchmark: "syscall",
      native: none("Figure 4 bar not transcribed ('baseline (few hundred)'; Adams & Agesen, ASPLOS 2006)"),
      softwareVmm: {
        cycles: null,
        provenance: "Q",
        source: `${AA}: 'native + ~2000' per syscall under BT`,
        note: "only the difference to native is given",
      },
      hardwareVmm: none("Figure 4: '≈ native', no value transcribed (Adams & Agesen, ASPLOS 2006)"),
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

const GEN_TABLE =
  "Agesen, Mattson, Rugina, Sheldon, USENIX ATC 2012, Figure 1 (exit latency by processor generation) and its trend " +
  "to later generations";

export const INTEL_HASWELL_PLUS: Profile = {
  id: "intel-haswell-plus",
  name: "Recent Intel core (Haswell and later, VT-x with EPT)",
  cpu: {
    description: "Intel Haswell or later",
    cycles: null,
    provenance: "M",
    source: GEN_TABLE + ", row 'Haswell and later'",
  },
  costs: {
    exit: {
      cycles: 1250,
      provenance: "M",
      source:
        GEN_TABLE +
        ", row 'Haswell and later': a complete KVM CPUID exit seen from the guest ≈ 1,000-1,500 cycles (midpoint taken)",
      note: "Approximate ([M], verify before publishing); a hardware-only round trip is ~400-600 cycles on the same generation.",
    },
    callout: none("No figure: no published figure gives a binary-translation callout cost for a recent core."),
    hypercall: {
      cycles: 1250,
      provenance: "M",
      source: GEN_TABLE + ", row 'Haswell and later', ≈ 1,000-1,500 cycles per complete exit (midpoint taken)",
      note: "VMCALL exits unconditionally (Intel SDM vol. 3C, 25.1.2): priced as one exit round trip.",
    },
    shadowFault: none("No figure: no published figure gives a shadow-MMU fault-handling cost for a recent core."),
    walkRef: none(
      "No figure: Bhargava et al., ASPLOS 2008, count the references of a 2-D walk but give no cycles per reference.",
    ),
    translation: none("No figure: no published figure gives a translation cost for a recent core."),
    guestInstr: none("No figure: no published figure gives a cost per guest instruction for a recent core."),
    trap: none("No figure: no published figure gives a exception-delivery cost for a recent core."),
  },
};

const LKML_SVM =
  "LKML thread on SVM vmload/wrgsbase, Dec 2020 (lkml.iu.edu/hypermail/linux/kernel/2012.2/00527.html), rdtsc samples " +
  "'ioctl entry ... total cycles: 2528'";

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
    callout: none("No figure: no published figure gives a binary-translation callout cost for a recent core."),
    hypercall: {
      cycles: 2528,
      provenance: "V",
      source: LKML_SVM + ": one exit round trip ≈ 2,528 cycles",
      note: "VMMCALL/VMCALL exits unconditionally: priced as one exit round trip.",
    },
    shadowFault: none("No figure: no published figure gives a shadow-MMU fault-handling cost for a recent core."),
    walkRef: none("No figure: no published cycles per 2-D walk reference for this core."),
    translation: none("No figure: no published figure gives a translation cost for a recent core."),
    guestInstr: none("No figure: no published figure gives a cost per guest instruction for a recent core."),
    trap: none("No figure: no published figure gives a exception-delivery cost for a recent core."),
  },
};

export const PROFILES: readonly Profile[] = [PENTIUM4_2006, INTEL_HASWELL_PLUS, AMD_SVM_2020];

export function profileById(id: string): Profile {
  const p = PROFILES.find((x) => x.id === id);
  if (p === undefined)
    throw new RangeError(`unknown cost profile ${id} (have ${PROFILES.map((x) => x.id).join(", ")})`);
  return p;
}
