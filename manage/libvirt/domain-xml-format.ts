// A domain definition written back as libvirt's dumpxml writes it (domain-def.ts's shape, with
// the kept unknown elements and attributes in their places).

import { type DeviceDef, type DomainDef, META, X86LAB_NS } from "./domain-def.js";
import { el, formatXml, type XmlNode } from "./xml-tree.js";

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
