// The tiny Linux as a libvirt domain, end to end through real processes: define from XML, start
// (a detached process of the command line), the console reaches the shell, list/dominfo/domstate
// as virsh prints them, suspend/resume, a snapshot taken and reverted to (a file written after it
// is gone), save/restore, a live migration to a second connection's process, a crash seen as
// libvirt reports it, destroy and undefine.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { virsh } from "../../../manage/cli/virsh-commands.js";
import { Connection } from "../../../manage/libvirt/connection.js";
import { projectFile } from "../../../vmm/node/files.js";

const dirA = mkdtempSync(join(tmpdir(), "virsh-a-"));
const dirB = mkdtempSync(join(tmpdir(), "virsh-b-"));

afterAll(async () => {
  // Nothing may outlive the test: end whatever still runs, by its pid file.
  for (const d of [dirA, dirB]) {
    const c = new Connection({ dir: d });
    for (const n of c.domainNames()) await c.destroy(n).catch(() => {});
    await c.networks.destroy("default").catch(() => {});
    rmSync(d, { recursive: true, force: true });
  }
});

const XML = `<domain type='kvm'>
  <name>tiny</name>
  <metadata><x86lab:machine xmlns:x86lab='urn:x86lab:domain:1' mode='hvm' mmu='ept'/></metadata>
  <memory unit='MiB'>64</memory>
  <os>
    <type arch='i686' machine='pc'>hvm</type>
    <kernel>${projectFile("guests/linux/bzImage")}</kernel>
    <initrd>${projectFile("guests/linux/initramfs.cpio.gz")}</initrd>
    <cmdline>console=ttyS0 panic=-1</cmdline>
  </os>
  <devices>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <interface type='network'><source network='default'/><model type='virtio'/></interface>
    <memballoon model='virtio'/>
  </devices>
</domain>`;

async function sh(dir: string, ...args: string[]): Promise<string> {
  let out = "";
  const code = await virsh(["-c", `x86lab://${dir}`, ...args], (t) => {
    out += t;
  });
  expect(code, `virsh ${args.join(" ")}`).toBe(0);
  return out;
}

/** Types a command on the domain's console once the shell answers; resolves with what matched. */
function shell(path: string, command: string, want: RegExp, timeoutMs = 60000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let seen = "";
    let sent = false;
    const poke = setInterval(() => {
      if (!sent) sock.write("\n");
    }, 300);
    const timer = setTimeout(
      () => finish(new Error(`no ${want} on the console; saw ${JSON.stringify(seen.slice(-300))}`)),
      timeoutMs,
    );
    const finish = (e?: Error) => {
      clearInterval(poke);
      clearTimeout(timer);
      sock.destroy();
      if (e) reject(e);
      else resolve(seen);
    };
    sock.on("data", (d) => {
      seen += d.toString("latin1");
      if (!sent && /# /.test(seen)) {
        sent = true;
        seen = "";
        sock.write(`${command}\n`);
      } else if (sent && want.test(seen)) finish();
    });
    sock.on("error", finish);
  });
}

