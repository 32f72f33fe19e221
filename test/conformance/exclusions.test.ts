// The exclusion rules apply to exactly the tests whose data trigger them.

import { describe, expect, it } from "vitest";
import { decode16, defaultsToSS } from "./decode16.js";
import { EXCLUSIONS, exclusionFor, type Outcome } from "./exclusions.js";
import type { MooTest } from "./moo.js";

function test(bytes: number[], opts: Partial<MooTest> = {}): MooTest {
  return {
    index: 0,
    name: "t",
    bytes: Uint8Array.from(bytes),
    initial: {
      regWidth: 16,
      regs: { ss: 0x1000, sp: 0x0100, cs: 0, ip: 0, flags: 2 },
      regMasks: {},
      ram: [],
      queue: [],
    },
    final: { regWidth: 16, regs: {}, regMasks: {}, ram: [], queue: [] },
    exception: null,
    hash: "",
    ...opts,
  };
}
const outcome = (o: Partial<Outcome> = {}): Outcome => ({
  firstException: null,
  flagsDiff: 0,
  differs: new Set(),
  ...o,
});

describe("decode16", () => {
  it("finds prefixes, the opcode, ModRM and the immediate", () => {
    const d = decode16(Uint8Array.from([0x2e, 0xf0, 0xc0, 0x6e, 0xf6, 0x9b, 0xf4])); // shr byte [bp-0Ah],9Bh
    expect(d.prefixes).toEqual([0x2e, 0xf0]);
    expect(d.lock).toBe(true);
    expect(d.segment).toBe(1);
    expect(d.opcode).toBe(0xc0);
    expect(d.entry?.mnem).toBe("SHR");
    expect([d.mod, d.reg, d.rm]).toEqual([1, 5, 6]);
    expect(d.immOffset).toBe(5);
    expect(defaultsToSS(d)).toBe(true);
    expect(defaultsToSS(decode16(Uint8Array.from([0x8b, 0x06, 0x34, 0x12])))).toBe(false); // mov ax,[1234h]
  });
});

describe("exclusions", () => {
  it("LOCK: only a non-lockable form that the emulator answered with #UD", () => {
    const ud = outcome({ firstException: 6 });
    expect(exclusionFor("C286:88", test([0xf0, 0x88, 0xd3, 0xf4]), ud)?.reason).toMatch(/LOCK/); // lock mov bl,dl
    expect(exclusionFor("C286:00", test([0xf0, 0x00, 0xd3, 0xf4]), ud)?.reason).toMatch(/LOCK/); // lock add bl,dl (register)
    expect(exclusionFor("C286:00", test([0xf0, 0x00, 0x07, 0xf4]), ud)).toBeNull(); // lock add [bx],al is valid
    expect(exclusionFor("C286:88", test([0x88, 0xd3, 0xf4]), ud)).toBeNull(); // no LOCK
    expect(exclusionFor("C286:88", test([0xf0, 0x88, 0xd3, 0xf4]), outcome())).toBeNull(); // no #UD raised
  });

  it("POPF: only when the popped image sets IOPL/NT and those bits are all that differs", () => {
    const ram: [number, number][] = [
      [0x10100, 0x02],
      [0x10101, 0x30],
    ];
    const t = test([0x9d, 0xf4], { initial: { ...test([]).initial, ram } });
    expect(exclusionFor("C286:9D", t, outcome({ flagsDiff: 0x3000, differs: new Set(["flags"]) }))?.reason).toMatch(
      /IOPL/,
    );
    expect(exclusionFor("C286:9D", t, outcome({ flagsDiff: 0x3001, differs: new Set(["flags"]) }))).toBeNull();
    expect(exclusionFor("C286:9D", t, outcome({ flagsDiff: 0x3000, differs: new Set(["flags", "sp"]) }))).toBeNull();
    const clean = test([0x9d, 0xf4], {
      initial: {
        ...test([]).initial,
        ram: [
          [0x10100, 0x02],
          [0x10101, 0x00],
        ],
      },
    });
    expect(exclusionFor("C286:9D", clean, outcome({ flagsDiff: 0x3000, differs: new Set(["flags"]) }))).toBeNull();
  });

  it("instruction length: more than 10 bytes where the 286 raised #GP", () => {
    const long = [0x2e, 0x36, 0x2e, 0x3e, 0x3e, 0x81, 0x84, 0xdf, 0x1d, 0x93, 0x76, 0xf4];
    const gp = { vector: 13, flagAddress: 0 };
    expect(exclusionFor("C286:81.0", test(long, { exception: gp }), outcome())?.reason).toMatch(/10 bytes/);
    expect(exclusionFor("C286:81.0", test(long.slice(2), { exception: gp }), outcome())).toBeNull();
  });

  it("every entry states a reason", () => {
    for (const [key, e] of Object.entries(EXCLUSIONS)) {
      expect(key).toMatch(/^[A-Z0-9]+:/);
      expect(e.reason.length).toBeGreaterThan(40);
    }
  });
});

describe("exclusion variants", () => {
  it("LOCK: replaces the prefix by the operand's own segment, in the bytes and in RAM", () => {
    const t = test([0xf0, 0x00, 0x46, 0x10, 0xf4], {
      initial: {
        ...test([]).initial,
        regs: { ...test([]).initial.regs, cs: 0x2000, ip: 0x0100 },
        ram: [
          [0x20100, 0xf0],
          [0x20101, 0x00],
        ],
      },
    }); // lock add [bp+10h],al: SS-relative
    const v = EXCLUSIONS["C286:*LOCK"].variant?.(t);
    expect(Array.from(v?.bytes ?? [])).toEqual([0x36, 0x00, 0x46, 0x10, 0xf4]);
    expect(v?.initial.ram).toEqual([
      [0x20100, 0x36],
      [0x20101, 0x00],
    ]);
  });
});
