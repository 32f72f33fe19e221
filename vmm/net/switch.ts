// A learning Ethernet switch, one per virtual network (the role of libvirt's bridge virbr0).
//
// Every attached thing is a port: a VM's NIC (the port is the NIC's NetBackend), the network's
// gateway, a socket to another process, a MessagePort to a Worker. A port's endpoint hands the
// switch frames with `transmit` and receives frames through `onReceive`.
//
// - Ingress frames wait in the port's own bounded queue (QUEUE_LIMIT frames; beyond that they are
//   dropped and counted), and `pump` forwards at most BURST frames from each port per round, in
//   turn: a guest that floods fills its own queue and loses its own frames, and the others still
//   get their share. Pumping is scheduled on a microtask when the first frame waits (a host that
//   runs VMs synchronously calls `pump` itself between slices).
// - MAC learning per VLAN, ageing after `ageingMs` (300 s, the Linux bridge's default) of the
//   switch's clock. The clock is the host's monotonic time (performance.now), not a VM's virtual
//   time: one switch joins VMs whose virtual clocks run apart (each VM keeps its own icount clock,
//   and VMs in other processes have clocks of their own), so the host's clock is the only one they
//   share. Tests pass their own clock.
// - 802.1Q: an access port is in one VLAN and its frames are untagged on the wire; a trunk port
//   carries tagged frames of its allowed VLANs and untagged ones of its native VLAN (if any).
// - Malformed frames are counted by kind and dropped: runts (shorter than an Ethernet header),
//   truncated 802.1Q headers, giants (longer than the MTU allows), multicast source addresses,
//   tags where a port does not take them.

import { ETH_VLAN, macString, put16, u16 } from "./packet.js";

export const DEFAULT_AGEING_MS = 300_000;
export const QUEUE_LIMIT = 256;
export const BURST = 64;
/** Learned addresses kept at most (a guest making up source addresses cannot grow it further). */
export const TABLE_LIMIT = 4096;

export type DropReason = "runt" | "truncated" | "giant" | "badSource" | "vlan" | "queueFull" | "down";

export interface PortCounters {
  /** Frames and bytes the port's endpoint sent into the switch (before any drop). */
  rxFrames: number;
  rxBytes: number;
  /** Frames and bytes the switch delivered to the endpoint. */
  txFrames: number;
  txBytes: number;
  drops: number;
  dropped: Record<DropReason, number>;
}

export interface PortOptions {
  name: string;
  /** Access port: its VLAN (1 unless given). Ignored for a trunk. */
  vlan?: number;
  /** Trunk port: the VLANs it carries tagged. */
  trunk?: number[];
  /** A trunk's native VLAN: untagged frames belong to it (none: untagged frames are dropped). */
  native?: number;
  /**
   * libvirt's nativeMode='tagged': the native VLAN's frames leave the trunk tagged (untagged ones
   * coming in still belong to it); default (nativeMode='untagged'): they leave untagged.
   */
  nativeTagged?: boolean;
}

export type FrameTap = (frame: Uint8Array, port: SwitchPort, direction: "in" | "out") => void;

function validVlan(v: number): boolean {
  return Number.isInteger(v) && v >= 1 && v <= 4094;
}

export class SwitchPort {
  readonly name: string;
  readonly counters: PortCounters = {
    rxFrames: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    drops: 0,
    dropped: { runt: 0, truncated: 0, giant: 0, badSource: 0, vlan: 0, queueFull: 0, down: 0 },
  };
  /** Set by the endpoint: frames the switch delivers to it. */
  onReceive: ((frame: Uint8Array) => void) | undefined;
  readonly vlan: number;
  readonly trunk: ReadonlySet<number> | undefined;
  readonly native: number | undefined;
  readonly nativeTagged: boolean;
  /** Ingress frames waiting for `pump`, with the VLAN each was classified into. */
  readonly queue: { frame: Uint8Array; vlan: number }[] = [];
  /** Captures of this port's traffic. */
  readonly taps: FrameTap[] = [];
  attached = true;

