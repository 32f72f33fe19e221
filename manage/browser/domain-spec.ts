// What a host in the page boots for a domain: libvirt's domain XML read by the libvirt layer
// (manage/libvirt/domain-xml.ts), its kernel and initrd paths turned into the addresses the page
// serves them at. A page has no file system: only the files the page serves can be booted (the
// project's guests, web/src/guests.ts), and a domain that names another file is refused with its
// name.

import { GUESTS } from "../../web/src/guests.js";
import { parseDomainXml } from "../libvirt/domain-xml.js";
import type { VmSpec } from "./vm-runner.js";

/** Repository path of a guest file -> the name the page serves it under. */
const SERVED = new Map<string, string>();
for (const g of GUESTS) {
  SERVED.set(g.kernelFile, g.kernel);
  if (g.initrd && g.initrdFile) SERVED.set(g.initrdFile, g.initrd);
}

/** The served address of `path` (a repository path such as guests/linux/bzImage, or its served name). */
export function servedUrl(path: string, baseUrl: string): string {
  const clean = path.replace(/^\.?\/+/, "");
  const served = SERVED.get(clean) ?? ([...SERVED.values()].includes(clean) ? clean : undefined);
  if (!served)
    throw new Error(
      `${path}: a host in the page boots only the files the page serves (${[...SERVED.keys()].join(", ")})`,
    );
  return new URL(served, baseUrl).href;
}

export function vmSpecOf(domainXml: string, baseUrl: string): VmSpec {
  const def = parseDomainXml(domainXml);
  if (!def.os.kernel)
    throw new Error(
      `domain ${def.name}: <os><kernel> is missing (a host in the page boots a kernel directly; no disks yet)`,
    );
  for (const d of def.devices)
    if (d.kind === "disk" || d.kind === "interface")
      throw new Error(`domain ${def.name}: <${d.kind}> is not supported by a host in the page yet`);
  return {
    name: def.name,
    kernelUrl: servedUrl(def.os.kernel, baseUrl),
    initrdUrl: def.os.initrd ? servedUrl(def.os.initrd, baseUrl) : undefined,
    cmdline: def.os.cmdline ?? "console=ttyS0",
    memoryMiB: Math.ceil(def.memoryKiB / 1024),
    mode: def.x86lab.mode,
    mmu: def.x86lab.mmu,
  };
}
