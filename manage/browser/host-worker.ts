// The Worker of one host in the page. The page sends one `init` (the host's name and capacity,
// the compiled core, the port of its link to the engine); then the host agent speaks the engine's protocol on that
// port. The Worker's own channel to the page carries only the migration broker's messages.

import { HostAgent } from "./host-agent.js";
import type { BrokerReply, BrokerRequest, HostInit } from "./worker-messages.js";

const post = (m: BrokerRequest) => self.postMessage(m, m.type === "listen" ? [m.port] : []);
const waiting = new Map<number, (reply: BrokerReply) => void>();
let next = 1;

/** Asks the page's broker and waits for its answer. */
type Ask = BrokerRequest extends infer M ? (M extends { id: number } ? Omit<M, "id"> : never) : never;

function ask(m: Ask): Promise<BrokerReply> {
  const id = next++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    post({ ...m, id } as BrokerRequest);
  });
}

self.onmessage = (ev: MessageEvent<HostInit | BrokerReply>) => {
  const m = ev.data;
  if (m.type === "init") {
    init(m).catch((e: unknown) => self.postMessage({ type: "failed", message: (e as Error).message }));
    return;
  }
  const w = waiting.get(m.id);
  waiting.delete(m.id);
  w?.(m);
};

async function init(m: HostInit): Promise<void> {
  new HostAgent(m.link, {
    ...m.host,
    baseUrl: m.baseUrl,
    module: m.module,
    listen: async () => {
      const channel = new MessageChannel();
      const reply = await ask({ type: "listen", port: channel.port2 });
      if (reply.type !== "listening") throw new Error("the page's migration broker did not answer");
      return { uri: reply.uri, port: channel.port1 };
    },
    connect: async (uri) => {
      const reply = await ask({ type: "connect", uri });
      if (reply.type !== "connected") throw new Error(reply.type === "refused" ? reply.message : "no answer");
      return reply.port;
    },
  });
}
