// Page comparisons for live migration's source (outgoing.ts, dirty-tracker.ts), in Node and in a
// browser's Worker alike: Node's Buffer.compare (a memcmp) where the host has Buffer, otherwise a
// loop over 32-bit words (pages are 4 KiB-aligned in guest RAM, so the words are aligned too).

const PAGE = 4096;

type NodeBuffer = {
  from(b: ArrayBufferLike, offset: number, length: number): { compare(o: Uint8Array, ...r: number[]): number };
};
const NodeBuf = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/** True when a[aAt .. aAt+length) holds the same bytes as b[bAt .. bAt+length). */
export function bytesEqual(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, length: number): boolean {
  if (!NodeBuf) return wordsEqual(a, aAt, b, bAt, length);
  const x = NodeBuf.from(a.buffer, a.byteOffset + aAt, length);
  return x.compare(b, bAt, bAt + length) === 0;
}

/** bytesEqual without Buffer: 32-bit words where both ranges are aligned, bytes otherwise. */
export function wordsEqual(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, length: number): boolean {
  const ao = a.byteOffset + aAt;
  const bo = b.byteOffset + bAt;
  if (ao % 4 === 0 && bo % 4 === 0 && length % 4 === 0) {
    const wa = new Uint32Array(a.buffer, ao, length >>> 2);
    const wb = new Uint32Array(b.buffer, bo, length >>> 2);
    for (let i = 0; i < wa.length; i++) if (wa[i] !== wb[i]) return false;
    return true;
  }
  for (let i = 0; i < length; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

const ZERO = new Uint8Array(PAGE);

/** True when page `frame` of `ram` is all zeros. */
export function isZeroPage(ram: Uint8Array, frame: number): boolean {
  return bytesEqual(ram, frame * PAGE, ZERO, 0, PAGE);
}
