// The host's handle on one core.wasm instance: memory, state views and the exports, with the
// port/MMIO/interrupt callbacks the core imports. No Node built-ins here (it also runs in a
// browser Worker); vmm/node/ loads the module from disk.

import * as L from "./generated/layout.js";
import { Jit, type JitCoreExports } from "./jit/compiler.js";

/** What the core calls synchronously while it runs. */
export interface CpuHost {
  ioRead(port: number, size: number): number;
  ioWrite(port: number, size: number, value: number): void;
  mmioRead(addr: number, size: number): number;
  mmioWrite(addr: number, size: number, value: number): void;
  ackInterrupt(): number;
  /** FERR#: an unmasked x87 error is pending with CR0.NE = 0 (a PC routes it to IRQ 13). */
  fpuError?(): void;
  /**
   * A VM exit the core passes to the host (port I/O, device hypercalls): read the VMCS exit
   * fields, act, return a VMX_ACTION_* (vmm/virt/exit-handler.ts).
   */
  vmExit?(): number;
}

/** How the core executes guest code. */
export interface CpuOptions {
  /** Compile hot guest code to WebAssembly (default true); false: the interpreter alone. */
  jit?: boolean;
  /** Interpreted visits to an address before its block is compiled (1: at once). */
  jitThreshold?: number;
}

/** Visits before a region is compiled (measured: the tiny Linux boot 4.2 s at 2,000, 3.8 s at 4,000; the stock kernel to /init 36.9 s). */
export const DEFAULT_JIT_THRESHOLD = 4000;

export type RunReason = "budget" | "halt" | "shutdown" | "reset" | "stop" | "exception" | "vmexit" | "debug";
const REASONS: RunReason[] = ["budget", "halt", "shutdown", "reset", "stop", "exception", "vmexit", "debug"];

export interface SegmentCache {
  selector: number;
  base: number;
  limit: number;
  attr: number;
}

export const SEG = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5, LDTR: 6, TR: 7 } as const;
export const REG = { EAX: 0, ECX: 1, EDX: 2, EBX: 3, ESP: 4, EBP: 5, ESI: 6, EDI: 7 } as const;

interface CoreExports {
  configure(ramBytes: number): void;
  mapPhysical(start: number, len: number, kind: number, host: number): void;
  reset(): void;
  run(budget: number): number;
  setSegment(seg: number, sel: number, base: number, limit: number, attr: number): void;
  setControlRegister(n: number, v: number): void;
  setPrivilegeLevel(level: number): void;
  getFlags(): number;
  setFlags(v: number): void;
  setA20(enabled: number): void;
  flushTlb(): void;
  translate(lin: number, write: number, user: number): number;
  wake(): void;
  materializeFlags(): void;
  staticDataEnd(): number;
  retired(): number;
  setVirtualization(mode: number, mmu: number): void;
  hostWroteGuest(gpa: number, len: number): void;
  jitFlush(): void;
  debugChanged(): void;
}

const defaultHost: CpuHost = {
  ioRead: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff),
  ioWrite: () => {},
  mmioRead: (_addr, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff),
  mmioWrite: () => {},
  ackInterrupt: () => 0,
};

export class Cpu {
  readonly memory: WebAssembly.Memory;
  readonly ramBytes: number;
  private readonly exports: CoreExports;
  private view: DataView;
  private host: CpuHost;
  /** The JIT's compiler (its blocks run only while jitEnabled). */
  jit: Jit | null = null;

  private constructor(memory: WebAssembly.Memory, instance: WebAssembly.Instance, ramBytes: number, host: CpuHost) {
    this.memory = memory;
    this.ramBytes = ramBytes;
    this.exports = instance.exports as unknown as CoreExports;
    this.view = new DataView(memory.buffer);
    this.host = host;
  }

