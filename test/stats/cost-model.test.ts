import { describe, expect, it } from "vitest";
import {
  AMD_SVM_2020,
  EXIT_COST_SWEEP,
  ExitReason,
  formatReport,
  INTEL_HASWELL_PLUS,
  Kind,
  PENTIUM4_2006,
  PRICED_KINDS,
  PROFILES,
  price,
  profileById,
  ShadowFault,
  Stats,
  Where,
} from "../../vmm/stats/index.js";

function workload(): Stats {
  const s = new Stats(16);
  for (let i = 0; i < 3; i++) s.crossing(Kind.exit, ExitReason.ioInstruction, Where.host, 0x800008, 0x1000, 0, i);
  s.crossing(Kind.hypercall, 5, Where.host, 0, 0x2000, 0, 10);
  s.crossing(Kind.hypercall, 11, Where.host, 0, 0x2000, 0, 11);
  s.count(Kind.callout, 0, Where.core, 5);
  s.count(Kind.shadowFault, ShadowFault.true, Where.host, 4);
  s.count(Kind.guestInstr, 0, Where.core, 100);
  s.count(Kind.io, 0x80, Where.host, 7);
  return s;
}

describe("price()", () => {
  it("prices the Pentium 4 profile from its per-event figures", () => {
    const p = price(workload().snapshot(), PENTIUM4_2006);
    // Hand-computed from Adams & Agesen's figures: exit 15,826; hypercall 15,826; callout 391; the software
    // MMU's work on a true fault 3,927 - 1,093 - (3,223 - 889) = 500.
    // 3 x 15826 + 2 x 15826 + 5 x 391 + 4 x 500 = 47478 + 31652 + 1955 + 2000 = 83085.
    expect(p.modeledCycles).toBe(83085);
    expect(p.profile).toBe("pentium4-2006");
    expect(p.breakdown.map((l) => [l.kind, l.count, l.cyclesPerEvent, l.cycles])).toEqual([
      ["exit", 3, 15826, 47478],
      ["callout", 5, 391, 1955],
      ["hypercall", 2, 15826, 31652],
      ["shadowFault", 4, 500, 2000],
    ]);
    // Guest instructions have no published per-instruction figure; port accesses are counted only.
    expect(p.unpriced.map((u) => [u.kind, u.count])).toEqual([
      ["guestInstr", 100],
      ["io", 7],
    ]);
  });

  it("prices the recent profiles", () => {
    const snap = workload().snapshot();
    // 5 exit round trips (3 exits + 2 hypercalls) x 1,250, plus the software VMM's work at Adams & Agesen's
    // cycle counts (5 callouts x 391 + 4 true faults x 500 = 3,955).
    expect(price(snap, INTEL_HASWELL_PLUS).modeledCycles).toBe(6250 + 3955);
    // 5 x 2,528 + 3,955.
    expect(price(snap, AMD_SVM_2020).modeledCycles).toBe(12640 + 3955);
    expect(price(snap, INTEL_HASWELL_PLUS).unpriced.map((u) => u.kind)).toEqual(["guestInstr", "io"]);
  });

  it("prices nothing for an empty snapshot", () => {
    const p = price(new Stats(1).snapshot(), PENTIUM4_2006);
    expect(p).toEqual({ profile: "pentium4-2006", modeledCycles: 0, breakdown: [], unpriced: [] });
  });
});

