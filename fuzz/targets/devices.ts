// Fuzz target "devices": a guest whose program is random port, MMIO, PCI configuration and DMA
// traffic against the PC's devices, written as real instructions so every mode's path (exits,
// string-I/O emulation, callouts, traps) carries it. Two machines:
//   - "firmware": as SeaBIOS finds it (PIC, PIT, RTC, UARTs, i8042, PCI host and PIIX3, IDE with
//     a disk and a CD-ROM, fw_cfg with DMA, VGA registers and its memory window);
//   - "direct": as a direct kernel boot finds it, PCI set up by the VMM, with virtio-blk,
//     virtio-net, virtio-rng, virtio-console and an NE2000 whose BARs the program pokes, and
//     virtqueues it points at random descriptor tables.
// The host must neither throw nor hang, and the disk images behind the copy-on-write drives
// must be left as they were.

import { createHash } from "node:crypto";
import { EchoHostBackend } from "../../devices/net/backend.js";
import { Ne2000 } from "../../devices/net/ne2000.js";
import { PCI_IO_START, PCI_MEM_START } from "../../devices/pci/pci-setup.js";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { VirtioConsole } from "../../devices/virtio/console.js";
import { VirtioNet } from "../../devices/virtio/net.js";
import { VirtioRng } from "../../devices/virtio/rng.js";
import { installFirmware } from "../../vmm/firmware.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import type { VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";
import { type EnvSpec, LAYOUT, setUpGuest } from "../guest-env.js";
import { Rng } from "../rng.js";
import type { CaseOptions, CaseResult, FuzzTarget } from "../target.js";

export interface DevicesCase {
  /** The machine: SeaBIOS's view, or a direct boot's with virtio devices and an NE2000. */
  machine?: "firmware" | "direct";
  /** Real mode or flat 32-bit protected mode. */
  state: "real" | "pm32";
  mode: VirtMode;
  /** The program, base64. */
  code: string;
  /** Seeds of the disk and CD images (their bytes are a function of the seed). */
  diskSeed: number;
  budget: number;
}

/** Ports with something behind them, by device, and values each tends to want. */
const PORTS: [number, number][] = [
  [0x20, 2], // PIC master
  [0xa0, 2], // PIC slave
  [0x40, 4], // PIT
  [0x61, 1],
  [0x70, 2], // RTC
  [0x3f8, 8], // COM1
  [0x2f8, 8], // COM2
  [0x60, 1], // i8042
  [0x64, 1],
  [0x92, 1],
  [0x80, 1], // POST
  [0x402, 1], // debug console
  [0xcf8, 4], // PCI configuration
  [0xcfc, 4],
  [0xcf9, 1], // PIIX3 reset control
  [0x1f0, 8], // IDE primary
  [0x3f6, 1],
  [0x170, 8], // IDE secondary
  [0x376, 1],
  [PCI_IO_START, 0x200], // I/O BARs (bus-master IDE, virtio legacy, NE2000) as the VMM assigns them
  [0x510, 2], // fw_cfg selector and data
  [0x514, 8], // fw_cfg DMA address
  [0x3c0, 32], // VGA
];
const ATA_COMMANDS = [
  0xec, 0xa1, 0x20, 0x21, 0x24, 0x29, 0x30, 0x34, 0x39, 0xc4, 0xc5, 0xc6, 0x40, 0x42, 0x91, 0xe7, 0xea, 0xef, 0xe5,
  0xa0, 0x08, 0x90, 0x10, 0x70, 0xe0, 0xe1,
];

let module: WebAssembly.Module | undefined;

/** An instruction emitter for 16- or 32-bit code. */
class Program {
  readonly bytes: number[] = [];
  constructor(readonly code32: boolean) {}
  private size(bits: 8 | 16 | 32): number[] {
    if (bits === 8) return [];
    return (bits === 32) === this.code32 ? [] : [0x66];
  }
  private imm(v: number, n: number): number[] {
    return Array.from({ length: n }, (_, i) => (v >>> (i * 8)) & 0xff);
  }
  /** mov dx, port */
  dx(port: number): void {
    this.bytes.push(...this.size(16), 0xba, ...this.imm(port, 2));
  }
  /** mov eax/ax/al, v */
  acc(v: number, bits: 8 | 16 | 32): void {
    if (bits === 8) this.bytes.push(0xb0, v & 0xff);
    else this.bytes.push(...this.size(bits), 0xb8, ...this.imm(v, bits / 8));
  }
  /** mov e?x, v with the full register for this code size */
  reg32(opcode: number, v: number): void {
    this.bytes.push(...this.size(32), opcode, ...this.imm(v, 4));
  }
  out(bits: 8 | 16 | 32): void {
    this.bytes.push(...this.size(bits), bits === 8 ? 0xee : 0xef);
  }
  in(bits: 8 | 16 | 32): void {
    this.bytes.push(...this.size(bits), bits === 8 ? 0xec : 0xed);
  }
  /** rep ins/outs of `bits` elements */
  repString(out: boolean, bits: 8 | 16 | 32): void {
    this.bytes.push(0xf3, ...this.size(bits), out ? (bits === 8 ? 0x6e : 0x6f) : bits === 8 ? 0x6c : 0x6d);
  }
  /** mov word [addr], v (32-bit code) */
  storeWord(addr: number, v: number): void {
    this.bytes.push(0x66, 0xc7, 0x05, ...this.imm(addr, 4), ...this.imm(v, 2));
  }
  raw(...b: number[]): void {
    this.bytes.push(...b);
  }
}

