// What is wrong with a -kernel file, said before the machine starts: an empty file, a bzImage
// shorter than its own header says (setup_sects and syssize), a file of another kind (an ELF
// without a Multiboot header such as vmlinux, a compressed file), and a kernel the chosen mode
// cannot run (trap mode and Linux).

import { BootImageError, parseSetupHeader } from "../boot/linux.js";
import { findMultibootHeader } from "../boot/multiboot.js";
import type { Args } from "./args.js";
import { UserInputError } from "./files.js";

/** Throws UserInputError naming the file and the problem; returns the format otherwise. */
export function checkKernelImage(args: Pick<Args, "kernel" | "mode">, image: Uint8Array): "linux" | "multiboot" {
  const name = `kernel '${args.kernel}'`;
  if (image.length === 0) throw new UserInputError(`${name} is empty (0 bytes)`);
  const isLinux = image.length > 0x206 && String.fromCharCode(...image.subarray(0x202, 0x206)) === "HdrS";
  if (isLinux) {
    try {
      parseSetupHeader(image);
    } catch (err) {
      if (err instanceof BootImageError) throw new UserInputError(`${name}: ${err.message}`);
      throw err;
    }
    const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
    const setupSects = dv.getUint8(0x1f1) || 4;
    // syssize (0x1F4): the protected-mode part in 16-byte units (boot protocol 2.04+ keeps it exact).
    const syssize = dv.getUint32(0x1f4, true);
    const expected = (setupSects + 1) * 512 + syssize * 16;
    if (syssize > 0 && image.length < expected) {
      throw new UserInputError(
        `${name} is truncated: its header says ${expected} bytes (setup ${(setupSects + 1) * 512} + kernel ${syssize * 16}), the file has ${image.length}`,
      );
    }
    if (args.mode === "trap") {
      throw new UserInputError(
        `--mode trap runs the lab kernels (guests/labs/sensitive/sensitive.elf, guests/labs/nanobench/nanobench.elf), not Linux: at ring 1 x86's sensitive unprivileged instructions (POPF, PUSHF, SGDT, ...) misbehave and Linux dies; use --mode bt, hvm or pv`,
      );
    }
    return "linux";
  }
  try {
    findMultibootHeader(image);
    return "multiboot";
  } catch (err) {
    if (!(err instanceof BootImageError)) throw err;
    if (err.message.startsWith("not a Multiboot kernel"))
      throw new UserInputError(`${name}: ${describeUnknown(image)}`);
    throw new UserInputError(`${name}: ${err.message}`);
  }
}

/** Says what a file that is neither a bzImage nor a Multiboot kernel seems to be. */
function describeUnknown(image: Uint8Array): string {
  const tail = "neither a Linux bzImage (no HdrS setup header) nor a Multiboot kernel (no header in the first 8 KiB)";
  if (image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46) {
    return `an ELF file without a Multiboot header (a vmlinux? boot the bzImage): ${tail}`;
  }
  if (image[0] === 0x1f && image[1] === 0x8b) return `a gzip file (decompress it first): ${tail}`;
  if (image[0] === 0xfd && image[1] === 0x37) return `an xz file (decompress it first): ${tail}`;
  if (image.length >= 0x200 && image[0x1fe] === 0x55 && image[0x1ff] === 0xaa)
    return `a boot sector or disk image (use -hda): ${tail}`;
  return tail;
}
