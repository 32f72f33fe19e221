// The CLI's exit statuses that are not the guest's own (isa-debug-exit gives (value << 1) | 1),
// and the status for each way a machine ends: the process exits with it, and the gdb stub reports
// it to an attached gdb (its W stop reply).

import type { MachineEnd } from "../lib/machine.js";

/** Bad command line or input file (one line on stderr). */
export const USAGE_STATUS = 2;
/**
 * The guest triple-faulted: even, so that it is never an isa-debug-exit status (those are odd)
 * nor the command-line error status.
 */
export const TRIPLE_FAULT_STATUS = 4;

/** The exit status of a machine that ended this way. */
export function exitStatus(end: MachineEnd): number {
  switch (end.kind) {
    case "debug-exit":
      return end.status;
    case "shutdown":
      // A triple fault is the guest's failure: a non-zero status, as a test runner needs.
      return end.message === "triple fault" ? TRIPLE_FAULT_STATUS : 0;
    case "vmexit":
    case "error":
      return 1;
    default:
      return 0;
  }
}
