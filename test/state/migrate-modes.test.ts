// Live migration (vmm/state/outgoing.ts and incoming.ts, in this process over an in-memory
// channel) of a running guest in the trap and bt modes, whose dirty log is write protection
// through write tracking: the guest rewrites a megabyte with paging on while pre-copy sends it
// under a bandwidth cap, so every iteration after the first has pages the log caught; after the
// stop-and-copy the destination holds exactly the source's machine (RAM, registers, count), and
// both run on identically. A write the log missed would leave a page behind and differ here.

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Machine } from "../../vmm/lib/machine.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { receiveMigration } from "../../vmm/state/incoming.js";
import { OutgoingMigration } from "../../vmm/state/outgoing.js";
import type { VirtMode } from "../../vmm/virt/vmcs.js";
import type { Vm } from "../../vmm/vm.js";
import { ONE_MIB, pagedGuest } from "../unit/dirty-guest.js";
import { memoryChannelPair } from "./memory-channel.js";

const digest = (v: Vm) => ({
  ram: createHash("sha256").update(v.cpu.ram).digest("hex"),
  regs: [0, 1, 2, 3, 4, 5, 6, 7].map((r) => v.cpu.reg(r)),
  eip: v.cpu.eip,
  insns: v.cpu.instructions,
});

describe("live migration of a running guest under write-protection dirty logging", () => {
  for (const mode of ["trap", "bt"] as VirtMode[]) {
    it(`${mode}: pre-copy rounds catch the guest's writes; the destination continues exactly`, async () => {
      const build = () => pagedGuest(mode, undefined, ONE_MIB);
      const src = await Machine.create(build, { startPaused: true });
      const dst = await Machine.create(build, { startPaused: true });
      void src.run();
      src.resume();
      const [a, b] = memoryChannelPair();
      const module = loadCoreModule();
      const incoming = receiveMigration(dst, b, module, { resume: false });
      const job = new OutgoingMigration(src, a, module, {
        "max-bandwidth": 4 << 20,
        "downtime-limit": 1,
        "max-iterations": 3,
      });
      const info = await job.run();
      await incoming;
      expect(info.status, info.error).toBe("completed");
      expect(info.tracker).toBe("write-track");
      // Iteration 0 sends what is not zero (the kernel, its tables, the megabyte); the later ones
      // and the stop-and-copy what the guest rewrote meanwhile: part or all of its 256 pages,
      // nothing else. (Under load an iteration may find nothing written and pre-copy converge.)
      const pages = info.iterations.map((i) => i.pages);
      expect(pages[0]).toBeGreaterThan(256);
      for (const n of pages.slice(1)) expect(n).toBeLessThanOrEqual(256);
      expect(pages.slice(1).reduce((a, n) => a + n, info.stopPages)).toBeGreaterThan(0);
      const s = src.vm;
      const d = dst.vm;
      expect(s.cpu.instructions).toBeGreaterThan(1_000_000n);
      expect(digest(d)).toEqual(digest(s));
      s.run(300_000);
      d.run(300_000);
      expect(digest(d)).toEqual(digest(s));
      src.end({ kind: "quit", by: "test" });
      dst.end({ kind: "quit", by: "test" });
    }, 60_000);
  }
});
