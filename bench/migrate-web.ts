// bench:migrate's web-server guest: busybox httpd in the tiny Linux (the initramfs's busybox has
// the applet), on a network this process serves (vmm/net: switch, gateway, a port forward from a
// loopback host port to the guest's port 80), which both the source and the destination join
// with -netdev socket. HTTP clients in this process fetch a 16 KiB file over and over through the
// forward, before, during and after the migration; each response is checked for its length, and
// the figures are the requests served while the migration ran and the longest time without a
// completed response (the pause the clients saw).

import { get } from "node:http";
import { defaultNetworkDef, Network } from "../vmm/net/network.js";
import { NodeOutside } from "../vmm/net/node-outside.js";
import { serveNetwork } from "../vmm/net/stream.js";

export const GUEST_IP = "192.168.122.10";
const FILE_BYTES = 16 << 10;

/**
 * The shell line that puts the guest on the network and starts httpd with a 16 KiB file (cut from
 * /bin/busybox: /dev/urandom would block until the guest's crng is ready); the ping makes the
 * gateway learn the guest's MAC (a static address sends nothing on its own).
 */
export const WEB_SERVER_SETUP = `ip addr add ${GUEST_IP}/24 dev eth0 && ip link set eth0 up && mkdir -p /www && dd if=/bin/busybox of=/www/f bs=1024 count=${FILE_BYTES >> 10} 2>/dev/null && httpd -p 80 -h /www && ping -c 1 192.168.122.1 >/dev/null && echo httpd-up`;

export interface WebNetwork {
  /** -netdev/-device arguments joining a machine to the network. */
  nicArgs: string[];
  /** The loopback port forwarded to the guest's port 80. */
  hostPort: number;
  close(): void;
}

export async function startWebNetwork(hostPort: number): Promise<WebNetwork> {
  const def = defaultNetworkDef();
  def.forwards = [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort, guestAddr: GUEST_IP, guestPort: 80 }];
  const net = new Network(def, { outside: new NodeOutside() });
  const served = await new Promise<ReturnType<typeof serveNetwork>>((resolve, reject) => {
    const s = serveNetwork(net, { host: "127.0.0.1", port: 0 }, (err) => (err ? reject(new Error(err)) : resolve(s)));
  });
  return {
    nicArgs: ["-netdev", `socket,id=n0,connect=127.0.0.1:${served.port()}`, "-device", "virtio-net-pci,netdev=n0"],
    hostPort,
    close: () => {
      served.server.close();
      net.close();
    },
  };
}

/** Why the last request failed (for the bench's error message). */
export let lastFailure = "";

/** One HTTP GET of the file: resolves with true when the whole file came back. */
function fetchOnce(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/f", agent: false, timeout: timeoutMs }, (res) => {
      let n = 0;
      res.on("data", (d: Buffer) => {
        n += d.length;
      });
      res.on("end", () => {
        if (res.statusCode !== 200 || n !== FILE_BYTES) lastFailure = `status ${res.statusCode}, ${n} bytes`;
        resolve(res.statusCode === 200 && n === FILE_BYTES);
      });
      res.on("error", (e) => {
        lastFailure = e.message;
        resolve(false);
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on("error", (e) => {
      lastFailure = e.message;
      resolve(false);
    });
  });
}

export interface WebLoad {
  /** Host times (performance.now()) of every complete response. */
  done: number[];
  /** Host times of every failed request (refused, reset, short, timed out). */
  failed: number[];
  stop(): Promise<void>;
}

/** `clients` loops, each fetching the file again as soon as the last fetch ended. */
export function startWebLoad(port: number, clients = 4, timeoutMs = 30_000): WebLoad {
  let running = true;
  const load: WebLoad = { done: [], failed: [], stop: async () => {} };
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      if (await fetchOnce(port, timeoutMs)) load.done.push(performance.now());
      else {
        load.failed.push(performance.now());
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  load.stop = async () => {
    running = false;
    await Promise.all(loops);
  };
  return load;
}

export interface WebFigures {
  /** Complete responses between the migration's start and its end. */
  servedDuring: number;
  /** Responses per second before the migration (the 3 s before it). */
  ratePerSecBefore: number;
  /** The longest stretch without a complete response, from the start to 1 s after the end (ms). */
  longestPauseMs: number;
  /** Requests that failed from the start to 1 s after the end. */
  failed: number;
}

export function webFigures(load: WebLoad, start: number, end: number): WebFigures {
  const times = [start, ...load.done.filter((t) => t >= start && t <= end + 1000), end + 1000].sort((a, b) => a - b);
  let longest = 0;
  for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i]! - times[i - 1]!);
  return {
    servedDuring: load.done.filter((t) => t >= start && t <= end).length,
    ratePerSecBefore: load.done.filter((t) => t >= start - 3000 && t < start).length / 3,
    longestPauseMs: longest,
    failed: load.failed.filter((t) => t >= start && t <= end + 1000).length,
  };
}
