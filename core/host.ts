// Functions the host (vmm/) provides to the core. They are synchronous, so an instruction that
// touches a device completes in place.

/** Reads `size` bytes (1, 2 or 4) from an I/O port. */
@external("env", "ioRead")
export declare function hostIoRead(port: u32, size: u32): u32;

/** Writes `size` bytes (1, 2 or 4) to an I/O port. */
@external("env", "ioWrite")
export declare function hostIoWrite(port: u32, size: u32, value: u32): void;

/** Reads `size` bytes (1, 2 or 4) from device memory at a guest-physical address. */
@external("env", "mmioRead")
export declare function hostMmioRead(addr: u32, size: u32): u32;

/** Writes `size` bytes (1, 2 or 4) to device memory at a guest-physical address. */
@external("env", "mmioWrite")
export declare function hostMmioWrite(addr: u32, size: u32, value: u32): void;

/** Interrupt acknowledge: the PIC returns the vector of the interrupt it is delivering. */
@external("env", "ackInterrupt")
export declare function hostAckInterrupt(): u32;

/**
 * FERR#: a waiting x87 instruction found an unmasked exception pending while CR0.NE = 0. On a PC
 * the chipset turns it into IRQ 13 (the MS-DOS-compatible error path); the instruction continues.
 */
@external("env", "fpuError")
export declare function hostFpuError(): void;

/**
 * A VM exit the core does not handle itself (port I/O, device hypercalls): the host reads the
 * VMCS exit fields and the registers, acts, and returns a VMX_ACTION_* (resume, emulate, stop).
 */
@external("env", "vmExit")
export declare function hostVmExit(): u32;

/**
 * The JIT's compiler (vmm/jit/): compiles the guest code at EIP `eip`, whose bytes start at host
 * address `code` (`avail` of them readable in its page), into block number `block` of the
 * function table. `flags` are BLOCK_* (core/jit/blocks.ts). Returns the instructions compiled |
 * the bytes they span << 16, or 0 when it compiled nothing.
 */
@external("env", "jitCompile")
export declare function hostJitCompile(block: u32, eip: u32, code: u32, avail: u32, flags: u32): u32;
