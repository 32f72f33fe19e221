// Captures in the classic libpcap format (what `tcpdump -r` and Wireshark read): a 24-byte file
// header (magic a1b2c3d4 little-endian, version 2.4, snap length, link type 1 = Ethernet), then
// per frame a 16-byte record header (seconds, microseconds, captured and original length) and the
// frame's bytes. Time stamps come from the host's wall clock unless a clock is given.

export const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 65535;

export class PcapWriter {
  frames = 0;

  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly nowMs: () => number = () => Date.now(),
  ) {
    const h = new DataView(new ArrayBuffer(24));
    h.setUint32(0, 0xa1b2c3d4, true);
    h.setUint16(4, 2, true);
    h.setUint16(6, 4, true);
    h.setUint32(16, SNAPLEN, true);
    h.setUint32(20, LINKTYPE_ETHERNET, true);
    this.write(new Uint8Array(h.buffer));
  }

  frame(data: Uint8Array): void {
    const ms = this.nowMs();
    const len = Math.min(data.length, SNAPLEN);
    const rec = new Uint8Array(16 + len);
    const v = new DataView(rec.buffer);
    const s = Math.floor(ms / 1000);
    v.setUint32(0, s, true);
    v.setUint32(4, Math.floor((ms - s * 1000) * 1000), true);
    v.setUint32(8, len, true);
    v.setUint32(12, data.length, true);
    rec.set(data.subarray(0, len), 16);
    this.frames++;
    this.write(rec);
  }
}
