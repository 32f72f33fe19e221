// The host endpoint's UDP path and its TFTP server (the bulk-transfer partner of bench:io):
// reads with and without blksize/tsize options, writes, duplicates, errors, and frames built
// as a guest's IP stack expects them (tested against the guest itself in bench:io).

import { describe, expect, it } from "vitest";
import { EchoHostBackend, inetChecksum, type UdpDatagram } from "../../devices/net/backend.js";
import { TFTP_PORT, TftpServer } from "../../devices/net/tftp.js";

const enc = (s: string) => new TextEncoder().encode(s);
function packet(op: number, ...parts: (string | number[] | Uint8Array)[]): Uint8Array {
  const bytes: number[] = [0, op];
  for (const p of parts) {
    if (typeof p === "string") bytes.push(...enc(p), 0);
    else bytes.push(...p);
  }
  return Uint8Array.from(bytes);
}
const op = (d: UdpDatagram) => (d.payload[0]! << 8) | d.payload[1]!;
const block = (d: UdpDatagram) => (d.payload[2]! << 8) | d.payload[3]!;

describe("TFTP server", () => {
  it("serves a file in 512-byte blocks without options, each after the previous ACK", () => {
    const s = new TftpServer();
    const file = new Uint8Array(1024 + 100).map((_, i) => i & 0xff);
    s.files.set("f", file);
    let [r] = s.handle({ srcPort: 1000, dstPort: TFTP_PORT, payload: packet(1, "f", "octet") });
    expect(op(r!)).toBe(3);
    expect(block(r!)).toBe(1);
    const tid = r!.srcPort;
    expect(tid).toBeGreaterThanOrEqual(49152);
    const got: Uint8Array[] = [r!.payload.subarray(4)];
    for (let b = 1; b <= 2; b++) {
      [r] = s.handle({ srcPort: 1000, dstPort: tid, payload: packet(4, [0, b]) });
      got.push(r!.payload.subarray(4));
    }
    expect(got.map((g) => g.length)).toEqual([512, 512, 100]);
    expect(Uint8Array.from(got.flatMap((g) => [...g]))).toEqual(file);
    // A duplicate ACK sends nothing again; the last ACK ends the transfer.
    expect(s.handle({ srcPort: 1000, dstPort: tid, payload: packet(4, [0, 2]) })).toEqual([]);
    expect(s.handle({ srcPort: 1000, dstPort: tid, payload: packet(4, [0, 3]) })).toEqual([]);
    expect(op(s.handle({ srcPort: 1000, dstPort: tid, payload: packet(4, [0, 3]) })[0]!)).toBe(5); // gone
  });

  it("answers blksize and tsize with an OACK, caps blksize at 1,468, sends an empty last block", () => {
    const s = new TftpServer();
    s.files.set("g", new Uint8Array(1468 * 2));
    const [o] = s.handle({
      srcPort: 7,
      dstPort: TFTP_PORT,
      payload: packet(1, "g", "OCTET", "blksize", "9000", "tsize", "0"),
    });
    expect(op(o!)).toBe(6);
    expect(new TextDecoder().decode(o!.payload.subarray(2))).toBe("blksize\x001468\x00tsize\x002936\x00");
    const sizes: number[] = [];
    for (let b = 0; b < 3; b++) {
      const [d] = s.handle({ srcPort: 7, dstPort: o!.srcPort, payload: packet(4, [0, b]) });
      sizes.push(d!.payload.length - 4);
    }
    expect(sizes).toEqual([1468, 1468, 0]);
  });

  it("keeps a written file once its short last block arrives, acking duplicates again", () => {
    const s = new TftpServer();
    const [a0] = s.handle({ srcPort: 9, dstPort: TFTP_PORT, payload: packet(2, "up", "octet") });
    expect([op(a0!), block(a0!)]).toEqual([4, 0]);
    const tid = a0!.srcPort;
    const one = new Uint8Array(512).fill(1);
    expect(block(s.handle({ srcPort: 9, dstPort: tid, payload: packet(3, [0, 1], one) })[0]!)).toBe(1);
    expect(block(s.handle({ srcPort: 9, dstPort: tid, payload: packet(3, [0, 1], one) })[0]!)).toBe(1);
    expect(s.uploads.has("up")).toBe(false);
    expect(block(s.handle({ srcPort: 9, dstPort: tid, payload: packet(3, [0, 2], [5, 6]) })[0]!)).toBe(2);
    expect(s.uploads.get("up")).toEqual(Uint8Array.from([...one, 5, 6]));
    expect(s.counters).toMatchObject({ writes: 1, dataReceived: 2, bytesReceived: 514 });
  });

  it("refuses a missing file, netascii, and a packet from the wrong port with ERROR", () => {
    const s = new TftpServer();
    s.files.set("f", new Uint8Array(10));
    const [e1] = s.handle({ srcPort: 5, dstPort: TFTP_PORT, payload: packet(1, "nope", "octet") });
    expect([op(e1!), e1!.payload[3]]).toEqual([5, 1]);
    const [e2] = s.handle({ srcPort: 5, dstPort: TFTP_PORT, payload: packet(1, "f", "netascii") });
    expect([op(e2!), e2!.payload[3]]).toEqual([5, 4]);
    const [d] = s.handle({ srcPort: 5, dstPort: TFTP_PORT, payload: packet(1, "f", "octet") });
    const [e3] = s.handle({ srcPort: 6, dstPort: d!.srcPort, payload: packet(4, [0, 1]) });
    expect([op(e3!), e3!.payload[3]]).toEqual([5, 5]);
    expect(s.handle({ srcPort: 5, dstPort: TFTP_PORT, payload: Uint8Array.of(0) })).toEqual([]);
  });
});

describe("host endpoint UDP", () => {
  it("hands UDP to its service and frames the answers as IPv4/UDP from itself", () => {
    const host = new EchoHostBackend("10.0.2.2");
    const seen: UdpDatagram[] = [];
    host.udp = (d) => {
      seen.push(d);
      return [{ srcPort: d.dstPort, dstPort: d.srcPort, payload: Uint8Array.of(9, 8, 7) }];
    };
    const frames: Uint8Array[] = [];
    host.onReceive = (f) => frames.push(f);
    const guestMac = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
    const f = new Uint8Array(14 + 20 + 8 + 2);
    f.set(host.mac, 0);
    f.set(guestMac, 6);
    f.set([0x08, 0x00, 0x45, 0, 0, 30, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 2, 15, 10, 0, 2, 2], 12);
    f.set([0x04, 0x00, 0, 69, 0, 10, 0, 0, 0xaa, 0xbb], 34);
    host.transmit(f);
    expect(seen).toEqual([{ srcPort: 1024, dstPort: 69, payload: Uint8Array.of(0xaa, 0xbb) }]);
    const r = frames[0]!;
    expect([...r.subarray(0, 6)]).toEqual(guestMac);
    expect([...r.subarray(26, 34)]).toEqual([10, 0, 2, 2, 10, 0, 2, 15]);
    expect(inetChecksum(r.subarray(14, 34))).toBe(0);
    expect([...r.subarray(34, 45)]).toEqual([0, 69, 0x04, 0x00, 0, 11, 0, 0, 9, 8, 7]);
    // To another address, or without a service: not UDP's business.
    host.udp = undefined;
    host.transmit(f);
    expect(host.counts.ignored).toBe(1);
  });
});
