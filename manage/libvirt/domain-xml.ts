// libvirt's domain XML (formatdomain) read into a DomainDef (domain-def.ts; written back by
// domain-xml-format.ts, re-exported here): a DomainDef is a plain JSON-able object with
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
import {
  type CharDef,
  type DiskDef,
  type DomainDef,
  DomainXmlError,
  type InterfaceDef,
  META,
  type ModelDeviceDef,
  type OsDef,
  UNITS,
  X86LAB_NS,
  type X86labDef,
} from "./domain-def.js";
import { parseXml, Reader, type XmlNode, XmlSyntaxError } from "./xml-tree.js";

export * from "./domain-def.js";
export { domainXmlTree, formatDomainXml } from "./domain-xml-format.js";

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
