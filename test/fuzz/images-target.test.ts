// The "images" fuzz target (issue 8): a seeded run of mutated kernels, firmware and disk images
// in every mode finds nothing, cases replay from their JSON reproducers, and an exception of a
// class the loaders must not throw is reported as a crash, not as ok.

import { describe, expect, it } from "vitest";
import { generateImageCase, type ImageCase, imagesTarget, runImageCase } from "../../fuzz/targets/images.js";

const MODES = ["native", "trap", "bt", "hvm", "pv"] as const;
const opts = { modes: MODES, wallMs: 10_000 };

describe("fuzz target: images", () => {
  it("20 seeded cases over all modes are all ok", async () => {
    const kinds = new Set<string>();
    let ran = 0;
    for (let seed = 0; seed < 20; seed++) {
      const r = await imagesTarget.run(seed, opts);
      expect(r.verdict, `seed ${seed}: ${r.detail}`).toBe("ok");
      kinds.add(generateImageCase(seed, MODES).kind);
      if (r.instructions > 0) ran++;
    }
    // The seeds cover every kind of case, and some images load and run.
    expect([...kinds].sort()).toEqual(["disk", "firmware", "kernel"]);
    expect(ran).toBeGreaterThan(0);
  }, 60_000);

  it("replays a case from its JSON form with the same outcome", async () => {
    for (const seed of [3, 7]) {
      const c = JSON.parse(JSON.stringify(generateImageCase(seed, MODES))) as ImageCase;
      const first = await imagesTarget.run(seed, opts);
      const again = await imagesTarget.replay(c, opts);
      expect(again.verdict).toBe(first.verdict);
      expect(again.instructions).toBe(first.instructions);
    }
  });

  it("the Multiboot ELF with e_phentsize 0 and e_phnum 65535 is refused quickly (once an 11-minute load)", async () => {
    const c: ImageCase = {
      kind: "kernel",
      kernel: {
        base: { builtin: "multiboot-elf" },
        patches: [
          [42, 0],
          [43, 0],
          [44, 0xff],
          [45, 0xff],
        ],
      },
      cmdlineLength: 0,
      memMiB: 16,
      mode: "native",
      instructions: 1000,
    };
    const r = await runImageCase(c, { wallMs: 2_000 });
    expect(r.verdict).toBe("ok");
    expect(r.instructions).toBe(0); // refused, not run
  });

  it("reports an exception of another class escaping as a crash, with its reproducer", async () => {
    // A kernel image whose base cannot be built (negative length) throws a RangeError, which is
    // none of the loaders' one-line error classes.
    const c: ImageCase = {
      kind: "kernel",
      kernel: { base: { random: 1, length: -1 }, patches: [] },
      cmdlineLength: 0,
      memMiB: 16,
      mode: "native",
      instructions: 1000,
    };
    const r = await runImageCase(c, opts);
    expect(r.verdict).toBe("crash");
    expect(r.detail).toMatch(/RangeError/);
    expect(r.reproducer).toEqual(c);
  });
});
