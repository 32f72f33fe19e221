// A domain definition as the project's command line (vmm/node/cli.ts, QEMU's spelling), the way
// libvirt turns domain XML into a qemu command line. Every element maps to a flag or is refused
// with a DomainXmlError naming it; the few that libvirt itself treats as hints (placement,
// addresses, cache modes, <emulator>, the PS/2 mouse every x86 domain gets) are accepted and
// listed in HINTS (docs/virsh.md says the same).

import type { CharDef, DiskDef, DomainDef, InterfaceDef, ModelDeviceDef } from "./domain-xml.js";
import { DomainXmlError } from "./domain-xml.js";
import type { XmlExtra, XmlNode } from "./xml-tree.js";

/** Where the running domain's sockets and the connection's objects are. */
export interface DomainPlaces {
  /** QMP's unix socket. */
  qmp: string;
  /** COM1's unix socket (the console). */
  console: string;
  /** The unix socket of a running network (net-start), or undefined if it is not active. */
  network?: (name: string) => string | undefined;
  /** A storage pool volume's path, or undefined if there is none. */
  volume?: (pool: string, volume: string) => string | undefined;
  /** -incoming: `unix:PATH` / `tcp:HOST:PORT` (live migration) or `file:PATH` (restore). */
  incoming?: string;
  /** -S: start with the CPU stopped. */
  paused?: boolean;
  /** -state-dir: where savevm keeps states when the disks cannot. */
  stateDir?: string;
  /** -loadvm NAME: start from a snapshot (snapshot-revert of a domain that is shut off). */
  loadvm?: string;
}

/** What libvirt documents as hints, accepted without effect (element or element@attribute). */
export const HINTS = [
  "<emulator> (this project is the emulator)",
  "<vcpu placement|cpuset> (one host thread runs the VM)",
  "<address> and <alias> on devices (PCI slots are given in device order)",
  "<disk><driver name|cache|io|discard|detect_zeroes> (writes go straight to the image file)",
  "<disk><source startupPolicy|index>",
  "<input type='mouse|tablet' bus='ps2'> (libvirt adds it to every x86 domain; the i8042 has a keyboard only)",
  "<input type='keyboard' bus='ps2'> (the machine has one)",
  "<controller type='pci|ide|virtio-serial'> and <controller type='usb' model='none'> (the i440FX has them; no USB)",
  "<clock><timer name='rtc|pit' tickpolicy>, any <timer present='no'>",
  "<rng><backend> (the device reads the host's crypto random source)",
  "<video><model type='none'> (the machine has its VGA anyway)",
  "<seclabel>, <pm>, <resource> (no host confinement, suspend-to-RAM or cgroups here)",
  "<features><vmport state='off'/> (there is none)",
] as const;

const bad = (where: string, problem: string) => new DomainXmlError(`${where}: ${problem}`);

const ADDRESSING = new Set(["address", "alias"]);

/** Refuses extra attributes/children except the named hint ones. */
function onlyHints(extra: XmlExtra | undefined, where: string, attrs: string[] = [], kids: string[] = []): void {
  for (const a of Object.keys(extra?.attrs ?? {}))
    if (!attrs.includes(a)) throw bad(where, `attribute ${a}= is not supported by this machine`);
  for (const c of extra?.children ?? [])
    if (!kids.includes(c.name) && !ADDRESSING.has(c.name))
      throw bad(`${where}<${c.name}>`, "is not supported by this machine");
}

/** The MiB of a KiB amount, for -m. */
function mib(kib: number, where: string): number {
  if (kib % 1024 !== 0) throw bad(where, `${kib} KiB is not a whole number of MiB (-m takes MiB)`);
  const m = kib / 1024;
  if (m < 16 || m > 3072) throw bad(where, `${m} MiB: this machine takes 16 MiB to 3 GiB`);
  return m;
}

function modeOf(def: DomainDef): string {
  if (def.x86lab.mode) return def.x86lab.mode;
  if (def.type === "kvm") return "hvm";
  if (def.type === "qemu") return "native";
  throw bad("<domain>", `type='${def.type}': use kvm (the hvm mode) or qemu (native)`);
}

const IDE_TARGETS = ["hda", "hdb", "hdc", "hdd"];