  /** Instantiates a core with `ramBytes` of guest RAM (a multiple of 4 KiB) in power-on state. */
  static async create(
    module: WebAssembly.Module,
    ramBytes: number,
    host: Partial<CpuHost> = {},
    options: CpuOptions = {},
  ): Promise<Cpu> {
    if (ramBytes <= 0 || ramBytes % 4096 !== 0 || ramBytes > 0xf000_0000 - L.RAM_BASE) {
      throw new RangeError(`RAM size must be a positive multiple of 4096 bytes below 3.75 GiB, got ${ramBytes}`);
    }
    const pages = Math.ceil((L.RAM_BASE + ramBytes) / 65536);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
    const h: CpuHost = { ...defaultHost, ...host };
    const env = {
      memory,
      ioRead: (port: number, size: number) => h.ioRead(port, size) >>> 0,
      ioWrite: (port: number, size: number, value: number) => h.ioWrite(port, size, value >>> 0),
      mmioRead: (addr: number, size: number) => h.mmioRead(addr >>> 0, size) >>> 0,
      mmioWrite: (addr: number, size: number, value: number) => h.mmioWrite(addr >>> 0, size, value >>> 0),
      ackInterrupt: () => h.ackInterrupt(),
      fpuError: () => h.fpuError?.(),
      vmExit: () => (h.vmExit ? h.vmExit() : L.VMX_ACTION_STOP),
      jitCompile: (block: number, eip: number, code: number, avail: number, flags: number) =>
        jit ? jit.compile(block, eip, code, avail, flags) : 0,
      abort: () => {
        throw new Error("core.wasm aborted");
      },
    };
    let jit: Jit | null = null;
    const instance = await WebAssembly.instantiate(module, { env });
    jit = new Jit(memory, instance.exports as unknown as JitCoreExports);
    const cpu = new Cpu(memory, instance, ramBytes, h);
    cpu.jit = jit;
    cpu.setU32(L.S_JIT_TABLE_BASE, jit.tableBase);
    cpu.setU32(L.S_JIT_THRESHOLD, Math.max(1, options.jitThreshold ?? DEFAULT_JIT_THRESHOLD));
    cpu.setU32(L.S_JIT_ON, options.jit === false ? 0 : 1);
    if (cpu.exports.staticDataEnd() > L.STATE_BASE) {
      throw new Error("core.wasm is broken: its static data overlaps the CPU state block");
    }
    cpu.exports.configure(ramBytes);
    cpu.reset();
    return cpu;
  }

  /** Replaces the callbacks (devices attach after the core exists). */
  setHost(host: Partial<CpuHost>): void {
    Object.assign(this.host, host);
  }

  private dv(): DataView {
    if (this.view.buffer !== this.memory.buffer) this.view = new DataView(this.memory.buffer);
    return this.view;
  }
  u32(addr: number): number {
    return this.dv().getUint32(addr, true);
  }
  setU32(addr: number, v: number): void {
    this.dv().setUint32(addr, v >>> 0, true);
  }

  /** Guest RAM as bytes (guest-physical 0 .. ramBytes). */
  get ram(): Uint8Array {
    return new Uint8Array(this.memory.buffer, L.RAM_BASE, this.ramBytes);
  }

  reset(): void {
    this.exports.reset();
  }

  /** Whether hot guest code runs compiled (the core's JIT_ON). */
  get jitEnabled(): boolean {
    return this.u32(L.S_JIT_ON) !== 0;
  }
  set jitEnabled(on: boolean) {
    this.setU32(L.S_JIT_ON, on ? 1 : 0);
  }

  /** Drops every compiled block (guest code was changed behind the core's back). */
  jitFlush(): void {
    this.exports.jitFlush();
  }

  /** DR7 or the host's breakpoints or watchpoints (HOST_BP, HOST_WP) changed: re-arms the core's checks. */
  debugChanged(): void {
    this.exports.debugChanged();
  }

  run(budget: number): RunReason {
    return REASONS[this.exports.run(budget)] ?? "stop";
  }

  reg(r: number): number {
    return this.u32(L.S_REGS + r * 4);
  }
  setReg(r: number, v: number): void {
    this.setU32(L.S_REGS + r * 4, v);
  }
  get eip(): number {
    return this.u32(L.S_EIP);
  }
  set eip(v: number) {
    this.setU32(L.S_EIP, v);
  }
  /** EFLAGS with every lazy bit computed. */
  get eflags(): number {
    return this.exports.getFlags() >>> 0;
  }
  set eflags(v: number) {
    this.exports.setFlags(v);
  }

