// Host memory and file growth for guest disk writes, at the disk model's interface: 128 MiB
// written in 64 KiB requests (as virtio-blk passes them) to a 256 MiB raw disk, three ways:
//   memory   the old copy-on-write overlay in the host's memory (CowDisk over the bytes)
//   overlay  snapshot=on today: a temporary qcow2 overlay file (vmm/node/disk-image.ts)
//   qcow2    snapshot=off on a qcow2 image: writes in place, clusters allocated on first write
// Each in its own child process, so one's heap does not hide in another's RSS.
//
//   npm run bench:storage [-- --no-write]
//
// Writes bench/results/storage-latest.txt unless --no-write.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bytesSource, CowDisk } from "../devices/storage/block.js";
import { openDiskSource } from "../vmm/node/disk-image.js";
import { HostFile } from "../vmm/node/storage-file.js";
import { createQcow2 } from "../vmm/storage/qcow2-create.js";

const DISK = 256 << 20;
const WRITE = 128 << 20;
const REQUEST = 64 << 10;

function run(kind: string, dir: string): { rssMiB: number; fileMiB: number; seconds: number } {
  const base = join(dir, "base.raw");
  writeFileSync(base, new Uint8Array(0));
  execFileSync("truncate", ["-s", String(DISK), base]);
  let disk: CowDisk;
  let file = base;
  if (kind === "memory") disk = new CowDisk(bytesSource(new Uint8Array(DISK)));
  else if (kind === "overlay") {
    disk = new CowDisk(openDiskSource(base, { what: "disk image", writable: false, overlay: true }), {
      writeThrough: true,
    });
  } else {
    file = join(dir, "disk.qcow2");
    const f = new HostFile(file, true, true);
    createQcow2(f, { size: DISK });
    f.close();
    disk = new CowDisk(openDiskSource(file, { what: "disk image", writable: true, overlay: false }), {
      writeThrough: true,
    });
  }
  const fileBefore = statSync(file).size;
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const data = new Uint8Array(REQUEST);
  const t0 = performance.now();
  for (let at = 0; at < WRITE; at += REQUEST) {
    data.fill(((at / REQUEST) & 0xff) | 1);
    disk.write((at + (DISK - WRITE) / 2) / 512, data);
  }
  disk.flush();
  const seconds = (performance.now() - t0) / 1000;
  global.gc?.();
  return {
    rssMiB: (process.memoryUsage().rss - rss0) / 2 ** 20,
    fileMiB: (statSync(file).size - fileBefore) / 2 ** 20,
    seconds,
  };
}

const child = process.argv.indexOf("--child");
if (child >= 0) {
  const dir = mkdtempSync(join(tmpdir(), "x86lab-bench-storage-"));
  try {
    process.stdout.write(JSON.stringify(run(process.argv[child + 1]!, dir)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  const lines = [
    `bench:storage ${new Date().toISOString()}: 128 MiB written in 64 KiB requests to a 256 MiB disk`,
    "kind     RSS growth  image growth  host time  (overlay: the temporary file is unlinked, the raw image is unchanged)",
  ];
  for (const kind of ["memory", "overlay", "qcow2"]) {
    const out = execFileSync(
      process.execPath,
      ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "--child", kind],
      {
        encoding: "utf8",
      },
    );
    const r = JSON.parse(out) as { rssMiB: number; fileMiB: number; seconds: number };
    lines.push(
      `${kind.padEnd(8)} ${`${r.rssMiB.toFixed(1)} MiB`.padStart(10)}  ${`${r.fileMiB.toFixed(1)} MiB`.padStart(12)}  ${r.seconds.toFixed(2)} s`,
    );
  }
  const text = lines.join("\n");
  console.log(text);
  if (!process.argv.includes("--no-write")) {
    const dir = fileURLToPath(new URL("results/", import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "storage-latest.txt"), `${text}\n`);
  }
}