describe("profiles", () => {
  it("every figure has a non-empty source and a price for every priced kind", () => {
    expect(PROFILES.length).toBeGreaterThanOrEqual(2);
    const ids = new Set<string>();
    for (const profile of PROFILES) {
      ids.add(profile.id);
      expect(profile.cpu.source.trim()).not.toBe("");
      for (const kind of PRICED_KINDS) {
        const f = profile.costs[kind];
        expect(f, `${profile.id}.${kind}`).toBeDefined();
        expect(f.source.trim().length, `${profile.id}.${kind}`).toBeGreaterThan(10);
        if (f.cycles !== null) {
          expect(f.cycles).toBeGreaterThan(0);
          expect(f.provenance).not.toBe("none");
        }
      }
      for (const row of profile.reference ?? []) {
        for (const f of [row.native, row.softwareVmm, row.hardwareVmm]) {
          expect(f.source.trim().length, `${profile.id} ${row.benchmark}`).toBeGreaterThan(10);
        }
      }
    }
    expect(ids.size).toBe(PROFILES.length);
    expect(ids.has("pentium4-2006")).toBe(true);
  });

  it("carries Adams & Agesen's Figure 4 numbers", () => {
    const row = (b: string) => PENTIUM4_2006.reference!.find((r) => r.benchmark === b)!;
    expect([row("in").native.cycles, row("in").hardwareVmm.cycles]).toEqual([3209, 15826]);
    expect([
      row("pgfault").native.cycles,
      row("pgfault").softwareVmm.cycles,
      row("pgfault").hardwareVmm.cycles,
    ]).toEqual([1093, 3927, 11242]);
    expect([
      row("divzero").native.cycles,
      row("divzero").softwareVmm.cycles,
      row("divzero").hardwareVmm.cycles,
    ]).toEqual([889, 3223, 1014]);
    expect([row("call/ret").native.cycles, row("call/ret").softwareVmm.cycles]).toEqual([11, 51]);
    expect([row("ptemod").softwareVmm.cycles, row("ptemod").hardwareVmm.cycles]).toEqual([391, 12733]);
    expect(row("cr8wr").softwareVmm.cycles).toBe(35);
    expect(profileById("pentium4-2006")).toBe(PENTIUM4_2006);
    expect(() => profileById("nope")).toThrow(RangeError);
  });
});

describe("figures by reason", () => {
  it("prices a #PF exit and an IRET callout by their derived figures, others by the kind's", () => {
    const s = new Stats(4);
    s.count(Kind.exit, ExitReason.exceptionOrNmi, Where.host, 2);
    s.count(Kind.exit, ExitReason.ioInstruction, Where.host, 1);
    s.count(Kind.callout, 4, Where.core, 3); // iret
    s.count(Kind.callout, 29, Where.core, 10); // indirect-branch lookup
    s.count(Kind.shadowFault, ShadowFault.ptWrite, Where.host, 7); // counted only
    const p = price(s.snapshot(), PENTIUM4_2006);
    // 2 x (11242 - 1093 - 500) + 15826 + 3 x (3223 - 889) + 10 x 40
    expect(p.modeledCycles).toBe(2 * 9649 + 15826 + 3 * 2334 + 400);
    expect(p.breakdown.find((l) => l.kind === "shadowFault")).toBeUndefined();
  });

  it("keeps every figure of the exit-cost sweep cited, the oldest the dearest", () => {
    expect(EXIT_COST_SWEEP[0]!.id).toBe("pentium4-2006");
    for (const g of EXIT_COST_SWEEP) {
      expect(g.exit.cycles, g.id).toBeGreaterThan(0);
      expect(g.exit.source.length, g.id).toBeGreaterThan(20);
      if (g !== EXIT_COST_SWEEP[0]) expect(g.exit.cycles!).toBeLessThan(EXIT_COST_SWEEP[0]!.exit.cycles!);
    }
  });
});

describe("formatReport()", () => {
  it("shows counts, modeled cycles per profile and the measured host time, labelled apart", () => {
    const text = formatReport(workload().snapshot(), PROFILES, 12.5);
    expect(text).toContain("measured");
    expect(text).toContain("Measured host time");
    expect(text).toContain("12.500 ms");
    expect(text).toContain("Modeled cycles");
    expect(text).toMatch(/modeled, pentium4-2006\s+83,085 cycles/);
    expect(text).toMatch(/modeled, intel-haswell-plus\s+10,205 cycles/);
    expect(text).toContain("exit 30 I/O instruction");
    expect(text).toContain("unpriced");
    // The measured line never carries modeled cycles and vice versa.
    const measuredLine = text.split("\n").find((l) => l.startsWith("Measured"))!;
    expect(measuredLine).not.toContain("cycles");
  });
});