describe("a libvirt domain of the tiny Linux", () => {
  it("goes through define, start, console, suspend, snapshots, save, migration, crash and undefine", async () => {
    const a = new Connection({ dir: dirA });
    const b = new Connection({ dir: dirB });
    const t0 = performance.now();
    // libvirt's default network (NAT, DHCP) in a process of its own on each host.
    expect(await sh(dirA, "net-start", "default")).toBe("Network default started\n");
    await sh(dirB, "net-start", "default");
    expect(await sh(dirA, "net-list")).toBe(
      " Name      State    Autostart   Persistent\n--------------------------------------------\n default   active   no          yes\n",
    );
    const def = a.defineXML(XML);
    expect(def.uuid).toMatch(/^[0-9a-f-]{36}$/);
    await a.start("tiny");
    await shell(a.consolePath("tiny"), "echo hello-$((6*7))", /hello-42/);
    const bootMs = performance.now() - t0;

    expect(await sh(dirA, "list")).toBe(" Id   Name   State\n----------------------\n 1    tiny   running\n");
    const info = await sh(dirA, "dominfo", "tiny");
    expect(info).toContain(`UUID:           ${def.uuid}\n`);
    expect(info).toContain("State:          running\nCPU(s):         1\n");
    expect(info).toContain("Max memory:     65536 KiB\n");
    expect(await sh(dirA, "domstate", "--reason", "tiny")).toBe("running (booted)\n\n");
    // The guest's DHCP client gets a lease from the network's process.
    await shell(
      a.consolePath("tiny"),
      "ip link set eth0 up; udhcpc -i eth0 -q -n",
      /lease of 192\.168\.122\.\d+ obtained/,
    );
    const nic = def.devices.find((d) => d.kind === "interface");
    const mac = nic?.kind === "interface" ? nic.mac : undefined;
    expect(mac).toMatch(/^52:54:00:/);
    // The network's process writes its lease table a moment after the lease.
    let leases = "";
    for (let i = 0; i < 20 && !leases.includes(mac!); i++) {
      await new Promise((r) => setTimeout(r, 100));
      leases = await sh(dirA, "net-dhcp-leases", "default");
    }
    expect(leases).toMatch(
      new RegExp(
        `^ Expiry Time +MAC address +Protocol +IP address +Hostname +Client ID or DUID\n-+\n \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d   ${mac}   ipv4       192\\.168\\.122\\.\\d+/24 `,
      ),
    );
    expect(await sh(dirA, "dumpxml", "tiny")).toMatch(/^<domain type='kvm' id='1'>\n {2}<name>tiny<\/name>/);

    await sh(dirA, "suspend", "tiny");
    expect(await sh(dirA, "domstate", "--reason", "tiny")).toBe("paused (user)\n\n");
    await sh(dirA, "resume", "tiny");
    expect(await sh(dirA, "domstate", "--reason", "1")).toBe("running (unpaused)\n\n");

    // A snapshot, a file written after it, a revert: the file is gone.
    expect(await sh(dirA, "snapshot-create-as", "tiny", "s1", "before the mark")).toBe("Domain snapshot s1 created\n");
    await shell(a.consolePath("tiny"), "echo mark > /tmp/mark; cat /tmp/mark", /mark\r?\n/);
    await sh(dirA, "snapshot-revert", "tiny", "s1");
    expect(await shell(a.consolePath("tiny"), "cat /tmp/mark", /No such file/)).toContain("No such file");
    expect(await sh(dirA, "snapshot-list", "tiny")).toMatch(
      /^ Name {3}Creation Time {15}State\n-+\n s1 {5}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} {3}running\n$/,
    );

    // save and restore.
    const saved = join(dirA, "tiny.sav");
    await sh(dirA, "save", "tiny", saved);
    expect(await sh(dirA, "domstate", "--reason", "tiny")).toBe("shut off (saved)\n\n");
    expect(await sh(dirA, "list", "--all")).toBe(
      " Id   Name   State\n-----------------------\n -    tiny   shut off\n",
    );
    await sh(dirA, "restore", saved);
    expect(await sh(dirA, "domstate", "--reason", "tiny")).toBe("running (restored)\n\n");
    await shell(a.consolePath("tiny"), "echo back-$((40+2))", /back-42/);

    // Live migration to another connection (another state and run directory: another host).
    const m0 = performance.now();
    await sh(dirA, "migrate", "--live", "--persistent", "tiny", `x86lab://${dirB}`);
    const migrateMs = performance.now() - m0;
    expect(await sh(dirA, "domstate", "--reason", "tiny")).toBe("shut off (migrated)\n\n");
    expect(await sh(dirB, "domstate", "--reason", "tiny")).toBe("running (migrated)\n\n");
    await shell(b.consolePath("tiny"), "echo moved-$((7*6))", /moved-42/);
    await sh(dirB, "destroy", "tiny");
    expect(await sh(dirB, "domstate", "--reason", "tiny")).toBe("shut off (destroyed)\n\n");

    // Starting a running domain is refused; a process that dies is "shut off (crashed)".
    // Two starts at once: one process, the other start refused.
    const both = await Promise.allSettled([a.start("tiny"), a.start("tiny")]);
    expect(both.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(String((both.find((r) => r.status === "rejected") as PromiseRejectedResult).reason)).toMatch(
      /is being started by process|domain is already running/,
    );
    await expect(a.start("tiny")).rejects.toThrow("Requested operation is not valid: domain is already running");
    const pid = Number(readFileSync(join(dirA, "run", "tiny.pid"), "utf8"));
    execFileSync("kill", ["-9", String(pid)]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await sh(dirA, "domstate", "--reason", "tiny")).toBe("shut off (crashed)\n\n");
    await expect(a.destroy("tiny")).rejects.toThrow("Requested operation is not valid: domain is not running");

    // undefine keeps the snapshot metadata unless told (as libvirt refuses).
    await expect(Promise.resolve().then(() => a.undefine("tiny"))).rejects.toThrow(
      /cannot delete inactive domain with 1 snapshots/,
    );
    expect(await sh(dirA, "undefine", "tiny", "--snapshots-metadata")).toBe("Domain 'tiny' has been undefined\n");
    expect(await sh(dirA, "list", "--all")).toBe(" Id   Name   State\n--------------------\n");
    console.log(
      `define to shell ${bootMs.toFixed(0)} ms, migrate --live ${migrateMs.toFixed(0)} ms, all ${(performance.now() - t0).toFixed(0)} ms`,
    );
  });
});
