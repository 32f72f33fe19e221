// How a host that runs the VM in slices gives the event loop its turn between them. No Node
// built-ins: the page's Worker uses it too.

/**
 * Yields to the event loop (host input gets in) without a timer: setTimeout(0) waits a
 * millisecond or more in Node and 4 ms in browsers once nested, which between thousands of
 * slices was a third of a stock kernel's boot time in the CLI.
 */
export function yieldNow(): Promise<void> {
  if (typeof setImmediate === "function") return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

/**
 * Paces a guest that idles under the icount clock, as QEMU's `-icount sleep=on` does: when the
 * guest halted during a slice, its host waits until the host's clock catches up with the
 * guest's virtual clock, so an idle guest neither spins nor runs its clock ahead, while a busy
 * guest (virtual time behind the host's, the usual case for an emulator) never waits.
 */
export class IdlePacer {
  private wallMs = -1;
  private virtualNs = 0;

  /** Starts over from now. */
  private rebase(virtualNs: number): void {
    this.wallMs = performance.now();
    this.virtualNs = virtualNs;
  }

  /**
   * Milliseconds to wait after a slice in which the guest idled: until the host's clock catches
   * up, at most `maxMs` at a time (host input gets in between). The guest may lag the host by
   * `slackMs` at most (a busy spell, a pause or a reboot is not paid back by idle time later). A
   * virtual clock more than a minute ahead is a discontinuity (a restored state): the pacing
   * starts over from there, after a short wait.
   */
  waitMs(virtualNs: number, maxMs = 50, slackMs = 100): number {
    const now = performance.now();
    if (this.wallMs < 0) this.rebase(virtualNs);
    const ahead = (virtualNs - this.virtualNs) / 1e6 - (now - this.wallMs);
    if (ahead > 60_000) {
      this.rebase(virtualNs);
      return DISCONTINUITY_WAIT_MS;
    }
    if (ahead < -slackMs) this.wallMs += -slackMs - ahead;
    return ahead > 0 ? Math.min(ahead, maxMs) : 0;
  }
}

/** The wait after a jump of the virtual clock (what every idle slice waited before pacing). */
const DISCONTINUITY_WAIT_MS = 5;