  constructor(
    private readonly sw: Switch,
    opts: PortOptions,
  ) {
    this.name = opts.name;
    if (opts.trunk) {
      for (const v of [...opts.trunk, ...(opts.native === undefined ? [] : [opts.native])]) {
        if (!validVlan(v)) throw new RangeError(`port ${opts.name}: VLAN ${v} is not in 1..4094`);
      }
      this.trunk = new Set(opts.trunk);
      this.native = opts.native;
    }
    this.nativeTagged = (opts.nativeTagged ?? false) && this.native !== undefined;
    this.vlan = opts.vlan ?? 1;
    if (!validVlan(this.vlan)) throw new RangeError(`port ${opts.name}: VLAN ${this.vlan} is not in 1..4094`);
  }

  /** The endpoint sends a frame into the switch (NetBackend's transmit). */
  transmit(frame: Uint8Array): void {
    this.sw.ingress(this, frame);
  }

  drop(reason: DropReason): void {
    this.counters.drops++;
    this.counters.dropped[reason]++;
  }

  /** Whether this port carries `vlan`. */
  carries(vlan: number): boolean {
    return this.trunk ? this.trunk.has(vlan) || this.native === vlan : this.vlan === vlan;
  }

  /** Delivers an untagged frame of `vlan` to the endpoint, tagged if this port needs it. */
  deliver(frame: Uint8Array, vlan: number): void {
    let out = frame;
    if (this.trunk && (vlan !== this.native || this.nativeTagged)) {
      out = new Uint8Array(frame.length + 4);
      out.set(frame.subarray(0, 12), 0);
      put16(out, 12, ETH_VLAN);
      put16(out, 14, vlan);
      out.set(frame.subarray(12), 16);
    }
    this.counters.txFrames++;
    this.counters.txBytes += out.length;
    for (const t of this.taps) t(out, this, "out");
    this.onReceive?.(out);
  }

  /** Takes the port off the switch (its queue and learned addresses go). */
  detach(): void {
    this.sw.detach(this);
  }
}

interface Learned {
  port: SwitchPort;
  seenMs: number;
}

export interface SwitchOptions {
  name?: string;
  /** Payload bytes an untagged frame may carry (1500). */
  mtu?: number;
  ageingMs?: number;
  /** Milliseconds, monotonic. */
  now?: () => number;
  queueLimit?: number;
  burst?: number;
}

export class Switch {
  readonly name: string;
  readonly ports: SwitchPort[] = [];
  readonly mtu: number;
  readonly ageingMs: number;
  readonly queueLimit: number;
  readonly burst: number;
  /** Captures of every frame the switch accepts (after validation). */
  readonly taps: FrameTap[] = [];
  /** Addresses not learned because the table was full. */
  tableFull = 0;
  private readonly now: () => number;
  private readonly table = new Map<string, Learned>();
  private scheduled = false;
  /** Set false by a host that calls `pump` itself. */
  autoPump = true;

  constructor(opts: SwitchOptions = {}) {
    this.name = opts.name ?? "switch";
    this.mtu = opts.mtu ?? 1500;
    this.ageingMs = opts.ageingMs ?? DEFAULT_AGEING_MS;
    this.now = opts.now ?? (() => performance.now());
    this.queueLimit = opts.queueLimit ?? QUEUE_LIMIT;
    this.burst = opts.burst ?? BURST;
  }

  attach(opts: PortOptions): SwitchPort {
    if (this.ports.some((p) => p.name === opts.name)) throw new RangeError(`port ${opts.name} already exists`);
    const p = new SwitchPort(this, opts);
    this.ports.push(p);
    return p;
  }

  detach(port: SwitchPort): void {
    const i = this.ports.indexOf(port);
    if (i < 0) return;
    this.ports.splice(i, 1);
    port.attached = false;
    port.queue.length = 0;
    for (const [k, e] of this.table) if (e.port === port) this.table.delete(k);
  }

