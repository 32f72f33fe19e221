// Invalidation of translations when the guest writes a page they were translated from.
// Placeholder until the binary translator lands.

/** A write of `size` bytes at `gpa` reached a frame holding translated code. */
export function btTrackedWrite(gpa: u32, size: u32): void {}

/** Drops every translation (the VM was (re)configured). */
export function btReset(): void {}
