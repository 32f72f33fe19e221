// Fuzz target "images": random and mutated images for every loader and disk format. A case is a
// kernel (bzImage or Multiboot ELF / a.out kludge, with an initrd or module), a firmware image
// with IDE disks and a CD, or a raw disk driven directly through CowDisk. Kernels and firmware
// are loaded into a fresh VM and, when they load, run for a bounded number of instructions.
//
// A loader may refuse an image only with one of the one-line error classes the CLI reports
// (BootImageError, DiskImageError, UserInputError, FirmwareError); anything else escaping is a
// crash. Disk cases also check CowDisk against a model: reads return what was written, the source
// is never written in copy-on-write mode, and only out-of-range accesses throw BlockRangeError.
//
// Every case is described by a JSON-serialisable `ImageCase` (mutated images as a base image name
// plus byte patches, not whole files); run(seed) generates one, replay(case) runs it again.

import { readFileSync } from "node:fs";
import {
  BlockRangeError,
  CowDisk,
  DiskImageError,
  type ImageSource,
  SECTOR_SIZE,
} from "../../devices/storage/block.js";
import { loadKernel } from "../../vmm/boot/kernel.js";
import { BootImageError } from "../../vmm/boot/linux.js";
import { FirmwareError, installFirmware } from "../../vmm/firmware.js";
import { UserInputError } from "../../vmm/node/files.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";
import { Rng } from "../rng.js";
import type { CaseOptions, CaseResult, FuzzTarget } from "../target.js";

type Mode = CaseOptions["modes"][number];

/** Committed guest images a case can start from (paths under guests/). */
export const GUEST_FILES = [
  "linux/bzImage",
  "labs/nanobench/nanobench.elf",
  "labs/nanobench/nanobench-pv.elf",
  "labs/sensitive/sensitive.elf",
] as const;
const BIOS_FILE = "seabios/bios.bin";
const VGA_BIOS_FILE = "seabios/vgabios.bin";

/** Where an image's bytes come from before the patches. */
export type ImageBase =
  | { file: (typeof GUEST_FILES)[number] | typeof BIOS_FILE }
  | { builtin: "multiboot-elf" | "multiboot-aout" }
  | { random: number; length: number }
  | { zeros: number };

export interface ImageSpec {
  base: ImageBase;
  /** [offset, byte] pairs applied in order (offsets past the end are ignored). */
  patches: [number, number][];
  /** Cut or zero-extend the image to this many bytes (after the patches). */
  length?: number;
  /** Recompute the Multiboot header checksum after patching, so the loader looks further. */
  fixMultibootChecksum?: boolean;
}

/** A raw image whose bytes are a function of (seed, offset): any size without holding it. */
export interface DiskSpec {
  size: number;
  seed: number;
  granularity: 512 | 2048;
  writeThrough: boolean;
  readOnly: boolean;
}

/** read sectors [sector, sector+count) | write count sectors filled with `byte`. */
export type DiskOp = ["r", number, number] | ["w", number, number, number];

export type ImageCase =
  | {
      kind: "kernel";
      kernel: ImageSpec;
      initrd?: ImageSpec;
      cmdlineLength: number;
      memMiB: number;
      mode: Mode;
      instructions: number;
    }
  | {
      kind: "firmware";
      bios: ImageSpec;
      vgaBios: boolean;
      hda?: DiskSpec;
      cdrom?: DiskSpec;
      bootLetters: string;
      memMiB: number;
      mode: Mode;
      instructions: number;
    }
  | { kind: "disk"; disk: DiskSpec; ops: DiskOp[] };

/** The error classes a loader or disk may refuse input with: one line each, status 2 in the CLI. */
const EXPECTED_ERRORS = [BootImageError, DiskImageError, UserInputError, FirmwareError];

const fileCache = new Map<string, Uint8Array>();
function guestFile(rel: string): Uint8Array {
  let bytes = fileCache.get(rel);
  if (!bytes) {
    bytes = new Uint8Array(readFileSync(new URL(`../../guests/${rel}`, import.meta.url)));
    fileCache.set(rel, bytes);
  }
  return bytes;
}

const MB_MAGIC = 0x1badb002;
const LOAD = 0x100000;

