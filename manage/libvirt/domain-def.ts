// The shape of a domain definition (domain-xml.ts reads one from libvirt's XML,
// domain-xml-format.ts writes one back): JSON-able, the elements this machine knows as fields,
// the rest as XmlNodes in `extra` (per element), kept for the round trip.

import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import type { XmlExtra, XmlNode } from "./xml-tree.js";

export const X86LAB_NS = "urn:x86lab:domain:1";
/** Our element in <metadata>. */
export const META = "x86lab:machine";

export class DomainXmlError extends Error {}

export interface OsDef {
  /** <type>: always hvm for this machine; arch and machine as given. */
  type: string;
  arch?: string;
  machine?: string;
  loader?: string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  /** <boot dev=...> in order: hd, cdrom, network, fd. */
  boot: string[];
  extra?: XmlExtra;
}

export interface DiskDef {
  kind: "disk";
  /** file, block, volume. */
  type: string;
  /** disk, cdrom, floppy, lun. */
  device: string;
  /** <driver type=>: raw, qcow2, ... */
  format?: string;
  /** <source file=> or dev=, or a pool's volume. */
  file?: string;
  pool?: string;
  volume?: string;
  /** <target dev= bus=>. */
  target: string;
  bus?: string;
  readonly?: boolean;
  /** <transient/>: writes dropped when the domain stops (QEMU's snapshot=on). */
  transient?: boolean;
  bootOrder?: number;
  driverExtra?: XmlExtra;
  sourceExtra?: XmlExtra;
  targetExtra?: XmlExtra;
  extra?: XmlExtra;
}

export interface InterfaceDef {
  kind: "interface";
  /** network, user, bridge, ... */
  type: string;
  network?: string;
  portgroup?: string;
  mac?: string;
  /** <model type=>: virtio, ne2k_pci, ... */
  model?: string;
  sourceExtra?: XmlExtra;
  macExtra?: XmlExtra;
  modelExtra?: XmlExtra;
  extra?: XmlExtra;
}

/** <serial> and <console>: where a character device's bytes go. */
export interface CharDef {
  kind: "serial" | "console";
  /** pty, file, null, unix, ... */
  type: string;
  path?: string;
  /** <target type= port=>: serial ports; a console's target type serial or virtio. */
  targetType?: string;
  port?: number;
  sourceExtra?: XmlExtra;
  targetExtra?: XmlExtra;
  extra?: XmlExtra;
}

export interface ModelDeviceDef {
  kind: "memballoon" | "rng" | "video";
  /** memballoon/rng: the model= attribute; video: <model type=>. */
  model: string;
  /** rng: <backend model=>text</backend>. */
  backend?: { model?: string; source?: string };
  /** video: <model>'s other attributes (vram, heads) and children. */
  modelExtra?: XmlExtra;
  extra?: XmlExtra;
}

/** A device element this reader does not know, kept whole. */
export interface OtherDeviceDef {
  kind: "other";
  node: XmlNode;
}

export type DeviceDef = DiskDef | InterfaceDef | CharDef | ModelDeviceDef | OtherDeviceDef;

export interface X86labDef {
  mode?: VirtMode;
  mmu?: MmuMode;
  jit?: boolean;
  clock?: "icount" | "realtime";
  extra?: XmlExtra;
}

export interface DomainDef {
  /** <domain type=>: kvm or qemu. */
  type: string;
  name: string;
  uuid?: string;
  title?: string;
  description?: string;
  memoryKiB: number;
  currentMemoryKiB?: number;
  vcpu: number;
  /** <vcpu>'s attributes (placement, cpuset, current), kept. */
  vcpuAttrs?: Record<string, string>;
  os: OsDef;
  /** <features>'s children as given (acpi, apic, pae, ...). */
  features?: XmlNode[];
  cpu?: { mode?: string; match?: string; model?: string; extra?: XmlExtra };
  clock?: { offset: string; extra?: XmlExtra };
  onPoweroff?: string;
  onReboot?: string;
  onCrash?: string;
  emulator?: string;
  devices: DeviceDef[];
  devicesExtra?: XmlExtra;
  x86lab: X86labDef;
  /** Other applications' <metadata> children. */
  metadata?: XmlNode[];
  extra?: XmlExtra;
}

/** libvirt's units for scaled integers (formatdomain's memory, formatstorage's capacity). */
export const UNITS: Record<string, number> = {
  b: 1,
  bytes: 1,
  KB: 1000,
  k: 1024,
  KiB: 1024,
  MB: 1e6,
  M: 1024 ** 2,
  MiB: 1024 ** 2,
  GB: 1e9,
  G: 1024 ** 3,
  GiB: 1024 ** 3,
  TB: 1e12,
  T: 1024 ** 4,
  TiB: 1024 ** 4,
};
