// savevm/loadvm into a qcow2 disk's internal snapshots, through the CLI as a user runs it: the
// tiny Linux on a qcow2 virtio disk (snapshot=off) writes a file in RAM and bytes on the disk,
// savevm A, writes more, loadvm A: the guest sees A's file and A's disk bytes (read again past
// its page cache) and goes on; a new process started with -loadvm A is at A too. Debian's
// qemu-img lists the snapshot with its VM state size and clock, and `check` finds the image clean
// after savevm, loadvm and delvm; a disk-only snapshot made by `qemu-img snapshot -c` is refused
// by loadvm and its disk contents stay.

import { afterAll, describe, expect, it } from "vitest";
import { hasQemuImg, qemuImg, scratch } from "../storage/helpers.js";
import { type CliProcess, spawnCli } from "../vmm/cli-process.js";
import { sh, sleep, until } from "./guest-console.js";

const tmp = scratch("savevm-qcow2");
const children: CliProcess[] = [];
afterAll(() => {
  for (const c of children) c.child.kill("SIGKILL");
  tmp.done();
});

/** Runs one monitor command (Ctrl-A C there and back); returns its output up to the next prompt. */
async function monitor(p: CliProcess, cmd: string): Promise<string> {
  const from = p.output.stdout.length;
  p.child.stdin.write(`\x01c${cmd}\r`);
  await until(p, /\(qemu\) [\s\S]*\(qemu\) /, from, 90_000);
  const out = p.output.stdout.slice(from);
  p.child.stdin.write("\x01c");
  return out;
}

// The first sector of /dev/vda, read from the disk (the page cache dropped first).
const READ_DISK = "echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 12";
const write = (tag: string) =>
  `echo mem-${tag} > /tmp/m; echo disk-${tag}-end | dd of=/dev/vda bs=512 conv=sync 2>/dev/null; sync`;

describe.skipIf(!hasQemuImg())("savevm and loadvm as internal qcow2 snapshots", () => {
  const disk = tmp.path("disk.qcow2");
  // A drive alone boots the firmware: the tiny Linux is named.
  const drive = () => [
    "-kernel",
    "guests/linux/bzImage",
    "-initrd",
    "guests/linux/initramfs.cpio.gz",
    "-drive",
    `file=${disk},if=virtio,snapshot=off`,
  ];

  it("savevm A, more writes, loadvm A: RAM and disk are A's, the guest goes on; qemu-img agrees", async () => {
    expect(qemuImg("create", "-q", "-f", "qcow2", disk, "16M").status).toBe(0);
    const vm = spawnCli(drive());
    children.push(vm);
    await until(vm, "~ # ", 0, 120_000);
    await sleep(1000);
    await sh(vm, write("A"));
    expect(await monitor(vm, "savevm A")).not.toMatch(/savevm:/);
    const listed = await monitor(vm, "info snapshots");
    expect(listed).toMatch(/List of snapshots present on all disks:/);
    expect(listed).toMatch(/--\s+A\s+\d/);
    await sh(vm, write("B"));
    expect(await sh(vm, `cat /tmp/m; ${READ_DISK}`)).toMatch(/mem-B[\s\S]*disk-B-end/);
    expect(await monitor(vm, "loadvm A")).not.toMatch(/loadvm:/);
    const back = await sh(vm, `cat /tmp/m; ${READ_DISK}`);
    expect(back).toMatch(/mem-A[\s\S]*disk-A-end/);
    // The guest continues from A: it writes again, and that lands.
    await sh(vm, write("C"));
    expect(await sh(vm, `cat /tmp/m; ${READ_DISK}`)).toMatch(/mem-C[\s\S]*disk-C-end/);
    vm.child.stdin.write("\x01x");
    await vm.exited;

    const check = qemuImg("check", disk);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/No errors were found/);
    const list = qemuImg("snapshot", "-l", disk);
    expect(list.status).toBe(0);
    // ID, TAG, VM SIZE (a few MiB: RAM compressed), DATE, VM CLOCK (seconds into the boot).
    const row = /^1\s+A\s+([\d.]+) (KiB|MiB)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+(\d\d):(\d\d):(\d\d)\.(\d{3})/m.exec(
      list.stdout,
    );
    expect(row, list.stdout).not.toBeNull();
    const clockS = Number(row![4]) * 3600 + Number(row![5]) * 60 + Number(row![6]);
    expect(clockS).toBeGreaterThan(0);
    const info = JSON.parse(qemuImg("info", "--output=json", disk).stdout) as {
      snapshots: { name: string; "vm-state-size": number; "date-sec": number }[];
    };
    expect(info.snapshots[0]!.name).toBe("A");
    expect(info.snapshots[0]!["vm-state-size"]).toBeGreaterThan(100_000);
    expect(Math.abs(info.snapshots[0]!["date-sec"] - Date.now() / 1000)).toBeLessThan(600);
  }, 240_000);

  it("a new process with -loadvm A starts at A; a disk-only snapshot is refused and its disk stays", async () => {
    // qemu-img's own snapshot of the disk as it is now (C written), with no VM state.
    expect(qemuImg("snapshot", "-c", "diskonly", disk).status).toBe(0);
    const vm = spawnCli([...drive(), "-loadvm", "A"]);
    children.push(vm);
    await sleep(500);
    vm.child.stdin.write("\r");
    await until(vm, "~ # ", 0, 60_000);
    expect(await sh(vm, `cat /tmp/m; ${READ_DISK}`)).toMatch(/mem-A[\s\S]*disk-A-end/);
    const refused = await monitor(vm, "loadvm diskonly");
    expect(refused).toMatch(/loadvm: This is a disk-only snapshot\. Revert to it offline using qemu-img/);
    // Nothing changed: the guest still sees A.
    expect(await sh(vm, `cat /tmp/m; ${READ_DISK}`)).toMatch(/mem-A[\s\S]*disk-A-end/);
    expect(await monitor(vm, "delvm A")).not.toMatch(/delvm:/);
    expect(await monitor(vm, "info snapshots")).toMatch(/--\s+diskonly\s+0 B/);
    vm.child.stdin.write("\x01x");
    await vm.exited;

    expect(qemuImg("check", disk).status).toBe(0);
    expect(qemuImg("snapshot", "-l", disk).stdout).not.toMatch(/\sA\s/);
    // The disk-only snapshot still holds the disk as it was (C), whatever the guest did since.
    expect(qemuImg("snapshot", "-a", "diskonly", disk).status).toBe(0);
    const raw = tmp.path("flat.raw");
    expect(qemuImg("convert", "-O", "raw", disk, raw).status).toBe(0);
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(raw).subarray(0, 10).toString()).toBe("disk-C-end");
  }, 240_000);
});
