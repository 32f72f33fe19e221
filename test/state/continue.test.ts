// A running guest continues exactly after save and restore: the tiny Linux runs under icount to
// a point in its boot, is saved, and goes on (the uninterrupted run: saving only reads it); a
// fresh VM built the same way restores the file and runs as far. Both must end in the same
// architectural state, RAM, clock, guest-visible counters and serial output, in every mode.
// The hypervisor's caches are rebuilt after a restore, so the counters of cache refills (TLB
// walks, shadow faults, EPT violations, translations) may differ, and nothing else.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { restoreStateBytes, stateBytes } from "../../vmm/state/vm-state.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";

const guest = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/linux/${name}`, import.meta.url)));
const kernel = guest("bzImage");
const initrd = guest("initramfs.cpio.gz");

async function linuxVm(mode: VirtMode, mmu: MmuMode | undefined, out: { text: string }): Promise<Vm> {
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 32 << 20,
    mode,
    mmu,
    onSerial: (com, b) => {
      if (com === 1) out.text += String.fromCharCode(b);
    },
  });
  loadLinux(vm.cpu, { kernel, initrd, cmdline: "console=ttyS0" });
  return vm;
}

/** State fields that describe the caches a restore empties, or the JIT's compiled code. */
const CACHE_FIELDS = new Set([
  "TLB_COUNT",
  "WALK_TLB_MISSES",
  "WALK_GUEST_REFS",
  "WALK_NESTED_REFS",
  "SHADOW_ROOT_HITS",
  "SHADOW_ROOT_MISSES",
  "SHADOW_PAGES",
  "SHADOW_CR3",
  "SHADOW_UNSHADOWED",
  "VMCS_EPTP",
  "EPT_REMAPS",
  "BT_BLOCKS",
  "BT_LOOKUPS",
  "BT_CHAINED",
  "BT_CACHE_USED",
  "BT_CODE_WRITES",
  "BT_INVALIDATED",
  "JIT_COMPILED",
  "JIT_COMPILE_FAILED",
  "JIT_LIVE",
  "JIT_INVALIDATED",
  "JIT_EVICTED",
  "JIT_ENTRIES",
  "JIT_INSNS",
  "JIT_LOOKUP_MISSES",
  "JIT_CHAINED",
  "JIT_KILLS",
  // Scratch words of the core and the trace ring's bookkeeping of refills.
  "CORE_SCRATCH",
  "VMCS_EXIT_REASON",
  "VMCS_EXIT_QUALIFICATION",
  "VMCS_GUEST_LINEAR_ADDRESS",
  "VMCS_GUEST_PHYSICAL_ADDRESS",
  "VMCS_EXIT_INSN_LEN",
  "VMCS_GUEST_RIP",
  "VMX_EXITS",
  "TRACE_RECORDED",
]);

function stateWords(vm: Vm): Map<string, string> {
  const m = new Uint8Array(vm.cpu.memory.buffer);
  const out = new Map<string, string>();
  for (const f of L.STATE_FIELDS) {
    const n = (f.type === "u64" ? 8 : 4) * f.count;
    out.set(f.name, Buffer.from(m.subarray(f.addr, f.addr + n)).toString("hex"));
  }
  return out;
}

/** Crossings that are not cache refills: I/O, MMIO, hypercalls, callouts, instructions by count. */
function crossings(vm: Vm): Record<string, number> {
  const ev = new Uint32Array(vm.cpu.memory.buffer, L.HV_EVENTS_BASE, L.HV_EVENTS_BYTES / 4);
  const kinds = [
    "exit",
    "callout",
    "hypercall",
    "shadowFault",
    "eptViolation",
    "walkRef",
    "translation",
    "guestInstr",
    "io",
    "mmio",
    "trap",
  ];
  const out: Record<string, number> = {};
  for (let k = 0; k < kinds.length; k++) {
    for (let r = 0; r < L.EVENT_REASONS; r++) {
      const n = ev[(k * L.EVENT_REASONS + r) * 2]! + ev[(k * L.EVENT_REASONS + r) * 2 + 1]!;
      if (n) out[`${kinds[k]}.${r}`] = n;
    }
  }
  return out;
}

const MODES: [VirtMode, MmuMode | undefined][] = [
  ["native", undefined],
  ["bt", undefined],
  ["hvm", "shadow"],
  ["hvm", "ept"],
  ["pv", undefined],
];
const FIRST = 120_000_000;
const THEN = 30_000_000;

describe("a running Linux continues exactly after save and restore", () => {
  for (const [mode, mmu] of MODES) {
    it(`${mode}${mmu ? `/${mmu}` : ""}`, { timeout: 240_000 }, async () => {
      const outA = { text: "" };
      const a = await linuxVm(mode, mmu, outA);
      expect(a.run(FIRST).kind).toBe("limit");
      expect(a.cpu.cr(0) & 0x80000000, "paging is on when saved").not.toBe(0);
      const file = await stateBytes(a);
      expect(a.run(THEN).kind).toBe("limit");

      const outB = { text: outA.text.slice(0, 0) };
      const b = await linuxVm(mode, mmu, outB);
      // The serial output up to the save point is the file's past: B prints only what follows.
      const before = outA.text.length;
      await restoreStateBytes(b, file);
      expect(b.run(THEN).kind).toBe("limit");

      expect(outA.text.slice(0, before) + outB.text).toBe(outA.text);
      expect(createHash("sha256").update(b.cpu.ram).digest("hex")).toBe(
        createHash("sha256").update(a.cpu.ram).digest("hex"),
      );
      expect(b.nowNs()).toBe(a.nowNs());
      const sa = stateWords(a);
      const sb = stateWords(b);
      const differ = [...sa.keys()].filter((k) => sa.get(k) !== sb.get(k));
      expect(differ.filter((k) => !CACHE_FIELDS.has(k))).toEqual([]);
      const ca = crossings(a);
      const cb = crossings(b);
      const keep = (c: Record<string, number>) =>
        Object.fromEntries(Object.entries(c).filter(([k]) => /^(io|mmio|hypercall|callout|trap)\./.test(k)));
      expect(keep(cb)).toEqual(keep(ca));
      const total = (c: Record<string, number>) =>
        Object.entries(c)
          .filter(([k]) => k.startsWith("guestInstr."))
          .reduce((s, [, n]) => s + n, 0);
      // (bt counts each translated instruction as it completes, so a block in flight at the save
      // changes nothing.)
      expect(total(cb)).toBe(total(ca));
    });
  }
});

describe("a lab kernel continues exactly after save and restore under trap and emulate", () => {
  // The tiny Linux does not run under trap (README); nanobench does, through every kind of trap.
  const kernel = new Uint8Array(readFileSync(new URL("../../guests/labs/nanobench/nanobench.elf", import.meta.url)));
  const labVm = async (out: { text: string }) => {
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 32 << 20,
      mode: "trap",
      onSerial: (com, b) => {
        if (com === 1) out.text += String.fromCharCode(b);
      },
    });
    loadMultiboot(vm.cpu, { kernel, cmdline: "nanobench" });
    return vm;
  };

  it("trap (nanobench, saved halfway)", { timeout: 120_000 }, async () => {
    // How long the whole run is: the kernel ends it through isa-debug-exit.
    const whole = await labVm({ text: "" });
    expect(whole.run(50_000_000).kind).toBe("debug-exit");
    const half = Math.floor(whole.cpu.retired / 2);

    const outA = { text: "" };
    const a = await labVm(outA);
    expect(a.run(half).kind).toBe("limit");
    const file = await stateBytes(a);
    const before = outA.text.length;
    const stopA = a.run(50_000_000);
    const outB = { text: "" };
    const b = await labVm(outB);
    await restoreStateBytes(b, file);
    const stopB = b.run(50_000_000);

    expect(stopB).toEqual(stopA);
    expect(stopA.kind).toBe("debug-exit");
    expect(outA.text.slice(0, before) + outB.text).toBe(outA.text);
    expect(createHash("sha256").update(b.cpu.ram).digest("hex")).toBe(
      createHash("sha256").update(a.cpu.ram).digest("hex"),
    );
    const sa = stateWords(a);
    const sb = stateWords(b);
    // Every word of the state block that is not a cache agrees. (The restored run's CS once had
    // the limit the trap VMM truncates segments to: the shadow MMU's bookkeeping ran past its
    // region into HV_TRAP, which the state saves, over the trap VMM's GDT.)
    expect([...sa.keys()].filter((k) => sa.get(k) !== sb.get(k) && !CACHE_FIELDS.has(k))).toEqual([]);
    for (const k of ["REGS", "EIP", "EFLAGS", "SEG_SEL", "SEG_BASE", "SEG_ATTR", "CR", "INSN_COUNT", "TSC"]) {
      expect(sb.get(k), k).toBe(sa.get(k));
    }
    const ca = crossings(a);
    const cb = crossings(b);
    const keep = (c: Record<string, number>) =>
      Object.fromEntries(Object.entries(c).filter(([k]) => /^(io|mmio|hypercall|callout|trap|guestInstr)\./.test(k)));
    expect(keep(cb)).toEqual(keep(ca));
  });
});