  /** Checks a frame from `port`, classifies its VLAN and queues it, or counts why not. */
  ingress(port: SwitchPort, frame: Uint8Array): void {
    const c = port.counters;
    c.rxFrames++;
    c.rxBytes += frame.length;
    const r = port.attached ? this.classify(port, frame) : "down";
    if (typeof r === "string") {
      port.drop(r);
      return;
    }
    if (port.queue.length >= this.queueLimit) {
      port.drop("queueFull");
      return;
    }
    for (const t of port.taps) t(frame, port, "in");
    port.queue.push(r);
    if (this.autoPump && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.pump());
    }
  }

  /** The untagged frame and its VLAN, or why the frame is dropped. */
  private classify(port: SwitchPort, frame: Uint8Array): { frame: Uint8Array; vlan: number } | DropReason {
    if (frame.length < 14) return "runt";
    if (frame[6]! & 1) return "badSource";
    if (u16(frame, 12) !== ETH_VLAN) {
      if (frame.length > this.mtu + 14) return "giant";
      if (!port.trunk) return { frame, vlan: port.vlan };
      return port.native === undefined ? "vlan" : { frame, vlan: port.native };
    }
    if (frame.length < 18) return "truncated";
    if (frame.length > this.mtu + 18) return "giant";
    const vid = u16(frame, 14) & 0x0fff;
    // A priority tag (VID 0) means the port's own VLAN.
    const vlan = vid === 0 ? (port.trunk ? port.native : port.vlan) : vid;
    if (vlan === undefined || (vid !== 0 && !(port.trunk?.has(vid) || (port.nativeTagged && vid === port.native))))
      return "vlan";
    const untagged = new Uint8Array(frame.length - 4);
    untagged.set(frame.subarray(0, 12), 0);
    untagged.set(frame.subarray(16), 12);
    return { frame: untagged, vlan };
  }

  /** Frames waiting in all queues. */
  get pending(): number {
    let n = 0;
    for (const p of this.ports) n += p.queue.length;
    return n;
  }

  /**
   * Forwards queued frames: up to `burst` from each port per round, round by round, until the
   * queues are empty. Frames an endpoint sends while being delivered to join the next rounds.
   */
  pump(): void {
    this.scheduled = false;
    for (let guard = 0; guard < 1_000_000; guard++) {
      let moved = 0;
      for (const p of [...this.ports]) {
        for (let i = 0; i < this.burst && p.queue.length > 0; i++) {
          const { frame, vlan } = p.queue.shift()!;
          this.forward(p, frame, vlan);
          moved++;
        }
      }
      if (moved === 0) return;
    }
  }

  private forward(from: SwitchPort, frame: Uint8Array, vlan: number): void {
    const now = this.now();
    const src = macString(frame.subarray(6, 12));
    const key = `${vlan}/${src}`;
    const had = this.table.get(key);
    if (had) {
      had.port = from;
      had.seenMs = now;
    } else if (this.table.size < TABLE_LIMIT || this.sweep(now)) {
      this.table.set(key, { port: from, seenMs: now });
    } else this.tableFull++;
    for (const t of this.taps) t(frame, from, "in");
    if (!(frame[0]! & 1)) {
      const dst = this.table.get(`${vlan}/${macString(frame.subarray(0, 6))}`);
      if (dst && now - dst.seenMs < this.ageingMs) {
        // To the port it came from: filtered (the destination already heard it).
        if (dst.port !== from && dst.port.carries(vlan)) dst.port.deliver(frame, vlan);
        return;
      }
    }
    for (const p of this.ports) if (p !== from && p.carries(vlan)) p.deliver(frame, vlan);
  }

  /** Removes aged entries; true when that made room. */
  private sweep(now: number): boolean {
    for (const [k, e] of this.table) if (now - e.seenMs >= this.ageingMs) this.table.delete(k);
    return this.table.size < TABLE_LIMIT;
  }

  /** The MAC table as `brctl showmacs` shows it: VLAN, address, port, age in seconds. */
  macTable(): { vlan: number; mac: string; port: string; ageS: number }[] {
    const now = this.now();
    const rows = [];
    for (const [k, e] of this.table) {
      const age = now - e.seenMs;
      if (age >= this.ageingMs) continue;
      const [vlan, mac] = k.split("/") as [string, string];
      rows.push({ vlan: Number(vlan), mac, port: e.port.name, ageS: age / 1000 });
    }
    return rows;
  }
}
