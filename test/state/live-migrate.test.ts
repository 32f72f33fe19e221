// Live migration between two `npm start` processes over TCP, as a user runs it: the source's
// monitor says `migrate tcp:HOST:PORT`, the destination was started with `-incoming tcp:...`.
// One tiny Linux is booted, on a network this test process serves (the switch, DHCP and NAT
// gateway of vmm/net, joined by both processes with -netdev socket), and holds a TCP connection
// to a server here. Before the migration that works, several migrations fail and the source must
// run on with its shell intact each time: a destination of another machine (refused before any
// page, both sides say why), a destination killed midway, a stream with a flipped byte and a
// stream cut short (the destination names the frame; nothing runs there). Then the migration
// that works: the shell variable set before is there on the destination, and the same TCP
// connection carries bytes both ways after the move (the destination announced the guest's MAC
// on the switch).

import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultNetworkDef, Network } from "../../vmm/net/network.js";
import { NodeOutside } from "../../vmm/net/node-outside.js";
import { serveNetwork } from "../../vmm/net/stream.js";
import { DHCP_SCRIPT } from "../net/guests.js";
import { type CliProcess, freePort, spawnCli } from "../vmm/cli-process.js";
import { sh, sleep, until } from "./guest-console.js";

/** Runs monitor commands (Ctrl-A C there and back); returns the output once `done` shows. */
async function monitor(p: CliProcess, cmds: string[], done: RegExp | string): Promise<string> {
  const from = p.output.stdout.length;
  p.child.stdin.write(`\x01c${cmds.join("\r")}\r`);
  await until(p, done, from, 90_000);
  const out = p.output.stdout.slice(from);
  p.child.stdin.write("\x01c");
  return out;
}

let net: Network;
let netPort: number;
let netServer: ReturnType<typeof serveNetwork>;
let peer: Server;
let peerSocket: Socket | undefined;
let peerData = "";
let peerConnections = 0;
let peerPort: number;
let source: CliProcess;
const children: CliProcess[] = [];
const vmArgs = () => ["-netdev", `socket,id=n0,connect=127.0.0.1:${netPort}`, "-device", "virtio-net-pci,netdev=n0"];

function destination(port: number, extra: string[] = []): CliProcess {
  const d = spawnCli([...vmArgs(), ...extra, "-incoming", `tcp:127.0.0.1:${port}`]);
  children.push(d);
  return d;
}

beforeAll(async () => {
  net = new Network(defaultNetworkDef(), { outside: new NodeOutside() });
  netServer = await new Promise<ReturnType<typeof serveNetwork>>((resolve, reject) => {
    const x = serveNetwork(net, { host: "127.0.0.1", port: 0 }, (err) => (err ? reject(new Error(err)) : resolve(x)));
  });
  netPort = netServer.port();
  peer = createServer((s) => {
    peerConnections++;
    peerSocket = s;
    s.on("data", (d) => {
      peerData += d;
    });
  });
  await new Promise<void>((r) => peer.listen(0, "127.0.0.1", r));
  peerPort = (peer.address() as AddressInfo).port;

  source = spawnCli(vmArgs());
  children.push(source);
  await until(source, "~ # ", 0, 120_000);
  await sleep(1500);
  await sh(source, "X=survives-migration");
  const lease = await sh(
    source,
    `${DHCP_SCRIPT} && ip link set eth0 up && udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5 -T 2`,
  );
  expect(lease).toMatch(/lease of 192\.168\.122\.\d+ obtained/);
  await sh(source, `touch /tmp/in; (tail -f /tmp/in | nc 192.168.122.1 ${peerPort}) & true`);
  await sh(source, "sleep 1; echo before >> /tmp/in");
  const end = Date.now() + 30_000;
  while (!peerData.includes("before\n") && Date.now() < end) await sleep(50);
}, 180_000);

afterAll(() => {
  for (const c of children) c.child.kill("SIGKILL");
  peer?.close();
  netServer?.server.close();
  net?.close();
});

