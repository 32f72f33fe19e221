// What the engine reads from a VM's domain XML: name, uuid, memory, vCPUs, the disk files (to find
// their storage domains) and the networks. The XML is parsed and checked by the libvirt layer
// (manage/libvirt/domain-xml.ts) once merged; until then a small reading with fast-xml-parser.

import { XMLParser } from "fast-xml-parser";
import { badRequest } from "./errors.js";

export interface DomainSummary {
  name: string;
  uuid?: string;
  memoryMib: number;
  vcpus: number;
  diskFiles: string[];
  networks: string[];
  /** The parsed domain, as stored (JSON). */
  def: unknown;
}

const UNITS: Record<string, number> = {
  b: 1 / 1024,
  bytes: 1 / 1024,
  k: 1,
  kib: 1,
  m: 1024,
  mib: 1024,
  g: 1024 ** 2,
  gib: 1024 ** 2,
};

type Node = Record<string, unknown>;
const list = (x: unknown): Node[] => (x === undefined ? [] : Array.isArray(x) ? (x as Node[]) : [x as Node]);
const text = (x: unknown): string =>
  typeof x === "object" && x !== null ? String((x as Node)["#text"] ?? "") : String(x ?? "");

export function readDomain(xml: string): DomainSummary {
  let doc: Node;
  try {
    doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@" }).parse(xml, true) as Node;
  } catch (e) {
    throw badRequest(`invalid domain XML: ${(e as Error).message}`);
  }
  const d = doc.domain as Node | undefined;
  if (!d) throw badRequest("invalid domain XML: the root element is not <domain>");
  const name = text(d.name).trim();
  if (!name) throw badRequest("invalid domain XML: <name> is missing or empty");
  const mem = d.memory;
  if (mem === undefined) throw badRequest("invalid domain XML: <memory> is missing");
  const unit = (typeof mem === "object" ? String((mem as Node)["@unit"] ?? "KiB") : "KiB").toLowerCase();
  const n = Number(text(mem));
  if (!(unit in UNITS) || !Number.isFinite(n) || n <= 0)
    throw badRequest(`invalid domain XML: <memory> '${text(mem)}' (unit ${unit}) is not a size`);
  const vcpus = d.vcpu === undefined ? 1 : Number(text(d.vcpu));
  if (!Number.isInteger(vcpus) || vcpus < 1)
    throw badRequest(`invalid domain XML: <vcpu> '${text(d.vcpu)}' is not a count`);
  const devices = (d.devices ?? {}) as Node;
  const diskFiles = list(devices.disk)
    .map((k) => String(((k.source ?? {}) as Node)["@file"] ?? ""))
    .filter(Boolean);
  const networks = list(devices.interface)
    .map((i) => String(((i.source ?? {}) as Node)["@network"] ?? ""))
    .filter(Boolean);
  const uuid = d.uuid === undefined ? undefined : text(d.uuid).trim();
  return { name, uuid, memoryMib: Math.ceil((n * UNITS[unit]) / 1024), vcpus, diskFiles, networks, def: doc };
}
