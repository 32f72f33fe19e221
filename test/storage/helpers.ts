// Shared by the storage tests: Debian's qemu-img (installed by .ci/run), a scratch folder, a
// deterministic byte pattern, and a file that "crashes" after a number of writes.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryFile } from "../../vmm/storage/file.js";

export function hasQemuImg(): boolean {
  return spawnSync("qemu-img", ["--version"]).status === 0;
}

/** Runs qemu-img: exit status and output (the tests assert on both). */
export function qemuImg(...args: string[]): { status: number; stdout: string; stderr: string } {
  if (!hasQemuImg()) throw new Error("qemu-img is missing: install Debian's qemu-utils (.ci/run does)");
  const r = spawnSync("qemu-img", args, { encoding: "utf8" });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function qemuIo(file: string, ...commands: string[]): string {
  return execFileSync("qemu-io", [...commands.flatMap((c) => ["-c", c]), file], { encoding: "utf8" });
}

export function scratch(prefix: string): { dir: string; path: (name: string) => string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `x86lab-${prefix}-`));
  return { dir, path: (name) => join(dir, name), done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bytes that differ per offset and seed (a stuck or shifted cluster shows). */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export class CrashError extends Error {}

/** A MemoryFile that throws after `limit` writes: a power cut in the middle of an update. */
export class CutShortFile extends MemoryFile {
  writes = 0;
  limit = Number.POSITIVE_INFINITY;

  override write(offset: number, data: Uint8Array): void {
    if (this.writes >= this.limit) throw new CrashError("power cut");
    this.writes++;
    super.write(offset, data);
  }
}

export function saveFile(path: string, bytes: Uint8Array): string {
  writeFileSync(path, bytes);
  return path;
}
