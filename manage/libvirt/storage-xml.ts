// libvirt's storage pool and volume XML (formatstorage) for directories of images: a pool of
// type 'dir' is a directory; its volumes are raw or qcow2 files in it. Unknown elements and
// attributes are kept (as in domain-xml.ts); what this machine does not have (other pool types,
// other formats) is refused naming the element.

import { UNITS } from "./domain-xml.js";
import { el, formatXml, parseXml, Reader, type XmlExtra, type XmlNode, XmlSyntaxError } from "./xml-tree.js";

export class StorageXmlError extends Error {}

export interface PoolDef {
  type: "dir";
  name: string;
  uuid?: string;
  /** <target><path>: the directory. */
  path: string;
  targetExtra?: XmlExtra;
  extra?: XmlExtra;
}

export interface VolumeDef {
  name: string;
  capacityBytes: number;
  /** <allocation>: bytes to preallocate (raw: written as zeros; absent: sparse). */
  allocationBytes?: number;
  format: "raw" | "qcow2";
  /** <backingStore><path>: a qcow2 volume over another image. */
  backingPath?: string;
  backingFormat?: "raw" | "qcow2";
  extra?: XmlExtra;
}

const fail = (m: string) => new StorageXmlError(m);

/** A scaled integer in bytes (`<capacity unit='GiB'>1</capacity>`; default bytes). */
export function scaledBytes(node: XmlNode | undefined, where: string): number | undefined {
  if (!node) return undefined;
  const unit = node.attrs?.["unit"] ?? "bytes";
  const scale = UNITS[unit];
  if (scale === undefined)
    throw new StorageXmlError(`${where}: unit='${unit}' is not a unit (bytes, KiB, MiB, GiB, TiB, KB, MB, GB, TB)`);
  const text = (node.text ?? "").trim();
  if (!/^\d+$/.test(text)) throw new StorageXmlError(`${where}: '${text}' is not a whole number`);
  return Number(text) * scale;
}

function root(xml: string, name: string): Reader {
  let node: XmlNode;
  try {
    node = parseXml(xml, `${name} XML`);
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw new StorageXmlError(e.message);
    throw e;
  }
  if (node.name !== name) throw new StorageXmlError(`the root element is <${node.name}>, not <${name}>`);
  return new Reader(node, `<${name}>`, fail);
}

export function parsePoolXml(xml: string): PoolDef {
  const r = root(xml, "pool");
  const type = r.attr("type");
  if (type !== "dir")
    throw new StorageXmlError(`<pool>: type='${type ?? ""}': this machine has dir pools (a directory of images)`);
  const name = r.text("name");
  if (!name) throw new StorageXmlError("<pool>: <name> is missing");
  const target = r.one("target");
  const tr = target ? r.child(target) : undefined;
  const path = tr?.text("path");
  if (!path) throw new StorageXmlError("<pool><target>: <path> is missing");
  // Sizes are reported, not defined: dropped as libvirt drops them on define.
  r.all("capacity");
  r.all("allocation");
  r.all("available");
  const source = r.one("source");
  if (source && (source.children?.length || source.attrs))
    throw new StorageXmlError("<pool><source>: a dir pool has no source");
  const def: PoolDef = { type: "dir", name, uuid: r.text("uuid"), path, targetExtra: tr?.rest(), extra: r.rest() };
  return JSON.parse(JSON.stringify(def)) as PoolDef;
}

export function formatPoolXml(
  def: PoolDef,
  sizes?: { capacity: number; allocation: number; available: number },
): string {
  const bytes = (n: string, v: number) => el(n, { unit: "bytes" }, v);
  return formatXml(
    el(
      "pool",
      { type: "dir" },
      [
        el("name", {}, def.name),
        def.uuid ? el("uuid", {}, def.uuid) : undefined,
        sizes ? bytes("capacity", sizes.capacity) : undefined,
        sizes ? bytes("allocation", sizes.allocation) : undefined,
        sizes ? bytes("available", sizes.available) : undefined,
        el("source"),
        el("target", {}, [el("path", {}, def.path)], def.targetExtra),
      ],
      def.extra,
    ),
  );
}

function format(v: string | undefined, where: string): "raw" | "qcow2" {
  const f = v ?? "raw";
  if (f !== "raw" && f !== "qcow2") throw new StorageXmlError(`${where}: type='${f}': this machine has raw and qcow2`);
  return f;
}

export function parseVolumeXml(xml: string): VolumeDef {
  const r = root(xml, "volume");
  const type = r.attr("type") ?? "file";
  if (type !== "file") throw new StorageXmlError(`<volume>: type='${type}': volumes here are files`);
  const name = r.text("name");
  if (!name) throw new StorageXmlError("<volume>: <name> is missing");
  if (name.includes("/")) throw new StorageXmlError(`<volume><name>: '${name}' contains '/'`);
  const capacity = scaledBytes(r.one("capacity"), "<volume><capacity>");
  if (capacity === undefined || capacity <= 0) throw new StorageXmlError("<volume>: <capacity> is missing or zero");
  const def: VolumeDef = { name, capacityBytes: capacity, format: "raw" };
  def.allocationBytes = scaledBytes(r.one("allocation"), "<volume><allocation>");
  r.all("key");
  const target = r.one("target");
  if (target) {
    const tr = r.child(target);
    tr.all("path"); // where the pool puts it decides
    const f = tr.one("format");
    def.format = format(f?.attrs?.["type"], "<volume><target><format>");
    const rest = tr.rest();
    if (rest)
      throw new StorageXmlError(
        `<volume><target>: ${rest.children?.map((c) => `<${c.name}>`).join(", ") ?? "attributes"} not supported`,
      );
  }
  const backing = r.one("backingStore");
  if (backing) {
    const br = r.child(backing);
    def.backingPath = br.text("path");
    const f = br.one("format");
    if (f) def.backingFormat = format(f.attrs?.["type"], "<volume><backingStore><format>");
    if (!def.backingPath) throw new StorageXmlError("<volume><backingStore>: <path> is missing");
    if (def.format !== "qcow2") throw new StorageXmlError("<volume><backingStore>: a backing store needs format qcow2");
  }
  def.extra = r.rest();
  return JSON.parse(JSON.stringify(def)) as VolumeDef;
}

export function formatVolumeXml(def: VolumeDef, path: string, allocation: number): string {
  return formatXml(
    el(
      "volume",
      { type: "file" },
      [
        el("name", {}, def.name),
        el("key", {}, path),
        el("capacity", { unit: "bytes" }, def.capacityBytes),
        el("allocation", { unit: "bytes" }, allocation),
        el("target", {}, [el("path", {}, path), el("format", { type: def.format })]),
        def.backingPath
          ? el("backingStore", {}, [
              el("path", {}, def.backingPath),
              def.backingFormat ? el("format", { type: def.backingFormat }) : undefined,
            ])
          : undefined,
      ],
      def.extra,
    ),
  );
}
