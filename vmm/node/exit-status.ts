// The CLI's exit statuses that are not the guest's own (isa-debug-exit gives (value << 1) | 1).

/** Bad command line or input file (one line on stderr). */
export const USAGE_STATUS = 2;
/**
 * The guest triple-faulted: even, so that it is never an isa-debug-exit status (those are odd)
 * nor the command-line error status.
 */
export const TRIPLE_FAULT_STATUS = 4;