function port(rng: Rng): number {
  if (rng.chance(0.1)) return rng.int(0, 0xffff);
  const [base, n] = rng.pick(PORTS);
  return base + rng.int(0, n - 1);
}

function bits(rng: Rng): 8 | 16 | 32 {
  return rng.pick([8, 8, 16, 32] as const);
}

const QUEUE_SIZE_AT = new Map([
  [PCI_IO_START, 128],
  [PCI_IO_START + 0x80, 256],
  [PCI_IO_START + 0xa0, 64],
  [PCI_IO_START + 0xc0, 64],
]);

/**
 * A legacy virtio driver's steps on one of the I/O BARs from PCI_IO_START: reset, features,
 * a queue whose ring lies in the (random) data area, DRIVER_OK, notify; sometimes out of order.
 */
function virtioBurst(rng: Rng, p: Program, dataPtr: number): void {
  const base = PCI_IO_START + 0x20 * rng.int(0, 7); // every 32-byte aligned BAR start
  // Queue sizes by where the VMM's PCI setup puts each legacy BAR (blk, net, rng, console): a
  // bias only, so that the rings written below often sit where the device reads them.
  const queueSize = QUEUE_SIZE_AT.get(base) ?? rng.pick([64, 128, 256]);
  const out = (reg: number, v: number, bits: 8 | 16 | 32) => {
    p.dx(base + reg);
    p.acc(v, bits);
    p.out(bits);
  };
  if (rng.chance(0.8)) out(0x12, 0, 8); // status: reset
  if (rng.chance(0.8)) out(0x12, 3, 8); // ACKNOWLEDGE | DRIVER
  if (rng.chance(0.7)) out(0x04, rng.chance(0.5) ? rng.u32() : 0x30000000, 32); // guest features
  const queue = rng.pick([0, 0, 0, 1, 2, 3]); // 0 most often: every device has it
  out(0x0e, queue, 16);
  const ring = (dataPtr & ~0xfff) >>> 0;
  out(0x08, rng.chance(0.8) ? ring >>> 12 : rng.u32(), 32); // queue PFN
  if (p.code32 && rng.chance(0.7)) {
    // A small available index and head, so the device walks the (random) descriptors instead
    // of only refusing an index far ahead: the avail ring follows the descriptor table, whose
    // size is the queue size (64, 128 or 256 here).
    const avail = ring + 16 * queueSize;
    p.storeWord(avail + 2, rng.int(1, 4)); // avail.idx
    p.storeWord(avail + 4, rng.int(0, 70)); // avail.ring[0]
  }
  if (rng.chance(0.8)) out(0x12, 7, 8); // DRIVER_OK
  for (let n = rng.int(1, 4); n > 0; n--) out(0x10, rng.chance(0.7) ? queue : rng.int(0, 3), 16); // notify
  if (rng.chance(0.5)) {
    p.dx(base + 0x13); // ISR (read clears)
    p.in(8);
  }
}

