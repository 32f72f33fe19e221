// The live-migration stream's framing and checks without a guest: frames round-trip, and every
// kind of damage (a flipped bit anywhere, a cut, a foreign stream, an impossible length, a page
// outside RAM) is refused with a message naming it; the CPUID check names what a destination
// lacks; migrate_set_parameter's units.

import { describe, expect, it } from "vitest";
import { concat } from "../../vmm/state/container.js";
import { cpuidDifferences } from "../../vmm/state/cpuid-check.js";
import { setMigrationParameter } from "../../vmm/state/migration-info.js";
import {
  applyPages,
  encodeFrame,
  encodePages,
  FrameParser,
  FrameType,
  MigrationError,
  streamHeader,
} from "../../vmm/state/migration-stream.js";
import { DEFAULT_PARAMETERS } from "../../vmm/state/outgoing.js";

function stream(): Uint8Array {
  const ram = new Uint8Array(8 * 4096);
  for (let i = 0; i < ram.length; i++) ram[i] = (i * 31) & 0xff;
  const parts = [
    streamHeader(),
    encodeFrame(FrameType.Hello, new TextEncoder().encode('{"a":1}')),
    encodeFrame(FrameType.Pages, encodePages(0, [1, 3, 5], ram, [false, true, false])),
    encodeFrame(FrameType.Done, new Uint8Array()),
  ];
  return concat(parts);
}

describe("migration stream", () => {
  it("round-trips frames fed in pieces of any size; pages land where they belong", () => {
    const bytes = stream();
    for (const piece of [1, 7, 4096, bytes.length]) {
      const p = new FrameParser();
      const frames = [];
      for (let i = 0; i < bytes.length; i += piece) frames.push(...p.push(bytes.subarray(i, i + piece)));
      expect(frames.map((f) => f.type)).toEqual([FrameType.Hello, FrameType.Pages, FrameType.Done]);
      expect(p.partial).toBe(false);
      const ram = new Uint8Array(8 * 4096).fill(0xee);
      expect(applyPages(frames[1]!.payload, ram)).toEqual({ round: 0, pages: 3 });
      expect(ram[4096 + 5]).toBe(((4096 + 5) * 31) & 0xff);
      expect(ram.subarray(3 * 4096, 4 * 4096).every((b) => b === 0)).toBe(true);
      expect(ram[0]).toBe(0xee);
    }
  });

  it("refuses a flipped bit in every byte after the header", () => {
    const bytes = stream();
    for (let i = 12; i < bytes.length; i += 97) {
      const bad = bytes.slice();
      bad[i]! ^= 0x04;
      const p = new FrameParser();
      let err: unknown;
      try {
        p.push(bad);
      } catch (e) {
        err = e;
      }
      // A flipped length either makes the frame impossible, or shorter/longer: then the CRC
      // fails or the stream ends inside a frame.
      if (err === undefined) expect(p.partial).toBe(true);
      else expect((err as Error).message).toMatch(/frame \d+: (checksum mismatch|impossible length)/);
    }
  });

  it("names a foreign stream, another version, and a stream cut inside a frame", () => {
    const bytes = stream();
    const foreign = bytes.slice();
    foreign[0] = 0x47;
    expect(() => new FrameParser().push(foreign)).toThrow(/not a migration stream \(bad magic\)/);
    const v2 = bytes.slice();
    v2[11] = 2;
    expect(() => new FrameParser().push(v2)).toThrow(/migration stream version 2; this side reads version 1/);
    const p = new FrameParser();
    p.push(bytes.subarray(0, bytes.length - 3));
    expect(p.partial).toBe(true);
  });

  it("refuses a page outside RAM and a batch of the wrong length", () => {
    const ram = new Uint8Array(4 * 4096);
    const big = new Uint8Array(8 * 4096);
    expect(() => applyPages(encodePages(0, [6], big, [false]), ram)).toThrow(MigrationError);
    expect(() => applyPages(encodePages(0, [6], big, [false]), ram)).toThrow(/page 6 is outside this VM's RAM/);
    const short = encodePages(0, [1, 2], big, [false, false]).subarray(0, 8 + 8 + 4096);
    expect(() => applyPages(short, ram)).toThrow(/wrong length/);
  });
});

describe("CPUID check", () => {
  const leaves = {
    "0x0": [2, 0x756e6547, 0x6c65746e, 0x49656e69] as [number, number, number, number],
    "0x1": [0x633, 0, 0x8000_0000, 0x0000_a93f] as [number, number, number, number],
  };
  it("accepts the same leaves and a superset of features", () => {
    expect(cpuidDifferences(leaves, leaves)).toEqual([]);
    expect(cpuidDifferences(leaves, { ...leaves, "0x1": [0x633, 0, 0x8000_0000, 0xffff_ffff] })).toEqual([]);
  });
  it("names the feature bits a destination lacks and a different signature", () => {
    const lacking = { ...leaves, "0x1": [0x633, 0, 0, 0x0000_a13f] as [number, number, number, number] };
    expect(cpuidDifferences(leaves, lacking)).toEqual([
      "CPUID leaf 0x1 ECX: the destination lacks feature bits 0x80000000",
      "CPUID leaf 0x1 EDX: the destination lacks feature bits 0x00000800",
    ]);
    const other = { ...leaves, "0x1": [0x652, 0, 0x8000_0000, 0x0000_a93f] as [number, number, number, number] };
    expect(cpuidDifferences(leaves, other)).toEqual(["CPUID leaf 0x1 EAX: source 0x00000633, destination 0x00000652"]);
  });
});

describe("migrate_set_parameter", () => {
  it("takes QEMU's units and refuses nonsense", () => {
    const p = { ...DEFAULT_PARAMETERS };
    setMigrationParameter(p, "max-bandwidth", "32");
    expect(p["max-bandwidth"]).toBe(32 << 20);
    setMigrationParameter(p, "max-bandwidth", "512k");
    expect(p["max-bandwidth"]).toBe(512 << 10);
    setMigrationParameter(p, "downtime-limit", "50");
    expect(p["downtime-limit"]).toBe(50);
    expect(() => setMigrationParameter(p, "downtime-limit", "-1")).toThrow(/positive number/);
    expect(() => setMigrationParameter(p, "max-cpu-throttle", "150")).toThrow(/at most 99/);
    expect(() => setMigrationParameter(p, "speed", "1")).toThrow(/unknown parameter 'speed'/);
  });
});
