// Snapshot-mode disk writes survive a guest reboot and are dropped only when the process exits,
// as with QEMU's -snapshot (vmm/node/drives.ts keeps each drive's disk across the builder's
// calls). The guest reads sector 0 of the primary IDE disk by PIO: without its marker it writes
// the marker and resets the machine (keyboard controller pulse); with it, it exits through
// isa-debug-exit. So the status says whether the second boot saw the first boot's write.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { multibootKernel, spawnCli } from "../vmm/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-snapreboot-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Selects LBA 0, one sector, on the primary master (DX = 0x1F6 .. 0x1F5), then issues `command`.
const ataSetup = (command: number) => [
  ...[0xba, 0xf6, 0x01, 0, 0, 0xb0, 0xe0, 0xee], // mov edx,0x1f6; mov al,0xe0 (LBA, master); out
  ...[0xb2, 0xf2, 0xb0, 0x01, 0xee], // mov dl,0xf2; mov al,1; out (count)
  ...[0x30, 0xc0, 0xb2, 0xf3, 0xee, 0xb2, 0xf4, 0xee, 0xb2, 0xf5, 0xee], // LBA 0
  ...[0xb2, 0xf7, 0xb0, command, 0xee], // command
  ...[0xec, 0xa8, 0x08, 0x74, 0xfb], // wait for DRQ: in al,dx; test al,8; jz -5
  ...[0xb2, 0xf0], // mov dl,0xf0 (data)
];
const MARK = [0x4d, 0x41, 0x52, 0x4b]; // "MARK"
const firstBoot = [
  ...[0xc7, 0x05, 0x00, 0x00, 0x20, 0x00, ...MARK], // mov dword [0x200000],"MARK"
  ...ataSetup(0x30), // WRITE SECTORS
  ...[0xbe, 0x00, 0x00, 0x20, 0x00, 0xb9, 0x00, 0x01, 0, 0, 0xf3, 0x66, 0x6f], // rep outsw 256 words
  ...[0xb2, 0xf7, 0xec, 0xa8, 0x80, 0x75, 0xfb], // wait while BSY
  ...[0xb0, 0xfe, 0xe6, 0x64, 0xeb, 0xfe], // reset through the i8042; jmp $
];
const GUEST = [
  ...ataSetup(0x20), // READ SECTORS
  ...[0xbf, 0x00, 0x00, 0x20, 0x00, 0xb9, 0x00, 0x01, 0, 0, 0xf3, 0x66, 0x6d], // rep insw 256 words to 0x200000
  ...[0x81, 0x3d, 0x00, 0x00, 0x20, 0x00, ...MARK], // cmp dword [0x200000],"MARK"
  ...[0x74, firstBoot.length], // je second
  ...firstBoot,
  ...[0xb0, 0x2a, 0xe6, 0xf4, 0xeb, 0xfe], // second: isa-debug-exit 0x2A (status 0x55); jmp $
];

async function run(driveArgs: (disk: string) => string[]) {
  const kernel = join(dir, "guest.bin");
  writeFileSync(kernel, multibootKernel(GUEST));
  const disk = join(dir, `disk-${Math.random().toString(16).slice(2)}.img`);
  writeFileSync(disk, new Uint8Array(1 << 20));
  const vm = spawnCli(["-kernel", kernel, ...driveArgs(disk), "--max-instructions", "20000000"]);
  const status = await vm.exited;
  return { status, sector0: readFileSync(disk).subarray(0, 4), output: vm.output };
}

describe("snapshot-mode disk writes and reboots", () => {
  it("the write survives the guest's reboot (-hda, snapshot by default); the file is untouched", async () => {
    const r = await run((disk) => ["-hda", disk]);
    expect(r.output.stderr).toBe("");
    expect(r.status).toBe((0x2a << 1) | 1);
    expect([...r.sector0]).toEqual([0, 0, 0, 0]);
  }, 60_000);

  it("snapshot=off writes through to the file", async () => {
    const r = await run((disk) => ["-drive", `file=${disk},format=raw,snapshot=off`]);
    expect(r.status).toBe((0x2a << 1) | 1);
    expect([...r.sector0]).toEqual(MARK);
  }, 60_000);
});