/** One burst of device traffic. */
function burst(rng: Rng, p: Program, code32: boolean, direct: boolean): void {
  const dataPtr = code32 ? LAYOUT.data + rng.int(0, 0x1f000) : rng.int(0, 0xf000);
  // IDE commands come twice as often as the other kinds: the IDE state machine is the largest.
  switch (rng.pick([0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 8])) {
    case 0: {
      // A write. The two reset ports (0x92 bit 0, 0xCF9 bit 2) mostly keep their reset bit
      // clear, or most cases would end in their first milliseconds.
      const to = port(rng);
      let v = rng.u32();
      if (to === 0x92 && rng.chance(0.9)) v &= ~1;
      if (to === 0xcf9 && rng.chance(0.9)) v &= ~4;
      p.dx(to);
      p.acc(v, bits(rng));
      p.out(bits(rng));
      break;
    }
    case 1: // a read
      p.dx(port(rng));
      p.in(bits(rng));
      break;
    case 2: {
      // An IDE command, possibly with a select change around it and data moved by REP INS/OUTS.
      const base = rng.pick([0x1f0, 0x170]);
      p.dx(base + 6);
      p.acc(rng.pick([0xa0, 0xe0, 0xa0, 0xe0, 0xb0, 0xf0, rng.int(0, 255)]), 8);
      p.out(8);
      for (const reg of [1, 2, 3, 4, 5]) {
        if (!rng.chance(0.6)) continue;
        p.dx(base + reg);
        p.acc(rng.chance(0.5) ? rng.int(0, 4) : rng.int(0, 255), 8);
        p.out(8);
      }
      p.dx(base + 7);
      // Half the time a command that starts a PIO transfer.
      p.acc(rng.chance(0.5) ? rng.pick([0xec, 0xa1, 0x20, 0x30, 0xa0]) : rng.pick(ATA_COMMANDS), 8);
      p.out(8);
      if (rng.chance(0.5)) {
        p.dx(base + 6);
        p.acc(rng.pick([0xa0, 0xb0]), 8);
        p.out(8);
      }
      p.dx(base);
      p.reg32(0xb9, rng.pick([1, 6, 256, 257, 2048, rng.int(0, 70000)]));
      p.reg32(rng.chance(0.5) ? 0xbf : 0xbe, dataPtr);
      p.repString(rng.chance(0.3), rng.pick([16, 16, 32, 8] as const));
      break;
    }
    case 3: {
      // PCI configuration: an address, then data accesses (BARs, command, PIRQ routing).
      p.dx(0xcf8);
      const dev = rng.chance(0.8) ? rng.int(0, 2) : rng.int(0, 31);
      const reg = rng.chance(0.5)
        ? rng.pick([0x04, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x3c, 0x60, 0x40])
        : rng.int(0, 255);
      p.acc((0x80000000 | (dev << 11) | (rng.int(0, 7) << 8) | (reg & 0xfc)) >>> 0, 32);
      p.out(32);
      p.dx(0xcfc + rng.int(0, 3));
      if (rng.chance(0.5)) {
        p.acc(rng.pick([0xffffffff, 0xc001, 0x0, rng.u32()]), 32);
        p.out(bits(rng));
      } else p.in(bits(rng));
      break;
    }
    case 4: {
      // fw_cfg DMA: a descriptor address (big-endian halves) anywhere, in RAM or not.
      p.dx(0x510);
      p.acc(rng.int(0, 0x30), 16);
      p.out(16);
      p.dx(0x514);
      p.acc(rng.chance(0.8) ? 0 : rng.u32(), 32);
      p.out(32);
      p.dx(0x518);
      const addr = rng.chance(0.7) ? dataPtr : rng.u32();
      p.acc(((addr & 0xff) << 24) | ((addr & 0xff00) << 8) | ((addr >>> 8) & 0xff00) | (addr >>> 24), 32);
      p.out(32);
      break;
    }
    case 5: {
      // Device memory: the VGA window, or (direct) the memory BARs (virtio's modern registers).
      if (!code32) break;
      const at = direct && rng.chance(0.6) ? PCI_MEM_START + rng.int(0, 0x3fffc) : 0xa0000 + rng.int(0, 0x1fffc);
      p.acc(rng.u32(), 32);
      p.raw(rng.chance(0.5) ? 0xa3 : 0xa1, at & 0xff, (at >>> 8) & 0xff, (at >>> 16) & 0xff, at >>> 24);
      break;
    }
    case 6: {
      // A long REP string I/O (interruptible: it must not stall the host).
      p.dx(port(rng));
      p.reg32(0xb9, rng.chance(0.3) ? 0xffffffff : rng.int(0, 100_000));
      p.reg32(0xbf, dataPtr);
      p.reg32(0xbe, dataPtr);
      p.repString(rng.chance(0.5), bits(rng));
      break;
    }
    case 8:
      if (direct) virtioBurst(rng, p, dataPtr);
      break;
    default:
      // Interrupts on or off; the PIT and PIC may have been programmed to raise them.
      p.raw(rng.chance(0.3) ? 0xfb : 0xfa);
  }
}

export function generateDevicesCase(seed: number, modes: readonly VirtMode[]): DevicesCase {
  const rng = new Rng(seed);
  const machine = rng.chance(0.5) ? "direct" : "firmware";
  const state = rng.chance(0.7) ? "pm32" : "real";
  const p = new Program(state === "pm32");
  for (let n = rng.int(5, 120); n > 0; n--) burst(rng, p, state === "pm32", machine === "direct");
  p.raw(0xfa, 0xf4); // cli; hlt
  return {
    machine,
    state,
    mode: rng.pick(modes.length > 0 ? modes : ["native"]),
    code: Buffer.from(p.bytes).toString("base64"),
    diskSeed: rng.u32(),
    budget: rng.pick([50_000, 500_000, 2_000_000]),
  };
}

