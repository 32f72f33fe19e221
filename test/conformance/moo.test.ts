// The MOO reader on small synthetic files built here, byte by byte.

import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseMoo } from "./moo.js";

/** Little-endian byte builder. */
class Bytes {
  private readonly out: number[] = [];
  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }
  u32(v: number): this {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }
  ascii(s: string): this {
    for (const c of s) this.u8(c.charCodeAt(0));
    return this;
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.u8(b[i]);
    return this;
  }
  get bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

const chunk = (id: string, payload: Uint8Array): Uint8Array =>
  new Bytes().ascii(id).u32(payload.length).raw(payload).bytes;
const cat = (...parts: Uint8Array[]): Uint8Array => new Bytes().raw(parts.flatMap((p) => Array.from(p))).bytes;

function regs16(mask: number, values: number[]): Uint8Array {
  const b = new Bytes().u16(mask);
  for (const v of values) b.u16(v);
  return chunk("REGS", b.bytes);
}
function ramChunk(entries: [number, number][]): Uint8Array {
  const b = new Bytes().u32(entries.length);
  for (const [a, v] of entries) b.u32(a).u8(v);
  return chunk("RAM ", b.bytes);
}

function sampleFile(): Uint8Array {
  const header = chunk("MOO ", new Bytes().u8(1).u8(1).u16(0).u32(2).ascii("C286").bytes);
  const meta = chunk(
    "META",
    new Bytes().u8(1).u8(0).u8(6).u32(0x90).ascii("nop     ").u32(2).u32(0x1234).u32(0).u8(0).raw([0, 0, 0]).bytes,
  );
  // Test 0: all 14 registers in INIT; FINA changes ip (bit 12) and flags (bit 13); an unknown
  // chunk inside TEST and inside FINA must be skipped; EXCP and HASH present.
  const init0 = chunk(
    "INIT",
    cat(
      regs16(0x3fff, [1, 2, 3, 4, 0x1000, 0x2000, 0x3000, 0x4000, 0xfffe, 5, 6, 7, 0x100, 0xf002]),
      ramChunk([
        [0x10100, 0x90],
        [0x10101, 0xf4],
      ]),
      chunk("QUEU", new Bytes().u32(1).u8(0x90).bytes),
    ),
  );
  const fina0 = chunk(
    "FINA",
    cat(regs16(0x3000, [0x102, 0x0002]), chunk("ZZZZ", new Bytes().u32(0xdeadbeef).bytes), ramChunk([[0x2fffe, 0x12]])),
  );
  const test0 = chunk(
    "TEST",
    cat(
      new Bytes().u32(0).bytes,
      chunk("NAME", new Bytes().u32(3).ascii("nop").bytes),
      chunk("BYTS", new Bytes().u32(2).raw([0x90, 0xf4]).bytes),
      init0,
      fina0,
      chunk("CYCL", new Bytes().u32(0).bytes),
      chunk("XTRA", new Bytes().raw([1, 2, 3]).bytes),
      chunk("EXCP", new Bytes().u8(6).u32(0x2fffa).bytes),
      chunk("HASH", new Bytes().raw(new Array(20).fill(0xab)).bytes),
    ),
  );
  // Test 1: a 386-style RG32 state with a per-test RM32 mask.
  const rg32 = new Bytes()
    .u32((1 << 2) | (1 << 16) | (1 << 17))
    .u32(0xdeadbeef)
    .u32(0x1234)
    .u32(0xfffc0a93);
  const rm32 = new Bytes().u32(1 << 17).u32(0x3ffff);
  const test1 = chunk(
    "TEST",
    cat(
      new Bytes().u32(1).bytes,
      chunk("NAME", new Bytes().u32(4).ascii("add ").bytes),
      chunk("BYTS", new Bytes().u32(1).raw([0x00]).bytes),
      chunk("INIT", cat(chunk("RG32", rg32.bytes), ramChunk([]))),
      chunk("FINA", cat(chunk("RG32", new Bytes().u32(1 << 16).u32(0x1236).bytes), chunk("RM32", rm32.bytes))),
    ),
  );
  return cat(header, meta, test0, test1);
}

describe("MOO reader", () => {
  it("reads the header, META, 16-bit and 32-bit states, RAM, EXCP and skips unknown chunks", () => {
    const f = parseMoo(sampleFile());
    expect(f.version).toBe("1.1");
    expect(f.cpu).toBe("C286");
    expect(f.testCount).toBe(2);
    expect(f.meta).toMatchObject({
      opcode: 0x90,
      mnemonic: "nop",
      testCount: 2,
      seed: 0x1234n,
      cpuMode: 0,
      cpuType: 6,
    });
    expect(f.tests).toHaveLength(2);

    const [t0, t1] = f.tests;
    expect(t0.index).toBe(0);
    expect(t0.name).toBe("nop");
    expect(Array.from(t0.bytes)).toEqual([0x90, 0xf4]);
    expect(t0.initial.regWidth).toBe(16);
    expect(t0.initial.regs).toEqual({
      ax: 1,
      bx: 2,
      cx: 3,
      dx: 4,
      cs: 0x1000,
      ss: 0x2000,
      ds: 0x3000,
      es: 0x4000,
      sp: 0xfffe,
      bp: 5,
      si: 6,
      di: 7,
      ip: 0x100,
      flags: 0xf002,
    });
    expect(t0.initial.ram).toEqual([
      [0x10100, 0x90],
      [0x10101, 0xf4],
    ]);
    expect(t0.initial.queue).toEqual([0x90]);
    expect(t0.final.regs).toEqual({ ip: 0x102, flags: 0x0002 });
    expect(t0.final.ram).toEqual([[0x2fffe, 0x12]]);
    expect(t0.exception).toEqual({ vector: 6, flagAddress: 0x2fffa });
    expect(t0.hash).toBe("ab".repeat(20));

    expect(t1.index).toBe(1);
    expect(t1.initial.regWidth).toBe(32);
    expect(t1.initial.regs).toEqual({ eax: 0xdeadbeef, eip: 0x1234, eflags: 0xfffc0a93 });
    expect(t1.final.regs).toEqual({ eip: 0x1236 });
    expect(t1.final.regMasks).toEqual({ eflags: 0x3ffff });
    expect(t1.exception).toBeNull();
  });

  it("reads gzipped files the same way", () => {
    const raw = sampleFile();
    expect(parseMoo(new Uint8Array(gzipSync(raw)))).toEqual(parseMoo(raw));
  });

  it("rejects a chunk that runs past the end of the file", () => {
    const bad = sampleFile().slice(0, 80); // header (20) + META (40) + part of the first TEST
    expect(() => parseMoo(bad)).toThrow(/runs past/);
  });
});
