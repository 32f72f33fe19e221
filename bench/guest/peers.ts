// How bench:guest starts each emulator on the same guest: same kernel, initramfs, command line
// and RAM, serial console (COM1) on the process's stdout. Each is a child process, so each is
// timed the same way, from spawning it to each marker line on its stdout.

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Peer } from "./report.js";

export interface GuestFiles {
  kernel: string;
  initrd: string;
  cmdline: string;
  memMiB: number;
}

export interface Command {
  file: string;
  args: string[];
}

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const tsx = createRequire(import.meta.url).resolve("tsx");

/**
 * The command line that runs the guest under `peer`. `ourFlags` go to our emulator's command
 * line after ours (e.g. `--jit on`, `--mode bt`); the default is the project's default
 * (direct boot, native mode, icount clock).
 */
export function peerCommand(peer: Peer, g: GuestFiles, ourFlags: readonly string[]): Command {
  // our command line takes QEMU's flags for these
  const machine = ["-m", String(g.memMiB), "-kernel", g.kernel, "-initrd", g.initrd, "-append", g.cmdline];
  switch (peer) {
    case "ours":
      return {
        file: process.execPath,
        args: ["--import", tsx, `${repoRoot}vmm/node/cli.ts`, ...machine, "-serial", "stdio", ...ourFlags],
      };
    case "v86":
      // Debian's SeaBIOS and SeaVGABIOS (guests/seabios/, from the `seabios` package)
      return {
        file: process.execPath,
        args: [
          "--import",
          tsx,
          `${repoRoot}bench/guest/v86-run.ts`,
          "--bios",
          `${repoRoot}guests/seabios/bios.bin`,
          "--vga-bios",
          `${repoRoot}guests/seabios/vgabios.bin`,
          "--kernel",
          g.kernel,
          "--initrd",
          g.initrd,
          "--cmdline",
          g.cmdline,
          "--mem-mib",
          String(g.memMiB),
        ],
      };
    case "qemu":
      return {
        file: "qemu-system-i386",
        args: ["-accel", "tcg", ...machine, "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot"],
      };
  }
}
