import { describe, expect, it } from "vitest";
import {
  AMD_SVM_2020,
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
    // Hand-computed from Adams & Agesen's figures: exit 15,826; hypercall 15,826; callout 391; shadow fault 3,927.
    // 3 x 15826 + 2 x 15826 + 5 x 391 + 4 x 3927 = 47478 + 31652 + 1955 + 15708 = 96793.
    expect(p.modeledCycles).toBe(96793);
    expect(p.profile).toBe("pentium4-2006");
    expect(p.breakdown.map((l) => [l.kind, l.count, l.cyclesPerEvent, l.cycles])).toEqual([
      ["exit", 3, 15826, 47478],
      ["callout", 5, 391, 1955],
      ["hypercall", 2, 15826, 31652],
      ["shadowFault", 4, 3927, 15708],
    ]);
    // Guest instructions have no published per-instruction figure; port accesses are counted only.
    expect(p.unpriced.map((u) => [u.kind, u.count])).toEqual([
      ["guestInstr", 100],
      ["io", 7],
    ]);
  });

  it("prices the recent profiles", () => {
    const snap = workload().snapshot();
    // 5 exit round trips (3 exits + 2 hypercalls) x 1,250.
    expect(price(snap, INTEL_HASWELL_PLUS).modeledCycles).toBe(6250);
    // 5 x 2,528.
    expect(price(snap, AMD_SVM_2020).modeledCycles).toBe(12640);
    expect(price(snap, INTEL_HASWELL_PLUS).unpriced.map((u) => u.kind)).toEqual([
      "callout",
      "shadowFault",
      "guestInstr",
      "io",
    ]);
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

describe("formatReport()", () => {
  it("shows counts, modeled cycles per profile and the measured host time, labelled apart", () => {
    const text = formatReport(workload().snapshot(), PROFILES, 12.5);
    expect(text).toContain("measured");
    expect(text).toContain("Measured host time");
    expect(text).toContain("12.500 ms");
    expect(text).toContain("Modeled cycles");
    expect(text).toMatch(/modeled, pentium4-2006\s+96,793 cycles/);
    expect(text).toMatch(/modeled, intel-haswell-plus\s+6,250 cycles/);
    expect(text).toContain("exit 30 I/O instruction");
    expect(text).toContain("unpriced");
    // The measured line never carries modeled cycles and vice versa.
    const measuredLine = text.split("\n").find((l) => l.startsWith("Measured"))!;
    expect(measuredLine).not.toContain("cycles");
  });
});
