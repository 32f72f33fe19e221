// net.html: several VMs in one page, each in its own Worker, on one network that runs in the
// page (page-network.ts). Each VM is the lab's Worker booting the tiny Linux with one NIC on a
// MessagePort; the page shows each console and `info network`. ?nics= lists the VMs' NICs
// (virtio-net or ne2k_pci, default two virtio-net); ?mode=, ?mmu= and ?jit= as in the lab.
// window.__x86net is what the browser test drives: each VM's console, typing, and the network.

import { BrowserOutside } from "../../vmm/net/browser-outside.js";
import { defaultNetworkDef } from "../../vmm/net/network.js";
import { configFor } from "./config.js";
import { Machine, newVmWorker } from "./machine.js";
import { PageNetwork } from "./page-network.js";
import type { NicConfig } from "./protocol.js";
import { defaultSettings, withQuery } from "./settings.js";

declare global {
  interface Window {
    __x86net: {
      count: number;
      serial(i: number): string;
      state(i: number): string;
      error(i: number): string | undefined;
      input(i: number, text: string): void;
      leases(): { mac: string; address: string; hostname: string }[];
      info(): string;
    };
  }
}

const MODELS: readonly NicConfig["model"][] = ["virtio-net", "ne2k_pci"];
const query = new URLSearchParams(location.search);
const models = (query.get("nics") ?? "virtio-net,virtio-net")
  .split(",")
  .map((m) => m.trim())
  .filter((m): m is NicConfig["model"] => (MODELS as readonly string[]).includes(m))
  .slice(0, 8);

/** The way out: HTTP through fetch (the gateway's address stands for this page's origin), or the relay named. */
function outside(): BrowserOutside {
  const relay = query.get("relay") ?? undefined;
  try {
    return new BrowserOutside({ loopback: location.origin, relay });
  } catch (e) {
    document.getElementById("network")!.textContent = `${e instanceof Error ? e.message : String(e)}; no relay used`;
    return new BrowserOutside({ loopback: location.origin });
  }
}

const network = new PageNetwork(defaultNetworkDef(), outside());
const settings = { ...withQuery(defaultSettings(), location.search), guest: "linux" };
const base = configFor(settings, undefined);
const vmsView = document.getElementById("vms")!;

const machines = models.map((model, i) => {
  const nic = network.nic(model);
  const machine = new Machine(newVmWorker());
  const section = document.createElement("section");
  const title = document.createElement("h2");
  title.textContent = `vm${i + 1}: ${model} ${nic.config.mac} on port ${nic.name}`;
  const pre = document.createElement("pre");
  pre.id = `serial-${i}`;
  section.append(title, pre);
  vmsView.append(section);
  const decoder = new TextDecoder();
  machine.serialSink = (bytes) => {
    pre.textContent = (pre.textContent + decoder.decode(bytes, { stream: true })).slice(-20_000);
    pre.scrollTop = pre.scrollHeight;
  };
  // No VGA: the console is COM1. "quiet" keeps the boot log short.
  machine.boot({ ...base, vga: false, cmdline: `${base.cmdline} quiet`, nic: nic.config });
  return machine;
});

document.getElementById("capture")!.addEventListener("click", () => {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(network.captureFile());
  a.download = `${network.net.name}.pcap`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
});

const networkView = document.getElementById("network")!;
setInterval(() => {
  networkView.textContent = network.describe().join("\n");
}, 500);

window.__x86net = {
  count: machines.length,
  serial: (i) => machines[i]?.serialText ?? "",
  state: (i) => machines[i]?.status.state ?? "none",
  error: (i) => machines[i]?.error,
  input: (i, text) => machines[i]?.input(new TextEncoder().encode(text)),
  leases: () => network.leases().map((l) => ({ mac: l.mac, address: l.address, hostname: l.hostname })),
  info: () => network.describe().join("\n"),
};
