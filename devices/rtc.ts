// The Motorola MC146818 real-time clock and CMOS RAM of the PC/AT: index port 0x70 (bit 7 masks
// NMI), data port 0x71, IRQ 8. Ten time/alarm registers, registers A-D, and 114 bytes of NVRAM
// (the PC keeps the century in byte 0x32, IBM PC/AT Technical Reference).
//
// Facts from the MC146818A datasheet: register A (UIP, divider DV2-0, rate RS3-0 and the periodic
// rates for a 32.768 kHz time base), register B (SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE),
// register C (IRQF, PF, AF, UF, cleared by reading), register D (VRT), alarm "don't care" codes
// (0xC0-0xFF), UIP rising 244 us before the update, the first update 500 ms after the divider
// leaves reset.
//
// Time: the RTC starts from an injected wall-clock reading (the host's time, or a fixed date for
// reproducible runs) and then runs on the VM's virtual clock. Registers are computed from that,
// never stepped. Simplification: the time registers change at once at the second boundary, and
// UIP covers the 244 us before it (not the 1984 us update cycle after it).

import { CLOCK_HZ, PORT } from "./bus/addresses.js";
import type { IrqLine } from "./bus/irq.js";
import type { PortBus } from "./bus/port-bus.js";
import { type Clock, NS_PER_SECOND, nsToTicks, type TimedDevice, ticksToNs } from "./clock.js";

const HZ = CLOCK_HZ.RTC;
/** UIP is high for 244 us (8 cycles of 32.768 kHz) before each update. */
const UIP_NS = ticksToNs(8, HZ);

export const RTC_REG = {
  SECONDS: 0x00,
  SECONDS_ALARM: 0x01,
  MINUTES: 0x02,
  MINUTES_ALARM: 0x03,
  HOURS: 0x04,
  HOURS_ALARM: 0x05,
  DAY_OF_WEEK: 0x06,
  DAY_OF_MONTH: 0x07,
  MONTH: 0x08,
  YEAR: 0x09,
  A: 0x0a,
  B: 0x0b,
  C: 0x0c,
  D: 0x0d,
  /** IBM PC/AT: century byte (QEMU and SeaBIOS use it too). */
  CENTURY: 0x32,
} as const;

const A_UIP = 0x80;
const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_BINARY = 0x04;
const B_24H = 0x02;
const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;

const TIME_REGS = [0, 2, 4, 6, 7, 8, 9, RTC_REG.CENTURY];

export interface RtcOptions {
  clock: Clock;
  irq: IrqLine;
  /**
   * Wall-clock time (ms since 1970, read as the RTC's local time) at which the RTC starts: read
   * at construction and at `powerOn`. Give `() => Date.now()` for host time. Default: a fixed
   * 2024-01-01 00:00:00, so runs on the icount clock are reproducible.
   */
  wallClockMs?: () => number;
}

export class Rtc implements TimedDevice {
  private readonly clock: Clock;
  private readonly irq: IrqLine;
  private readonly wallClockMs: () => number;
  /** The 128 bytes: time registers hold a snapshot only while the clock is frozen. */
  readonly nvram = new Uint8Array(128);
  private index = 0;
  /** Port 0x70 bit 7: NMI disabled. The Vm reads this before delivering an NMI. */
  nmiMasked = true;
  /** Epoch seconds of the RTC time at anchorNs, and the phase within that second. */
  private anchorSec = 0;
  private anchorNs = 0;
  private anchorFrac = 0;
  /** Flags of register C (PF, AF, UF) not yet read. */
  private flags = 0;
  /** Virtual time up to which events have been taken into the flags. */
  private lastNs = 0;

  constructor(options: RtcOptions) {
    this.clock = options.clock;
    this.irq = options.irq;
    this.wallClockMs = options.wallClockMs ?? (() => Date.UTC(2024, 0, 1));
    this.powerOn();
  }

  /**
   * Battery connected: the time from the wall clock, register A 0x26 (32.768 kHz, 1024 Hz),
   * register B 24-hour BCD, NVRAM zero.
   */
  powerOn(): void {
    this.nvram.fill(0);
    const now = this.clock.nowNs();
    const ms = this.wallClockMs();
    this.anchorSec = Math.floor(ms / 1000);
    this.anchorNs = now;
    this.anchorFrac = (ms - this.anchorSec * 1000) * 1_000_000;
    this.lastNs = now;
    this.nvram[RTC_REG.A] = 0x26;
    this.nvram[RTC_REG.B] = B_24H;
    this.flags = 0;
    this.updateIrq();
  }

  /**
   * The RESET pin (system reset): time and NVRAM survive; PIE, AIE, UIE and SQWE clear, and so
   * do the interrupt flags (datasheet, "RESET").
   */
  reset(): void {
    this.advance(this.clock.nowNs());
    this.nvram[RTC_REG.B] = this.regB & ~(B_PIE | B_AIE | B_UIE | 0x08);
    this.flags = 0;
    this.updateIrq();
  }

