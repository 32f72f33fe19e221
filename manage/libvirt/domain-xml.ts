// libvirt's domain XML (formatdomain) in and out: a DomainDef is a plain JSON-able object with
// the elements this machine knows as fields and everything else kept as XmlNodes in `extra`
// (per element), so a definition read and written back keeps what we do not understand, as
// libvirt keeps other applications' <metadata>. This file checks the XML's own rules (required
// elements, numbers, units, enumerations); whether this machine can honour a definition is
// domain-argv.ts's question, which names the element it cannot.
//
// The virtualization mode of this project lives in <metadata> in our own namespace:
//   <metadata><x86lab:machine xmlns:x86lab='urn:x86lab:domain:1' mode='hvm' mmu='ept' jit='on'
//     clock='icount'/></metadata>
// Without it the domain's type decides, as QEMU's -accel aliases do: kvm is hvm, qemu is native.

import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { el, formatXml, parseXml, Reader, type XmlExtra, type XmlNode, XmlSyntaxError } from "./xml-tree.js";

export const X86LAB_NS = "urn:x86lab:domain:1";
const META = "x86lab:machine";

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

/** A libvirt scaled integer (`<memory unit='MiB'>512</memory>`) in KiB, or in the unit asked for. */
export function scaledKiB(text: string | undefined, unit: string | undefined, where: string): number {
  const u = unit ?? "KiB";
  const scale = UNITS[u];
  if (scale === undefined) {
    throw new DomainXmlError(`${where}: unit='${u}' is not a unit (b, KB, KiB, MB, MiB, GB, GiB, TB, TiB)`);
  }
  if (text === undefined || !/^\d+$/.test(text.trim()))
    throw new DomainXmlError(`${where}: '${text ?? ""}' is not a whole number`);
  const bytes = Number(text.trim()) * scale;
  return Math.ceil(bytes / 1024);
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** libvirt spells a UUID lower case with dashes. */
function normalUuid(u: string, where: string): string {
  if (!UUID.test(u)) throw new DomainXmlError(`${where}: '${u}' is not a UUID`);
  const h = u.replace(/-/g, "").toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function oneOf(v: string | undefined, allowed: string[], where: string): string | undefined {
  if (v !== undefined && !allowed.includes(v))
    throw new DomainXmlError(`${where}: '${v}' is not one of ${allowed.join(", ")}`);
  return v;
}

const fail = (m: string) => new DomainXmlError(m);

function readOs(r: Reader): OsDef {
  const t = r.one("type");
  if (!t) throw new DomainXmlError("<domain><os>: <type> is missing (give <type arch='i686' machine='pc'>hvm</type>)");
  const tr = r.child(t);
  const os: OsDef = {
    type: (t.text ?? "").trim(),
    arch: tr.attr("arch"),
    machine: tr.attr("machine"),
    loader: r.text("loader"),
    kernel: r.text("kernel"),
    initrd: r.text("initrd"),
    cmdline: r.text("cmdline"),
    boot: [],
  };
  if (tr.rest())
    throw new DomainXmlError(
      `<domain><os><type>: unknown attributes ${Object.keys(tr.rest()?.attrs ?? {}).join(", ")}`,
    );
  if (os.type === "") throw new DomainXmlError("<domain><os><type>: empty (give hvm)");
  for (const b of r.all("boot")) {
    const dev = b.attrs?.["dev"];
    oneOf(dev, ["hd", "cdrom", "network", "fd"], "<domain><os><boot dev>");
    if (dev === undefined) throw new DomainXmlError("<domain><os><boot>: dev= is missing (hd, cdrom, network or fd)");
    os.boot.push(dev);
  }
  os.extra = r.rest();
  return os;
}

function readDisk(r: Reader): DiskDef {
  const d: DiskDef = {
    kind: "disk",
    type: r.attr("type") ?? "file",
    device: r.attr("device") ?? "disk",
    target: "",
  };
  oneOf(d.type, ["file", "block", "volume", "network", "dir", "nvme", "vhostuser"], `${r.where} type`);
  oneOf(d.device, ["disk", "cdrom", "floppy", "lun"], `${r.where} device`);
  const driver = r.one("driver");
  if (driver) {
    const dr = r.child(driver);
    d.format = dr.attr("type");
    d.driverExtra = dr.rest();
  }
  const source = r.one("source");
  if (source) {
    const sr = r.child(source);
    d.file = sr.attr(d.type === "block" ? "dev" : "file");
    if (d.type === "volume") {
      d.pool = sr.attr("pool");
      d.volume = sr.attr("volume");
    }
    d.sourceExtra = sr.rest();
  }
  const target = r.one("target");
  if (!target) throw new DomainXmlError(`${r.where}: <target dev=...> is missing`);
  const tr = r.child(target);
  d.target = tr.attr("dev") ?? "";
  if (d.target === "") throw new DomainXmlError(`${r.where}<target>: dev= is missing`);
  d.bus = tr.attr("bus");
  d.targetExtra = tr.rest();
  if (r.one("readonly")) d.readonly = true;
  if (r.one("transient")) d.transient = true;
  const boot = r.one("boot");
  if (boot) {
    const o = Number(boot.attrs?.["order"]);
    if (!Number.isInteger(o) || o < 1)
      throw new DomainXmlError(`${r.where}<boot>: order='${boot.attrs?.["order"] ?? ""}' is not a positive number`);
    d.bootOrder = o;
  }
  d.extra = r.rest();
  return d;
}

function readInterface(r: Reader): InterfaceDef {
  const i: InterfaceDef = { kind: "interface", type: r.attr("type") ?? "" };
  if (i.type === "") throw new DomainXmlError(`${r.where}: type= is missing (network or user)`);
  const source = r.one("source");
  if (source) {
    const sr = r.child(source);
    i.network = sr.attr("network");
    i.portgroup = sr.attr("portgroup");
    i.sourceExtra = sr.rest();
  }
  if (i.type === "network" && !i.network) throw new DomainXmlError(`${r.where}: <source network=...> is missing`);
  const mac = r.one("mac");
  if (mac) {
    const mr = r.child(mac);
    i.mac = mr.attr("address")?.toLowerCase();
    i.macExtra = mr.rest();
    if (!i.mac || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(i.mac))
      throw new DomainXmlError(`${r.where}<mac>: address='${mac.attrs?.["address"] ?? ""}' is not a MAC address`);
  }
  const model = r.one("model");
  if (model) {
    const mr = r.child(model);
    i.model = mr.attr("type");
    i.modelExtra = mr.rest();
  }
  i.extra = r.rest();
  return i;
}

function readChar(kind: "serial" | "console", r: Reader): CharDef {
  const c: CharDef = { kind, type: r.attr("type") ?? "pty" };
  const source = r.one("source");
  if (source) {
    const sr = r.child(source);
    c.path = sr.attr("path");
    c.sourceExtra = sr.rest();
  }
  const target = r.one("target");
  if (target) {
    const tr = r.child(target);
    c.targetType = tr.attr("type");
    const p = tr.attr("port");
    c.targetExtra = tr.rest();
    if (p !== undefined) {
      c.port = Number(p);
      if (!Number.isInteger(c.port) || c.port < 0)
        throw new DomainXmlError(`${r.where}<target>: port='${p}' is not a number`);
    }
  }
  c.extra = r.rest();
  return c;
}

function readModelDevice(kind: "memballoon" | "rng" | "video", r: Reader): ModelDeviceDef {
  const d: ModelDeviceDef = { kind, model: "" };
  if (kind === "video") {
    const m = r.one("model");
    if (m) {
      const mr = r.child(m);
      d.model = mr.attr("type") ?? "";
      d.modelExtra = mr.rest();
    }
  } else d.model = r.attr("model") ?? "";
  if (!d.model) throw new DomainXmlError(`${r.where}: the model is missing`);
  if (kind === "rng") {
    const b = r.one("backend");
    if (b) {
      const br = r.child(b);
      d.backend = { model: br.attr("model"), source: b.text?.trim() };
      if (br.rest()) throw new DomainXmlError(`${r.where}<backend>: only model= and the device path are known here`);
    }
  }
  d.extra = r.rest();
  return d;
}

function readMetadata(r: Reader, def: DomainDef): void {
  const others: XmlNode[] = [];
  for (const n of r.node.children ?? []) {
    if (n.name !== META) {
      others.push(n);
      continue;
    }
    const mr = r.child(n, `<domain><metadata><${META}>`);
    const ns = mr.attr("xmlns:x86lab");
    if (ns !== undefined && ns !== X86LAB_NS)
      throw new DomainXmlError(`<${META}>: xmlns:x86lab='${ns}' is not '${X86LAB_NS}'`);
    const where = `<domain><metadata><${META}>`;
    def.x86lab.mode = oneOf(mr.attr("mode"), ["native", "trap", "bt", "hvm", "pv"], `${where} mode`) as
      | VirtMode
      | undefined;
    def.x86lab.mmu = oneOf(mr.attr("mmu"), ["shadow", "ept"], `${where} mmu`) as MmuMode | undefined;
    const jit = oneOf(mr.attr("jit"), ["on", "off"], `${where} jit`);
    if (jit !== undefined) def.x86lab.jit = jit === "on";
    def.x86lab.clock = oneOf(mr.attr("clock"), ["icount", "realtime"], `${where} clock`) as X86labDef["clock"];
    def.x86lab.extra = mr.rest();
  }
  r.all(META);
  if (others.length > 0) def.metadata = others;
}

/** Reads a domain definition; an error names the element and what is wrong with it. */
export function parseDomainXml(xml: string): DomainDef {
  let root: XmlNode;
  try {
    root = parseXml(xml, "domain XML");
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw new DomainXmlError(e.message);
    throw e;
  }
  if (root.name !== "domain") throw new DomainXmlError(`the root element is <${root.name}>, not <domain>`);
  const r = new Reader(root, "<domain>", fail);
  const type = r.attr("type");
  if (!type) throw new DomainXmlError("<domain>: type= is missing (kvm or qemu)");
  r.attr("id"); // the running domain's id, dropped as libvirt's define does
  const name = r.text("name");
  if (!name) throw new DomainXmlError("<domain>: <name> is missing");
  if (name.includes("/")) throw new DomainXmlError(`<domain><name>: '${name}' contains '/'`);
  const memory = r.one("memory");
  if (!memory) throw new DomainXmlError("<domain>: <memory> is missing");
  const def: DomainDef = {
    type,
    name,
    memoryKiB: scaledKiB(memory.text, memory.attrs?.["unit"], "<domain><memory>"),
    vcpu: 1,
    os: { type: "hvm", boot: [] },
    devices: [],
    x86lab: {},
  };
  const uuid = r.text("uuid");
  if (uuid !== undefined) def.uuid = normalUuid(uuid, "<domain><uuid>");
  def.title = r.text("title");
  def.description = r.text("description");
  const cur = r.one("currentMemory");
  if (cur) def.currentMemoryKiB = scaledKiB(cur.text, cur.attrs?.["unit"], "<domain><currentMemory>");
  if (def.currentMemoryKiB !== undefined && def.currentMemoryKiB > def.memoryKiB)
    throw new DomainXmlError("<domain><currentMemory>: larger than <memory>");
  const vcpu = r.one("vcpu");
  if (vcpu) {
    def.vcpu = Number((vcpu.text ?? "").trim());
    if (!Number.isInteger(def.vcpu) || def.vcpu < 1)
      throw new DomainXmlError(`<domain><vcpu>: '${vcpu.text ?? ""}' is not a positive number`);
    if (vcpu.attrs) def.vcpuAttrs = vcpu.attrs;
  }
  const os = r.one("os");
  if (!os) throw new DomainXmlError("<domain>: <os> is missing");
  def.os = readOs(r.child(os));
  const features = r.one("features");
  if (features) def.features = features.children ?? [];
  const cpu = r.one("cpu");
  if (cpu) {
    const cr = r.child(cpu);
    def.cpu = { mode: cr.attr("mode"), match: cr.attr("match"), model: cr.text("model") };
    def.cpu.extra = cr.rest();
  }
  const clock = r.one("clock");
  if (clock) {
    const cr = r.child(clock);
    def.clock = { offset: cr.attr("offset") ?? "utc" };
    oneOf(def.clock.offset, ["utc", "localtime", "timezone", "variable", "absolute"], "<domain><clock offset>");
    def.clock.extra = cr.rest();
  }
  for (const ev of ["on_poweroff", "on_reboot", "on_crash"] as const) {
    const v = r.text(ev);
    oneOf(
      v,
      ["destroy", "restart", "preserve", "rename-restart", "coredump-destroy", "coredump-restart"],
      `<domain><${ev}>`,
    );
    if (ev === "on_poweroff") def.onPoweroff = v;
    if (ev === "on_reboot") def.onReboot = v;
    if (ev === "on_crash") def.onCrash = v;
  }
  const devices = r.one("devices");
  if (devices) {
    const dr = r.child(devices);
    def.emulator = dr.text("emulator");
    const counts: Record<string, number> = {};
    for (const n of devices.children ?? []) {
      if (n.name === "emulator") continue;
      const i = counts[n.name] ?? 0;
      counts[n.name] = i + 1;
      const cr = new Reader(n, `<domain><devices><${n.name}>${i > 0 ? ` (#${i + 1})` : ""}`, fail);
      if (n.name === "disk") def.devices.push(readDisk(cr));
      else if (n.name === "interface") def.devices.push(readInterface(cr));
      else if (n.name === "serial" || n.name === "console") def.devices.push(readChar(n.name, cr));
      else if (n.name === "memballoon" || n.name === "rng" || n.name === "video")
        def.devices.push(readModelDevice(n.name, cr));
      else def.devices.push({ kind: "other", node: n });
    }
    for (const n of devices.children ?? []) dr.all(n.name);
    def.devicesExtra = dr.rest();
  }
  const metadata = r.one("metadata");
  if (metadata) readMetadata(r.child(metadata), def);
  def.extra = r.rest();
  return stripUndefined(def);
}

/** Drops undefined fields (deep), so a definition is the same object after a JSON round trip. */
function stripUndefined<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

const memEl = (name: string, kib: number) => el(name, { unit: "KiB" }, kib);

function formatDevice(d: DeviceDef): XmlNode {
  switch (d.kind) {
    case "disk":
      return el(
        "disk",
        { type: d.type, device: d.device },
        [
          d.format !== undefined || d.driverExtra ? el("driver", { type: d.format }, [], d.driverExtra) : undefined,
          d.file !== undefined || d.pool !== undefined || d.sourceExtra
            ? el(
                "source",
                d.type === "volume"
                  ? { pool: d.pool, volume: d.volume }
                  : { [d.type === "block" ? "dev" : "file"]: d.file },
                [],
                d.sourceExtra,
              )
            : undefined,
          el("target", { dev: d.target, bus: d.bus }, [], d.targetExtra),
          d.readonly ? el("readonly") : undefined,
          d.transient ? el("transient") : undefined,
          d.bootOrder !== undefined ? el("boot", { order: d.bootOrder }) : undefined,
        ],
        d.extra,
      );
    case "interface":
      return el(
        "interface",
        { type: d.type },
        [
          d.mac ? el("mac", { address: d.mac }, [], d.macExtra) : undefined,
          d.network !== undefined || d.sourceExtra
            ? el("source", { network: d.network, portgroup: d.portgroup }, [], d.sourceExtra)
            : undefined,
          d.model ? el("model", { type: d.model }, [], d.modelExtra) : undefined,
        ],
        d.extra,
      );
    case "serial":
    case "console":
      return el(
        d.kind,
        { type: d.type },
        [
          d.path !== undefined || d.sourceExtra ? el("source", { path: d.path }, [], d.sourceExtra) : undefined,
          d.targetType !== undefined || d.port !== undefined || d.targetExtra
            ? el("target", { type: d.targetType, port: d.port }, [], d.targetExtra)
            : undefined,
        ],
        d.extra,
      );
    case "video":
      return el("video", {}, [el("model", { type: d.model }, [], d.modelExtra)], d.extra);
    case "rng":
      return el(
        "rng",
        { model: d.model },
        [d.backend ? el("backend", { model: d.backend.model }, d.backend.source ?? []) : undefined],
        d.extra,
      );
    case "memballoon":
      return el("memballoon", { model: d.model }, [], d.extra);
    case "other":
      return d.node;
  }
}

/** The XML tree of a definition (`id`: the running domain's id, as dumpxml shows it). */
export function domainXmlTree(def: DomainDef, id?: number): XmlNode {
  const x = def.x86lab;
  const ours =
    x.mode || x.mmu || x.jit !== undefined || x.clock || x.extra
      ? el(
          META,
          {
            "xmlns:x86lab": X86LAB_NS,
            mode: x.mode,
            mmu: x.mmu,
            jit: x.jit === undefined ? undefined : x.jit ? "on" : "off",
            clock: x.clock,
          },
          [],
          x.extra,
        )
      : undefined;
  const os = def.os;
  return el(
    "domain",
    { type: def.type, id },
    [
      el("name", {}, def.name),
      def.uuid ? el("uuid", {}, def.uuid) : undefined,
      def.title !== undefined ? el("title", {}, def.title) : undefined,
      def.description !== undefined ? el("description", {}, def.description) : undefined,
      ours || def.metadata ? el("metadata", {}, [...(def.metadata ?? []), ours]) : undefined,
      memEl("memory", def.memoryKiB),
      memEl("currentMemory", def.currentMemoryKiB ?? def.memoryKiB),
      el("vcpu", def.vcpuAttrs ?? {}, def.vcpu),
      el(
        "os",
        {},
        [
          el("type", { arch: os.arch, machine: os.machine }, os.type),
          os.loader !== undefined ? el("loader", {}, os.loader) : undefined,
          os.kernel !== undefined ? el("kernel", {}, os.kernel) : undefined,
          os.initrd !== undefined ? el("initrd", {}, os.initrd) : undefined,
          os.cmdline !== undefined ? el("cmdline", {}, os.cmdline) : undefined,
          ...os.boot.map((dev) => el("boot", { dev })),
        ],
        os.extra,
      ),
      def.features ? el("features", {}, def.features) : undefined,
      def.cpu
        ? el(
            "cpu",
            { mode: def.cpu.mode, match: def.cpu.match },
            [def.cpu.model !== undefined ? el("model", {}, def.cpu.model) : undefined],
            def.cpu.extra,
          )
        : undefined,
      def.clock ? el("clock", { offset: def.clock.offset }, [], def.clock.extra) : undefined,
      def.onPoweroff ? el("on_poweroff", {}, def.onPoweroff) : undefined,
      def.onReboot ? el("on_reboot", {}, def.onReboot) : undefined,
      def.onCrash ? el("on_crash", {}, def.onCrash) : undefined,
      el(
        "devices",
        {},
        [def.emulator !== undefined ? el("emulator", {}, def.emulator) : undefined, ...def.devices.map(formatDevice)],
        def.devicesExtra,
      ),
    ],
    def.extra,
  );
}

/** A definition as libvirt's dumpxml writes one. */
export function formatDomainXml(def: DomainDef, opts: { id?: number } = {}): string {
  return formatXml(domainXmlTree(def, opts.id));
}