  segment(s: number): SegmentCache {
    return {
      selector: this.u32(L.S_SEG_SEL + s * 4),
      base: this.u32(L.S_SEG_BASE + s * 4),
      limit: this.u32(L.S_SEG_LIMIT + s * 4),
      attr: this.u32(L.S_SEG_ATTR + s * 4),
    };
  }
  setSegment(s: number, c: SegmentCache): void {
    this.exports.setSegment(s, c.selector, c.base, c.limit, c.attr);
  }
  /** A real-mode style load: base = selector * 16, limit 64 KiB, writable data. */
  setRealSegment(s: number, selector: number): void {
    const attr = s === SEG.CS ? 0x9b : 0x93;
    this.exports.setSegment(s, selector & 0xffff, (selector & 0xffff) << 4, 0xffff, attr);
  }

  cr(n: number): number {
    return this.u32(L.S_CR + n * 4);
  }
  setCr(n: number, v: number): void {
    this.exports.setControlRegister(n, v >>> 0);
  }
  get cpl(): number {
    return this.u32(L.S_CPL);
  }
  set cpl(v: number) {
    this.exports.setPrivilegeLevel(v);
  }
  setGdtr(base: number, limit: number): void {
    this.setU32(L.S_GDTR_BASE, base);
    this.setU32(L.S_GDTR_LIMIT, limit);
  }
  setIdtr(base: number, limit: number): void {
    this.setU32(L.S_IDTR_BASE, base);
    this.setU32(L.S_IDTR_LIMIT, limit);
  }
  setA20(enabled: boolean): void {
    this.exports.setA20(enabled ? 1 : 0);
  }
  /** Maps guest-physical pages; `kind` is one of the PHYS_* constants. */
  mapPhysical(start: number, len: number, kind: number, host = 0): void {
    this.exports.mapPhysical(start >>> 0, len >>> 0, kind, host >>> 0);
  }
  /**
   * Maps a firmware image read-only at a guest-physical address (page-aligned, a multiple of
   * 4 KiB), stored in the instance's ROM region after the images already loaded.
   */
  loadRom(physAddr: number, image: Uint8Array): void {
    if (physAddr % 4096 !== 0 || image.length % 4096 !== 0 || image.length === 0) {
      throw new RangeError(`ROM image must be a non-empty multiple of 4 KiB at a 4 KiB boundary`);
    }
    if (this.romUsed + image.length > L.ROM_BYTES) {
      throw new RangeError(`ROM images exceed the ${L.ROM_BYTES / 2 ** 20} MiB ROM region`);
    }
    const host = L.ROM_BASE + this.romUsed;
    new Uint8Array(this.memory.buffer, host, image.length).set(image);
    this.romUsed += image.length;
    this.mapPhysical(physAddr, image.length, L.PHYS_ROM, host);
  }
  private romUsed = 0;

  /** Guest-physical address for a linear address, or null when not mapped. */
  translate(lin: number, write = false, user = false): number | null {
    const p = this.exports.translate(lin >>> 0, write ? 1 : 0, user ? 1 : 0) >>> 0;
    return p === 0xffffffff ? null : p;
  }