function diskArgs(d: DiskDef, n: number, places: DomainPlaces, where: string): string[] {
  onlyHints(d.extra, where, [], []);
  onlyHints(d.driverExtra, `${where}<driver>`, ["name", "cache", "io", "discard", "detect_zeroes"]);
  onlyHints(d.sourceExtra, `${where}<source>`, ["startupPolicy", "index"]);
  onlyHints(d.targetExtra, `${where}<target>`);
  if (d.device !== "disk" && d.device !== "cdrom")
    throw bad(where, `device='${d.device}': this machine has disks and CD-ROMs`);
  if (d.bootOrder !== undefined)
    throw bad(`${where}<boot>`, "per-device boot order is not supported: use <os><boot dev>");
  let file = d.file;
  if (d.type === "volume") {
    if (!d.pool || !d.volume) throw bad(`${where}<source>`, "give pool= and volume=");
    file = places.volume?.(d.pool, d.volume);
    if (file === undefined) throw bad(`${where}<source>`, `no volume '${d.volume}' in pool '${d.pool}'`);
  } else if (d.type !== "file" && d.type !== "block") {
    throw bad(where, `type='${d.type}': this machine has file, block and volume disks`);
  }
  if (file === undefined || file === "") throw bad(where, "no <source>: an empty drive is not supported");
  if (d.format !== undefined && d.format !== "raw" && d.format !== "qcow2")
    throw bad(`${where}<driver>`, `type='${d.format}': this machine reads raw and qcow2`);
  const bus = d.bus ?? (d.target.startsWith("vd") ? "virtio" : d.target.startsWith("hd") ? "ide" : undefined);
  if (bus !== "ide" && bus !== "virtio")
    throw bad(`${where}<target>`, `bus='${d.bus ?? ""}' (dev='${d.target}'): this machine has ide and virtio`);
  if (d.device === "cdrom" && bus !== "ide") throw bad(`${where}<target>`, "a CD-ROM sits on bus='ide'");
  const opts = [`file=${file}`, `if=${bus}`];
  if (d.format) opts.push(`format=${d.format}`);
  if (d.device === "cdrom") opts.push("media=cdrom");
  if (bus === "ide") {
    const index = IDE_TARGETS.indexOf(d.target);
    if (index < 0) throw bad(`${where}<target>`, `dev='${d.target}': IDE targets are hda, hdb, hdc, hdd`);
    opts.push(`index=${index}`);
  } else if (!/^vd[a-z]+$/.test(d.target)) {
    throw bad(`${where}<target>`, `dev='${d.target}': virtio targets are vda, vdb, ...`);
  }
  if (d.readonly && d.device !== "cdrom") opts.push("readonly=on");
  // libvirt writes to the image; <transient/> keeps writes aside until the domain stops.
  opts.push(`snapshot=${d.transient ? "on" : "off"}`);
  opts.push(`id=disk${n}`);
  if (file.includes(",")) throw bad(`${where}<source>`, `'${file}': a path with a comma cannot be passed to -drive`);
  return ["-drive", opts.join(",")];
}

function nicArgs(i: InterfaceDef, n: number, places: DomainPlaces, where: string): string[] {
  if (i.type !== "network" && i.type !== "user")
    throw bad(where, `type='${i.type}': this machine has network and user interfaces`);
  onlyHints(i.extra, where);
  onlyHints(i.sourceExtra, `${where}<source>`);
  onlyHints(i.macExtra, `${where}<mac>`);
  onlyHints(i.modelExtra, `${where}<model>`);
  const id = `net${n}`;
  const out: string[] = [];
  if (i.type === "network") {
    if (i.portgroup !== undefined)
      throw bad(`${where}<source>`, "portgroup= is not supported for networks in their own process");
    const path = places.network?.(i.network!);
    if (path === undefined) throw bad(`${where}<source>`, `network '${i.network}' is not active (net-start it)`);
    out.push("-netdev", `stream,id=${id},server=off,addr.type=unix,addr.path=${path}`);
  } else if (i.type === "user") {
    out.push("-netdev", `user,id=${id}`);
  } else throw bad(where, `type='${i.type}': this machine has network and user interfaces`);
  const model = i.model ?? "virtio";
  const driver = model === "virtio" ? "virtio-net-pci" : model === "ne2k_pci" ? "ne2k_pci" : undefined;
  if (!driver) throw bad(`${where}<model>`, `type='${model}': this machine has virtio and ne2k_pci`);
  out.push("-device", `${driver},netdev=${id}${i.mac ? `,mac=${i.mac}` : ""}`);
  return out;
}

