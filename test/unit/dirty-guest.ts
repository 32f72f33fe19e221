// A guest for the dirty-log and migration tests: a Multiboot kernel that turns paging on (a
// 4 MiB page for 0-4 MiB, a page table of 4 KiB pages for 4-8 MiB) and then runs `loop` forever.

import { loadKernel } from "../../vmm/boot/kernel.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";
import { multibootKernel } from "../vmm/cli-process.js";

export const PD = 0x9000;
export const PT = 0xa000;
// PSE on, CR3 = PD, paging on.
const PAGING_ON = [
  [0xb8, 0x10, 0, 0, 0, 0x0f, 0x22, 0xe0],
  [0xb8, 0x00, 0x90, 0, 0, 0x0f, 0x22, 0xd8],
  [0x0f, 0x20, 0xc0, 0x0d, 0, 0, 0, 0x80, 0x0f, 0x22, 0xc0],
].flat();

/** mov [0x500000],ecx; mov [0x503000],ecx; inc dword [0x506000]; inc ecx; jmp loop */
export const THREE_PAGES = [
  [0x89, 0x0d, 0x00, 0x00, 0x50, 0x00, 0x89, 0x0d, 0x00, 0x30, 0x50, 0x00],
  [0xff, 0x05, 0x00, 0x60, 0x50, 0x00, 0x41, 0xeb, 0xeb],
].flat();

/** inc eax; and eax,0x3ffff; mov [eax*4+0x400000],eax; jmp loop (1 MiB rewritten round and round) */
export const ONE_MIB = [0x40, 0x25, 0xff, 0xff, 0x03, 0x00, 0x89, 0x04, 0x85, 0x00, 0x00, 0x40, 0x00, 0xeb, 0xf1];

function u32(v: number): Uint8Array {
  return Uint8Array.of(v, v >>> 8, v >>> 16, v >>> 24);
}

export async function pagedGuest(
  mode: VirtMode,
  mmu: MmuMode | undefined,
  loop: number[],
  opts: { jit?: boolean; ramMiB?: number } = {},
): Promise<Vm> {
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: (opts.ramMiB ?? 16) << 20,
    mode,
    mmu,
    clock: "icount",
    jit: opts.jit ?? true,
    jitThreshold: 1,
  });
  loadKernel(vm.cpu, multibootKernel([...PAGING_ON, ...loop]), undefined, "");
  vm.cpu.writePhysical(PD, u32(0x83));
  vm.cpu.writePhysical(PD + 4, u32(PT | 3));
  const pt = new Uint8Array(4096);
  for (let i = 0; i < 1024; i++) pt.set(u32((0x400000 + i * 4096) | 3), i * 4);
  vm.cpu.writePhysical(PT, pt);
  return vm;
}