/** A minimal Multiboot ELF32 kernel: one PT_LOAD at 1 MiB with a bss, entry `sti; hlt; jmp`. */
function multibootElf(): Uint8Array {
  const img = new Uint8Array(0x1000 + 64);
  const dv = new DataView(img.buffer);
  img.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(20, 1, true);
  dv.setUint32(24, LOAD + 12, true); // entry after the Multiboot header
  dv.setUint32(28, 52, true); // e_phoff
  dv.setUint16(40, 52, true); // e_ehsize
  dv.setUint16(42, 32, true); // e_phentsize
  dv.setUint16(44, 1, true); // e_phnum
  dv.setUint32(52, 1, true); // PT_LOAD
  dv.setUint32(56, 0x1000, true); // p_offset
  dv.setUint32(60, LOAD, true); // p_vaddr
  dv.setUint32(64, LOAD, true); // p_paddr
  dv.setUint32(68, 64, true); // p_filesz
  dv.setUint32(72, 0x4000, true); // p_memsz
  dv.setUint32(0x1000, MB_MAGIC, true);
  dv.setUint32(0x1004, 0, true);
  dv.setUint32(0x1008, -MB_MAGIC >>> 0, true);
  img.set([0xfb, 0xf4, 0xeb, 0xfd], 0x100c);
  return img;
}

/** A minimal a.out-kludge Multiboot kernel loaded at 1 MiB: the header then `sti; hlt; jmp`. */
function multibootAout(): Uint8Array {
  const flags = 0x10003;
  const words = [MB_MAGIC, flags, -(MB_MAGIC + flags) >>> 0, LOAD, LOAD, 0, LOAD + 0x3000, LOAD + 32];
  const img = new Uint8Array(36);
  const dv = new DataView(img.buffer);
  for (const [i, w] of words.entries()) dv.setUint32(i * 4, w, true);
  img.set([0xfb, 0xf4, 0xeb, 0xfd], 32);
  return img;
}

function baseBytes(base: ImageBase): Uint8Array {
  if ("file" in base) return guestFile(base.file);
  if ("builtin" in base) return base.builtin === "multiboot-elf" ? multibootElf() : multibootAout();
  if ("zeros" in base) return new Uint8Array(base.zeros);
  return new Rng(base.random).bytes(base.length);
}

/** Builds the bytes of an ImageSpec (a fresh copy: the base is never changed). */
export function buildImage(spec: ImageSpec): Uint8Array {
  const base = baseBytes(spec.base);
  const out = new Uint8Array(spec.length ?? base.length);
  out.set(base.subarray(0, out.length));
  for (const [offset, byte] of spec.patches) if (offset < out.length) out[offset] = byte;
  if (spec.fixMultibootChecksum) {
    const dv = new DataView(out.buffer);
    for (let off = 0; off + 12 <= Math.min(8192, out.length); off += 4) {
      if (dv.getUint32(off, true) !== MB_MAGIC) continue;
      dv.setUint32(off + 8, -(MB_MAGIC + dv.getUint32(off + 4, true)) >>> 0, true);
      break;
    }
  }
  return out;
}

/** The byte at `offset` of a DiskSpec's pristine image. */
function diskByte(seed: number, offset: number): number {
  let x = Math.imul(offset ^ seed, 0x9e3779b1) ^ Math.floor(offset / 2 ** 32);
  x ^= x >>> 15;
  return Math.imul(x, 0x85ebca6b) >>> 24;
}

/** A DiskSpec as an ImageSource; writes are recorded so copy-on-write mode can be checked. */
function diskSource(spec: DiskSpec): ImageSource & { writes: number } {
  const written = new Map<number, number>();
  const source = {
    size: spec.size,
    writes: 0,
    readAt(offset: number, dest: Uint8Array) {
      for (let i = 0; i < dest.length; i++) dest[i] = written.get(offset + i) ?? diskByte(spec.seed, offset + i);
    },
    writeAt(offset: number, data: Uint8Array) {
      source.writes++;
      for (let i = 0; i < data.length; i++) written.set(offset + i, data[i]);
    },
  };
  return source;
}

class CaseFailure extends Error {
  constructor(
    readonly verdict: "crash" | "divergence",
    message: string,
  ) {
    super(message);
  }
}

