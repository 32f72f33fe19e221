// x87 floating-point unit: power-on state. The instructions are in core/fpu/decode.ts (the
// escapes D8-DF and FWAIT), exec.ts, functions.ts, transcendental.ts, env.ts; the arithmetic
// in float80.ts and convert.ts; the register file in regs.ts.

import {
  S_FPU_CS,
  S_FPU_CW,
  S_FPU_DP,
  S_FPU_DS,
  S_FPU_IP,
  S_FPU_OPCODE,
  S_FPU_ST,
  S_FPU_SW,
  S_FPU_TAG,
  S_FPU_TOP,
} from "../generated/layout";

/** RESET state (SDM vol. 3, table 9-1): CW 0040H, SW 0, tags 5555H (all +0.0), pointers 0. */
export function fpuReset(): void {
  for (let i: u32 = 0; i < 16; i++) store<u64>(S_FPU_ST + (i << 3), 0);
  store<u32>(S_FPU_CW, 0x40);
  store<u32>(S_FPU_SW, 0);
  store<u32>(S_FPU_TOP, 0);
  store<u32>(S_FPU_TAG, 0x5555);
  store<u32>(S_FPU_IP, 0);
  store<u32>(S_FPU_CS, 0);
  store<u32>(S_FPU_OPCODE, 0);
  store<u32>(S_FPU_DP, 0);
  store<u32>(S_FPU_DS, 0);
}
