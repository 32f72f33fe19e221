// The seeded fuzz smoke run of `npm test`: a fixed set of cpu and devices cases in every mode
// (the images target has its own test). The same seeds always make the same cases, so a
// failure here reproduces with `npm run fuzz -- --targets cpu --seed N --seconds 1`.

import { describe, expect, it } from "vitest";
import { cpuTarget, generateCpuCase } from "../../fuzz/targets/cpu.js";
import { devicesTarget } from "../../fuzz/targets/devices.js";

const ALL_MODES = ["native", "trap", "bt", "hvm", "pv"] as const;
const opts = { modes: ALL_MODES, wallMs: 60_000 };

describe("fuzz smoke run", () => {
  it("cpu: 24 seeded cases, every mode, no crash, hang or divergence", async () => {
    let instructions = 0;
    let compared = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const r = await cpuTarget.run(seed, opts);
      expect(r.verdict, `seed ${seed}: ${r.detail}`).toBe("ok");
      instructions += r.instructions;
      if (generateCpuCase(seed).kind === "compare" && !r.detail) compared++;
    }
    // The cases do run guest code, and more than a third of them were compared across modes.
    expect(instructions).toBeGreaterThan(1_000_000);
    expect(compared).toBeGreaterThan(7);
  });

  it("devices: 16 seeded cases of port, PCI, IDE, fw_cfg DMA and MMIO traffic", async () => {
    let instructions = 0;
    for (let seed = 1; seed <= 16; seed++) {
      const r = await devicesTarget.run(seed, opts);
      expect(r.verdict, `seed ${seed}: ${r.detail}`).toBe("ok");
      instructions += r.instructions;
    }
    expect(instructions).toBeGreaterThan(100_000);
  });
});
