// The CPU benchmark guests (guests/bench/*.asm) and their checksums computed independently in
// TypeScript: the same algorithms on the same data, so an emulator that gets an instruction
// wrong cannot post a number.

/** Guest-physical load address of every program (its `org`). */
export const LOAD_ADDR = 0x10000;
/** Initial ESP (the stack grows down toward the code, far below it). */
export const STACK_TOP = 0x90000;
/** RAM given to the guest: the buffers live between 1 MiB and 1.25 MiB. */
export const RAM_BYTES = 4 << 20;

export interface BenchProgram {
  /** File name (without .bin) in guests/bench/. */
  name: string;
  description: string;
  /** The ECX input (iterations or rounds) for a normal and a quick run. */
  param: number;
  quickParam: number;
  /** EAX at HLT for a given ECX input. */
  expected(param: number): number;
}

const rol = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;

/** guests/bench/int.asm */
export function intChecksum(iterations: number): number {
  let x = 0x2545f491;
  let a = 0x9e3779b9;
  let b = 0;
  let lcg = 12345;
  for (let i = 0; i < iterations; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    lcg = (Math.imul(lcg, 1664525) + 1013904223) >>> 0;
    const s = (lcg ^ x) >>> 0;
    a = rol((a + s) >>> 0, 5);
    b = (b - s) >>> 0;
    if (s < a) b = ((b ^ a) + 1) >>> 0;
    b = (b + (s & 0xff) * 4 + 7) >>> 0;
  }
  return (a ^ b) >>> 0;
}

/** guests/bench/mem.asm */
export function memChecksum(rounds: number): number {
  const SRC = 0x100000;
  const DST = 0x110000;
  const DST2 = 0x120000;
  const BASE = SRC;
  const mem = new Uint8Array(0x30000);
  const dv = new DataView(mem.buffer);
  let sum = 0;
  for (let r = rounds; r > 0; r--) {
    const fill = (Math.imul(r, 0x01010101) ^ 0xa5a5a5a5) >>> 0;
    for (let i = 0; i < 4096; i++) dv.setUint32(SRC - BASE + i * 4, fill, true);
    const k = Math.imul(r, 37) & 4095;
    dv.setUint32(SRC - BASE + k * 4, sum, true);
    mem[SRC - BASE + 100 + k] = sum & 0xff;
    mem.copyWithin(DST - BASE, SRC - BASE, SRC - BASE + 16384);
    const from = DST - BASE + (r & 255);
    mem.copyWithin(DST2 - BASE, from, from + 4096);
    for (let i = 0; i < 1024; i++) sum = rol((sum + dv.getUint32(DST2 - BASE + i * 4, true)) >>> 0, 3);
  }
  return sum;
}

/** guests/bench/branch.asm */
export function branchChecksum(rounds: number): number {
  const N = 8192;
  const M = 128;
  // The sieve does not depend on the round.
  const sieve = new Uint8Array(N);
  let count = 0;
  let primeSum = 0;
  for (let i = 2; i < N; i++) {
    if (sieve[i]) continue;
    count++;
    primeSum = (primeSum + i) >>> 0;
    for (let j = i * i; j < N; j += i) sieve[j] = 1;
  }
  const arr = new Uint32Array(M);
  let sum = 0;
  for (let r = rounds; r > 0; r--) {
    sum = (((sum + count) >>> 0) ^ primeSum) >>> 0;
    let seed = r >>> 0;
    for (let i = 0; i < M; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      arr[i] = seed >>> 16;
    }
    for (let pass = M - 1; pass > 0; pass--) {
      let swapped = false;
      for (let i = 0; i < pass; i++) {
        if (arr[i] > arr[i + 1]) {
          const t = arr[i];
          arr[i] = arr[i + 1];
          arr[i + 1] = t;
          swapped = true;
        }
      }
      if (!swapped) break;
    }
    for (let c = 64; c > 0; c--) {
      const key = (arr[(c * 7) & (M - 1)] + (c & 1)) >>> 0;
      let lo = 0;
      let hi = M;
      let found = 0xffffffff;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (arr[mid] === key) {
          found = mid;
          break;
        }
        if (arr[mid] < key) lo = mid + 1;
        else hi = mid;
      }
      sum = rol((sum + found) >>> 0, 1);
    }
    sum = (((sum + arr[0]) >>> 0) ^ arr[M - 1]) >>> 0;
  }
  return sum;
}

export const PROGRAMS: BenchProgram[] = [
  {
    name: "int",
    description: "integer loop: xorshift32 + LCG, ADD/SUB/XOR/SHL/SHR/ROL/IMUL/LEA, one data-dependent branch",
    param: 2_500_000,
    quickParam: 50_000,
    expected: intChecksum,
  },
  {
    name: "mem",
    description: "memory: REP STOSD + REP MOVSD (16 KiB each), 4 KiB byte-copy loop, dword checksum loop",
    param: 1_500,
    quickParam: 30,
    expected: memChecksum,
  },
  {
    name: "branch",
    description: "branchy: sieve below 8192, LCG fill, bubble sort of 128, 64 binary searches; CALL/RET, PUSH/POP",
    param: 250,
    quickParam: 5,
    expected: branchChecksum,
  },
];
