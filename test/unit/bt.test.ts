// The bt mode's binary translator (core/bt/): guest-kernel code runs from the translation cache,
// sensitive instructions become counted callouts, blocks chain, writes to translated code
// invalidate it, and user code runs directly. Each guest also runs natively: the results must
// agree, and the translator's counters must follow from the program's shape.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bootLinux } from "../../bench/modes/linux-boot.js";
import { entries, immediateBytes, type TableEntry } from "../../core/isa/table.mjs";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import type { Cpu } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Callout, Kind } from "../../vmm/stats/events.js";
import { Vm } from "../../vmm/vm.js";
import { CODE, d32, enterFlat32, type Machine, machine } from "../system/harness.js";

/** A core event counter (handled in the core). */
function events(cpu: Cpu, kind: number, reason: number): number {
  return cpu.u32(L.HV_EVENTS_BASE + (kind * L.EVENT_REASONS + reason) * 8);
}
const callouts = (cpu: Cpu, name: keyof typeof Callout) => events(cpu, Kind.callout, Callout[name]);

async function flatMachine(bt: boolean, code: number[], cpl = 0): Promise<Machine> {
  const m = await machine();
  if (bt) m.cpu.setVirtualization(L.VIRT_BT, L.MMU_DIRECT);
  enterFlat32(m, code, cpl);
  return m;
}

/** A little assembler for the few forms these guests use (32-bit code at CODE). */
class Code {
  bytes: number[] = [];
  private labels = new Map<string, number>();
  private fixups: { at: number; label: string; size: 1 | 4 }[] = [];
  get here(): number {
    return CODE + this.bytes.length;
  }
  label(name: string): this {
    this.labels.set(name, this.here);
    return this;
  }
  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  /** An opcode followed by a rel8 or rel32 to a label. */
  rel(opcode: number[], label: string, size: 1 | 4): this {
    this.bytes.push(...opcode);
    this.fixups.push({ at: this.bytes.length, label, size });
    this.bytes.push(...new Array(size).fill(0));
    return this;
  }
  address(label: string): number {
    const a = this.labels.get(label);
    if (a === undefined) throw new Error(`no label ${label}`);
    return a;
  }
  build(): number[] {
    for (const f of this.fixups) {
      const rel = this.address(f.label) - (CODE + f.at + f.size);
      if (f.size === 1) this.bytes[f.at] = rel & 0xff;
      else this.bytes.splice(f.at, 4, ...d32(rel >>> 0));
    }
    return this.bytes;
  }
}

/** Block header fields the translator writes (core/bt/cache.ts): instruction count and code bytes. */
const B_COUNT = 12;
const B_BYTES = 16;

/**
 * One encoding of a table form in 32-bit code: `op16`/`addr16` add the 66/67 prefixes, `mem`
 * picks a memory ModRM ([eax+eax*1+10h] or [bx+si+10h]) over a register one.
 */
function encodeForm(e: TableEntry, op16: boolean, addr16: boolean, mem: boolean): number[] {
  const bytes: number[] = [];
  if (op16) bytes.push(0x66);
  if (addr16) bytes.push(0x67);
  if (e.map === 1) bytes.push(0x0f);
  bytes.push(e.op);
  const reg = e.reg >= 0 ? e.reg << 3 : 0;
  if (e.modrmExact >= 0) bytes.push(e.modrmExact);
  else if (e.modrm || e.x87) {
    if (!mem) bytes.push(0xc0 | reg);
    else if (addr16) bytes.push(0x40 | reg, 0x10);
    else bytes.push(0x44 | reg, 0x00, 0x10);
  }
  const imm = immediateBytes(e, op16 ? 2 : 4, addr16 ? 2 : 4);
  for (let i = 0; i < imm; i++) bytes.push(0);
  return bytes;
}

