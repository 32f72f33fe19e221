// Time for device models. Devices never read the host's clock: the Vm injects a `Clock` (virtual
// time in nanoseconds, advanced from real time or from retired instructions) and tells each timed
// device "time is now T" through `advance`, asking `nextDeadlineNs` when it must next do so.

/** A source of virtual time, in nanoseconds since the VM was created. Monotonic. */
export interface Clock {
  nowNs(): number;
}

/** A device whose state changes with time (timers, periodic interrupts, UART timeouts). */
export interface TimedDevice {
  /** Brings the device up to virtual time `nowNs`, raising any interrupts that came due. */
  advance(nowNs: number): void;
  /** The virtual time at which the device next needs `advance`, or Infinity when it needs none. */
  nextDeadlineNs(): number;
}

/** A clock set by hand: for tests and for a Vm that keeps time itself. */
export class ManualClock implements Clock {
  private t: number;

  constructor(startNs = 0) {
    this.t = startNs;
  }

  nowNs(): number {
    return this.t;
  }

  /** Moves to an absolute time; time never goes backwards. */
  set(ns: number): void {
    if (ns < this.t) throw new RangeError(`clock cannot go back from ${this.t} to ${ns} ns`);
    this.t = ns;
  }

  advance(deltaNs: number): void {
    this.set(this.t + deltaNs);
  }
}

export const NS_PER_SECOND = 1_000_000_000;

/**
 * floor(ns * hz / 1e9) without losing precision for large ns (ns * hz would pass 2^53 after a
 * few seconds): split into whole seconds and the remainder.
 */
export function nsToTicks(ns: number, hz: number): number {
  const s = Math.floor(ns / NS_PER_SECOND);
  const rem = ns - s * NS_PER_SECOND;
  return s * hz + Math.floor((rem * hz) / NS_PER_SECOND);
}

/** The first virtual time (ns) at which nsToTicks(ns, hz) >= ticks: ceil(ticks * 1e9 / hz). */
export function ticksToNs(ticks: number, hz: number): number {
  const s = Math.floor(ticks / hz);
  const rem = ticks - s * hz;
  return s * NS_PER_SECOND + Math.ceil((rem * NS_PER_SECOND) / hz);
}