/** COM1 from a <serial> (or a <console> on the serial target). */
function serialArgs(c: CharDef, places: DomainPlaces, where: string): string[] {
  onlyHints(c.extra, where);
  onlyHints(c.sourceExtra, `${where}<source>`, c.type === "unix" ? ["mode"] : []);
  onlyHints(c.targetExtra, `${where}<target>`, [], ["model"]);
  if ((c.port ?? 0) !== 0) throw bad(`${where}<target>`, `port='${c.port}': COM1 (port 0) is the one serial port here`);
  switch (c.type) {
    case "pty":
      return ["-serial", `unix:${places.console},server,wait=off`];
    case "file":
      if (!c.path) throw bad(`${where}<source>`, "path= is missing");
      return ["-serial", `file:${c.path}`];
    case "null":
      return ["-serial", "none"];
    case "unix":
      if (!c.path) throw bad(`${where}<source>`, "path= is missing");
      if (c.sourceExtra?.attrs?.["mode"] === "connect")
        throw bad(`${where}<source>`, "mode='connect': this machine listens only (mode='bind')");
      return ["-serial", `unix:${c.path},server,wait=off`];
    default:
      throw bad(where, `type='${c.type}': this machine has pty, file, null and unix`);
  }
}

/** A virtio console (hvc0) on a file or nothing. */
function virtioConsoleArgs(c: CharDef, n: number, where: string): string[] {
  onlyHints(c.extra, where);
  onlyHints(c.sourceExtra, `${where}<source>`);
  onlyHints(c.targetExtra, `${where}<target>`);
  const id = `console${n}`;
  let chardev: string;
  if (c.type === "file") {
    if (!c.path) throw bad(`${where}<source>`, "path= is missing");
    chardev = `file,id=${id},path=${c.path}`;
  } else if (c.type === "null") chardev = `null,id=${id}`;
  else
    throw bad(
      where,
      `type='${c.type}' on a virtio target: this machine has file and null there (use the serial console for a pty)`,
    );
  return ["-chardev", chardev, "-device", "virtio-serial-pci", "-device", `virtconsole,chardev=${id}`];
}

function modelDeviceArgs(d: ModelDeviceDef, where: string): string[] {
  onlyHints(d.extra, where, [], d.kind === "rng" ? [] : []);
  if (d.kind === "memballoon") {
    if (d.model === "none") return [];
    if (d.model !== "virtio") throw bad(where, `model='${d.model}': this machine has virtio (or none)`);
    return ["-device", "virtio-balloon-pci"];
  }
  if (d.kind === "rng") {
    if (d.model !== "virtio") throw bad(where, `model='${d.model}': this machine has virtio`);
    if (d.backend?.model !== undefined && d.backend.model !== "random" && d.backend.model !== "builtin")
      throw bad(`${where}<backend>`, `model='${d.backend.model}': this machine has random and builtin`);
    return ["-device", "virtio-rng-pci"];
  }
  onlyHints(d.modelExtra, `${where}<model>`, ["vram", "heads", "primary"]);
  if (d.model !== "vga" && d.model !== "none")
    throw bad(`${where}<model>`, `type='${d.model}': this machine has a VGA (text mode)`);
  return [];
}

function otherDevice(n: XmlNode, where: string): void {
  const a = n.attrs ?? {};
  if (n.name === "controller") {
    if (["pci", "ide", "virtio-serial"].includes(a["type"] ?? "")) return;
    if (a["type"] === "usb" && a["model"] === "none") return;
    throw bad(
      where,
      `type='${a["type"] ?? ""}': this machine has pci, ide and virtio-serial controllers (usb only as model='none')`,
    );
  }
  if (n.name === "input" && (a["bus"] ?? "ps2") === "ps2" && ["mouse", "keyboard", "tablet"].includes(a["type"] ?? ""))
    return;
  if (n.name === "graphics") throw bad(where, "there is no graphical display: use the serial console (virsh console)");
  throw bad(where, "is not a device this machine has");
}

