// What a NAT network reaches beyond itself, as an interface: Node gives it real sockets
// (node-outside.ts); a page could give it fetch or a relay. The gateway calls these only on behalf
// of a guest's own flow (a SYN, a datagram, a DNS query to forward) or for a forward the user
// asked for (listenTcp).

export interface OutsideStream {
  /** Queues bytes; false when the far side is slow (wait for onDrain). */
  write(data: Uint8Array): boolean;
  /** Half-closes: no more writes. */
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  onConnect: (() => void) | undefined;
  onData: ((data: Uint8Array) => void) | undefined;
  /** The far side sent no more data (FIN). */
  onEnd: (() => void) | undefined;
  /** The connection failed or was reset; nothing more comes. */
  onError: ((message: string) => void) | undefined;
  onDrain: (() => void) | undefined;
}

export interface OutsideDatagrams {
  send(data: Uint8Array, ip: string, port: number): void;
  close(): void;
  onMessage: ((data: Uint8Array, ip: string, port: number) => void) | undefined;
}

export interface OutsideListener {
  /** The port listened on (the one asked for, or the one the system chose for 0). */
  readonly port: number;
  close(): void;
}

/** A bound UDP port (a UDP forward): datagrams come from any peer; answers go out from it. */
export interface OutsideBoundUdp extends OutsideListener {
  send(data: Uint8Array, ip: string, port: number): void;
}

export interface Outside {
  connectTcp(ip: string, port: number): OutsideStream;
  udp(): OutsideDatagrams;
  /** Listens for a port forward; `ready` once listening (or with the error). */
  listenTcp(
    host: string,
    port: number,
    onConnection: (s: OutsideStream, peer: string) => void,
    ready: (err?: string) => void,
  ): OutsideListener;
  /** Binds a UDP port for a forward (a UDP forward needs it); `ready` once bound (or with the error). */
  bindUdp?(
    host: string,
    port: number,
    onMessage: (data: Uint8Array, ip: string, port: number) => void,
    ready: (err?: string) => void,
  ): OutsideBoundUdp;
  /** Where DNS queries for names outside the network go (ip, port), if anywhere. */
  dnsUpstream(): { ip: string; port: number } | undefined;
  /** Lines for `info network` (what this outside can reach, what it refused and why). */
  describe?(): string[];
}