function image(seed: number, bytes: number): Uint8Array {
  const rng = new Rng(seed);
  return rng.bytes(bytes);
}

const digest = (b: Uint8Array) => createHash("sha1").update(b).digest("hex");

/** Runs a case; `inspect` sees the VM when the run is over (tests and diagnosis). */
export async function runDevicesCase(c: DevicesCase, inspect?: (vm: Vm) => void): Promise<CaseResult> {
  module ??= loadCoreModule();
  const disk = image(c.diskSeed, 64 * 1024);
  const disk2 = image(c.diskSeed ^ 0xa5a5, 64 * 1024);
  const cd = image(c.diskSeed ^ 0x5a5a, 16 * 2048);
  const before = [digest(disk), digest(disk2), digest(cd)];
  let instructions = 0;
  try {
    const hda = new CowDisk(bytesSource(disk), { name: "fuzz disk" });
    const cdrom = new CowDisk(bytesSource(cd), { name: "fuzz cd", granularity: 2048, readOnly: true });
    const direct = c.machine === "direct";
    const entropy = new Rng(c.diskSeed ^ 0x1234);
    const vm = await Vm.create({
      module,
      ramBytes: 4 << 20,
      mode: c.mode,
      wallClockSeconds: 0,
      pci: direct
        ? {
            hda: { kind: "disk", disk: hda },
            hdc: { kind: "cdrom", medium: cdrom },
            virtio: [
              new VirtioBlk({ disk: new CowDisk(bytesSource(disk2), { name: "fuzz virtio disk" }), serial: "fuzz" }),
              new VirtioNet(new EchoHostBackend()),
              new VirtioRng((dest) => dest.set(entropy.bytes(dest.length))),
              new VirtioConsole(() => {}),
            ],
            functions: [new Ne2000(new EchoHostBackend())],
          }
        : undefined,
    });
    // Firmware devices with a BIOS that only halts: the program below runs instead of it.
    if (!direct) {
      installFirmware(vm, {
        bios: new Uint8Array(0x10000).fill(0xf4),
        hda,
        cdrom,
        onReset: () => vm.requestStop({ kind: "reset", source: "PIIX3 0xCF9" }),
      });
    }
    const env: EnvSpec = {
      state: c.state,
      resume: "bytes",
      regs: [0, 0, 0, 0, 0, 0, 0, 0],
      flags: 0,
      iopl: 0,
      paging: false,
      wp: false,
      pse: false,
      pge: false,
      vme: false,
      pteEdits: [],
      extraDescriptors: [],
      gateTypes: [],
    };
    // The data area is random: virtqueues the program points there hold random descriptors.
    setUpGuest(vm.cpu, env, Buffer.from(c.code, "base64"), new Rng(c.diskSeed ^ 0x77).bytes(0x20000));
    vm.run(c.budget);
    instructions = vm.cpu.retired;
    inspect?.(vm);
  } catch (err) {
    return { verdict: "crash", instructions, detail: `host threw: ${String(err).split("\n")[0]}`, reproducer: c };
  }
  if (digest(disk) !== before[0] || digest(disk2) !== before[1] || digest(cd) !== before[2]) {
    return { verdict: "crash", instructions, detail: "a copy-on-write image was modified", reproducer: c };
  }
  return { verdict: "ok", instructions, detail: "" };
}

/**
 * The shortest prefix of the failing program that still fails the same way (binary search on
 * its length; the prefix ends in CLI; HLT), so a reproducer holds only the traffic that matters.
 */
async function minimise(c: DevicesCase, failing: CaseResult): Promise<CaseResult> {
  const code = Buffer.from(c.code, "base64");
  const withPrefix = (n: number): DevicesCase => ({
    ...c,
    code: Buffer.concat([code.subarray(0, n), Buffer.from([0xfa, 0xf4])]).toString("base64"),
  });
  let lo = 0;
  let hi = code.length;
  let best = failing;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const r = await runDevicesCase(withPrefix(mid));
    if (r.verdict === failing.verdict && r.detail === failing.detail) {
      hi = mid;
      best = r;
    } else lo = mid;
  }
  return hi < code.length ? { ...best, reproducer: withPrefix(hi) } : failing;
}

export const devicesTarget: FuzzTarget = {
  name: "devices",
  async run(seed, opts: CaseOptions) {
    const r = await runDevicesCase(generateDevicesCase(seed, opts.modes));
    return r.verdict === "ok" ? r : minimise(r.reproducer as DevicesCase, r);
  },
  replay: (reproducer) => runDevicesCase(reproducer as DevicesCase),
  generate: (seed, opts) => generateDevicesCase(seed, opts.modes),
};
