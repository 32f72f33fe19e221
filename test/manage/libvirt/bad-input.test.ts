// Bad input through virsh: each ends with one clear "error:" line, status 1, and nothing lost
// (a definition that was there is still there, byte for byte).

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { virsh } from "../../../manage/cli/virsh-commands.js";
import { Connection } from "../../../manage/libvirt/connection.js";

const dir = mkdtempSync(join(tmpdir(), "virsh-bad-"));
const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
afterAll(() => {
  sleeper.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((t) => {
    err += String(t);
    return true;
  });
  try {
    const code = await virsh(["-c", `x86lab://${dir}`, ...args], (t) => {
      out += t;
    });
    return { code, out, err };
  } finally {
    spy.mockRestore();
  }
}

const GOOD = `<domain type='qemu'><name>g</name><memory unit='MiB'>32</memory><os><type>hvm</type><kernel>/k</kernel></os></domain>`;

describe("virsh with bad input", () => {
  it("refuses invalid XML and unsupported elements, keeping the old definition", async () => {
    const file = join(dir, "d.xml");
    writeFileSync(file, GOOD);
    expect((await run("define", file)).code).toBe(0);
    const before = readFileSync(join(dir, "domains", "g.xml"), "utf8");

    writeFileSync(file, GOOD.replace("</domain>", ""));
    const broken = await run("define", file);
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(
      new RegExp(
        `^error: Failed to define domain from ${file}\\nerror: XML error: domain XML: not well-formed XML at line 1, column \\d+: .+\\n$`,
      ),
    );

    writeFileSync(file, GOOD.replace("</os>", "</os><features><acpi/></features>"));
    const acpi = await run("define", file);
    expect(acpi.err).toContain("XML error: <domain><features><acpi>: this machine has no ACPI");
    expect(readFileSync(join(dir, "domains", "g.xml"), "utf8")).toBe(before);

    writeFileSync(
      file,
      GOOD.replace("<os>", "<devices><interface type='network'><source network='nowhere'/></interface></devices><os>"),
    );
    expect((await run("define", file)).err).toContain(
      "<domain><devices><interface><source>: network 'nowhere' is not active",
    );
  });

  it("names an unknown domain, network or pool", async () => {
    for (const [args, msg] of [
      [["start", "nope"], "error: failed to get domain 'nope'\n"],
      [["dominfo", "nope"], "error: failed to get domain 'nope'\n"],
      [["net-start", "nope"], "error: failed to get network 'nope'\n"],
      [["vol-list", "nope"], "error: failed to get pool 'nope'\n"],
      [["frobnicate"], "error: unknown command: 'frobnicate'\n"],
      [["start"], "error: command 'start' requires <domain> option\n"],
    ] as [string[], string][]) {
      const r = await run(...args);
      expect(r, args.join(" ")).toMatchObject({ code: 1, err: msg });
    }
  });

  it("refuses to act on a domain that is not running, and one that would start on an inactive network", async () => {
    expect((await run("suspend", "g")).err).toBe("error: Requested operation is not valid: domain is not running\n");
    expect((await run("console", "g")).err).toBe("error: Requested operation is not valid: domain is not running\n");
    expect((await run("snapshot-create-as", "g", "s")).err).toBe(
      "error: Requested operation is not valid: domain is not running\n",
    );
    const c = new Connection({ dir });
    c.networks.define("<network><name>iso</name><ip address='10.9.0.1' prefix='24'/></network>");
    writeFileSync(
      join(dir, "n.xml"),
      GOOD.replace("<name>g", "<name>n").replace(
        "<os>",
        "<devices><interface type='network'><source network='iso'/></interface></devices><os>",
      ),
    );
    expect((await run("define", join(dir, "n.xml"))).code).toBe(0);
    expect((await run("start", "n")).err).toBe(
      "error: unsupported configuration: <domain><devices><interface><source>: network 'iso' is not active (net-start it)\n",
    );
    expect((await run("net-define", join(dir, "n.xml"))).err).toMatch(/^error: XML error: /);
    expect((await run("domstate", "n")).out).toBe("shut off\n\n");
  });

  it("treats a stale pid file as a domain that ended, and removes it", async () => {
    // A pid file naming a live process that is not this domain's (a reused pid), then a dead one.
    writeFileSync(join(dir, "run", "g.pid"), `${sleeper.pid}\n`);
    expect((await run("domstate", "--reason", "g")).out).toBe("shut off (crashed)\n\n");
    expect(() => readFileSync(join(dir, "run", "g.pid"))).toThrow();
    writeFileSync(join(dir, "run", "g.pid"), "999999999\n");
    expect((await run("list", "--all")).out).toContain(" -    g      shut off\n");
    expect((await run("destroy", "g")).err).toBe("error: Requested operation is not valid: domain is not running\n");
  });

  it("attaches and detaches disks in the definition, refusing what it cannot", async () => {
    const img = join(dir, "extra.qcow2");
    const c = new Connection({ dir });
    c.pools.createAs("default", "extra.qcow2", "16M", "qcow2");
    const vol = join(dir, "images", "extra.qcow2");
    expect(await run("attach-disk", "g", vol, "vdb", "--subdriver", "qcow2", "--config")).toMatchObject({
      code: 0,
      out: "Disk attached successfully\n\n",
    });
    expect((await run("dumpxml", "g")).out).toContain(
      `<disk type='file' device='disk'>\n      <driver type='qcow2'/>\n      <source file='${vol}'/>\n      <target dev='vdb' bus='virtio'/>\n    </disk>`,
    );
    expect((await run("attach-disk", "g", vol, "vdb", "--config")).err).toBe(
      "error: operation failed: target vdb already exists\n",
    );
    expect((await run("attach-disk", "g", img, "sda", "--targetbus", "sata", "--config")).err).toBe(
      "error: <domain><devices><disk> (#2)<target>: bus='sata' (dev='sda'): this machine has ide and virtio\n",
    );
    expect((await run("attach-disk", "g", vol, "vdc", "--live")).err).toBe(
      "error: Operation not supported: this machine has no hot-plug; use --config (the change takes effect at the next start)\n",
    );
    expect((await run("detach-disk", "g", "vdb", "--config")).out).toBe("Disk detached successfully\n\n");
    expect((await run("detach-disk", "g", "vdb", "--config")).err).toBe(
      "error: operation failed: disk vdb not found\n",
    );
    expect((await run("dumpxml", "g")).out).not.toContain("<disk");
  });
});
