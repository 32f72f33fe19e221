// The network's DNS server (dnsmasq's part again): A queries for the names of the network's
// hosts (DHCP leases with a hostname, static hosts, <dns><host>), bare or under the network's
// domain, are answered; other queries are forwarded upstream when the network may reach out, and
// refused when it may not. Queries that do not parse (short, a response, several questions,
// labels running past the end, compression in the question) are counted as garbage and dropped.

import { put16, u16 } from "./packet.js";

const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
const RCODE_REFUSED = 5;

export interface DnsQuestion {
  name: string;
  type: number;
  cls: number;
  /** Offset just past the question. */
  end: number;
}

/** The one question of a query, or undefined when the message is not a query we take. */
export function parseQuery(d: Uint8Array): DnsQuestion | undefined {
  if (d.length < 12 || d.length > 512) return undefined;
  if (d[2]! & 0x80) return undefined; // a response
  if (u16(d, 4) !== 1) return undefined; // exactly one question
  const labels: string[] = [];
  let i = 12;
  let total = 0;
  for (;;) {
    if (i >= d.length) return undefined;
    const len = d[i]!;
    if (len === 0) {
      i++;
      break;
    }
    if (len > 63) return undefined; // compression or a reserved label type
    if (i + 1 + len > d.length) return undefined;
    total += len + 1;
    if (total > 255) return undefined;
    labels.push(String.fromCharCode(...d.subarray(i + 1, i + 1 + len)).toLowerCase());
    i += 1 + len;
  }
  if (i + 4 > d.length) return undefined;
  return { name: labels.join("."), type: u16(d, i), cls: u16(d, i + 2), end: i + 4 };
}

function response(q: Uint8Array, question: DnsQuestion, rcode: number, answer?: number): Uint8Array {
  const r = new Uint8Array(question.end + (answer === undefined ? 0 : 16));
  r.set(q.subarray(0, question.end));
  r[2] = 0x80 | (q[2]! & 0x79) | 0x04; // QR, the query's opcode and RD, AA
  r[3] = 0x80 | rcode; // RA
  put16(r, 6, answer === undefined ? 0 : 1);
  put16(r, 8, 0);
  put16(r, 10, 0);
  if (answer !== undefined) {
    const a = question.end;
    // The name as a pointer to the question, A, IN, TTL 0 (dnsmasq's default for local names), 4.
    r.set([0xc0, 12, 0, TYPE_A, 0, CLASS_IN, 0, 0, 0, 0, 0, 4], a);
    r.set([(answer >>> 24) & 0xff, (answer >>> 16) & 0xff, (answer >>> 8) & 0xff, answer & 0xff], a + 12);
  }
  return r;
}

export type DnsResult = { reply: Uint8Array } | { forward: true } | undefined;

export class DnsServer {
  readonly counters = { queries: 0, local: 0, nxdomain: 0, forwarded: 0, refused: 0, garbage: 0 };

  constructor(
    /** The address of a local name (without the domain), or undefined. */
    private readonly lookup: (name: string) => number | undefined,
    private readonly domain: string | undefined,
    /** Whether queries for other names may go upstream. */
    private readonly canForward: boolean,
  ) {}

  handle(d: Uint8Array): DnsResult {
    const q = parseQuery(d);
    if (!q) {
      this.counters.garbage++;
      return undefined;
    }
    this.counters.queries++;
    if (((d[2]! >> 3) & 0x0f) !== 0) return { reply: response(d, q, RCODE_NOTIMP) };
    let name = q.name;
    const dom = this.domain?.toLowerCase();
    const inDomain = dom !== undefined && name.endsWith(`.${dom}`);
    if (inDomain) name = name.slice(0, -(dom!.length + 1));
    const ip = name.includes(".") ? undefined : this.lookup(name);
    if (ip !== undefined && q.cls === CLASS_IN) {
      this.counters.local++;
      // A local name with no record of the asked type: an empty answer (NOERROR).
      return { reply: response(d, q, 0, q.type === TYPE_A ? ip : undefined) };
    }
    if (inDomain || (!name.includes(".") && name !== "")) {
      // Names of this network (and bare names) never leave it (dnsmasq's domain-needed, local=).
      this.counters.nxdomain++;
      return { reply: response(d, q, RCODE_NXDOMAIN) };
    }
    if (this.canForward) {
      this.counters.forwarded++;
      return { forward: true };
    }
    this.counters.refused++;
    return { reply: response(d, q, RCODE_REFUSED) };
  }
}
