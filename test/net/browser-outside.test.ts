// The NAT's way out from a page (vmm/net/browser-outside.ts), driven in Node: guest HTTP to port
// 80 through fetch (here Node's own fetch against a local server standing for the page's origin),
// a WebSocket relay (a fake WebSocket class, as Node 20 has none), and every refusal counted and
// said. The same outside runs in Chromium in test/browser/network.test.ts.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserOutside, type WebSocketCtor } from "../../vmm/net/browser-outside.js";
import { parseRequest } from "../../vmm/net/fetch-http.js";
import type { OutsideStream } from "../../vmm/net/outside.js";

let server: Server;
let origin: string;
const seen: { method: string; url: string; body: string; headers: Record<string, unknown> }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, body, headers: req.headers });
      if (req.url === "/missing") res.writeHead(404, { "Content-Type": "text/plain" }).end("no such page\n");
      else
        res
          .writeHead(200, { "Content-Type": "text/plain", "X-Test": "yes" })
          .end(`you sent ${req.method} ${req.url} ${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => server.close());

/** Writes `request` on a stream and collects what comes back until it ends or fails. */
function exchange(
  s: OutsideStream,
  request: string | string[],
): Promise<{ text: string; connected: boolean; error?: string }> {
  return new Promise((resolve) => {
    let text = "";
    let connected = false;
    s.onConnect = () => {
      connected = true;
      for (const part of Array.isArray(request) ? request : [request]) s.write(new TextEncoder().encode(part));
    };
    s.onData = (d) => {
      text += new TextDecoder().decode(d);
    };
    s.onEnd = () => resolve({ text, connected });
    s.onError = (error) => resolve({ text, connected, error });
  });
}

describe("HTTP through fetch", () => {
  it("turns a guest's request to the gateway's address into a fetch of the page's origin", async () => {
    const out = new BrowserOutside({ loopback: origin });
    const r = await exchange(
      out.connectTcp("127.0.0.1", 80),
      // Split across writes, as TCP segments arrive.
      [
        "GET /hello?x=1 HTTP/1.1\r\nHost: 192.168.122.1\r\nUser-Agent: Wget\r\nAccept-Encoding: gzip\r\n",
        "Connection: close\r\n\r\n",
      ],
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.text).toContain("x-test: yes\r\n");
    expect(r.text).toContain("Connection: close\r\n\r\nyou sent GET /hello?x=1 ");
    expect(r.text).not.toMatch(/content-length/i);
    expect(seen.at(-1)!.headers["user-agent"]).toBe("Wget");
    const post = await exchange(
      out.connectTcp("127.0.0.1", 80),
      "POST /form HTTP/1.0\r\nContent-Length: 7\r\nContent-Type: text/plain\r\n\r\na=1&b=2",
    );
    expect(post.text).toContain("you sent POST /form a=1&b=2");
    const missing = await exchange(out.connectTcp("127.0.0.1", 80), "GET /missing HTTP/1.1\r\n\r\n");
    expect(missing.text).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[\s\S]*no such page/);
    expect(out.http).toEqual({ requests: 3, failed: 0, rejected: 0 });
  });

  it("answers 502 with the reason when fetch fails, and 4xx/501 for requests it will not make", async () => {
    const failing = (async () => {
      throw new TypeError("Failed to fetch");
    }) as unknown as typeof fetch;
    const out = new BrowserOutside({ fetch: failing });
    const r = await exchange(out.connectTcp("203.0.113.9", 80), "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n");
    expect(r.text).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(r.text).toContain(
      "could not fetch http://example.test/: Failed to fetch (a page reads only what the server allows by CORS)",
    );
    const chunked = await exchange(
      out.connectTcp("203.0.113.9", 80),
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    expect(chunked.text).toMatch(/^HTTP\/1\.1 501 Not Implemented\r\n[\s\S]*chunked request bodies are not supported/);
    const garbage = await exchange(out.connectTcp("203.0.113.9", 80), "\x16\x03\x01 not http\r\n\r\n");
    expect(garbage.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(out.http).toEqual({ requests: 1, failed: 1, rejected: 2 });
    expect(parseRequest(new Uint8Array(70 * 1024).fill(65))).toEqual({
      status: 431,
      reason: "request headers too large",
    });
    expect(parseRequest(new TextEncoder().encode("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"))).toBe("incomplete");
  });
});

describe("refusals", () => {
  it("refuses other TCP ports, UDP and listening, counts each and says why", async () => {
    const out = new BrowserOutside({ loopback: origin });
    const r = await exchange(out.connectTcp("10.1.2.3", 22), "");
    expect(r.connected).toBe(false);
    expect(r.error).toContain("refused TCP to 10.1.2.3:22: a page opens no TCP connections");
    out.udp().send(new Uint8Array(4), "8.8.8.8", 53);
    const err = await new Promise<string | undefined>((ok) => out.listenTcp("127.0.0.1", 2222, () => undefined, ok));
    expect(err).toBe("no port forward from 127.0.0.1:2222: a page cannot listen on host ports");
    expect(out.refused).toEqual({ tcp: 1, udp: 1, listen: 1 });
    expect(out.dnsUpstream()).toBeUndefined();
    const lines = out.describe().join("\n");
    expect(lines).toContain("refused: TCP 1, UDP 1, listen 1");
    expect(lines).toContain("dropped UDP to 8.8.8.8:53: a page sends no UDP");
    expect(() => new BrowserOutside({ relay: "http://not-a-websocket/" })).toThrow(/not a ws:\/\/ or wss:\/\/ URL/);
  });
});

/** A WebSocket to a relay that echoes in upper case, and closes cleanly when the client does. */
function fakeRelay(log: string[], refuse = false): WebSocketCtor {
  return class {
    binaryType = "blob";
    bufferedAmount = 0;
    onopen: ((e: unknown) => void) | null = null;
    onmessage: ((e: { data: unknown }) => void) | null = null;
    onerror: ((e: unknown) => void) | null = null;
    onclose: ((e: { wasClean: boolean; code: number; reason: string }) => void) | null = null;
    constructor(url: string) {
      log.push(url);
      setTimeout(() => {
        if (refuse) this.onclose?.({ wasClean: false, code: 1006, reason: "" });
        else this.onopen?.({});
      }, 1);
    }
    send(data: Uint8Array): void {
      const echo = new TextEncoder().encode(new TextDecoder().decode(data).toUpperCase());
      setTimeout(() => this.onmessage?.({ data: echo.buffer }), 1);
    }
    close(): void {
      setTimeout(() => this.onclose?.({ wasClean: true, code: 1000, reason: "" }), 5);
    }
  };
}

describe("a WebSocket relay", () => {
  it("carries any TCP port over one WebSocket per connection", async () => {
    const log: string[] = [];
    const out = new BrowserOutside({ relay: "wss://relay.test/tcp/{host}/{port}", WebSocket: fakeRelay(log) });
    const s = out.connectTcp("198.51.100.7", 22);
    const got = new Promise<string>((ok) => {
      let text = "";
      s.onData = (d) => {
        text += new TextDecoder().decode(d);
        if (text === "SSH-2.0-GUEST") s.end();
      };
      s.onEnd = () => ok(text);
    });
    s.onConnect = () => s.write(new TextEncoder().encode("ssh-2.0-guest"));
    expect(await got).toBe("SSH-2.0-GUEST");
    expect(log).toEqual(["wss://relay.test/tcp/198.51.100.7/22"]);
    expect(out.relay).toEqual({ opened: 1, failed: 0 });
    const failed = await exchange(
      new BrowserOutside({ relay: "ws://relay.test/{host}:{port}", WebSocket: fakeRelay([], true) }).connectTcp(
        "10.0.0.1",
        25,
      ),
      "",
    );
    expect(failed.error).toContain("the relay did not open the connection to 10.0.0.1:25 (code 1006)");
  });
});
