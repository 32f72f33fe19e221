// Trap and emulate (VIRT_TRAP): the guest kernel runs deprivileged; the VMM takes every
// exception and interrupt first. Placeholder until the trap mode lands: nothing is intercepted.

import { S_VIRT_MODE, VIRT_TRAP } from "../generated/layout";

@inline export function trapMode(): bool {
  return load<u32>(S_VIRT_MODE) == VIRT_TRAP;
}

/**
 * An exception or software interrupt reached delivery (EIP already set as for delivery). The
 * VMM emulates the faulting instruction or reflects the event to the guest; returns true when
 * it did (the core must not deliver it itself).
 */
export function trapIntercept(vector: u32, error: i32, software: bool, eip: u32): bool {
  return false;
}

/** An external interrupt is requested: returns true when the VMM took it (reflected or held). */
export function trapExternalInterrupt(): bool {
  return false;
}