/** A refusal is fine when it is one of the expected classes and one line; anything else is a crash. */
function checkRefusal(err: unknown, where: string): void {
  const expected = EXPECTED_ERRORS.some((cls) => err instanceof cls);
  const message = err instanceof Error ? err.message : String(err);
  if (!expected) {
    const name = err instanceof Error ? err.constructor.name : typeof err;
    throw new CaseFailure("crash", `${where}: ${name}: ${message.split("\n")[0]}`);
  }
  if (message.includes("\n") || message.length === 0) {
    throw new CaseFailure("crash", `${where}: ${(err as Error).constructor.name} message is not one line`);
  }
}

/** Runs a disk case against a model of what each sector must hold. */
function runDiskCase(spec: DiskSpec, ops: DiskOp[]): void {
  const source = diskSource(spec);
  let disk: CowDisk;
  try {
    disk = new CowDisk(source, {
      granularity: spec.granularity,
      writeThrough: spec.writeThrough,
      readOnly: spec.readOnly,
    });
  } catch (err) {
    checkRefusal(err, "CowDisk");
    return;
  }
  const model = new Map<number, number>(); // sector -> fill byte written there
  for (const [i, op] of ops.entries()) {
    const [kind, sector, count] = op;
    const inRange = sector >= 0 && count >= 0 && sector + count <= disk.sectors;
    const mustFail = !inRange || (kind === "w" && spec.readOnly);
    try {
      if (kind === "r") {
        const got = disk.read(sector, count);
        if (got.length !== count * SECTOR_SIZE)
          throw new CaseFailure("divergence", `op ${i}: read length ${got.length}`);
        for (let s = 0; s < count; s++) {
          const fill = model.get(sector + s);
          for (let b = 0; b < SECTOR_SIZE; b += 97) {
            const want = fill ?? diskByte(spec.seed, (sector + s) * SECTOR_SIZE + b);
            if (got[s * SECTOR_SIZE + b] !== want) {
              throw new CaseFailure("divergence", `op ${i}: sector ${sector + s} byte ${b} reads wrong`);
            }
          }
        }
      } else {
        disk.write(sector, new Uint8Array(count * SECTOR_SIZE).fill(op[3]));
        for (let s = 0; s < count; s++) model.set(sector + s, op[3]);
      }
      if (mustFail) throw new CaseFailure("divergence", `op ${i}: ${kind} ${sector}+${count} should have failed`);
    } catch (err) {
      if (err instanceof CaseFailure) throw err;
      if (!(err instanceof BlockRangeError)) {
        throw new CaseFailure(
          "crash",
          `op ${i}: ${(err as Error).constructor?.name}: ${String((err as Error).message)}`,
        );
      }
      if (!mustFail) throw new CaseFailure("divergence", `op ${i}: ${kind} ${sector}+${count} refused in range`);
    }
  }
  if (!spec.writeThrough && source.writes > 0) {
    throw new CaseFailure("divergence", `copy-on-write disk wrote its source ${source.writes} times`);
  }
}

/** Loads a kernel or firmware case into a fresh VM and runs it; returns instructions retired. */
async function runVmCase(c: Exclude<ImageCase, { kind: "disk" }>): Promise<number> {
  const vm = await Vm.create({ module: loadCoreModule(), ramBytes: c.memMiB << 20, mode: c.mode });
  try {
    if (c.kind === "kernel") {
      const initrd = c.initrd ? buildImage(c.initrd) : undefined;
      loadKernel(vm.cpu, buildImage(c.kernel), initrd, "x".repeat(c.cmdlineLength));
    } else {
      installFirmware(vm, {
        bios: buildImage(c.bios),
        vgaBios: c.vgaBios ? guestFile(VGA_BIOS_FILE) : undefined,
        bootLetters: c.bootLetters,
        hda: c.hda ? new CowDisk(diskSource(c.hda), { granularity: c.hda.granularity }) : undefined,
        cdrom: c.cdrom ? new CowDisk(diskSource(c.cdrom), { granularity: 2048, readOnly: true }) : undefined,
      });
    }
  } catch (err) {
    checkRefusal(err, c.kind === "kernel" ? "loadKernel" : "installFirmware");
    return 0;
  }
  try {
    vm.run(c.instructions);
  } catch (err) {
    throw new CaseFailure("crash", `run: ${(err as Error).constructor?.name}: ${String((err as Error).message)}`);
  }
  return vm.cpu.retired;
}

