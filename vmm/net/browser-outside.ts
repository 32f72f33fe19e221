// What a NAT network reaches beyond itself from a web page, where there are no sockets:
// - guest TCP to port 80 becomes HTTP through fetch (fetch-http.ts); a flow to the gateway's own
//   address (the host's loopback in Node) goes to `loopback`, in a page its own origin, so a
//   guest can `wget http://192.168.122.1/file` from the server that serves the page;
// - with a WebSocket relay the user names (`relay`, a URL with {host} and {port} in it), every
//   guest TCP connection, to any port, is one WebSocket to the relay, whose binary messages are
//   the stream's bytes both ways (the relay opens the TCP connection: websockify's convention,
//   one target per socket);
// - everything else is refused and counted, with a message saying why: other TCP ports without a
//   relay (the guest gets RST: "Connection refused"), UDP (dropped; DNS beyond the network is
//   then refused by the gateway, there being no upstream), listening for a port forward.
// It needs only fetch and WebSocket (both injectable, so Node tests drive it too).

import { type FetchHttpCounters, fetchHttpStream } from "./fetch-http.js";
import type { Outside, OutsideBoundUdp, OutsideDatagrams, OutsideListener, OutsideStream } from "./outside.js";

/** The part of the WebSocket constructor this uses. */
export type WebSocketCtor = new (
  url: string,
) => {
  binaryType: string;
  readonly bufferedAmount: number;
  onopen: ((e: unknown) => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: unknown) => void) | null;
  onclose: ((e: { wasClean: boolean; code: number; reason: string }) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number): void;
};

export interface BrowserOutsideOptions {
  fetch?: typeof fetch;
  /** The origin standing for the host's loopback (the gateway's own address); default http://127.0.0.1. */
  loopback?: string;
  /** A WebSocket relay for guest TCP: "wss://relay.example/{host}/{port}". */
  relay?: string;
  WebSocket?: WebSocketCtor;
}

/** Bytes queued on a relay's WebSocket above which write() asks the NAT to wait. */
const RELAY_HIGH_WATER = 1 << 20;
const KEEP_REFUSALS = 8;

export class BrowserOutside implements Outside {
  readonly http: FetchHttpCounters = { requests: 0, failed: 0, rejected: 0 };
  readonly relay = { opened: 0, failed: 0 };
  readonly refused = { tcp: 0, udp: 0, listen: 0 };
  /** The newest refusals and failures, oldest first (what `info network` shows). */
  readonly messages: string[] = [];
  private readonly fetchFn: typeof fetch | undefined;