/** CLI, PUSHF, STI, POPF and a CALL/RET per iteration: 4 callouts and 1 indirect branch. */
function sensitiveLoop(iterations: number): number[] {
  return new Code()
    .op(0xb9, ...d32(iterations)) // mov ecx, n
    .op(0x31, 0xdb) // xor ebx, ebx
    .label("loop")
    .op(0xfa) // cli
    .op(0x9c) // pushf
    .op(0x58) // pop eax
    .op(0xfb) // sti
    .op(0x50) // push eax
    .op(0x9d) // popf
    .rel([0xe8], "f", 4) // call f
    .op(0x49) // dec ecx
    .rel([0x75], "loop", 1) // jnz loop
    .op(0xf4) // hlt
    .label("f")
    .op(0x83, 0xc3, 0x03) // add ebx, 3
    .op(0x01, 0xcb) // add ebx, ecx
    .op(0xc3) // ret
    .build();
}

describe("bt: translated kernel code", () => {
  it("computes what native computes, with callouts, chaining and indirect lookups counted", async () => {
    const n = 500;
    const native = await flatMachine(false, sensitiveLoop(n));
    const bt = await flatMachine(true, sensitiveLoop(n));
    expect(native.cpu.run(100_000)).toBe("halt");
    expect(bt.cpu.run(100_000)).toBe("halt");
    for (let r = 0; r < 8; r++) expect(bt.cpu.reg(r), `reg ${r}`).toBe(native.cpu.reg(r));
    expect(bt.cpu.eflags).toBe(native.cpu.eflags);
    expect(bt.cpu.eip).toBe(native.cpu.eip);
    expect(bt.cpu.instructions).toBe(native.cpu.instructions);
    expect(bt.cpu.reg(3)).toBe(3 * n + (n * (n + 1)) / 2);

    const cpu = bt.cpu;
    for (const name of ["cli", "sti", "pushf", "popf"] as const) expect(callouts(cpu, name), name).toBe(n);
    expect(callouts(cpu, "hlt")).toBe(1);
    // Every RET looks its target up; nothing else in the loop does.
    expect(callouts(cpu, "indirect branch lookup")).toBe(n);
    // Translation happens once: a handful of blocks, whatever the iteration count.
    const blocks = cpu.u32(L.S_BT_BLOCKS);
    expect(blocks).toBeGreaterThanOrEqual(8);
    expect(blocks).toBeLessThan(16);
    const translated = events(cpu, Kind.translation, 0) + events(cpu, Kind.translation, 1);
    expect(translated).toBeLessThan(30);
    expect(events(cpu, Kind.translation, 1)).toBeGreaterThanOrEqual(8); // callouts and branches
    // Per iteration 7 block transitions, of which only the one after RET is a lookup.
    expect(cpu.u32(L.S_BT_CHAINED)).toBeGreaterThanOrEqual(6 * (n - 2));
    expect(cpu.u32(L.S_BT_LOOKUPS)).toBeLessThanOrEqual(n + blocks + 2);
    // Every instruction came from the cache.
    expect(events(cpu, Kind.guestInstr, 1)).toBe(Number(cpu.instructions));
    expect(events(cpu, Kind.guestInstr, 0) + events(cpu, Kind.guestInstr, 2)).toBe(0);
    // The native run counted nothing of the sort.
    expect(callouts(native.cpu, "cli")).toBe(0);
    expect(native.cpu.u32(L.S_BT_BLOCKS)).toBe(0);
  });

  it("classifies every sensitive instruction as a callout and every control transfer as an end", () => {
    // Privileged or sensitive forms that are innocuous at CPL 0: translated as they are.
    const identAtCpl0 = new Set(["LAR", "LSL", "VERR", "VERW", "ARPL", "UD2", "RDPMC"]);
    const sensitive = new Set([
      ..."CLI STI POPF PUSHF IRET INT INT3 INTO INT1 HLT IN OUT INSB INS OUTSB OUTS".split(" "),
      ..."LGDT LIDT LLDT LTR SGDT SIDT SLDT STR SMSW LMSW CLTS INVLPG WRMSR RDMSR CPUID RDTSC".split(" "),
      ..."CALLF JMPF RETF SYSENTER SYSEXIT WBINVD INVD LES LDS LSS LFS LGS VMCALL".split(" "),
    ]);
    const segmentOrControl = /^(Sw,Ew|Rd,Cd|Cd,Rd|Rd,Dd|Dd,Rd)$/;
    for (const e of entries) {
      const name = `${e.mnem} ${e.operands}`;
      const isSensitive =
        sensitive.has(e.mnem) ||
        (e.mnem === "MOV" && segmentOrControl.test(e.operands)) ||
        (e.mnem === "POP" && /^(ES|SS|DS|FS|GS)$/.test(e.operands));
      if (isSensitive || (!e.user && !identAtCpl0.has(e.mnem))) expect(e.bt.callout, name).not.toBeNull();
      else expect(e.bt.callout, name).toBeNull();
      const transfers = /^(J|LOOP|CALL|RET|IRET|INT|SYS)/.test(e.mnem);
      expect(e.bt.flow !== "none", name).toBe(transfers);
    }
  });

  it("measures every form of the instruction table as the table does", async () => {
    const m = await machine();
    const cpu = m.cpu;
    cpu.stopOnException = true;
    const failures: string[] = [];
    let checked = 0;
    for (const e of entries) {
      const ends = e.bt.callout !== null || e.bt.flow !== "none";
      // MOV to/from CRn/DRn: register forms only (checked apart below).
      const regOnly = e.modrmExact >= 0 || /\bR[a-z]\b/.test(e.operands);
      const memForms = regOnly ? [false] : e.memOnly ? [true] : e.modrm || e.x87 ? [false, true] : [false];
      for (const op16 of [false, true]) {
        for (const addr16 of [false, true]) {
          for (const mem of memForms) {
            if (!mem && addr16 && !/O[bv]/.test(e.operands)) continue;
            const bytes = encodeForm(e, op16, addr16, mem);
            // Every run starts from an empty cache (setVirtualization resets the translator).
            cpu.setVirtualization(L.VIRT_BT, L.MMU_DIRECT);
            enterFlat32(m, [...bytes, 0xf4]);
            cpu.halted = false;
            cpu.run(1);
            const count = cpu.u32(L.BT_CACHE_BASE + B_COUNT);
            const length = cpu.u32(L.BT_CACHE_BASE + B_BYTES);
            const want = ends ? [1, bytes.length] : [2, bytes.length + 1];
            checked++;
            if (count !== want[0] || length !== want[1]) {
              const name = `${e.mnem} ${e.operands} ${bytes.map((b) => b.toString(16)).join(" ")}`;
              failures.push(`${name}: ${count} insns ${length} bytes, want ${want.join(", ")}`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(entries.length);
    // MOV to/from CRn ignores ModRM.mod: no displacement follows, whatever mod says.
    cpu.setVirtualization(L.VIRT_BT, L.MMU_DIRECT);
    enterFlat32(m, [0x0f, 0x20, 0x05, 0xf4]);
    cpu.run(1);
    expect(cpu.u32(L.BT_CACHE_BASE + B_BYTES)).toBe(3);
  });

  it("sees its own code change: a patched immediate is executed, and the write invalidates", async () => {
    // The loop rewrites the immediate of its own MOV with ECX: each pass adds the previous
    // pass's ECX (0 the first time). A stale translation would keep adding 0.
    const c = new Code()
      .op(0xb9, ...d32(5))
      .op(0x31, 0xdb)
      .label("loop")
      .label("patch");
    c.op(0xb8, ...d32(0)) // mov eax, imm32   <- patched
      .op(0x01, 0xc3) // add ebx, eax
      .op(0x89, 0x0d, ...d32(c.address("patch") + 1)) // mov [patch + 1], ecx
      .op(0x49) // dec ecx
      .rel([0x75], "loop", 1) // jnz loop
      .op(0xf4);
    const code = c.build();
    const native = await flatMachine(false, code);
    const bt = await flatMachine(true, code);
    expect(native.cpu.run(10_000)).toBe("halt");
    expect(bt.cpu.run(10_000)).toBe("halt");
    expect(native.cpu.reg(3)).toBe(5 + 4 + 3 + 2);
    expect(bt.cpu.reg(3)).toBe(native.cpu.reg(3));
    // Each of the 5 writes hit the block it was executing in.
    expect(bt.cpu.u32(L.S_BT_CODE_WRITES)).toBe(5);
    expect(bt.cpu.u32(L.S_BT_INVALIDATED)).toBeGreaterThanOrEqual(5);
    expect(events(bt.cpu, Kind.guestInstr, 1)).toBe(Number(bt.cpu.instructions));
  });

  it("drops translations of code the host overwrites (a loader or DMA writing guest RAM)", async () => {
    // mov eax, 1; hlt: translated and run, then the host rewrites the immediate to 2.
    const code = [0xb8, ...d32(1), 0xf4];
    const bt = await flatMachine(true, code);
    expect(bt.cpu.run(100)).toBe("halt");
    expect(bt.cpu.reg(0)).toBe(1);
    bt.cpu.writePhysical(CODE + 1, Uint8Array.from(d32(2)));
    expect(bt.cpu.u32(L.S_BT_INVALIDATED)).toBeGreaterThanOrEqual(1);
    bt.cpu.setU32(L.S_HALTED, 0);
    bt.cpu.eip = CODE;
    expect(bt.cpu.run(100)).toBe("halt");
    expect(bt.cpu.reg(0)).toBe(2);
  });

  it("empties a full translation cache and goes on", async () => {
    // 100,000 two-byte jumps to the next instruction: one block each, more than the cache holds.
    const jumps = 100_000;
    const code = [...new Array(jumps).fill([0xeb, 0x00]).flat(), 0xf4];
    const bt = await flatMachine(true, code);
    expect(bt.cpu.run(jumps + 10)).toBe("halt");
    expect(bt.cpu.eip).toBe(CODE + 2 * jumps + 1);
    expect(bt.cpu.u32(L.S_BT_FLUSHES)).toBeGreaterThanOrEqual(1);
    expect(bt.cpu.u32(L.S_BT_BLOCKS)).toBe(jumps + 1);
    expect(bt.cpu.u32(L.S_BT_CACHE_USED)).toBeLessThanOrEqual(L.BT_CACHE_BYTES);
    expect(events(bt.cpu, Kind.guestInstr, 1)).toBe(Number(bt.cpu.instructions));
  });

  it("runs user code (CPL 3) directly, without translating it", async () => {
    const c = new Code()
      .op(0xb9, ...d32(100))
      .label("loop")
      .op(0x01, 0xc8) // add eax, ecx
      .op(0x49)
      .rel([0x75], "loop", 1)
      .op(0xf4); // hlt: #GP at CPL 3, which ends the run
    const bt = await flatMachine(true, c.build(), 3);
    bt.cpu.stopOnException = true;
    expect(bt.cpu.run(10_000)).toBe("exception");
    expect(bt.cpu.lastException.vector).toBe(13);
    expect(bt.cpu.reg(0)).toBe(5050);
    expect(bt.cpu.u32(L.S_BT_BLOCKS)).toBe(0);
    expect(events(bt.cpu, Kind.translation, 0) + events(bt.cpu, Kind.translation, 1)).toBe(0);
    expect(events(bt.cpu, Kind.guestInstr, 0)).toBe(1 + 3 * 100);
    expect(events(bt.cpu, Kind.guestInstr, 1)).toBe(0);
    // Its page was never write-tracked for the translator.
    expect(bt.cpu.u32(L.HV_FRAME_BASE + (CODE >>> 12) * 4) & 4).toBe(0);
  });
});

describe("bt: real guests", () => {
  it("boots the tiny Linux to its shell, as native does, from its translations: the cache's and the JIT's", async () => {
    const native = await bootLinux("native");
    const bt = await bootLinux("bt", "shadow");
    const cacheOnly = await bootLinux("bt", "shadow", undefined, false);
    expect(bt.clocksource).toBe(native.clocksource);
    // The icount clock makes the guest deterministic: translation must not change what it does.
    expect(bt.instructionsToPrompt).toBe(native.instructionsToPrompt);
    expect(cacheOnly.instructionsToPrompt).toBe(native.instructionsToPrompt);
    for (const run of [bt, cacheOnly]) {
      const cpu = run.vm.cpu;
      const translated = events(cpu, Kind.guestInstr, 1);
      const direct = events(cpu, Kind.guestInstr, 0);
      // Kernel code dominates a boot; the shell and init run directly.
      expect(translated).toBeGreaterThan(0.9 * run.instructionsToPrompt);
      expect(direct).toBeGreaterThan(100_000);
      expect(translated + direct + events(cpu, Kind.guestInstr, 2)).toBeLessThanOrEqual(Number(cpu.instructions) + 16);
      expect(cpu.u32(L.S_BT_BLOCKS)).toBeGreaterThan(5_000);
      expect(events(cpu, Kind.translation, 0)).toBeGreaterThan(events(cpu, Kind.translation, 1));
      for (const name of ["cli", "sti", "pushf", "iret", "in", "out", "mov to CR3", "lgdt", "lidt", "ltr"] as const) {
        expect(callouts(cpu, name), name).toBeGreaterThan(0);
      }
      expect(callouts(cpu, "indirect branch lookup")).toBeGreaterThan(0);
      // Page-table writes by translated code reach the shadow MMU.
      expect(callouts(cpu, "page-table write")).toBeGreaterThan(0);
    }
    // With the JIT (the default) hot kernel code is compiled to wasm with its callouts.
    expect(events(bt.vm.cpu, Kind.translation, 2)).toBeGreaterThan(1_000);
    expect(events(cacheOnly.vm.cpu, Kind.translation, 2)).toBe(0);
    // In the cache alone, chaining covers most block transitions; returns and other indirect
    // branches look up.
    const cpu = cacheOnly.vm.cpu;
    expect(cpu.u32(L.S_BT_CHAINED)).toBeGreaterThan(5 * cpu.u32(L.S_BT_LOOKUPS));
    expect(callouts(cpu, "indirect branch lookup")).toBeLessThanOrEqual(cpu.u32(L.S_BT_LOOKUPS));
    console.log(
      `tiny Linux to the prompt: native ${native.hostMsToPrompt.toFixed(0)} ms, bt ${bt.hostMsToPrompt.toFixed(0)} ms, bt without the JIT ${cacheOnly.hostMsToPrompt.toFixed(0)} ms`,
    );
  });

  async function runLab(name: string): Promise<{ lines: string[]; vm: Vm; stop: unknown }> {
    const kernel = new Uint8Array(readFileSync(new URL(`../../guests/labs/${name}/${name}.elf`, import.meta.url)));
    let out = "";
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 32 << 20,
      clock: "icount",
      mode: "bt",
      mmu: "shadow",
      onSerial: (com, byte) => {
        if (com === 1) out += String.fromCharCode(byte);
      },
    });
    loadMultiboot(vm.cpu, { kernel, cmdline: name });
    const stop = vm.run(20_000_000);
    return { lines: out.split("\r\n").filter((l) => l !== ""), vm, stop };
  }

  it("runs nanobench to completion, with the callouts its benchmarks make", async () => {
    const { lines, vm, stop } = await runLab("nanobench");
    expect(stop).toEqual({ kind: "debug-exit", status: 1 });
    expect(lines.at(-1)).toBe("nanobench done");
    const results = lines.filter((l) => /^nanobench \S+ \d+ \d+ \d+\.\d\d$/.test(l));
    expect(results.length).toBe(8);
    const iters = (name: string) => Number(results.find((l) => l.split(" ")[1] === name)!.split(" ")[2]);
    const cpu = vm.cpu;
    // Each in-port80 iteration is one IN; each callret iteration one RET (an indirect lookup).
    expect(callouts(cpu, "in")).toBeGreaterThanOrEqual(iters("in-port80"));
    expect(callouts(cpu, "indirect branch lookup")).toBeGreaterThanOrEqual(iters("callret"));
    expect(callouts(cpu, "other")).toBeGreaterThanOrEqual(iters("privreg-clts")); // CLTS
    expect(callouts(cpu, "page-table write")).toBeGreaterThanOrEqual(iters("ptwrite"));
  });

  it("runs sensitive with every sensitive instruction behaving as on a real CPU", async () => {
    const { lines, stop } = await runLab("sensitive");
    expect(stop).toEqual({ kind: "debug-exit", status: 1 });
    const checks = lines.filter((l) => / observed=/.test(l));
    expect(checks.length).toBeGreaterThanOrEqual(20);
    for (const l of checks) expect(l).toMatch(/^sensitive \S+ observed=\S+ expected=\S+ ok$/);
    expect(lines.join("\n")).not.toContain("VIOLATION");
    expect(lines).toContain(`sensitive summary checks ${checks.length} violations 0`);
    expect(lines.at(-1)).toBe("sensitive done");
  });
});