/** Runs one case; exceptions that are not the case's own verdicts are crashes too. */
export async function runImageCase(c: ImageCase, opts: Pick<CaseOptions, "wallMs">): Promise<CaseResult> {
  const t0 = performance.now();
  let instructions = 0;
  try {
    if (c.kind === "disk") runDiskCase(c.disk, c.ops);
    else instructions = await runVmCase(c);
  } catch (err) {
    const failure =
      err instanceof CaseFailure
        ? err
        : new CaseFailure("crash", `${(err as Error).constructor?.name}: ${String(err)}`);
    return { verdict: failure.verdict, instructions, detail: failure.message, reproducer: c };
  }
  const ms = performance.now() - t0;
  if (ms > opts.wallMs) {
    return { verdict: "hang", instructions, detail: `took ${Math.round(ms)} ms (bound ${opts.wallMs})`, reproducer: c };
  }
  return { verdict: "ok", instructions, detail: "" };
}

// --- Generation ---------------------------------------------------------------------------

/** 32-bit values that sit on the loaders' boundaries. */
const INTERESTING_WORDS = [
  0, 1, 0x20, 0x34, 0xffff, 0x8000, 0x100000, 0x1000000, 0x7fffffff, 0x80000000, 0xfffff000, 0xffffffff,
];

/** Header regions worth most of the mutations, per base image. */
function hotRegions(bytes: Uint8Array): [number, number][] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const regions: [number, number][] = [];
  if (bytes.length > 0x270 && dv.getUint32(0x202, true) === 0x53726448) regions.push([0x1f1, 0x270]); // setup header
  if (bytes.length >= 52 && dv.getUint32(0, false) === 0x7f454c46) {
    regions.push([0, 52]);
    const phoff = dv.getUint32(28, true);
    const end = Math.min(bytes.length, phoff + dv.getUint16(44, true) * 32);
    if (phoff < end) regions.push([phoff, end]);
  }
  for (let off = 0; off + 32 <= Math.min(8192, bytes.length); off += 4) {
    if (dv.getUint32(off, true) === MB_MAGIC) {
      regions.push([off, off + 32]);
      break;
    }
  }
  return regions;
}

function mutate(rng: Rng, base: ImageBase, memBytes: number): ImageSpec {
  const bytes = baseBytes(base);
  const hot = hotRegions(bytes);
  const patches: [number, number][] = [];
  const n = rng.chance(0.1) ? 0 : rng.int(1, 8);
  for (let i = 0; i < n && bytes.length > 0; i++) {
    let at: number;
    if (hot.length > 0 && rng.chance(0.8)) {
      const [lo, hi] = rng.pick(hot);
      at = rng.int(lo, hi - 1);
    } else at = rng.int(0, bytes.length - 1);
    if (rng.chance(0.5)) {
      const word = rng.chance(0.15) ? memBytes : rng.pick(INTERESTING_WORDS);
      const aligned = at & ~3;
      for (let b = 0; b < 4; b++) patches.push([aligned + b, (word >>> (8 * b)) & 0xff]);
    } else patches.push([at, rng.int(0, 255)]);
  }
  const spec: ImageSpec = { base, patches, fixMultibootChecksum: rng.chance(0.5) };
  if (rng.chance(0.1)) spec.length = rng.int(0, bytes.length);
  else if (rng.chance(0.05)) spec.length = bytes.length + rng.int(1, 8192);
  return spec;
}

function diskSpec(rng: Rng, granularity: 512 | 2048): DiskSpec {
  const size = rng.pick([
    0,
    rng.int(1, 4095),
    rng.int(1, 4096) * granularity,
    rng.int(1, 4096) * granularity + rng.int(1, 511),
    2 ** 33 + rng.int(0, 1024) * granularity, // 8 GiB and more: nothing is held in memory
    rng.int(0, 2 ** 20) * 2 ** 20,
  ]);
  return { size, seed: rng.u32(), granularity, writeThrough: rng.chance(0.2), readOnly: rng.chance(0.2) };
}

