// The Intel 8254 programmable interval timer of the PC/AT at ports 0x40-0x43, clocked at
// 1.193182 MHz: channel 0 drives IRQ 0, channel 1 is the (unused) DRAM refresh timer, channel 2
// is gated and read through system control port B (0x61), which also holds the speaker enable
// and the refresh toggle bit that BIOS delay loops poll.
//
// Facts from the Intel 82C54 datasheet (modes 0-5, gate behaviour, the count sequence of mode 3
// with odd counts, counter latch and read-back commands, the status byte) and the IBM PC/AT
// Technical Reference (port 0x61 bits). Counters are not stepped: their value and OUT level are
// computed from the virtual clock, and the Vm is told the next time OUT0 rises.
//
// Simplifications: the count is taken into the counting element at the moment of the write (the
// chip does it on the next CLK edge, one tick later); a new count written in mode 3 takes effect
// at the end of the current full period rather than the current half period.

import { CLOCK_HZ, PORT } from "./bus/addresses.js";
import type { IrqLine } from "./bus/irq.js";
import type { PortBus } from "./bus/port-bus.js";
import { type Clock, nsToTicks, type TimedDevice, ticksToNs } from "./clock.js";

export const PIT_HZ = CLOCK_HZ.PIT;
/** PC/AT: channel 1 is programmed with 18 (15.085 us) and each of its cycles toggles 0x61 bit 4. */
const REFRESH_TICKS = 18;

const toBcd = (v: number): number =>
  (v % 10) | ((Math.floor(v / 10) % 10) << 4) | ((Math.floor(v / 100) % 10) << 8) | ((Math.floor(v / 1000) % 10) << 12);
