// Live migration's start: pre-copy over a MessagePort (node:worker_threads) between two VMs in
// hvm with EPT, a guest that keeps dirtying 256 pages, then stop-and-copy; the destination
// continues exactly as the source would have. A destination that refuses or goes away leaves
// the source running unchanged.

import { createHash } from "node:crypto";
import { MessageChannel } from "node:worker_threads";
import { expect, it } from "vitest";
import { loadKernel } from "../../vmm/boot/kernel.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { MigrationError, migrateIn, migrateOut } from "../../vmm/state/migrate.js";
import { Vm } from "../../vmm/vm.js";
import { multibootKernel } from "../vmm/cli-process.js";

// loop: inc eax; and eax,0x3ffff; mov [eax*4+0x400000],eax; jmp loop (writes 1 MiB round and round)
const DIRTY = [0x40, 0x25, 0xff, 0xff, 0x03, 0x00, 0x89, 0x04, 0x85, 0x00, 0x00, 0x40, 0x00, 0xeb, 0xf1];

async function vm(ramMiB = 16): Promise<Vm> {
  const v = await Vm.create({ module: loadCoreModule(), ramBytes: ramMiB << 20, mode: "hvm", mmu: "ept" });
  loadKernel(v.cpu, multibootKernel(DIRTY), undefined, "");
  return v;
}

const digest = (v: Vm) => ({
  ram: createHash("sha256").update(v.cpu.ram).digest("hex"),
  eax: v.cpu.reg(0),
  eip: v.cpu.eip,
  insns: v.cpu.instructions,
  now: v.nowNs(),
});

it("pre-copy rounds, stop and copy, and the destination continues exactly", async () => {
  const src = await vm();
  src.run(1_000_000);
  const dst = await vm();
  const { port1, port2 } = new MessageChannel();
  const received = migrateIn(dst, port2 as never);
  const stats = await migrateOut(src, port1 as never, { maxRounds: 4, roundInstructions: 400_000, stopPages: 8 });
  await received;
  port1.close();
  // Round 0 sent the kernel and the dirtied megabyte; each later round the pages written meanwhile.
  expect(stats.rounds[0]!.pages).toBeGreaterThan(200);
  // Rounds 0-3 while the guest ran; round 4's dirty pages went with the guest stopped.
  expect(stats.rounds.length).toBe(4);
  for (const r of stats.rounds.slice(1)) expect(r.pages).toBeGreaterThan(0);
  expect(stats.stopPages).toBeGreaterThan(0);
  console.log(
    `migration: rounds ${stats.rounds.map((r) => r.pages).join(", ")} pages; stop-and-copy ${stats.stopPages} pages, ` +
      `downtime ${stats.downtimeMs.toFixed(1)} ms, total ${stats.totalMs.toFixed(0)} ms, ${stats.totalBytes} bytes for ${stats.ramBytes} of RAM`,
  );
  expect(digest(dst)).toEqual(digest(src));
  src.run(300_000);
  dst.run(300_000);
  expect(digest(dst)).toEqual(digest(src));
});

it("a destination of another configuration, or one that goes away, leaves the source running", async () => {
  const src = await vm();
  src.run(100_000);
  const before = digest(src);
  const other = await vm(32);
  const a = new MessageChannel();
  const refused = migrateIn(other, a.port2 as never).catch((e: Error) => e);
  await expect(migrateOut(src, a.port1 as never)).rejects.toThrow(
    /refused: a different machine configuration: ramBytes/,
  );
  expect(await refused).toBeInstanceOf(Error);
  a.port1.close();
  expect(digest(src)).toEqual(before);

  // Nobody listens on the other end: the source gives up after its timeout, unchanged.
  const b = new MessageChannel();
  await expect(migrateOut(src, b.port1 as never, { timeoutMs: 300 })).rejects.toThrow(MigrationError);
  b.port1.close();
  b.port2.close();
  expect(digest(src)).toEqual(before);
  expect(src.run(1000).kind).toBe("limit");

  const native = await Vm.create({ module: loadCoreModule(), ramBytes: 16 << 20 });
  await expect(migrateOut(native, new MessageChannel().port1 as never)).rejects.toThrow(/needs the EPT MMU/);
});
