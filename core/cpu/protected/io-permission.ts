// Whether IN/OUT/INS/OUTS may touch a port: CPL <= IOPL, else the TSS I/O permission bitmap
// (SDM vol. 1, 19.5). Virtual-8086 mode always consults the bitmap.
// PLACEHOLDER: replaced by the full implementation (bitmap).

import { S_CPL, S_EFLAGS, S_MODE } from "../../generated/layout";

/** True when the access is allowed; the caller raises #GP(0) otherwise. */
export function ioPermitted(port: u32, size: u32): bool {
  const m = load<u32>(S_MODE);
  if (m == 0) return true;
  const iopl = (load<u32>(S_EFLAGS) >> 12) & 3;
  if (m == 1 && load<u32>(S_CPL) <= iopl) return true;
  return false;
}
