// The page's side of its hosts: one Worker per host, each with a MessagePort link that the engine
// takes as a HostLink (the same interface a Node host agent's socket gives it), and the migration
// broker that pairs a listening destination with its source.

import type { FromHost, HostLink, ToHost } from "../engine/host-protocol.js";
import type { BrokerReply, BrokerRequest, HostInit } from "./worker-messages.js";

/** A HostLink over a MessagePort (the page's end of a host Worker's link). */
export class PortHostLink implements HostLink {
  private readonly closers: (() => void)[] = [];
  private closed = false;

  constructor(private readonly port: MessagePort) {}

  send(m: ToHost): void {
    if (!this.closed) this.port.postMessage(m);
  }

  onMessage(cb: (m: FromHost) => void): void {
    this.port.onmessage = (ev: MessageEvent<FromHost>) => cb(ev.data);
    this.port.start();
  }

  onClose(cb: () => void): void {
    this.closers.push(cb);
  }

  /** Closes the link (the engine's side, or the page when its Worker is gone). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.close();
    for (const cb of this.closers) cb();
  }
}

export interface WorkerHost {
  name: string;
  worker: Worker;
  link: PortHostLink;
  /** Ends the Worker at once, as a host that loses power (its link closes). */
  kill(): void;
}

/** Pairs destinations and sources of migrations by a uri of the page's own ("page:<n>"). */
class MigrationBroker {
  private readonly listening = new Map<string, MessagePort>();
  private next = 1;

  handle(worker: Worker, m: BrokerRequest): void {
    const reply = (r: BrokerReply, transfer: Transferable[] = []) => worker.postMessage(r, transfer);
    if (m.type === "listen") {
      const uri = `page:${this.next++}`;
      this.listening.set(uri, m.port);
      reply({ type: "listening", id: m.id, uri });
      return;
    }
    const port = this.listening.get(m.uri);
    if (!port) {
      reply({ type: "refused", id: m.id, message: `no host in this page listens at ${m.uri}` });
      return;
    }
    this.listening.delete(m.uri);
    reply({ type: "connected", id: m.id, port }, [port]);
  }
}

export interface HostSpec {
  name: string;
  memoryMib: number;
  cpus: number;
  cpuType: string;
  cluster?: string;
}

const broker = new MigrationBroker();

/** Starts a host Worker; `onFailed` hears why it could not start. */
export function startWorkerHost(
  host: HostSpec,
  baseUrl: string,
  module: WebAssembly.Module,
  onFailed: (message: string) => void,
): WorkerHost {
  const worker = new Worker(new URL("./host-worker.ts", import.meta.url), { type: "module", name: host.name });
  const channel = new MessageChannel();
  const link = new PortHostLink(channel.port1);
  worker.onmessage = (ev: MessageEvent<BrokerRequest | { type: "failed"; message: string }>) => {
    const m = ev.data;
    if (m.type === "failed") {
      onFailed(`host ${host.name}: ${m.message}`);
      link.close();
    } else broker.handle(worker, m);
  };
  worker.onerror = (ev) => onFailed(`host ${host.name}: ${ev.message}`);
  const init: HostInit = {
    type: "init",
    host,
    baseUrl,
    module,
    link: channel.port2,
  };
  worker.postMessage(init, [channel.port2]);
  return {
    name: host.name,
    worker,
    link,
    kill() {
      worker.terminate();
      link.close();
    },
  };
}