  constructor(private readonly opts: BrowserOutsideOptions = {}) {
    this.fetchFn = opts.fetch ?? (typeof fetch === "function" ? fetch.bind(globalThis) : undefined);
    const relay = opts.relay;
    if (relay !== undefined && !/^wss?:\/\//.test(relay))
      throw new RangeError(`relay: not a ws:// or wss:// URL: ${relay}`);
  }

  private note(message: string): void {
    this.messages.push(message);
    if (this.messages.length > KEEP_REFUSALS) this.messages.shift();
  }

  connectTcp(ip: string, port: number): OutsideStream {
    const WS = this.opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
    if (this.opts.relay !== undefined && WS) {
      const url = this.opts.relay.replaceAll("{host}", encodeURIComponent(ip)).replaceAll("{port}", String(port));
      return this.relayStream(new WS(url), `${ip}:${port}`);
    }
    if (port === 80 && this.fetchFn) {
      const loopback = (this.opts.loopback ?? "http://127.0.0.1").replace(/\/$/, "");
      return fetchHttpStream(
        ip,
        this.fetchFn,
        (host, path) => (ip === "127.0.0.1" ? `${loopback}${path}` : `http://${host}${path}`),
        this.http,
        (m) => this.note(m),
      );
    }
    this.refused.tcp++;
    const message = `refused TCP to ${ip}:${port}: a page opens no TCP connections; only HTTP to port 80 goes out (through fetch), or name a WebSocket relay`;
    this.note(message);
    return failedStream(message);
  }

  private relayStream(ws: InstanceType<WebSocketCtor>, where: string): OutsideStream {
    ws.binaryType = "arraybuffer";
    let open = false;
    let done = false;
    let ending = false;
    const pending: Uint8Array[] = [];
    const s: OutsideStream = {
      write(data) {
        if (done) return true;
        if (!open) pending.push(data.slice());
        else ws.send(data);
        return ws.bufferedAmount < RELAY_HIGH_WATER;
      },
      end() {
        if (open) ws.close(1000);
        else ending = true;
      },
      destroy() {
        done = true;
        ws.close();
      },
      pause() {},
      resume() {},
      onConnect: undefined,
      onData: undefined,
      onEnd: undefined,
      onError: undefined,
      onDrain: undefined,
    };
    ws.onopen = () => {
      open = true;
      this.relay.opened++;
      for (const p of pending.splice(0)) ws.send(p);
      s.onConnect?.();
      if (ending) ws.close(1000);
    };
    ws.onmessage = (e) => {
      if (!done && e.data instanceof ArrayBuffer) s.onData?.(new Uint8Array(e.data));
    };
    ws.onerror = () => undefined; // a close event follows
    ws.onclose = (e) => {
      if (done) return;
      done = true;
      if (open && e.wasClean) {
        s.onEnd?.();
        return;
      }
      if (!open) this.relay.failed++;
      const message = `the relay ${open ? "broke off" : "did not open"} the connection to ${where} (code ${e.code}${e.reason ? `: ${e.reason}` : ""})`;
      this.note(message);
      s.onError?.(message);
    };
    return s;
  }

  udp(): OutsideDatagrams {
    const o: OutsideDatagrams = {
      send: (_d, ip, port) => {
        this.refused.udp++;
        this.note(`dropped UDP to ${ip}:${port}: a page sends no UDP`);
      },
      close: () => undefined,
      onMessage: undefined,
    };
    return o;
  }

  listenTcp(
    host: string,
    port: number,
    _onConnection: (s: OutsideStream, peer: string) => void,
    ready: (err?: string) => void,
  ): OutsideListener {
    this.refused.listen++;
    const message = `no port forward from ${host}:${port}: a page cannot listen on host ports`;
    this.note(message);
    queueMicrotask(() => ready(message));
    return { port, close: () => undefined };
  }

  bindUdp(
    host: string,
    port: number,
    _onMessage: (data: Uint8Array, ip: string, port: number) => void,
    ready: (err?: string) => void,
  ): OutsideBoundUdp {
    this.refused.listen++;
    const message = `no UDP forward from ${host}:${port}: a page cannot bind host ports`;
    this.note(message);
    queueMicrotask(() => ready(message));
    return { port, send: () => undefined, close: () => undefined };
  }

  dnsUpstream(): undefined {
    return undefined;
  }

  /** Lines for `info network`: what goes out, and what was refused and why. */
  describe(): string[] {
    const h = this.http;
    const out = [
      `  outside (page): ${
        this.opts.relay
          ? `TCP through the relay ${this.opts.relay} (${this.relay.opened} opened, ${this.relay.failed} failed)`
          : `HTTP to port 80 through fetch (${h.requests} requests, ${h.failed} failed, ${h.rejected} rejected)`
      }; refused: TCP ${this.refused.tcp}, UDP ${this.refused.udp}, listen ${this.refused.listen} (a page has no sockets: no other TCP, no UDP, no ICMP, no DNS beyond the network, no listening)`,
    ];
    for (const m of this.messages) out.push(`  outside: ${m}`);
    return out;
  }
}

/** A stream whose connection failed: the NAT answers the guest's SYN with RST. */
function failedStream(message: string): OutsideStream {
  const s: OutsideStream = {
    write: () => true,
    end: () => undefined,
    destroy: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
    onConnect: undefined,
    onData: undefined,
    onEnd: undefined,
    onError: undefined,
    onDrain: undefined,
  };
  queueMicrotask(() => s.onError?.(message));
  return s;
}