  /** Sets the interrupt-request input (the PIC's INTR line). */
  setIntr(level: boolean): void {
    this.setU32(L.S_INTR, level ? 1 : 0);
  }
  /** With this on, an exception ends run() with "exception" instead of being delivered. */
  set stopOnException(on: boolean) {
    this.setU32(L.S_STOP_ON_EXCEPTION, on ? 1 : 0);
  }
  /** The last exception raised: vector, error code (null if none) and the instruction's EIP. */
  get lastException(): { vector: number; error: number | null; eip: number } {
    const e = this.u32(L.S_EXC_ERROR);
    return { vector: this.u32(L.S_EXC_VECTOR), error: e === 0xffffffff ? null : e, eip: this.u32(L.S_EXC_EIP) };
  }
  get halted(): boolean {
    return this.u32(L.S_HALTED) !== 0;
  }
  set halted(v: boolean) {
    this.setU32(L.S_HALTED, v ? 1 : 0);
  }
  /** Instructions retired since reset. */
  get instructions(): bigint {
    return this.dv().getBigUint64(L.S_INSN_COUNT, true);
  }
  /** Instructions retired, including a run() in progress (for clocks read from device callbacks). */
  get retired(): number {
    return this.exports.retired();
  }
  /**
   * Presents KVM's paravirtual interface (CPUID 0x40000000, kvmclock): what the hvm and pv
   * modes will turn on. `wallSeconds` is the wall-clock time at virtual time 0.
   */
  /** Sets VIRT_MODE and MMU_MODE (VIRT_*, MMU_*) and resets the hypervisor's structures. */
  setVirtualization(mode: number, mmu: number): void {
    this.exports.setVirtualization(mode, mmu);
  }
  /** Wall-clock seconds at virtual time 0, which kvmclock reports (MSR_KVM_WALL_CLOCK_NEW). */
  setKvmWallClock(seconds: number): void {
    this.setU32(L.S_KVM_WALL_SEC, seconds);
  }
  /** The last VM exit recorded in the VMCS: basic reason, qualification and guest RIP. */
  get lastExit(): { reason: number; qualification: number; eip: number } {
    return {
      reason: this.u32(L.S_VMCS_EXIT_REASON) & 0xffff,
      qualification: this.u32(L.S_VMCS_EXIT_QUALIFICATION),
      eip: this.u32(L.S_VMCS_GUEST_RIP),
    };
  }
  /** Ends the current run() after the instruction in progress (e.g. from a device callback). */
  requestStop(): void {
    this.setU32(L.S_STOP_REQUEST, 1);
  }
  /** Advances the time-stamp counter without executing (HLT idle time under an icount clock). */
  addTscTicks(n: number): void {
    const dv = this.dv();
    dv.setBigUint64(L.S_TSC, dv.getBigUint64(L.S_TSC, true) + BigInt(Math.round(n)), true);
  }
  /** TSC ticks per retired instruction (the icount clock's CPU frequency). */
  set tscPerInstruction(n: number) {
    this.setU32(L.S_TSC_PER_INSN, n);
  }
  /** Exceptions raised since reset, by vector 0-31. */
  exceptionCounts(): number[] {
    return Array.from({ length: 32 }, (_, v) => this.u32(L.S_EXC_COUNT + v * 4));
  }

  /**
   * Puts the x87 unit in its FNINIT state (SDM vol. 2, FINIT/FNINIT): control word 0x037F, status word
   * and TOP 0, every register tagged empty, last-instruction and data pointers cleared. Test
   * harnesses use it for the state a user process starts with.
   */
  fpuInit(): void {
    this.setU32(L.S_FPU_CW, 0x037f);
    this.setU32(L.S_FPU_SW, 0);
    this.setU32(L.S_FPU_TOP, 0);
    this.setU32(L.S_FPU_TAG, 0xffff);
    this.setU32(L.S_FPU_IP, 0);
    this.setU32(L.S_FPU_CS, 0);
    this.setU32(L.S_FPU_OPCODE, 0);
    this.setU32(L.S_FPU_DP, 0);
    this.setU32(L.S_FPU_DS, 0);
  }

  /** Copies bytes into guest-physical memory (RAM only; throws outside it). */
  writePhysical(addr: number, bytes: Uint8Array): void {
    if (addr < 0 || addr + bytes.length > this.ramBytes) {
      throw new RangeError(`guest-physical range 0x${addr.toString(16)}+${bytes.length} is outside RAM`);
    }
    this.ram.set(bytes, addr);
    // Shadow page tables and translations made from these frames must not go stale.
    if (bytes.length > 0) this.exports.hostWroteGuest(addr, bytes.length);
  }
  /**
   * Tells the core that the host changed guest-physical bytes behind its back (device DMA):
   * write tracking, the EPT dirty log and the translator's invalidation see it.
   */
  noteHostWrite(addr: number, length: number): void {
    if (length > 0) this.exports.hostWroteGuest(addr >>> 0, length >>> 0);
  }
  readPhysical(addr: number, length: number): Uint8Array {
    if (addr < 0 || addr + length > this.ramBytes) {
      throw new RangeError(`guest-physical range 0x${addr.toString(16)}+${length} is outside RAM`);
    }
    return this.ram.slice(addr, addr + length);
  }
}
