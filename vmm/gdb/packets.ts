// The GDB remote serial protocol's framing: `$data#xx` packets with a two-digit checksum (the sum
// of the data bytes mod 256), `+`/`-` acknowledgements, `}` escapes (byte XOR 0x20), and a bare
// 0x03 byte for an interrupt (Ctrl-C). GDB manual, appendix "GDB Remote Serial Protocol",
// sections "Overview" and "Interrupts".

export type Incoming = { kind: "packet"; data: string } | { kind: "interrupt" } | { kind: "bad-checksum" };

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

export function checksum(data: string): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum = (sum + data.charCodeAt(i)) & 0xff;
  return sum;
}

/** A packet to send: escapes $, #, } and * and appends the checksum. */
export function frame(data: string): string {
  const escaped = data.replace(/[$#}*]/g, (c) => `}${String.fromCharCode(c.charCodeAt(0) ^ 0x20)}`);
  return `$${escaped}#${hex2(checksum(escaped))}`;
}

/** Splits received bytes (as latin1 text) into packets and interrupts; keeps partial input. */
export class PacketReader {
  private buf = "";

  push(text: string): Incoming[] {
    this.buf += text;
    const out: Incoming[] = [];
    for (;;) {
      // Acknowledgements are dropped; a Ctrl-C outside a packet is an interrupt.
      let i = 0;
      while (i < this.buf.length && this.buf[i] !== "$") {
        if (this.buf.charCodeAt(i) === 0x03) out.push({ kind: "interrupt" });
        i++;
      }
      this.buf = this.buf.slice(i);
      const hash = this.buf.indexOf("#");
      if (hash < 0 || hash + 3 > this.buf.length) return out;
      const raw = this.buf.slice(1, hash);
      const sum = Number.parseInt(this.buf.slice(hash + 1, hash + 3), 16);
      this.buf = this.buf.slice(hash + 3);
      if (sum !== checksum(raw)) {
        out.push({ kind: "bad-checksum" });
        continue;
      }
      out.push({
        kind: "packet",
        data: raw.replace(/}(.)/gs, (_, c: string) => String.fromCharCode(c.charCodeAt(0) ^ 0x20)),
      });
    }
  }
}

/** Bytes as hex pairs, and back. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += hex2(b);
  return s;
}

export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || /[^0-9a-fA-F]/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A 32-bit value as the target's little-endian hex. */
export function le32(v: number): string {
  return toHex(Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff));
}