const fromBcd = (v: number): number =>
  (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;

export class Channel {
  /** Mode bits as programmed (0-7; 6 and 7 act as 2 and 3). */
  modeBits = 3;
  mode = 3;
  bcd = false;
  /** RW field: 1 LSB only, 2 MSB only, 3 LSB then MSB. */
  access = 3;
  gate: boolean;
  /** Initial count N, 1..65536 (binary) or 1..10000 (BCD); 0 until a count is written. */
  reload = 0;
  private lowByte = -1;
  private readHigh = false;
  private latchedCount = -1;
  private latchedBytes = 0;
  private latchedStatus = -1;
  nullCount = true;

  /** The counting element holds a count and runs (or is paused by GATE in modes 0 and 4). */
  counting = false;
  /** Tick at which the counting element was loaded. */
  start = 0;
  /** Elapsed ticks frozen while GATE is low in modes 0 and 4, or -1 when not paused. */
  paused = -1;
  /** OUT and the counter value while not counting. */
  idleOut = true;
  idleValue = 0;
  /** A count written while counting in mode 2 or 3, loaded at the end of the current period. */
  pendingReload = 0;
  pendingAt = 0;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  private get modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  /** Applies a pending mode 2/3 reload once its time has come. */
  settle(t: number): void {
    if (this.pendingReload !== 0 && t >= this.pendingAt) {
      this.reload = this.pendingReload;
      this.start = this.pendingAt;
      this.pendingReload = 0;
      this.nullCount = false;
    }
  }

  private elapsed(t: number): number {
    return this.paused >= 0 ? this.paused : t - this.start;
  }

  /** The counting element at tick t (binary, 0..modulus-1). */
  value(t: number): number {
    this.settle(t);
    if (!this.counting) return this.idleValue;
    const n = this.reload;
    const d = this.elapsed(t);
    const m = this.modulus;
    switch (this.mode) {
      case 2:
        return (n - (d % n)) % m;
      case 3: {
        const p = d % n;
        if ((n & 1) === 0) {
          const half = n >> 1;
          return (n - 2 * (p < half ? p : p - half)) % m;
        }
        // Odd N: loaded, then -1, then -2 steps for (N+1)/2 ticks with OUT high; reloaded, -3,
        // then -2 steps for (N-1)/2 ticks with OUT low (82C54 datasheet, mode 3).
        const high = (n + 1) >> 1;
        if (p === 0 || p === high) return n % m;
        if (p < high) return (n + 1 - 2 * p) % m;
        return (n - 1 - 2 * (p - high)) % m;
      }
      default:
        return (((n - d) % m) + m) % m;
    }
  }

  /** OUT at tick t. */
  out(t: number): boolean {
    this.settle(t);
    if (!this.counting) return this.idleOut;
    const n = this.reload;
    const d = this.elapsed(t);
    switch (this.mode) {
      case 0:
      case 1:
        return d >= n;
      case 2:
        return d % n !== n - 1;
      case 3:
        return d % n < (n + 1) >> 1;
      default: // 4, 5: low for the one tick at terminal count
        return d !== n;
    }
  }

  /** Rising edges of OUT in (t0, t1], given no gate or register change in between. */
  risingEdges(t0: number, t1: number): number {
    if (t1 <= t0) return 0;
    if (this.pendingReload !== 0 && this.pendingAt > t0 && this.pendingAt <= t1) {
      const at = this.pendingAt;
      const before = this.risingEdgesNoPending(t0, at);
      this.settle(at);
      return before + this.risingEdges(at, t1);
    }
    this.settle(t0);
    return this.risingEdgesNoPending(t0, t1);
  }

  private risingEdgesNoPending(t0: number, t1: number): number {
    if (!this.counting || this.paused >= 0) return 0;
    const n = this.reload;
    const s = this.start;
    switch (this.mode) {
      case 0:
      case 1:
        return t0 < s + n && s + n <= t1 ? 1 : 0;
      case 4:
      case 5:
        return t0 < s + n + 1 && s + n + 1 <= t1 ? 1 : 0;
      default: {
        // Modes 2 and 3: OUT rises at the start of every period, start + kN for k >= 1.
        const a = Math.floor((Math.max(t0, s) - s) / n);
        const b = Math.floor((t1 - s) / n);
        return Math.max(0, b - a);
      }
    }
  }

  /** The first tick after t at which OUT rises, or Infinity. */
  nextRisingEdge(t: number): number {
    this.settle(t);
    if (!this.counting || this.paused >= 0) return Number.POSITIVE_INFINITY;
    const n = this.reload;
    const s = this.start;
    let at: number;
    switch (this.mode) {
      case 0:
      case 1:
        at = s + n;
        break;
      case 4:
      case 5:
        at = s + n + 1;
        break;
      default:
        at = t < s ? s + n : s + (Math.floor((t - s) / n) + 1) * n;
        if (this.pendingReload !== 0 && this.pendingAt > t) at = Math.min(at, this.pendingAt);
        break;
    }
    return at > t ? at : Number.POSITIVE_INFINITY;
  }

  private stopAt(t: number, out: boolean): void {
    this.idleValue = this.value(t);
    this.counting = false;
    this.paused = -1;
    this.idleOut = out;
  }

  private startAt(t: number): void {
    this.counting = true;
    this.start = t;
    this.paused = -1;
    this.pendingReload = 0;
    this.nullCount = false;
  }

  writeControl(v: number, t: number): void {
    this.settle(t);
    this.access = (v >> 4) & 3;
    this.modeBits = (v >> 1) & 7;
    this.mode = this.modeBits >= 6 ? this.modeBits - 4 : this.modeBits;
    this.bcd = (v & 1) !== 0;
    this.lowByte = -1;
    this.readHigh = false;
    this.latchedCount = -1;
    this.latchedBytes = 0;
    this.latchedStatus = -1;
    this.nullCount = true;
    this.reload = 0;
    this.pendingReload = 0;
    // Writing a control word stops the counter; OUT goes low in mode 0, high in the others.
    this.stopAt(t, this.mode !== 0);
  }

  writeCount(byte: number, t: number): void {
    this.settle(t);
    let raw: number;
    if (this.access === 1) raw = byte;
    else if (this.access === 2) raw = byte << 8;
    else if (this.lowByte < 0) {
      this.lowByte = byte;
      // Mode 0: writing the first byte stops the count (82C54 datasheet, mode 0).
      if (this.mode === 0 && this.counting) this.stopAt(t, false);
      return;
    } else {
      raw = this.lowByte | (byte << 8);
      this.lowByte = -1;
    }
    let n = this.bcd ? fromBcd(raw) : raw;
    if (n === 0) n = this.modulus;
    this.loadCount(n, t);
  }

  private loadCount(n: number, t: number): void {
    this.nullCount = true;
    switch (this.mode) {
      case 0:
      case 4:
        this.reload = n;
        this.startAt(t);
        if (!this.gate) this.paused = 0;
        break;
      case 1:
      case 5:
        // Loaded by the next GATE trigger.
        this.reload = n;
        break;
      default:
        if (this.counting && this.reload !== 0) {
          // Takes effect at the end of the current period.
          const d = t - this.start;
          this.pendingReload = n;
          this.pendingAt = this.start + (Math.floor(d / this.reload) + 1) * this.reload;
        } else {
          this.reload = n;
          if (this.gate) this.startAt(t);
        }
        break;
    }
  }

  setGate(level: boolean, t: number): void {
    this.settle(t);
    if (level === this.gate) return;
    this.gate = level;
    switch (this.mode) {
      case 0:
      case 4:
        if (!this.counting) break;
        if (!level) this.paused = t - this.start;
        else if (this.paused >= 0) {
          this.start = t - this.paused;
          this.paused = -1;
        }
        break;
      case 1:
      case 5:
        // A rising GATE (re)triggers the one-shot with the initial count.
        if (level && this.reload !== 0) this.startAt(t);
        break;
      default:
        if (!level) {
          if (this.counting) this.stopAt(t, true);
          else this.idleOut = true;
        } else if (this.reload !== 0) {
          this.startAt(t);
        }
        break;
    }
  }

  latchCount(t: number): void {
    if (this.latchedBytes > 0) return; // a second latch before the read is ignored
    this.latchedCount = this.value(t);
    this.latchedBytes = this.access === 3 ? 2 : 1;
  }

  latchStatus(t: number): void {
    if (this.latchedStatus >= 0) return;
    this.latchedStatus =
      (this.out(t) ? 0x80 : 0) |
      (this.nullCount ? 0x40 : 0) |
      (this.access << 4) |
      (this.modeBits << 1) |
      (this.bcd ? 1 : 0);
  }

  read(t: number): number {
    if (this.latchedStatus >= 0) {
      const s = this.latchedStatus;
      this.latchedStatus = -1;
      return s;
    }
    let v: number;
    let high: boolean;
    if (this.latchedBytes > 0) {
      v = this.latchedCount;
      high = this.access === 2 || (this.access === 3 && this.latchedBytes === 1);
      this.latchedBytes--;
    } else {
      v = this.value(t);
      if (this.access === 3) {
        high = this.readHigh;
        this.readHigh = !this.readHigh;
      } else high = this.access === 2;
    }
    if (this.bcd) v = toBcd(v);
    return high ? (v >> 8) & 0xff : v & 0xff;
  }
}

export interface PitOptions {
  clock: Clock;
  /** IRQ 0: channel 0's OUT. */
  irq: IrqLine;
}

/** The i8254 with the PC's wiring; a TimedDevice for channel 0's interrupts. */
export class Pit implements TimedDevice {
  private readonly clock: Clock;
  private readonly irq: IrqLine;
  private readonly channels: Channel[] = [];
  /** Tick up to which OUT0 edges have been delivered. */
  private synced = 0;
  /** Port 0x61 bits 0-3 as written: timer 2 gate, speaker data, parity and channel check enables. */
  private portB = 0;
  /** OUT0 rising edges merged into one IRQ 0 edge because the Vm advanced past several periods. */
  lostTicks = 0;

  constructor(options: PitOptions) {
    this.clock = options.clock;
    this.irq = options.irq;
    this.reset();
  }

  /** Power-on state as QEMU leaves it: every channel in mode 3 counting 65536, gate 2 low. */
  reset(): void {
    const t = this.ticks(this.clock.nowNs());
    this.channels.length = 0;
    for (let i = 0; i < 3; i++) {
      const c = new Channel(i !== 2);
      c.writeControl(0x36, t);
      c.writeCount(0, t);
      c.writeCount(0, t);
      this.channels.push(c);
    }
    this.portB = 0;
    this.synced = t;
    this.irq.set(this.channels[0]!.out(t));
  }

  attach(bus: PortBus): void {
    bus.register({
      owner: "i8254 PIT",
      start: PORT.PIT,
      length: 4,
      read: (port) => this.readPort(port - PORT.PIT),
      write: (port, _size, v) => this.writePort(port - PORT.PIT, v),
    });
    bus.register({
      owner: "port B (0x61)",
      start: PORT.SYSTEM_CONTROL_B,
      length: 1,
      read: () => this.readPortB(),
      write: (_port, _size, v) => this.writePortB(v),
    });
  }

  advance(nowNs: number): void {
    this.sync(this.ticks(nowNs));
  }

  nextDeadlineNs(): number {
    const at = this.channels[0]!.nextRisingEdge(this.synced);
    return at === Number.POSITIVE_INFINITY ? at : ticksToNs(at, PIT_HZ);
  }

  /** Port offset 0-2: counters, 3: control word. */
  readPort(offset: number): number {
    if (offset === 3) return 0xff; // the control register cannot be read (82C54: no-op)
    return this.channels[offset]!.read(this.now());
  }

  writePort(offset: number, v: number): void {
    const t = this.now();
    if (offset < 3) {
      this.channels[offset]!.writeCount(v & 0xff, t);
      if (offset === 0) this.sync(t);
      return;
    }
    const sc = v >> 6;
    if (sc === 3) {
      // Read-back: bit 5 = 0 latches counts, bit 4 = 0 latches status, bits 3-1 select 2-0.
      for (let i = 0; i < 3; i++) {
        if (!(v & (2 << i))) continue;
        const c = this.channels[i]!;
        if (!(v & 0x10)) c.latchStatus(t);
        if (!(v & 0x20)) c.latchCount(t);
      }
      return;
    }
    const c = this.channels[sc]!;
    if ((v & 0x30) === 0) {
      c.latchCount(t);
      return;
    }
    c.writeControl(v, t);
    if (sc === 0) this.sync(t);
  }

  readPortB(): number {
    const t = this.now();
    const refresh = Math.floor(t / REFRESH_TICKS) & 1;
    return (this.portB & 0x0f) | (refresh << 4) | (this.channels[2]!.out(t) ? 0x20 : 0);
  }

  writePortB(v: number): void {
    this.portB = v & 0x0f;
    this.channels[2]!.setGate((v & 1) !== 0, this.now());
  }

  /** The speaker sounds when port B enables both the gate and the data (PC/AT). */
  get speaker(): { on: boolean; frequencyHz: number } {
    const c = this.channels[2]!;
    const on = (this.portB & 3) === 3 && c.counting && c.mode === 3;
    return { on, frequencyHz: on ? PIT_HZ / c.reload : 0 };
  }

  /** For monitors and tests: counter value, OUT and mode of channel i now. */
  channelState(i: number): { value: number; out: boolean; mode: number; reload: number; gate: boolean } {
    const c = this.channels[i]!;
    const t = this.now();
    return { value: c.value(t), out: c.out(t), mode: c.mode, reload: c.reload, gate: c.gate };
  }

  private ticks(ns: number): number {
    return nsToTicks(ns, PIT_HZ);
  }

  /** The current tick; channel 0's edges up to it are delivered first, so state never runs ahead. */
  private now(): number {
    const t = Math.max(this.synced, this.ticks(this.clock.nowNs()));
    this.sync(t);
    return t;
  }

  /** Delivers OUT0's rising edges up to tick t to IRQ 0 and leaves the line at OUT0's level. */
  private sync(t: number): void {
    if (t < this.synced) t = this.synced;
    const c = this.channels[0]!;
    const edges = c.risingEdges(this.synced, t);
    this.synced = t;
    if (edges > 0) {
      this.lostTicks += edges - 1;
      this.irq.set(false);
      this.irq.set(true);
    }
    this.irq.set(c.out(t));
  }
}