  attach(bus: PortBus): void {
    bus.register({
      owner: "MC146818 RTC",
      start: PORT.RTC_INDEX,
      length: 2,
      read: (port) => (port === PORT.RTC_INDEX ? 0xff : this.readRegister(this.index)),
      write: (port, _size, v) => {
        if (port === PORT.RTC_INDEX) {
          this.index = v & 0x7f;
          this.nmiMasked = (v & 0x80) !== 0;
        } else this.writeRegister(this.index, v);
      },
    });
  }

  // --- time keeping -----------------------------------------------------------------------

  private get regA(): number {
    return this.nvram[RTC_REG.A]!;
  }

  private get regB(): number {
    return this.nvram[RTC_REG.B]!;
  }

  /** The divider chain runs unless DV2-DV1 = 11 (reset). */
  private get dividerRunning(): boolean {
    return (this.regA & 0x60) !== 0x60;
  }

  /** Time does not advance in the registers: divider in reset, or SET. */
  private get frozen(): boolean {
    return !this.dividerRunning || (this.regB & B_SET) !== 0;
  }

  /** 32.768 kHz cycles since the start of the anchor second. */
  private cycles(now: number): number {
    return nsToTicks(now - this.anchorNs + this.anchorFrac, HZ);
  }

  private secondsAt(now: number): number {
    return this.anchorSec + Math.floor((now - this.anchorNs + this.anchorFrac) / NS_PER_SECOND);
  }

  private fracAt(now: number): number {
    const x = now - this.anchorNs + this.anchorFrac;
    return x - Math.floor(x / NS_PER_SECOND) * NS_PER_SECOND;
  }

  /** Periodic interrupt period in 32.768 kHz cycles, 0 when RS = 0 (datasheet table 5). */
  private periodCycles(): number {
    let rs = this.regA & 0x0f;
    if (rs === 0) return 0;
    if (rs <= 2) rs += 7; // with a 32.768 kHz time base, rates 1 and 2 repeat rates 8 and 9
    return 1 << (rs - 1);
  }

  /** Takes the events up to `now` into the flags and the IRQ line. */
  advance(now: number): void {
    if (now <= this.lastNs) return;
    if (this.dividerRunning) {
      const c0 = this.cycles(this.lastNs);
      const c1 = this.cycles(now);
      const p = this.periodCycles();
      if (p !== 0 && Math.floor(c1 / p) > Math.floor(c0 / p)) this.flags |= C_PF;
      const s0 = Math.floor(c0 / HZ);
      const s1 = Math.floor(c1 / HZ);
      if (s1 > s0 && !(this.regB & B_SET)) {
        this.flags |= C_UF;
        // Alarm: compare every second that began in the interval (a day covers every match).
        for (let k = Math.max(s0 + 1, s1 - 86399); k <= s1; k++) {
          if (this.alarmMatches(this.anchorSec + k)) {
            this.flags |= C_AF;
            break;
          }
        }
      }
    }
    this.lastNs = now;
    this.updateIrq();
  }

  nextDeadlineNs(): number {
    if (!this.dividerRunning || this.irq.level) return Number.POSITIVE_INFINITY;
    const b = this.regB;
    const c = this.cycles(this.lastNs);
    let next = Number.POSITIVE_INFINITY;
    const p = this.periodCycles();
    if (b & B_PIE && p !== 0) next = (Math.floor(c / p) + 1) * p;
    if (b & (B_UIE | B_AIE) && !(b & B_SET)) next = Math.min(next, (Math.floor(c / HZ) + 1) * HZ);
    if (next === Number.POSITIVE_INFINITY) return next;
    return this.anchorNs - this.anchorFrac + ticksToNs(next, HZ);
  }

  private updateIrq(): void {
    const b = this.regB;
    const on = (this.flags & C_PF && b & B_PIE) || (this.flags & C_AF && b & B_AIE) || (this.flags & C_UF && b & B_UIE);
    this.irq.set(!!on);
  }

  // --- register encoding --------------------------------------------------------------------

  private encode(v: number): number {
    return this.regB & B_BINARY ? v : ((Math.floor(v / 10) % 10) << 4) | (v % 10);
  }

  private decode(v: number): number {
    return this.regB & B_BINARY ? v : (v >> 4) * 10 + (v & 0xf);
  }

  private encodeHour(h: number): number {
    if (this.regB & B_24H) return this.encode(h);
    return this.encode(h % 12 || 12) | (h >= 12 ? 0x80 : 0);
  }

  private decodeHour(v: number): number {
    if (this.regB & B_24H) return this.decode(v);
    return (this.decode(v & 0x7f) % 12) + (v & 0x80 ? 12 : 0);
  }

