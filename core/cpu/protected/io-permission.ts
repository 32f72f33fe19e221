// Whether IN/OUT/INS/OUTS may touch a port: CPL <= IOPL in protected mode, else the TSS I/O
// permission bitmap (SDM vol. 1, 19.5.1-19.5.2). Virtual-8086 mode always consults the bitmap.

import { S_CPL, S_EFLAGS, S_MODE, S_SEG_ATTR, S_SEG_BASE, S_SEG_LIMIT, S_SEG_VALID } from "../../generated/layout";
import { sysRead16 } from "../../mmu/access";
import { faulted } from "../fault";
import { TR } from "../state";

/** True when the access is allowed; the caller raises #GP(0) otherwise. */
export function ioPermitted(port: u32, size: u32): bool {
  const m = load<u32>(S_MODE);
  if (m == 0) return true;
  const iopl = (load<u32>(S_EFLAGS) >> 12) & 3;
  if (m == 1 && load<u32>(S_CPL) <= iopl) return true;
  // Only a 32-bit TSS has a bitmap; its 16-bit base is at offset 0x66. Every bit covering the
  // access must be 0 and both bytes read must lie within the TSS limit.
  if (load<u32>(S_SEG_VALID + (TR << 2)) == 0) return false;
  if ((load<u32>(S_SEG_ATTR + (TR << 2)) & 0x8) == 0) return false;
  const base = load<u32>(S_SEG_BASE + (TR << 2));
  const limit = load<u32>(S_SEG_LIMIT + (TR << 2));
  if (limit < 0x67) return false;
  const mapBase = sysRead16(base + 0x66);
  if (faulted) return false;
  const off = mapBase + ((port & 0xffff) >>> 3);
  if (off + 1 > limit) return false;
  const bits = sysRead16(base + off);
  if (faulted) return false;
  const mask: u32 = ((<u32>1 << size) - 1) << (port & 7);
  return (bits & mask) == 0;
}
