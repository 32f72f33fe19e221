// What the engine reads from a VM's domain XML, through the libvirt layer's parser and checks
// (manage/libvirt/domain-xml.ts): name, uuid, memory, vCPUs, the disk files (to find their
// storage domains) and the networks. Invalid XML is a 400 naming the element and the problem.

import { type DomainDef, DomainXmlError, parseDomainXml } from "../libvirt/domain-xml.js";
import { XmlSyntaxError } from "../libvirt/xml-tree.js";
import { badRequest } from "./errors.js";

export interface DomainSummary {
  name: string;
  uuid?: string;
  memoryMib: number;
  vcpus: number;
  diskFiles: string[];
  networks: string[];
  /** The parsed domain, as stored (JSON). */
  def: DomainDef;
}

export function readDomain(xml: string): DomainSummary {
  let def: DomainDef;
  try {
    def = parseDomainXml(xml);
  } catch (e) {
    if (e instanceof DomainXmlError || e instanceof XmlSyntaxError)
      throw badRequest(`invalid domain XML: ${e.message}`);
    throw e;
  }
  const diskFiles: string[] = [];
  const networks: string[] = [];
  for (const d of def.devices) {
    if (d.kind === "disk" && d.file) diskFiles.push(d.file);
    if (d.kind === "interface" && d.type === "network" && d.network) networks.push(d.network);
  }
  return {
    name: def.name,
    uuid: def.uuid,
    memoryMib: Math.ceil(def.memoryKiB / 1024),
    vcpus: def.vcpu,
    diskFiles,
    networks,
    def,
  };
}
