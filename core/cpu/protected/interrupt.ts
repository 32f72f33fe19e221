// Protected-mode and virtual-8086-mode event delivery through the IDT.
// PLACEHOLDER: replaced by the full implementation (gates, stack switch, v86, task gates).

import { gp } from "../fault";

export function interruptProtected(vector: u32, error: i32, software: bool, external: bool): void {
  gp((vector << 3) | 2 | (external ? 1 : 0));
}
