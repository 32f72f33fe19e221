// The write-protection dirty log on a real guest (bt, shadow paging): the tiny Linux forking dd
// in a loop churns page tables (the shadow MMU tracks, floods and drops them) while the log and
// the compare tracker watch the same rounds. Every page whose bytes changed must be in the log,
// and the guest must stay healthy. (A TLB entry given its fast writes back after the write had
// flushed the TLB once stayed off the TLB's list: page tables written through it later reached
// neither the shadow MMU nor the log, and the shell segfaulted.)

import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { dirtyTracker } from "../../vmm/state/dirty-tracker.js";
import { Vm } from "../../vmm/vm.js";

const file = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/linux/${name}`, import.meta.url)));

it("bt: the log has every page the compare tracker sees change while Linux forks", async () => {
  let out = "";
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 64 << 20,
    clock: "icount",
    mode: "bt",
    onSerial: (com, b) => {
      if (com === 1) out += String.fromCharCode(b);
    },
  });
  loadLinux(vm.cpu, { kernel: file("bzImage"), initrd: file("initramfs.cpio.gz"), cmdline: "console=ttyS0 panic=-1" });
  for (let i = 0; i < 200 && !out.includes("~ # "); i++) vm.run(3_000_000);
  const type = (line: string) => vm.devices.com1.receive(new TextEncoder().encode(`${line}\r`));
  type(
    "(i=0; while :; do i=$((i+1)); dd if=/bin/busybox of=/tmp/d bs=4k count=64 skip=$((i%8)) conv=notrunc 2>/dev/null; done) &",
  );
  vm.run(3_000_000);
  const log = dirtyTracker(vm);
  const compare = dirtyTracker(vm, "compare");
  expect(log.kind).toBe("write-track");
  log.start();
  for (const f of compare.start()) compare.sent(f);
  const missed: string[] = [];
  let logged = 0;
  for (let round = 0; round < 12; round++) {
    expect(vm.run(2_000_000).kind).toBe("limit");
    const inLog = new Set(log.collect());
    logged += inLog.size;
    for (const f of compare.collect()) {
      compare.sent(f);
      if (!inLog.has(f)) missed.push(`round ${round}: frame ${f.toString(16)}`);
    }
  }
  log.stop();
  expect(missed).toEqual([]);
  expect(logged).toBeGreaterThan(12 * 20);
  const from = out.length;
  type("echo alive-$((6*7))");
  for (let i = 0; i < 20 && !out.slice(from).includes("alive-42"); i++) vm.run(3_000_000);
  expect(out.slice(from)).toContain("alive-42");
  expect(out).not.toContain("segfault");
}, 120_000);
