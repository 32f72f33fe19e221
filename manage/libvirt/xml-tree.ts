// XML documents as a plain tree (element name, attributes, children, text) that is JSON-able,
// read with fast-xml-parser (order kept) and written back the way libvirt writes its XML: two
// spaces of indent, single-quoted attributes, empty elements closed in place. The domain, pool
// and volume readers take the elements they know out of this tree and keep the rest as XmlNodes,
// so what they do not know comes back out unchanged.

import { XMLParser, XMLValidator } from "fast-xml-parser";

export interface XmlNode {
  name: string;
  attrs?: Record<string, string>;
  children?: XmlNode[];
  /** Text content (elements with child elements keep only those; mixed content is not libvirt's). */
  text?: string;
}

/** What a reader did not take from an element: its other attributes and child elements. */
export interface XmlExtra {
  attrs?: Record<string, string>;
  children?: XmlNode[];
}

export class XmlSyntaxError extends Error {}

type Ordered = Record<string, unknown>;

function toNode(entry: Ordered): XmlNode | string | undefined {
  for (const key of Object.keys(entry)) {
    if (key === ":@") continue;
    if (key === "#text") return String(entry[key]);
    const node: XmlNode = { name: key };
    const rawAttrs = entry[":@"] as Record<string, unknown> | undefined;
    if (rawAttrs) {
      node.attrs = {};
      for (const [k, v] of Object.entries(rawAttrs)) node.attrs[k] = String(v);
    }
    const kids: XmlNode[] = [];
    let text = "";
    for (const c of (entry[key] as Ordered[]) ?? []) {
      const n = toNode(c);
      if (typeof n === "string") text += n;
      else if (n) kids.push(n);
    }
    if (kids.length > 0) node.children = kids;
    else if (text !== "") node.text = text;
    return node;
  }
  return undefined;
}

/** Parses a document and returns its root element; not well-formed XML names the line and column. */
export function parseXml(xml: string, what: string): XmlNode {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new XmlSyntaxError(`${what}: not well-formed XML at line ${line}, column ${col}: ${msg}`);
  }
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "",
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
  });
  const doc = parser.parse(xml) as Ordered[];
  const roots = doc.map(toNode).filter((n): n is XmlNode => typeof n === "object");
  if (roots.length !== 1) throw new XmlSyntaxError(`${what}: expected one root element, found ${roots.length}`);
  return roots[0]!;
}

const escapeText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const escapeAttr = (s: string) => escapeText(s).replace(/'/g, "&apos;");

/** Writes a tree as libvirt writes its XML. */
export function formatXml(node: XmlNode, indent = ""): string {
  const attrs = Object.entries(node.attrs ?? {})
    .map(([k, v]) => ` ${k}='${escapeAttr(v)}'`)
    .join("");
  const open = `${indent}<${node.name}${attrs}`;
  if (node.children && node.children.length > 0) {
    const inner = node.children.map((c) => formatXml(c, `${indent}  `)).join("");
    return `${open}>\n${inner}${indent}</${node.name}>\n`;
  }
  if (node.text !== undefined && node.text !== "") return `${open}>${escapeText(node.text)}</${node.name}>\n`;
  return `${open}/>\n`;
}

/** Builds an element, leaving out attributes whose value is undefined and children that are. */
export function el(
  name: string,
  attrs: Record<string, string | number | undefined> = {},
  content?: (XmlNode | undefined)[] | string | number,
  extra?: XmlExtra,
): XmlNode {
  const node: XmlNode = { name };
  const a: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a[k] = String(v);
  for (const [k, v] of Object.entries(extra?.attrs ?? {})) if (!(k in a)) a[k] = v;
  if (Object.keys(a).length > 0) node.attrs = a;
  if (typeof content === "string" || typeof content === "number") node.text = String(content);
  else {
    const kids = [...(content ?? []).filter((c): c is XmlNode => c !== undefined), ...(extra?.children ?? [])];
    if (kids.length > 0) node.children = kids;
  }
  return node;
}

/**
 * A reader's view of one element: it takes attributes and children by name; `rest()` returns
 * what was not taken (kept for the round trip).
 */
export class Reader {
  private readonly takenAttrs = new Set<string>();
  private readonly takenKids = new Set<XmlNode>();

  constructor(
    readonly node: XmlNode,
    /** Where this element is, for messages: `<domain><devices><disk>` etc. */
    readonly where: string,
    /** Makes the error a bad element throws (the document kind's own class). */
    readonly fail: (message: string) => Error = (m) => new Error(m),
  ) {}

  attr(name: string): string | undefined {
    this.takenAttrs.add(name);
    return this.node.attrs?.[name];
  }

  /** All children with this name, taken. */
  all(name: string): XmlNode[] {
    const found = (this.node.children ?? []).filter((c) => c.name === name);
    for (const c of found) this.takenKids.add(c);
    return found;
  }

  /** The one child with this name (a second one is an error), taken. */
  one(name: string): XmlNode | undefined {
    const found = this.all(name);
    if (found.length > 1) throw this.fail(`${this.where}: <${name}> given ${found.length} times; give it once`);
    return found[0];
  }

  /** Text of the one child with this name. */
  text(name: string): string | undefined {
    const c = this.one(name);
    return c === undefined ? undefined : (c.text ?? "").trim();
  }

  /** A child reader. */
  child(node: XmlNode, where = `${this.where}<${node.name}>`): Reader {
    return new Reader(node, where, this.fail);
  }

  /** What was not taken; undefined when everything was. */
  rest(): XmlExtra | undefined {
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.node.attrs ?? {})) if (!this.takenAttrs.has(k)) attrs[k] = v;
    const children = (this.node.children ?? []).filter((c) => !this.takenKids.has(c));
    const out: XmlExtra = {};
    if (Object.keys(attrs).length > 0) out.attrs = attrs;
    if (children.length > 0) out.children = children;
    return out.attrs || out.children ? out : undefined;
  }
}
