// Guest HTTP through the page's fetch: the bytes a guest writes on a TCP connection to port 80
// are read as one HTTP/1.x request (request line, headers, a Content-Length body), the request
// is made with fetch, and the answer goes back to the guest as an HTTP/1.1 response that ends
// with the connection (Connection: close, the body streamed as fetch delivers it, no length).
// fetch has already undone any Content-Encoding and Transfer-Encoding, so those headers are left
// out. What fetch refuses (a cross-origin server that does not allow it by CORS, a network
// error) reaches the guest as "502 Bad Gateway" with the reason in the body: a page can fetch
// only what the far server allows a page to read.

import type { OutsideStream } from "./outside.js";

/** Request headers larger than this get "431" (a guest cannot make the host buffer without bound). */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Request bodies larger than this get "413". */
export const MAX_BODY_BYTES = 16 << 20;

/** Headers fetch would refuse or ignore, or that belong to the guest's own connection. */
const DROPPED_REQUEST = new Set([
  "host",
  "connection",
  "keep-alive",
  "content-length",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "expect",
  "proxy-connection",
  "accept-encoding",
]);
const DROPPED_RESPONSE = new Set([
  "connection",
  "keep-alive",
  "content-length",
  "content-encoding",
  "transfer-encoding",
]);

export interface ParsedRequest {
  method: string;
  /** The request target as the guest wrote it (origin form "/path" or absolute "http://h/p"). */
  target: string;
  headers: [string, string][];
  host: string | undefined;
  body: Uint8Array;
}

/** A request parsed from `buf`, "incomplete", or an error status with its reason. */
export function parseRequest(buf: Uint8Array): ParsedRequest | "incomplete" | { status: number; reason: string } {
  let end = -1;
  for (let i = 3; i < buf.length; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
      end = i + 1;
      break;
    }
  }
  if (end < 0) {
    return buf.length > MAX_HEADER_BYTES ? { status: 431, reason: "request headers too large" } : "incomplete";
  }
  const lines = new TextDecoder("latin1").decode(buf.subarray(0, end - 4)).split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? "");
  if (!m)
    return { status: 400, reason: `not an HTTP/1.x request line: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}` };
  const headers: [string, string][] = [];
  let length = 0;
  let host: string | undefined;
  for (const line of lines.slice(1)) {
    const c = line.indexOf(":");
    if (c <= 0) return { status: 400, reason: `malformed header line: ${JSON.stringify(line.slice(0, 80))}` };
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    if (name === "content-length") {
      if (!/^\d+$/.test(value)) return { status: 400, reason: "bad Content-Length" };
      length = Number(value);
    } else if (name === "transfer-encoding") {
      return { status: 501, reason: "chunked request bodies are not supported; send a Content-Length" };
    } else if (name === "host") host = value;
    if (!DROPPED_REQUEST.has(name)) headers.push([name, value]);
  }
  if (length > MAX_BODY_BYTES) return { status: 413, reason: `request body over ${MAX_BODY_BYTES} bytes` };
  if (buf.length < end + length) return "incomplete";
  return { method: m[1]!, target: m[2]!, headers, host, body: buf.slice(end, end + length) };
}

const encoder = new TextEncoder();

function statusResponse(status: number, reason: string, detail: string): Uint8Array {
  const body = encoder.encode(`x86lab: ${detail}\n`);
  return encoder.encode(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${new TextDecoder().decode(body)}`,
  );
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  502: "Bad Gateway",
};

export interface FetchHttpCounters {
  requests: number;
  /** Requests fetch could not make (the guest got 502), and requests refused before fetch (4xx, 501). */
  failed: number;
  rejected: number;
}

/**
 * One guest TCP connection to port 80 of `ip`, answered through `fetchFn`. `urlFor` turns the
 * request's address (Host header, else `ip`) and path into the URL to fetch.
 */
export function fetchHttpStream(
  ip: string,
  fetchFn: typeof fetch,
  urlFor: (host: string, path: string) => string,
  counters: FetchHttpCounters,
  onFailure: (message: string) => void,
): OutsideStream {
  let buf = new Uint8Array(0);
  let started = false;
  let closed = false;
  let paused = false;
  let wake: (() => void) | undefined;
  const abort = new AbortController();
  const s: OutsideStream = {
    write(data) {
      if (started || closed) return true;
      const next = new Uint8Array(buf.length + data.length);
      next.set(buf, 0);
      next.set(data, buf.length);
      buf = next;
      const r = parseRequest(buf);
      if (r === "incomplete") return true;
      started = true;
      if ("status" in r) {
        counters.rejected++;
        finish(statusResponse(r.status, REASONS[r.status] ?? "Error", r.reason));
      } else void run(r);
      return true;
    },
    end() {},
    destroy() {
      closed = true;
      abort.abort();
      wake?.();
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      wake?.();
    },
    onConnect: undefined,
    onData: undefined,
    onEnd: undefined,
    onError: undefined,
    onDrain: undefined,
  };
  // The guest's SYN is answered at once: the request decides where fetch goes.
  queueMicrotask(() => s.onConnect?.());

  function finish(last?: Uint8Array): void {
    if (closed) return;
    if (last) s.onData?.(last);
    closed = true;
    s.onEnd?.();
  }

  async function run(r: ParsedRequest): Promise<void> {
    counters.requests++;
    const absolute = /^https?:\/\/([^/]+)(\/.*)?$/i.exec(r.target);
    const host = absolute ? absolute[1]! : (r.host ?? ip);
    const path = absolute ? (absolute[2] ?? "/") : r.target;
    const url = urlFor(host, path.startsWith("/") ? path : `/${path}`);
    let res: Response;
    try {
      res = await fetchFn(url, {
        method: r.method,
        headers: r.headers,
        body: r.method === "GET" || r.method === "HEAD" ? undefined : (r.body as BodyInit),
        signal: abort.signal,
        redirect: "follow",
      });
    } catch (e) {
      if (closed) return;
      counters.failed++;
      const why =
        e instanceof Error ? `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ""}` : String(e);
      const message = `the page could not fetch ${url}: ${why} (a page reads only what the server allows by CORS)`;
      onFailure(message);
      finish(statusResponse(502, "Bad Gateway", message));
      return;
    }
    let head = `HTTP/1.1 ${res.status} ${res.statusText || "OK"}\r\n`;
    res.headers.forEach((value, name) => {
      if (!DROPPED_RESPONSE.has(name.toLowerCase())) head += `${name}: ${value}\r\n`;
    });
    s.onData?.(encoder.encode(`${head}Connection: close\r\n\r\n`));
    if (!res.body || r.method === "HEAD") {
      finish();
      return;
    }
    const reader = res.body.getReader();
    try {
      for (;;) {
        while (paused && !closed) await new Promise<void>((ok) => (wake = ok));
        if (closed) return;
        const { done, value } = await reader.read();
        if (done) break;
        if (!closed && value.length > 0) s.onData?.(value);
      }
      finish();
    } catch (e) {
      if (closed) return;
      closed = true;
      counters.failed++;
      onFailure(`${url}: the body broke off: ${e instanceof Error ? e.message : String(e)}`);
      s.onError?.("body broke off");
    }
  }
  return s;
}
