// An icount run is the same run every time: the tiny Linux under hvm with shadow paging (which
// reads kvmclock's wall clock and the RTC) makes the same crossings, prints the same bytes and
// leaves the same RAM whether run() is called once or in slices, and on every run. The
// wall-clock start defaults to a fixed date under icount (-rtc base= chooses another).

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadKernel } from "../../vmm/boot/kernel.js";
import * as L from "../../vmm/generated/layout.js";
import { parseArgs, parseRtcBase } from "../../vmm/node/args.js";
import { UserInputError } from "../../vmm/node/files.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/index.js";
import { ICOUNT_EPOCH_SECONDS, Vm } from "../../vmm/vm.js";

const ROOT = new URL("../../", import.meta.url);
const kernel = readFileSync(new URL("guests/linux/bzImage", ROOT));
const initrd = readFileSync(new URL("guests/linux/initramfs.cpio.gz", ROOT));
/** Past decompression, into the kernel's setup (timers, kvmclock, the first interrupts). */
const INSTRUCTIONS = 130_000_000;

async function boot(slice: number) {
  let serial = "";
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 64 << 20,
    mode: "hvm",
    mmu: "shadow",
    onSerial: (com, byte) => {
      if (com === 1) serial += String.fromCharCode(byte);
    },
  });
  loadKernel(vm.cpu, new Uint8Array(kernel), new Uint8Array(initrd), "console=ttyS0 panic=-1");
  while (vm.progress < INSTRUCTIONS) {
    const stop = vm.run(Math.min(slice, INSTRUCTIONS - vm.progress));
    if (stop.kind !== "limit") break;
  }
  const stats = readCoreStats(vm.cpu);
  return {
    counters: JSON.stringify(stats.counters),
    serial,
    ram: createHash("sha1").update(vm.cpu.ram).digest("hex"),
    instructions: vm.cpu.instructions,
    kvmWallClock: vm.cpu.u32(L.S_KVM_WALL_SEC),
  };
}

describe("icount runs are reproducible", () => {
  it("the same crossings, output and RAM whether run() is called once or in slices", async () => {
    const a = await boot(INSTRUCTIONS);
    const b = await boot(1_234_567);
    expect(a.serial).toContain("Linux version");
    expect(a.serial).toContain("kvm-clock");
    expect(JSON.parse(a.counters).length).toBeGreaterThan(5);
    // kvmclock's wall clock is the icount epoch, not the host's time.
    expect(a.kvmWallClock).toBe(ICOUNT_EPOCH_SECONDS);
    for (const other of [b]) {
      expect(other.counters).toBe(a.counters);
      expect(other.serial).toBe(a.serial);
      expect(other.ram).toBe(a.ram);
      expect(other.instructions).toBe(a.instructions);
    }
  }, 180_000);

  it("-rtc base= picks the wall-clock start", () => {
    expect(parseRtcBase("base=2030-05-06")).toBe(Date.UTC(2030, 4, 6) / 1000);
    expect(parseRtcBase("base=2030-05-06T07:08:09")).toBe(Date.UTC(2030, 4, 6, 7, 8, 9) / 1000);
    expect(parseRtcBase("base=utc")).toBe("now");
    expect(parseArgs(["-rtc", "base=localtime"]).rtcBase).toBe("now");
    for (const bad of ["2030-05-06", "base=2030-13-01", "base=tomorrow", "base="]) {
      expect(() => parseRtcBase(bad)).toThrow(UserInputError);
    }
  });
});
