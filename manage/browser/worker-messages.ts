// The messages between the page and a host Worker beside the engine's protocol: the host's
// start (`init`), and the migration broker's requests and answers. The broker hands the two ends
// of a MessageChannel to the destination (which listens) and the source (which connects).

export interface HostInit {
  type: "init";
  host: { name: string; memoryMib: number; cpus: number; cpuType: string; cluster?: string };
  /** The page's address (guest files are served under it). */
  baseUrl: string;
  /** core.wasm, compiled once by the page for all its hosts. */
  module: WebAssembly.Module;
  /** The host's link to the engine (host-protocol.ts messages). */
  link: MessagePort;
}

export type BrokerRequest =
  /** A destination listens: `port` is the end the source will be given. */
  { type: "listen"; id: number; port: MessagePort } | { type: "connect"; id: number; uri: string };

export type BrokerReply =
  | { type: "listening"; id: number; uri: string }
  | { type: "connected"; id: number; port: MessagePort }
  | { type: "refused"; id: number; message: string };
