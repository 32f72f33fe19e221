// x87 floating-point unit.
// PLACEHOLDER: replaced by the full implementation.

import { S_FPU_CW, S_FPU_TAG } from "../generated/layout";

export function fpuReset(): void {
  store<u32>(S_FPU_CW, 0x40);
  store<u32>(S_FPU_TAG, 0x5555);
}
