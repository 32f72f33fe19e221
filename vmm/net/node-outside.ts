// The NAT's outside in Node: TCP through node:net, UDP through node:dgram, DNS upstream from the
// host's resolver configuration (node:dns getServers). Nothing here opens a socket by itself:
// each call comes from the gateway acting for a guest flow or a user's forward.

import { createSocket } from "node:dgram";
import { getServers } from "node:dns";
import { createServer, Socket } from "node:net";
import type { Outside, OutsideBoundUdp, OutsideDatagrams, OutsideListener, OutsideStream } from "./outside.js";

function wrap(s: Socket, connected: boolean): OutsideStream {
  const o: OutsideStream = {
    write: (d) => s.write(d),
    end: () => s.end(),
    destroy: () => s.destroy(),
    pause: () => s.pause(),
    resume: () => s.resume(),
    onConnect: undefined,
    onData: undefined,
    onEnd: undefined,
    onError: undefined,
    onDrain: undefined,
  };
  let done = false;
  const fail = (m: string) => {
    if (done) return;
    done = true;
    o.onError?.(m);
  };
  if (!connected) s.on("connect", () => o.onConnect?.());
  s.on("data", (d) => o.onData?.(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
  s.on("end", () => o.onEnd?.());
  s.on("drain", () => o.onDrain?.());
  s.on("error", (e) => fail(e.message));
  s.on("close", (hadError) => hadError && fail("closed"));
  return o;
}

export interface NodeOutsideOptions {
  /** DNS upstream instead of the host's first resolver (ip, port). */
  dns?: { ip: string; port: number };
}

export class NodeOutside implements Outside {
  constructor(private readonly opts: NodeOutsideOptions = {}) {}

  connectTcp(ip: string, port: number): OutsideStream {
    const s = new Socket();
    const o = wrap(s, false);
    s.connect({ host: ip, port });
    return o;
  }

  udp(): OutsideDatagrams {
    const s = createSocket("udp4");
    const o: OutsideDatagrams = {
      send: (d, ip, port) => s.send(d, port, ip),
      close: () => s.close(),
      onMessage: undefined,
    };
    s.on("message", (m, r) => o.onMessage?.(new Uint8Array(m.buffer, m.byteOffset, m.byteLength), r.address, r.port));
    s.on("error", () => s.close());
    s.unref();
    return o;
  }

  listenTcp(
    host: string,
    port: number,
    onConnection: (s: OutsideStream, peer: string) => void,
    ready: (err?: string) => void,
  ): OutsideListener {
    const server = createServer({ pauseOnConnect: true }, (s) =>
      onConnection(wrap(s, true), `${s.remoteAddress}:${s.remotePort}`),
    );
    const l = {
      port,
      close: () => server.close(),
    };
    server.on("error", (e) => ready(e.message));
    server.listen({ host, port }, () => {
      const a = server.address();
      if (a && typeof a === "object") l.port = a.port;
      ready();
    });
    return l;
  }

  bindUdp(
    host: string,
    port: number,
    onMessage: (data: Uint8Array, ip: string, port: number) => void,
    ready: (err?: string) => void,
  ): OutsideBoundUdp {
    const s = createSocket("udp4");
    let bound = false;
    const b: OutsideBoundUdp = {
      port,
      send: (d, ip, p) => s.send(d, p, ip),
      close: () => {
        try {
          s.close();
        } catch {
          // already closed (a failed bind)
        }
      },
    };
    s.on("message", (m, r) => onMessage(new Uint8Array(m.buffer, m.byteOffset, m.byteLength), r.address, r.port));
    s.on("error", (e) => {
      if (!bound) ready(e.message);
    });
    s.bind({ address: host, port }, () => {
      bound = true;
      (b as { port: number }).port = s.address().port;
      ready();
    });
    return b;
  }

  dnsUpstream(): { ip: string; port: number } | undefined {
    if (this.opts.dns) return this.opts.dns;
    for (const s of getServers()) {
      const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(s) ?? /^\[(\d+\.\d+\.\d+\.\d+)\]:(\d+)$/.exec(s);
      if (m) return { ip: m[1]!, port: m[2] ? Number(m[2]) : 53 };
    }
    return undefined;
  }
}
