// Frames over MessagePorts: a VM in a Worker (a page's Worker, or a Node worker thread) puts its
// NIC on a MessagePortBackend, and the thread that holds the network attaches the other end of
// the channel as a switch port (attachMessagePort). Each frame is posted as its own ArrayBuffer,
// transferred, not copied. A message that is not a frame (another type, empty, longer than a
// jumbo frame) is counted and dropped. Nothing here needs Node or the DOM beyond MessagePort.

import type { NetBackend } from "../../devices/net/backend.js";
import type { Network } from "./network.js";
import type { PortOptions, SwitchPort } from "./switch.js";

/** The part of a MessagePort this uses (the DOM's and Node's global MessageChannel both fit). */
export interface FramePort {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
  close(): void;
}

const MAX_FRAME = 9018 + 4;

export interface PortCounters {
  framesIn: number;
  framesOut: number;
  garbage: number;
}

function asFrame(data: unknown): Uint8Array | undefined {
  const u = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
  return u && u.length > 0 && u.length <= MAX_FRAME ? u : undefined;
}

function post(port: FramePort, frame: Uint8Array): void {
  const copy = frame.slice(); // the sender may keep its buffer; the copy is transferred
  port.postMessage(copy.buffer, [copy.buffer]);
}

/** Wires a frame endpoint to a port: frames from the port go to `deliver`; returns the sender. */
function wire(port: FramePort, deliver: (f: Uint8Array) => void, c: PortCounters): (f: Uint8Array) => void {
  port.onmessage = (e) => {
    const f = asFrame(e.data);
    if (!f) {
      c.garbage++;
      return;
    }
    c.framesIn++;
    deliver(f);
  };
  return (f) => {
    c.framesOut++;
    post(port, f);
  };
}

/** A NIC backend whose wire is a MessagePort (the VM's side, in its Worker). */
export class MessagePortBackend implements NetBackend {
  onReceive: ((frame: Uint8Array) => void) | undefined;
  readonly counters: PortCounters = { framesIn: 0, framesOut: 0, garbage: 0 };
  private readonly send: (f: Uint8Array) => void;

  constructor(readonly port: FramePort) {
    this.send = wire(port, (f) => this.onReceive?.(f), this.counters);
  }

  transmit(frame: Uint8Array): void {
    this.send(frame);
  }
}

/** Attaches the network's end of a channel as a switch port (a name, or a name and a VLAN). */
export function attachMessagePort(
  net: Network,
  name: string | PortOptions,
  port: FramePort,
): { port: SwitchPort; counters: PortCounters } {
  const counters: PortCounters = { framesIn: 0, framesOut: 0, garbage: 0 };
  const sp = net.attach(name);
  sp.onReceive = wire(port, (f) => sp.transmit(f), counters);
  return { port: sp, counters };
}
