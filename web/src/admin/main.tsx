// admin.html's entry. With ?engine=<origin> (and ?user=), the view talks to an engine server's
// REST API; without it, it starts the datacenter in a tab (manage/browser/): the engine in this
// page, its database in the browser's IndexedDB, its hosts as Workers. window.__x86admin is what
// the browser test reads.

import "@xterm/xterm/css/xterm.css";
import "./admin.css";
import { render } from "preact";
import { Admin, lastInventory } from "./Admin.js";
import { EngineClient, type EngineTransport } from "./client.js";
import { RestTransport } from "./rest-transport.js";
import { consoleTexts } from "./VmConsole.js";

declare global {
  interface Window {
    __x86admin: {
      /** "starting", "ready", or the error that stopped the start. */
      state: string;
      inventory(): typeof lastInventory;
      consoleText(vm: string): string;
    };
  }
}

const query = new URLSearchParams(location.search);
const root = document.getElementById("admin")!;
window.__x86admin = {
  state: "starting",
  inventory: () => lastInventory,
  consoleText: (vm) => consoleTexts.get(vm)?.() ?? "",
};

async function transport(): Promise<EngineTransport> {
  const origin = query.get("engine");
  if (origin !== null)
    return new RestTransport({
      origin: origin || undefined,
      user: query.get("user") ?? undefined,
      password: query.get("password") ?? undefined,
    });
  root.textContent = "Starting the datacenter in this tab (database, engine, hosts)…";
  // Loaded only for the datacenter in a tab: a remote engine's view needs no PGlite.
  const { startDatacenter } = await import("../../../manage/browser/datacenter.js");
  const dc = await startDatacenter({
    database: query.get("db") ?? "x86lab-datacenter",
    hosts: Number(query.get("hosts") ?? 2),
  });
  return dc.transport;
}

transport().then(
  (t) => {
    window.__x86admin.state = "ready";
    root.textContent = "";
    render(<Admin client={new EngineClient(t)} />, root);
  },
  (e: unknown) => {
    window.__x86admin.state = `error: ${(e as Error).message}`;
    root.textContent = `The datacenter did not start: ${(e as Error).message}`;
    root.setAttribute("role", "alert");
  },
);