function featureCheck(features: XmlNode[]): void {
  for (const f of features) {
    const where = `<domain><features><${f.name}>`;
    if (f.name === "vmport" && f.attrs?.["state"] === "off") continue;
    if (f.name === "acpi")
      throw bad(where, "this machine has no ACPI (shutdown powers it off without asking the guest): remove it");
    if (f.name === "apic") throw bad(where, "this machine has the i8259 PICs, no APIC: remove it");
    if (f.name === "pae")
      throw bad(
        where,
        "the CPU has no PAE (CPUID family 6 model 3: FPU VME DE PSE TSC MSR CX8 SEP PGE CMOV): remove it",
      );
    throw bad(where, "is not a feature this machine has");
  }
}

function clockArgs(def: DomainDef): string[] {
  const c = def.clock;
  if (!c) return [];
  for (const t of c.extra?.children ?? []) {
    const where = `<domain><clock><${t.name}${t.attrs?.["name"] ? ` name='${t.attrs["name"]}'` : ""}>`;
    if (t.name !== "timer") throw bad(where, "is not supported by this machine");
    if (t.attrs?.["present"] === "no") continue;
    const name = t.attrs?.["name"] ?? "";
    const others = Object.keys(t.attrs ?? {}).filter((k) => k !== "name" && k !== "tickpolicy" && k !== "present");
    if (["rtc", "pit"].includes(name) && others.length === 0 && !t.children) continue;
    if (name === "kvmclock" && others.length === 0) continue;
    throw bad(where, "is not a timer setting this machine honours (rtc/pit tickpolicy, kvmclock, present='no')");
  }
  if (c.offset !== "utc" && c.offset !== "localtime")
    throw bad("<domain><clock>", `offset='${c.offset}': this machine has utc and localtime`);
  onlyHints({ attrs: c.extra?.attrs }, "<domain><clock>");
  return ["-rtc", `base=${c.offset}`];
}

function osArgs(def: DomainDef, hasDisk: boolean): string[] {
  const os = def.os;
  const out: string[] = [];
  onlyHints(os.extra, "<domain><os>", [], ["bootmenu"]);
  if (os.type !== "hvm") throw bad("<domain><os><type>", `'${os.type}': this machine runs hvm guests`);
  if (os.arch !== undefined && !["i686", "i386"].includes(os.arch))
    throw bad("<domain><os><type>", `arch='${os.arch}': the CPU is 32-bit (i686)`);
  if (os.machine !== undefined && os.machine !== "pc" && !os.machine.startsWith("pc-i440fx"))
    throw bad("<domain><os><type>", `machine='${os.machine}': this machine is the i440FX pc`);
  if (os.loader !== undefined) out.push("-bios", os.loader);
  if (os.kernel !== undefined) {
    out.push("-kernel", os.kernel);
    if (os.initrd !== undefined) out.push("-initrd", os.initrd);
    if (os.cmdline !== undefined) out.push("-append", os.cmdline);
  } else {
    if (os.initrd !== undefined || os.cmdline !== undefined)
      throw bad("<domain><os>", "<initrd> and <cmdline> need a <kernel>");
    if (!hasDisk) throw bad("<domain><os>", "no <kernel> and no disk to boot from");
  }
  if (os.boot.length > 0 && os.kernel === undefined) {
    const letters = os.boot.map((b) => ({ hd: "c", cdrom: "d", network: "n", fd: "a" })[b] ?? "");
    out.push("-boot", `order=${letters.join("")}`);
  }
  return out;
}

/**
 * The flags of vmm/node/cli.ts that run this domain with QMP and COM1 on the given sockets.
 * Throws DomainXmlError naming the first element the machine cannot honour.
 */
