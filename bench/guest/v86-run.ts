// Boots a Linux kernel and initrd under v86 (the `v86` npm package) in this Node process and
// copies the guest's COM1 output to stdout, byte for byte, until it is killed. bench/guest.ts
// runs it as a child process, as it runs our emulator and QEMU, so that every peer is timed
// the same way: from spawning the process to each marker line on its stdout.
//
//   node --import tsx bench/guest/v86-run.ts --bios F --vga-bios F --kernel F --initrd F \
//        --cmdline "console=ttyS0" --mem-mib 256

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { V86 } from "v86";

const { values } = parseArgs({
  options: {
    bios: { type: "string" },
    "vga-bios": { type: "string" },
    kernel: { type: "string" },
    initrd: { type: "string" },
    cmdline: { type: "string", default: "console=ttyS0" },
    "mem-mib": { type: "string", default: "256" },
  },
});
for (const need of ["bios", "vga-bios", "kernel", "initrd"] as const) {
  if (!values[need]) {
    console.error(`v86-run: --${need} FILE is required`);
    process.exit(2);
  }
}
const buffer = (path: string): { buffer: ArrayBuffer } => {
  const b = readFileSync(path);
  return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer };
};
const wasm = createRequire(import.meta.url).resolve("v86/build/v86.wasm");
const emulator = new V86({
  wasm_path: wasm,
  memory_size: Number(values["mem-mib"]) * 1024 * 1024,
  bios: buffer(values.bios as string),
  vga_bios: buffer(values["vga-bios"] as string),
  bzimage: buffer(values.kernel as string),
  initrd: buffer(values.initrd as string),
  cmdline: values.cmdline,
  autostart: true,
  disable_keyboard: true,
  disable_mouse: true,
  disable_speaker: true,
});
// Bytes are batched per event-loop turn: one write per byte would cost more than the guest.
let pending: number[] = [];
emulator.add_listener("serial0-output-byte", (byte: number) => {
  if (pending.length === 0) setImmediate(flush);
  pending.push(byte);
});
function flush(): void {
  process.stdout.write(Uint8Array.from(pending));
  pending = [];
}
