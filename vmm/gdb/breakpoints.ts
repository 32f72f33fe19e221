// The gdb stub's breakpoints and watchpoints on one machine, kept across reboots (each new VM
// gets them again). Both are the core's host lists (HOST_BP, HOST_WP), so the guest's memory and
// debug registers stay untouched: a breakpoint stops the run before the instruction at its
// address, a watchpoint after the instruction whose data access touched its bytes (as x86
// hardware watchpoints do, so gdb's `watch` compares old and new values as it does natively).
// The core checks them only in the interpreter: while any is set the JIT stays off (core/run.ts).

import * as L from "../generated/layout.js";
import type { Machine } from "../lib/machine.js";
import type { Vm } from "../vm.js";

const MAX_BREAKPOINTS = 8;
const MAX_WATCHPOINTS = 8;

/** gdb's watchpoint kinds by Z packet type (2 write, 3 read, 4 access) and their stop-reply names. */
const WATCH_TYPES: Record<string, { name: WatchName; kind: number }> = {
  "2": { name: "watch", kind: L.HOST_WP_WRITE },
  "3": { name: "rwatch", kind: L.HOST_WP_READ },
  "4": { name: "awatch", kind: L.HOST_WP_ACCESS },
};
export type WatchName = "watch" | "rwatch" | "awatch";

interface Watchpoint {
  type: string;
  addr: number;
  len: number;
}

/** A watchpoint hit as gdb's stop reply names it: the kind and a watched address accessed. */
export interface WatchHit {
  name: WatchName;
  addr: number;
}

export class Breakpoints {
  readonly addresses = new Set<number>();
  readonly watchpoints: Watchpoint[] = [];
  constructor(private readonly machine: Machine) {
    machine.onVm.push((vm) => this.apply(vm));
  }

  add(addr: number): boolean {
    if (!this.addresses.has(addr >>> 0) && this.addresses.size >= MAX_BREAKPOINTS) return false;
    this.addresses.add(addr >>> 0);
    this.apply(this.machine.vm);
    return true;
  }

  remove(addr: number): void {
    this.addresses.delete(addr >>> 0);
    this.apply(this.machine.vm);
  }

  /** Z2/Z3/Z4: a watchpoint of `len` bytes at linear `addr`. False when the type or list is wrong. */
  addWatch(type: string, addr: number, len: number): boolean {
    if (!WATCH_TYPES[type] || !(len >= 1 && len <= 0x1000)) return false;
    if (this.findWatch(type, addr, len) < 0) {
      if (this.watchpoints.length >= MAX_WATCHPOINTS) return false;
      this.watchpoints.push({ type, addr: addr >>> 0, len });
    }
    this.apply(this.machine.vm);
    return true;
  }

  removeWatch(type: string, addr: number, len: number): void {
    const i = this.findWatch(type, addr, len);
    if (i >= 0) this.watchpoints.splice(i, 1);
    this.apply(this.machine.vm);
  }

  clear(): void {
    this.addresses.clear();
    this.watchpoints.length = 0;
    this.apply(this.machine.vm);
  }

  /**
   * After the core stopped with RUN_DEBUG: the watchpoint that stopped it (its kind and the first
   * watched byte the access touched), or undefined for a breakpoint. Clears the core's report.
   */
  takeWatchHit(vm: Vm): WatchHit | undefined {
    const cpu = vm.cpu;
    const index = cpu.u32(L.S_HOST_WP_HIT);
    if (index === 0) return undefined;
    cpu.setU32(L.S_HOST_WP_HIT, 0);
    const w = this.watchpoints[index - 1];
    if (!w) return undefined;
    const accessed = cpu.u32(L.S_HOST_WP_HIT + 4);
    // An access that starts below the watched bytes is reported at the first of them, which is
    // where gdb looks for the watchpoint that triggered.
    const inside = (accessed - w.addr) >>> 0 < w.len ? accessed : w.addr;
    return { name: WATCH_TYPES[w.type]!.name, addr: inside };
  }

  private findWatch(type: string, addr: number, len: number): number {
    return this.watchpoints.findIndex((w) => w.type === type && w.addr === addr >>> 0 && w.len === len);
  }

  /** Writes the lists into the core and re-arms its checks. */
  private apply(vm: Vm): void {
    const cpu = vm.cpu;
    const list = [...this.addresses];
    for (const [i, a] of list.entries()) cpu.setU32(L.S_HOST_BP + i * 4, a);
    cpu.setU32(L.S_HOST_BP_COUNT, list.length);
    for (const [i, w] of this.watchpoints.entries()) {
      cpu.setU32(L.S_HOST_WP + i * 12, w.addr);
      cpu.setU32(L.S_HOST_WP + i * 12 + 4, w.len);
      cpu.setU32(L.S_HOST_WP + i * 12 + 8, WATCH_TYPES[w.type]!.kind);
    }
    cpu.setU32(L.S_HOST_WP_COUNT, this.watchpoints.length);
    // DEBUG_ARMED (which keeps compiled code off) and the TLB masks follow the lists.
    cpu.debugChanged();
  }
}