export function domainArgv(def: DomainDef, places: DomainPlaces): string[] {
  const argv: string[] = [];
  const mode = modeOf(def);
  argv.push("--mode", mode);
  if (def.x86lab.mmu) argv.push("--mmu", def.x86lab.mmu);
  if (def.x86lab.jit !== undefined) argv.push("--jit", def.x86lab.jit ? "on" : "off");
  if (def.x86lab.clock) argv.push("--clock", def.x86lab.clock);
  onlyHints(def.x86lab.extra, "<domain><metadata><x86lab:machine>");
  argv.push("-m", String(mib(def.memoryKiB, "<domain><memory>")));
  if (def.currentMemoryKiB !== undefined && def.currentMemoryKiB !== def.memoryKiB)
    throw bad("<domain><currentMemory>", "differs from <memory>: this machine cannot start with its balloon inflated");
  if (def.vcpu !== 1) throw bad("<domain><vcpu>", `${def.vcpu}: this machine has one CPU`);
  for (const k of Object.keys(def.vcpuAttrs ?? {}))
    if (k !== "placement" && k !== "cpuset" && !(k === "current" && def.vcpuAttrs?.[k] === "1"))
      throw bad("<domain><vcpu>", `${k}= is not supported`);
  if (def.features) featureCheck(def.features);
  if (def.cpu) {
    const where = "<domain><cpu>";
    if (def.cpu.mode !== undefined && !["host-model", "host-passthrough", "maximum", "custom"].includes(def.cpu.mode))
      throw bad(where, `mode='${def.cpu.mode}' is not a libvirt CPU mode`);
    if (def.cpu.model !== undefined)
      throw bad(
        `${where}<model>`,
        `'${def.cpu.model}': the CPU is fixed (family 6 model 3); use mode='host-passthrough' or no <cpu>`,
      );
    for (const c of def.cpu.extra?.children ?? []) {
      const a = c.attrs ?? {};
      const one = (k: string) => a[k] === undefined || a[k] === "1";
      if (c.name === "topology" && one("sockets") && one("cores") && one("threads") && one("dies")) continue;
      throw bad(`${where}<${c.name}>`, "this machine has one CPU with fixed features");
    }
    onlyHints({ attrs: def.cpu.extra?.attrs }, where, ["check", "migratable"]);
  }
  argv.push(...clockArgs(def));
  if ((def.onPoweroff ?? "destroy") !== "destroy")
    throw bad("<domain><on_poweroff>", `${def.onPoweroff}: the machine's process ends when it powers off (destroy)`);
  if (def.onReboot === "destroy") argv.push("-no-reboot");
  else if ((def.onReboot ?? "restart") !== "restart")
    throw bad("<domain><on_reboot>", `${def.onReboot}: use restart or destroy`);
  if ((def.onCrash ?? "destroy") !== "destroy")
    throw bad("<domain><on_crash>", `${def.onCrash}: the process ends on a crash (destroy)`);
  const disks = def.devices.filter((d): d is DiskDef => d.kind === "disk");
  argv.push(...osArgs(def, disks.length > 0));
  let serial: string[] | undefined;
  const counts: Record<string, number> = {};
  let nic = 0;
  let disk = 0;
  let vcon = 0;
  for (const d of def.devices) {
    const name = d.kind === "other" ? d.node.name : d.kind;
    const i = counts[name] ?? 0;
    counts[name] = i + 1;
    const where = `<domain><devices><${name}>${i > 0 ? ` (#${i + 1})` : ""}`;
    if (d.kind === "disk") argv.push(...diskArgs(d, disk++, places, where));
    else if (d.kind === "interface") argv.push(...nicArgs(d, nic++, places, where));
    else if (d.kind === "serial" || (d.kind === "console" && (d.targetType ?? "serial") === "serial")) {
      const s = serialArgs(d, places, where);
      // libvirt writes the first serial port twice: as <serial> and as <console target='serial'>.
      if (serial && (d.kind === "serial" || serial.join(" ") !== s.join(" ")))
        throw bad(where, "a second serial port: this machine gives COM1 only");
      serial = s;
    } else if (d.kind === "console") {
      if (d.targetType !== "virtio") throw bad(`${where}<target>`, `type='${d.targetType}': use serial or virtio`);
      argv.push(...virtioConsoleArgs(d, vcon++, where));
    } else if (d.kind === "other") otherDevice(d.node, where);
    else if (d.kind === "memballoon" || d.kind === "rng" || d.kind === "video") argv.push(...modelDeviceArgs(d, where));
  }
  onlyHints(def.devicesExtra, "<domain><devices>");
  argv.push(...(serial ?? ["-serial", "none"]));
  for (const c of def.extra?.children ?? []) {
    if (["seclabel", "pm", "resource"].includes(c.name)) continue;
    throw bad(`<domain><${c.name}>`, "is not supported by this machine");
  }
  for (const a of Object.keys(def.extra?.attrs ?? {})) throw bad("<domain>", `attribute ${a}= is not supported`);
  argv.push("-monitor", "none", "-qmp", `unix:${places.qmp},server,wait=off`);
  if (places.stateDir) argv.push("-state-dir", places.stateDir);
  if (places.paused) argv.push("-S");
  if (places.incoming) argv.push("-incoming", places.incoming);
  if (places.loadvm) argv.push("-loadvm", places.loadvm);
  return argv;
}
