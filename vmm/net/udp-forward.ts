// UDP port forwards (QEMU's hostfwd=udp:...): the gateway binds a host UDP port; each host peer
// (address, port) that sends there gets a port of the gateway's own, from the network's NAT range,
// and the guest sees the peer's datagrams come from the gateway's address and that port. What the
// guest sends back to that address and port goes out of the bound socket to the peer. A mapping
// idle for 60 s is forgotten; at most MAX_UDP_PEERS peers are mapped at once per network (more
// are counted and dropped). Nothing is bound but the forwards the user asked for.

import type { Outside, OutsideBoundUdp } from "./outside.js";

export const MAX_UDP_PEERS = 256;
const IDLE_MS = 60_000;

export interface UdpForwardSpec {
  hostAddr: string;
  hostPort: number;
  /** The guest; default the lowest address leased when a datagram comes. */
  guestAddr?: string;
  guestPort: number;
}

interface Mapping {
  sock: OutsideBoundUdp;
  peerIp: string;
  peerPort: number;
  guest: number;
  guestPort: number;
  timer: ReturnType<typeof setTimeout>;
}

export class UdpForwards {
  readonly counters = { in: 0, out: 0, overLimit: 0, unresolved: 0 };
  /** By the gateway port the guest sees. */
  private readonly byPort = new Map<number, Mapping>();
  private readonly byPeer = new Map<string, number>();
  private nextPort = 0;

  constructor(
    private readonly outside: Outside,
    private readonly portRange: [number, number],
    /** The guest for a forward: its address, or undefined when none is known yet. */
    private readonly guestFor: (spec: UdpForwardSpec) => number | undefined,
    /** Sends a datagram to the guest from the gateway's address and `fromPort`. */
    private readonly toGuest: (guest: number, fromPort: number, guestPort: number, data: Uint8Array) => void,
  ) {}

  /** Binds the forward's host port; `ready` reports the error, if any. */
  bind(spec: UdpForwardSpec, ready: (err?: string) => void): OutsideBoundUdp | undefined {
    if (!this.outside.bindUdp) {
      ready("this network's outside cannot bind UDP ports");
      return undefined;
    }
    const sock: OutsideBoundUdp = this.outside.bindUdp(
      spec.hostAddr,
      spec.hostPort,
      (data, ip, port) => this.fromPeer(sock, spec, data, ip, port),
      ready,
    );
    return sock;
  }

  private fromPeer(sock: OutsideBoundUdp, spec: UdpForwardSpec, data: Uint8Array, ip: string, port: number): void {
    const guest = this.guestFor(spec);
    if (guest === undefined) {
      this.counters.unresolved++;
      return;
    }
    const key = `${spec.hostAddr}:${spec.hostPort}/${ip}:${port}`;
    let gwPort = this.byPeer.get(key);
    if (gwPort === undefined) {
      gwPort = this.freePort();
      if (gwPort === undefined) {
        this.counters.overLimit++;
        return;
      }
      const m: Mapping = {
        sock,
        peerIp: ip,
        peerPort: port,
        guest,
        guestPort: spec.guestPort,
        timer: setTimeout(() => undefined, 0),
      };
      this.byPort.set(gwPort, m);
      this.byPeer.set(key, gwPort);
    }
    const m = this.byPort.get(gwPort)!;
    this.touch(gwPort, key, m);
    this.counters.in++;
    this.toGuest(m.guest, gwPort, m.guestPort, data);
  }

  private freePort(): number | undefined {
    if (this.byPort.size >= MAX_UDP_PEERS) return undefined;
    const [lo, hi] = this.portRange;
    for (let i = 0; i <= hi - lo; i++) {
      const p = lo + ((this.nextPort + i) % (hi - lo + 1));
      if (!this.byPort.has(p)) {
        this.nextPort = (this.nextPort + i + 1) % (hi - lo + 1);
        return p;
      }
    }
    return undefined;
  }

  private touch(gwPort: number, key: string, m: Mapping): void {
    clearTimeout(m.timer);
    m.timer = setTimeout(() => {
      this.byPort.delete(gwPort);
      this.byPeer.delete(key);
    }, IDLE_MS);
    m.timer.unref?.();
  }

  /**
   * A guest datagram to the gateway's `dstPort`: true when it answers a forwarded peer (it then
   * goes out to that peer), false when it is not for a forward.
   */
  fromGuest(src: number, srcPort: number, dstPort: number, data: Uint8Array): boolean {
    const m = this.byPort.get(dstPort);
    if (!m || m.guest !== src || m.guestPort !== srcPort) return false;
    this.counters.out++;
    m.sock.send(data, m.peerIp, m.peerPort);
    return true;
  }

  /** One line per mapped peer (for `info network`). */
  describe(gatewayIp: string): string[] {
    return [...this.byPort].map(
      ([p, m]) => `udp forward ${m.peerIp}:${m.peerPort} -> ${gatewayIp}:${p} -> guest port ${m.guestPort}`,
    );
  }

  close(): void {
    for (const m of this.byPort.values()) clearTimeout(m.timer);
    this.byPort.clear();
    this.byPeer.clear();
  }
}
