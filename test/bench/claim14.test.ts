// Claim 14 of bench:modes (the exit-cost sweep) on counts made up to match nanobench's per-operation
// crossings, so the arithmetic is checked apart from a guest run: the crossover for a page fault is
// BT's exception round trip (Adams & Agesen's divzero, 3,223 - 889), and a page-table write never
// crosses over (bt's rewritten store, 391 cycles, is cheaper than every published exit).

import { describe, expect, it } from "vitest";
import { type BootTable, checkClaims, type NanoTable } from "../../bench/modes/claims.js";
import { Callout, ExitReason, Kind, ShadowFault, Stats, Where } from "../../vmm/stats/index.js";

const N = 1000;

function snap(counts: [Kind, number, number][]) {
  const s = new Stats(4);
  for (const [kind, reason, n] of counts) s.count(kind, reason, Where.core, n);
  return s.snapshot();
}

const point = (counts: [Kind, number, number][]) => ({ iterations: N, perOp: 8, crossings: snap(counts) });

function nano(ptwriteExits: number): NanoTable {
  return {
    pgfault: {
      bt: point([
        [Kind.callout, Callout.iret!, N],
        [Kind.shadowFault, ShadowFault.true, N],
      ]),
      "hvm-shadow": point([
        [Kind.exit, ExitReason.exceptionOrNmi, N],
        [Kind.shadowFault, ShadowFault.true, N],
      ]),
    },
    ptwrite: {
      bt: point([
        [Kind.callout, Callout["page-table write"]!, N],
        [Kind.callout, Callout.invlpg!, N],
      ]),
      "hvm-shadow": point([
        [Kind.exit, ExitReason.exceptionOrNmi, N],
        [Kind.exit, ExitReason.invlpg, ptwriteExits - N],
      ]),
    },
  };
}

const boot: BootTable = {
  bt: { crossings: snap([[Kind.callout, Callout.iret!, 10_000]]), refsPerMiss: 2, instructions: 1 },
  "hvm-shadow": { crossings: snap([[Kind.exit, ExitReason.ioInstruction, 5_000]]), refsPerMiss: 2, instructions: 1 },
};

describe("claim 14: the exit-cost sweep", () => {
  it("puts the page-fault crossover at BT's exception round trip and finds none for page-table writes", () => {
    const c14 = checkClaims(nano(2 * N), boot).find((c) => c.id === 14)!;
    const at = (text: string) => c14.numbers.indexOf(text);
    expect(
      at("crossover within the published exit costs on pgfault, linux-boot (ForkWait proxy); not on ptwrite"),
    ).toBe(0);
    // Per page fault: bt 2,334 + 500, hvm-shadow 500 + one exit.
    expect(at("pgfault: bt 2,834; hvm-shadow 500 + 1.00 exits")).toBeGreaterThan(0);
    expect(at("crossover 2,334 cycles per exit: hvm-shadow overtakes bt below it; ptwrite")).toBeGreaterThan(0);
    // Per page-table write: bt 391 + 391, hvm-shadow two exits.
    expect(at("ptwrite: bt 782; hvm-shadow 0.00 + 2.00 exits")).toBeGreaterThan(0);
    expect(at("crossover 391 cycles per exit: below every published exit cost (cheapest 1,250)")).toBeGreaterThan(0);
    // The boot: 10,000 x 2,334 = 23,340,000 against 5,000 exits: crossover 4,668.
    expect(at("crossover 4,668 cycles per exit: hvm-shadow overtakes bt below it")).toBeGreaterThan(0);
    expect(c14.status).toBe("does not hold");
  });

  it("holds when every test crosses over within the published exit costs", () => {
    // Page-table writes priced like page faults: one exit against one IRET callout each.
    const n = nano(N);
    n.ptwrite = n.pgfault;
    const c14 = checkClaims(n, boot).find((c) => c.id === 14)!;
    expect(c14.status).toBe("holds");
  });

  it("says what is missing instead of passing", () => {
    expect(checkClaims({}, {}).find((c) => c.id === 14)!.status).toBe("not measured");
  });
});