  /** The time register `reg` for epoch second `sec`. */
  private field(reg: number, sec: number): number {
    const d = new Date(sec * 1000);
    switch (reg) {
      case 0:
        return this.encode(d.getUTCSeconds());
      case 2:
        return this.encode(d.getUTCMinutes());
      case 4:
        return this.encodeHour(d.getUTCHours());
      case 6:
        return this.encode(d.getUTCDay() + 1);
      case 7:
        return this.encode(d.getUTCDate());
      case 8:
        return this.encode(d.getUTCMonth() + 1);
      case 9:
        return this.encode(d.getUTCFullYear() % 100);
      default: // century
        return this.encode(Math.floor(d.getUTCFullYear() / 100));
    }
  }

  /** Epoch seconds from the time registers as stored in nvram. */
  private parseStored(): number {
    const r = this.nvram;
    const year = this.decode(r[RTC_REG.CENTURY]!) * 100 + this.decode(r[9]!);
    const ms = Date.UTC(
      year,
      this.decode(r[8]!) - 1,
      this.decode(r[7]!),
      this.decodeHour(r[4]!),
      this.decode(r[2]!),
      0,
    );
    return Math.floor(ms / 1000) + this.decode(r[0]!);
  }

  private snapshot(now: number): void {
    const sec = this.secondsAt(now);
    for (const reg of TIME_REGS) this.nvram[reg] = this.field(reg, sec);
  }

  /** Restarts the time from the stored registers at `now`, with the sub-second phase `frac`. */
  private reanchor(now: number, frac: number): void {
    this.anchorSec = this.parseStored();
    this.anchorNs = now;
    this.anchorFrac = frac;
    this.lastNs = now;
  }

  private alarmMatches(sec: number): boolean {
    const r = this.nvram;
    const match = (alarm: number, reg: number) => (alarm & 0xc0) === 0xc0 || alarm === this.field(reg, sec);
    return (
      match(r[RTC_REG.SECONDS_ALARM]!, 0) && match(r[RTC_REG.MINUTES_ALARM]!, 2) && match(r[RTC_REG.HOURS_ALARM]!, 4)
    );
  }

  // --- guest access ---------------------------------------------------------------------------

  readRegister(reg: number): number {
    reg &= 0x7f;
    const now = this.clock.nowNs();
    switch (reg) {
      case RTC_REG.A: {
        const uip = !this.frozen && this.fracAt(now) >= NS_PER_SECOND - UIP_NS;
        return (this.regA & 0x7f) | (uip ? A_UIP : 0);
      }
      case RTC_REG.C: {
        this.advance(now);
        const v = this.flags | (this.irq.level ? C_IRQF : 0);
        this.flags = 0;
        this.updateIrq();
        return v;
      }
      case RTC_REG.D:
        return 0x80; // VRT: the battery is fine
      default:
        if (TIME_REGS.includes(reg) && !this.frozen) return this.field(reg, this.secondsAt(now));
        return this.nvram[reg]!;
    }
  }

  writeRegister(reg: number, v: number): void {
    reg &= 0x7f;
    v &= 0xff;
    const now = this.clock.nowNs();
    switch (reg) {
      case RTC_REG.A: {
        this.advance(now);
        const wasRunning = this.dividerRunning;
        if (wasRunning && (v & 0x60) === 0x60 && !this.frozen) this.snapshot(now);
        this.nvram[RTC_REG.A] = v & 0x7f;
        if (!wasRunning && this.dividerRunning) {
          // Out of divider reset: the first update comes 500 ms later.
          this.reanchor(now, NS_PER_SECOND / 2);
        }
        this.updateIrq();
        return;
      }
      case RTC_REG.B: {
        this.advance(now);
        const old = this.regB;
        if (v & B_SET) v &= ~B_UIE; // setting SET clears UIE
        if (!(old & B_SET) && v & B_SET && this.dividerRunning) this.snapshot(now);
        this.nvram[RTC_REG.B] = v;
        if (old & B_SET && !(v & B_SET) && this.dividerRunning) this.reanchor(now, this.fracAt(now));
        this.updateIrq();
        return;
      }
      case RTC_REG.C:
      case RTC_REG.D:
        return; // read-only
      default:
        if (TIME_REGS.includes(reg) && !this.frozen) {
          this.advance(now);
          this.snapshot(now);
          this.nvram[reg] = v;
          this.reanchor(now, this.fracAt(now));
          return;
        }
        this.nvram[reg] = v;
    }
  }

  /** The RTC's current time as epoch milliseconds (for monitors and tests). */
  timeMs(): number {
    const now = this.clock.nowNs();
    if (this.frozen) return this.parseStored() * 1000;
    return this.secondsAt(now) * 1000 + Math.floor(this.fracAt(now) / 1_000_000);
  }
}
