// `npm start` with a network from a libvirt XML file: the monitor's `info network` shows it (its
// gateway, the NIC's port and the forward's listener), and a host client's connection to the
// forward reaches the guest's side of the network (a guest that never answers: the gateway's ARP
// request for the forward's guest address goes out on the NIC's port).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, multibootKernel, spawnCli } from "../vmm/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-cli-net-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Connects to 127.0.0.1:`port`, trying again while the connection is refused, for up to `ms`. */
async function connectWhenListening(port: number, ms: number): Promise<Socket> {
  const end = Date.now() + ms;
  for (;;) {
    const sock = connect(port, "127.0.0.1");
    try {
      await new Promise<void>((resolve, reject) => {
        sock.on("connect", resolve);
        sock.on("error", reject);
      });
      return sock;
    } catch (e) {
      sock.destroy();
      if ((e as NodeJS.ErrnoException).code !== "ECONNREFUSED" || Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("npm start: -netdev network and info network", () => {
  it("builds the network from XML, takes a connection on its forward, and reports it", async () => {
    const xml = join(dir, "lab.xml");
    writeFileSync(
      xml,
      `<network><name>lab</name><forward/><ip address='10.20.0.1' prefix='24'>
         <dhcp><range start='10.20.0.10' end='10.20.0.20'/></dhcp></ip></network>`,
    );
    const kernel = join(dir, "hlt.bin");
    writeFileSync(kernel, multibootKernel([0xfb, 0xf4, 0xeb, 0xfd])); // sti; hlt; jmp back
    const port = await freePort();
    const { child, output, exited } = spawnCli([
      "-kernel",
      kernel,
      "-netdev",
      `network,id=n0,xml=${xml},hostfwd=tcp::${port}-10.20.0.10:80`,
      "-device",
      "ne2k_pci,netdev=n0",
    ]);
    // A host client on the forward: accepted once the CLI listens (refused until tsx has started
    // it, which takes seconds more on a busy machine); the gateway asks the guest's address with ARP.
    const sock = await connectWhenListening(port, 30_000);
    // The monitor's info network, asked again until the ARP request shows on the NIC's port.
    child.stdin.write(Buffer.from("\x01cinfo network\r"));
    for (const end = Date.now() + 20_000; !/port nic0 .*tx 1 frames/.test(output.stdout) && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 250));
      child.stdin.write(Buffer.from("info network\r"));
    }
    child.stdin.write(Uint8Array.of(0x01, 0x78));
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const status = await exited;
    clearTimeout(killer);
    sock.destroy();
    expect(output.stderr).toBe("");
    expect(status).toBe(0);
    const out = output.stdout.replace(/\r/g, "");
    expect(out).toContain("network lab: nat, 10.20.0.1/24");
    expect(out).toMatch(/port nic0 \(vlan 1\): rx 0 frames 0 bytes, tx 1 frames 42 bytes/);
    expect(out).toContain(`hostfwd tcp 127.0.0.1:${port} -> 10.20.0.10:80, listening on 127.0.0.1:${port}`);
  }, 30_000);
});