function diskOps(rng: Rng, spec: DiskSpec): DiskOp[] {
  const sectors = Math.floor(spec.size / SECTOR_SIZE);
  const sector = (): number =>
    rng.pick([
      0,
      rng.int(0, Math.max(0, Math.min(sectors, 2 ** 31) - 1)),
      Math.max(0, sectors - rng.int(0, 8)),
      sectors + rng.int(0, 8),
      rng.u32(),
      -rng.int(1, 8),
    ]);
  const count = (): number => rng.pick([0, 1, rng.int(1, 8), rng.int(1, 256), rng.chance(0.05) ? -1 : 2]);
  const ops: DiskOp[] = [];
  for (let i = rng.int(1, 40); i > 0; i--) {
    // A write's count is its data's length, so it cannot be negative.
    ops.push(rng.chance(0.5) ? ["r", sector(), count()] : ["w", sector(), Math.max(0, count()), rng.int(0, 255)]);
  }
  return ops;
}

/** Builds the case numbered `seed` (modes: the ones the run may use). */
export function generateImageCase(seed: number, modes: readonly Mode[]): ImageCase {
  const rng = new Rng(seed);
  const memMiB = rng.pick([16, 24, 64, 128]);
  const mode = rng.pick(modes);
  const instructions = rng.int(20_000, 200_000);
  const roll = rng.int(0, 99);
  if (roll < 60) {
    const base: ImageBase = rng.pick<ImageBase>([
      { file: "linux/bzImage" },
      { file: rng.pick(GUEST_FILES.slice(1)) },
      { builtin: "multiboot-elf" },
      { builtin: "multiboot-aout" },
      { random: rng.u32(), length: rng.pick([0, 12, 512, 0x1000, 0x2100]) },
    ]);
    const kernel = mutate(rng, base, memMiB << 20);
    const initrd = rng.chance(0.3)
      ? { base: { zeros: rng.pick([0, 1, 4096, 1 << 20, memMiB << 20]) }, patches: [] }
      : undefined;
    const cmdlineLength = rng.pick([0, 13, 255, 256, 2047, 2048, 0x7fc00]);
    return { kind: "kernel", kernel, initrd, cmdlineLength, memMiB, mode, instructions };
  }
  if (roll < 75) {
    const bios: ImageSpec = rng.chance(0.7)
      ? mutate(rng, { file: BIOS_FILE }, memMiB << 20)
      : { base: { random: rng.u32(), length: rng.pick([0, 0x10000, 0x10001, 0x20000, 0x110000]) }, patches: [] };
    return {
      kind: "firmware",
      bios,
      vgaBios: rng.chance(0.5),
      hda: rng.chance(0.6) ? diskSpec(rng, 512) : undefined,
      cdrom: rng.chance(0.4) ? diskSpec(rng, 2048) : undefined,
      bootLetters: rng.pick(["c", "d", "cd", "dc", "n", "cad"]),
      memMiB,
      mode,
      instructions,
    };
  }
  const disk = diskSpec(rng, rng.chance(0.7) ? 512 : 2048);
  return { kind: "disk", disk, ops: diskOps(rng, disk) };
}

/** Drops patches and disk operations one at a time while the case still fails the same way. */
async function minimise(c: ImageCase, verdict: string, opts: CaseOptions): Promise<ImageCase> {
  const deadline = performance.now() + opts.wallMs * 4;
  const fails = async (candidate: ImageCase) => (await runImageCase(candidate, opts)).verdict === verdict;
  let best = structuredClone(c);
  const lists = (x: ImageCase): unknown[][] =>
    x.kind === "disk" ? [x.ops] : x.kind === "kernel" ? [x.kernel.patches] : [x.bios.patches];
  for (let li = 0; li < lists(best).length; li++) {
    for (let i = lists(best)[li].length - 1; i >= 0 && performance.now() < deadline; i--) {
      const candidate = structuredClone(best);
      lists(candidate)[li].splice(i, 1);
      if (await fails(candidate)) best = candidate;
    }
  }
  return best;
}

export const imagesTarget: FuzzTarget = {
  name: "images",
  async run(seed, opts) {
    const c = generateImageCase(seed, opts.modes.length > 0 ? opts.modes : ["native"]);
    const result = await runImageCase(c, opts);
    if (result.verdict === "ok" || result.verdict === "hang") return result;
    return { ...result, reproducer: await minimise(c, result.verdict, opts) };
  },
  replay(reproducer, opts) {
    return runImageCase(reproducer as ImageCase, opts);
  },
  generate(seed, opts) {
    return generateImageCase(seed, opts.modes.length > 0 ? opts.modes : ["native"]);
  },
};

export default imagesTarget;