describe("live migration between two processes (migrate tcp:, -incoming tcp:)", () => {
  it("the guest holds a TCP connection to this process before anything moves", async () => {
    expect(peerConnections).toBe(1);
    expect(peerData).toBe("before\n");
    const from = source.output.stdout.length;
    peerSocket!.write("pong-from-host-1\n");
    await until(source, "pong-from-host-1", from);
  });

  it("a destination of another machine is refused before any page: both sides say why, the source runs on", async () => {
    const port = await freePort();
    const dst = destination(port, ["-m", "96"]);
    while (!dst.output.stderr.includes("waiting for a migration")) await sleep(50);
    const out = await monitor(source, [`migrate tcp:127.0.0.1:${port}`, "info status"], "VM status");
    expect(out).toMatch(
      /migrate: the destination refused: the source's machine does not fit this one:\s+ramBytes: source 67108864, this VM 100663296/,
    );
    expect(out).toContain("VM status: running");
    expect(await dst.exited).toBe(1);
    expect(dst.output.stderr).toMatch(
      /x86lab: incoming migration failed: the source's machine does not fit this one:\n {2}ramBytes/,
    );
    expect(await sh(source, "echo X=$X")).toContain("X=survives-migration");
  }, 60_000);

  it("a destination killed midway leaves the source running with its shell", async () => {
    const port = await freePort();
    const dst = destination(port);
    while (!dst.output.stderr.includes("waiting for a migration")) await sleep(50);
    // 1 MiB/s: the first pass over 11 MiB takes seconds; the kill comes in the middle of it.
    await monitor(
      source,
      ["migrate_set_parameter max-bandwidth 1", `migrate -d tcp:127.0.0.1:${port}`, "info migrate"],
      "Migration status",
    );
    await sleep(2000);
    const during = await monitor(source, ["info migrate"], "dirty log");
    expect(during).toContain("Migration status: active");
    dst.child.kill("SIGKILL");
    await dst.exited;
    await sleep(1000);
    const after = await monitor(source, ["info migrate", "info status"], "VM status");
    expect(after).toMatch(
      /Migration status: failed\r?\nerror description: (the connection to the destination (closed|failed)|the connection is closed)/,
    );
    expect(after).toContain("VM status: running");
    expect(await sh(source, "echo X=$X")).toContain("X=survives-migration");
    await monitor(source, ["migrate_set_parameter max-bandwidth 128"], "(qemu)");
  }, 60_000);

  for (const damage of ["flipped", "truncated"] as const) {
    it(`a ${damage} stream is refused by the destination with the frame named; the source runs on`, async () => {
      const port = await freePort();
      const dst = destination(port);
      while (!dst.output.stderr.includes("waiting for a migration")) await sleep(50);
      // A proxy between the two that damages the source's bytes after the first 200 KiB.
      const proxyPort = await freePort();
      let passed = 0;
      const proxy = createServer((fromSource) => {
        const toDest = connect(port, "127.0.0.1");
        // Resets on either side are this test's doing.
        toDest.on("error", () => undefined);
        fromSource.on("error", () => undefined);
        toDest.on("data", (d) => fromSource.write(d));
        toDest.on("close", () => fromSource.destroy());
        fromSource.on("close", () => toDest.destroy());
        fromSource.on("data", (d: Buffer) => {
          const at = 200 * 1024 - passed;
          passed += d.length;
          if (at >= d.length || (at < 0 && damage === "flipped")) toDest.write(d);
          if (at < 0 || at >= d.length) return;
          if (damage === "flipped") {
            const copy = Buffer.from(d);
            copy[at]! ^= 0x10;
            toDest.write(copy);
          } else {
            toDest.end(d.subarray(0, at));
          }
        });
      });
      await new Promise<void>((r) => proxy.listen(proxyPort, "127.0.0.1", r));
      const out = await monitor(source, [`migrate tcp:127.0.0.1:${proxyPort}`, "info status"], "VM status");
      proxy.close();
      expect(await dst.exited).toBe(1);
      expect(dst.output.stderr).toMatch(
        damage === "flipped"
          ? /x86lab: incoming migration failed: migration stream frame \d+: checksum mismatch/
          : /x86lab: incoming migration failed: the connection to the source was cut inside a frame after \d+ frames/,
      );
      expect(out).toMatch(
        /migrate: (the destination refused: migration stream frame \d+: checksum mismatch|the connection)/,
      );
      expect(out).toContain("VM status: running");
      expect(await sh(source, "echo X=$X")).toContain("X=survives-migration");
    }, 60_000);
  }

  it("migrates: the shell variable and the TCP connection are there on the destination", async () => {
    const port = await freePort();
    const dst = destination(port);
    while (!dst.output.stderr.includes("waiting for a migration")) await sleep(50);
    const out = await monitor(source, [`migrate tcp:127.0.0.1:${port}`, "info migrate", "info status"], "VM status");
    expect(out).toContain("Migration status: completed");
    expect(out).toMatch(/downtime: \d+ ms/);
    expect(out).toContain("VM status: paused (postmigrate)");
    while (!dst.output.stderr.includes("migration in:")) await sleep(50);
    expect(await sh(dst, "echo X=$X")).toContain("X=survives-migration");
    // The same connection, both ways, with the source still on the switch (paused).
    await sh(dst, "echo after >> /tmp/in");
    const end = Date.now() + 30_000;
    while (!peerData.includes("after\n") && Date.now() < end) await sleep(50);
    expect(peerData).toBe("before\nafter\n");
    expect(peerConnections).toBe(1);
    const from = dst.output.stdout.length;
    peerSocket!.write("pong-from-host-2\n");
    await until(dst, "pong-from-host-2", from, 30_000);
  }, 90_000);
});
