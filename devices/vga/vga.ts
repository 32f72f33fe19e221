// IBM VGA: the registers the video BIOS and a text console touch, the 128 KiB legacy memory
// window at 0xA0000 over four 64 KiB planes, and a text-mode renderer.
//
// Registers (FreeVGA's VGA reference; QEMU hw/display/vga.c for what QEMU does):
// - 0x3C0/0x3C1 attribute controller: one flip-flop alternates index and data writes at 0x3C0;
//   reading input status 1 (0x3DA/0x3BA) resets it to "index". Index bit 5 (PAS) enables the
//   display. 0x3C1 reads the data register.
// - 0x3C2 write: miscellaneous output (bit 0: CRTC and status at 0x3Dx (1) or 0x3Bx (0));
//   read: input status 0. 0x3CC reads the misc output back. 0x3C3: VGA enable.
// - 0x3C4/0x3C5 sequencer, 0x3CE/0x3CF graphics controller (index/data).
// - 0x3C6 PEL mask, 0x3C7 DAC read index (read: DAC state), 0x3C8 DAC write index, 0x3C9 DAC data
//   (three 6-bit components per entry, auto-increment).
// - 0x3B4/0x3B5 or 0x3D4/0x3D5 CRTC index/data; registers 0-7 are write-protected by CR11 bit 7
//   (except CR07 bit 4). 0x3BA/0x3DA input status 1 (read), feature control (write).
//   0x3CA reads feature control. Ports of the inactive (mono/colour) set read 0xFF.
// Input status 1 has no time base here: bit 0 (display disabled) and bit 3 (vertical retrace)
// follow a fixed cycle of reads, so "wait for retrace" loops end after a few reads.
//
// Memory: planes are stored interleaved (byte 4*offset + plane), as QEMU does. The graphics
// controller's memory map (GR06 bits 3-2) places the window: 0xA0000 128 KiB, 0xA0000 64 KiB,
// 0xB0000 32 KiB or 0xB8000 32 KiB; accesses outside it read 0xFF and are dropped. Host
// addressing: chain-4 (SR04 bit 3), odd/even (writes: SR04 bit 2 clear; reads: GR05 bit 4),
// else planar with write modes 0-3, set/reset, rotate, logical operation, bit mask, read modes
// 0-1 and the latches. In odd/even addressing the cell at window offset 2k is plane offset k:
// the character in plane 0, its attribute in plane 1, as the text renderer reads them.
//
// The power-on state is mode 3 (80x25 colour text), as the VGA BIOS leaves it, so text works
// on a direct kernel boot with no BIOS.

import type { MmioBus } from "../bus/mmio-bus.js";
import type { AccessSize, PortBus } from "../bus/port-bus.js";
import { CP437 } from "./cp437.js";

export const VGA_WINDOW_BASE = 0xa0000;
export const VGA_WINDOW_SIZE = 0x20000;
const PLANE_SIZE = 0x10000;

// Mode 3 register values (the IBM VGA BIOS parameter table for 80x25, 720x400, 16 colours).
const MODE3_MISC = 0x67;
const MODE3_SEQ = [0x03, 0x00, 0x03, 0x00, 0x02];
const MODE3_CRTC = [
  0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f,
  0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
];
const MODE3_ATTR = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c, 0x00, 0x0f,
  0x08, 0x00,
];
const MODE3_GC = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff];

// Writable bits (QEMU's sr_mask and gr_mask).
const SEQ_MASK = [0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0x00, 0x00, 0x00];
const GC_MASK = [0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff, 0, 0, 0, 0, 0, 0, 0];

export interface TextCursor {
  row: number;
  col: number;
  visible: boolean;
  /** Cursor start and end scan lines (CR0A, CR0B bits 4-0). */
  start: number;
  end: number;
}

export interface TextScreen {
  cols: number;
  rows: number;
  /** One string per row, CP437 decoded (0x00 and 0xFF as spaces). */
  lines: string[];
  /** Character codes, row-major, `rows * cols`. */
  chars: Uint8Array;
  /** Attribute bytes, row-major: bits 3-0 foreground, 6-4 background, 7 blink or bright bg. */
  attrs: Uint8Array;
  cursor: TextCursor;
  /** Attribute bit 7 means blink (AC mode control bit 3); otherwise a bright background. */
  blink: boolean;
  /** False when the screen is blanked (attribute PAS clear or sequencer screen off). */
  enabled: boolean;
  /** A graphics mode is set (GR06 bit 0): `lines` are blank then. */
  graphics: boolean;
  /** The `changed` counter this snapshot was taken at. */
  version: number;
}

export interface VgaOptions {
  /** Name in port/MMIO ownership messages. */
  name?: string;
}

export class Vga {
  /** Four planes, interleaved: byte 4 * offset + plane. */
  readonly vram = new Uint8Array(4 * PLANE_SIZE);
  misc = 0;
  readonly seq = new Uint8Array(8);
  seqIndex = 0;
  readonly gc = new Uint8Array(16);
  gcIndex = 0;
  readonly crtc = new Uint8Array(256);
  crtcIndex = 0;
  readonly attr = new Uint8Array(32);
  /** Attribute index register, PAS (bit 5) included. */
  attrIndex = 0;
  /** Attribute flip-flop: false = next 0x3C0 write is an index. */
  attrFlip = false;
  featureControl = 0;
  vgaEnable = 1;
  /** DAC: 256 entries of three 6-bit components. */
  readonly dac = new Uint8Array(768);
  pelMask = 0xff;
  private dacReadIndex = 0;
  private dacWriteIndex = 0;
  private dacSub = 0;
  private dacState = 0;
  private readonly latch = new Uint8Array(4);
  private statusReads = 0;
  private version = 0;
  private readonly name: string;

  constructor(options: VgaOptions = {}) {
    this.name = options.name ?? "VGA";
    this.reset();
  }

  /** Bumped by every write to video memory or a register: redraw when it moves. */
  get changed(): number {
    return this.version;
  }

  /** Power-on state: mode 3 registers, the EGA-compatible palette in the DAC, memory cleared. */
  reset(): void {
    this.misc = MODE3_MISC;
    this.seq.fill(0);
    this.seq.set(MODE3_SEQ);
    this.gc.fill(0);
    this.gc.set(MODE3_GC);
    this.crtc.fill(0);
    this.crtc.set(MODE3_CRTC);
    this.attr.fill(0);
    this.attr.set(MODE3_ATTR);
    this.attrIndex = 0x20;
    this.attrFlip = false;
    this.seqIndex = this.gcIndex = this.crtcIndex = 0;
    this.featureControl = 0;
    this.vgaEnable = 1;
    this.pelMask = 0xff;
    this.dacReadIndex = this.dacWriteIndex = this.dacSub = this.dacState = 0;
    this.dac.fill(0);
    for (let i = 0; i < 64; i++) {
      // EGA colour i is rgbRGB: primary bits give 2/3 intensity, secondary 1/3
      const comp = (primary: number, secondary: number): number =>
        ((i >> primary) & 1) * 0x2a + ((i >> secondary) & 1) * 0x15;
      this.dac.set([comp(2, 5), comp(1, 4), comp(0, 3)], i * 3);
    }
    this.vram.fill(0);
    this.latch.fill(0);
    this.statusReads = 0;
    this.version++;
  }

  /** CRTC and input status 1 at 0x3Dx (colour) rather than 0x3Bx (mono). */
  get colorPorts(): boolean {
    return (this.misc & 1) !== 0;
  }

  attach(ports: PortBus, mmio?: MmioBus): void {
    const read = (port: number, size: AccessSize): number => {
      let v = 0;
      for (let k = 0; k < size; k++) v |= this.readPort(port + k) << (8 * k);
      return v >>> 0;
    };
    const write = (port: number, size: AccessSize, value: number): void => {
      for (let k = 0; k < size; k++) this.writePort(port + k, (value >>> (8 * k)) & 0xff);
    };
    for (const [start, length] of [
      [0x3b4, 2],
      [0x3ba, 1],
      [0x3c0, 16],
      [0x3d4, 2],
      [0x3da, 1],
    ] as const) {
      ports.register({ owner: this.name, start, length, sizes: 1 | 2, read, write });
    }
    mmio?.register({
      owner: `${this.name} memory`,
      base: VGA_WINDOW_BASE,
      length: VGA_WINDOW_SIZE,
      sizes: 1 | 2 | 4,
      read: (addr, size) => {
        let v = 0;
        for (let k = 0; k < size; k++) v |= this.readMemory(addr + k) << (8 * k);
        return v >>> 0;
      },
      write: (addr, size, value) => {
        for (let k = 0; k < size; k++) this.writeMemory(addr + k, (value >>> (8 * k)) & 0xff);
      },
    });
  }

  // Ports ------------------------------------------------------------------------------------

  readPort(port: number): number {
    const color = this.colorPorts;
    switch (port) {
      case 0x3c0:
        return this.attrIndex;
      case 0x3c1:
        return this.attr[this.attrIndex & 0x1f]!;
      case 0x3c2:
        return 0x00; // input status 0: no switch sense, no CRT interrupt
      case 0x3c3:
        return this.vgaEnable;
      case 0x3c4:
        return this.seqIndex;
      case 0x3c5:
        return this.seq[this.seqIndex]!;
      case 0x3c6:
        return this.pelMask;
      case 0x3c7:
        return this.dacState;
      case 0x3c8:
        return this.dacWriteIndex;
      case 0x3c9: {
        const v = this.dac[this.dacReadIndex * 3 + this.dacSub]!;
        if (++this.dacSub === 3) {
          this.dacSub = 0;
          this.dacReadIndex = (this.dacReadIndex + 1) & 0xff;
        }
        return v;
      }
      case 0x3ca:
        return this.featureControl;
      case 0x3cc:
        return this.misc;
      case 0x3ce:
        return this.gcIndex;
      case 0x3cf:
        return this.gc[this.gcIndex]!;
      case 0x3b4:
      case 0x3d4:
        return color === (port === 0x3d4) ? this.crtcIndex : 0xff;
      case 0x3b5:
      case 0x3d5:
        return color === (port === 0x3d5) ? this.crtc[this.crtcIndex]! : 0xff;
      case 0x3ba:
      case 0x3da:
        return color === (port === 0x3da) ? this.readStatus1() : 0xff;
      default:
        return 0xff;
    }
  }

  writePort(port: number, value: number): void {
    value &= 0xff;
    const color = this.colorPorts;
    this.version++;
    switch (port) {
      case 0x3c0:
        if (!this.attrFlip) {
          this.attrIndex = value & 0x3f;
        } else {
          this.writeAttr(this.attrIndex & 0x1f, value);
        }
        this.attrFlip = !this.attrFlip;
        return;
      case 0x3c2:
        this.misc = value;
        return;
      case 0x3c3:
        this.vgaEnable = value & 1;
        return;
      case 0x3c4:
        this.seqIndex = value & 7;
        return;
      case 0x3c5:
        this.seq[this.seqIndex] = value & SEQ_MASK[this.seqIndex]!;
        return;
      case 0x3c6:
        this.pelMask = value;
        return;
      case 0x3c7:
        this.dacReadIndex = value;
        this.dacSub = 0;
        this.dacState = 3;
        return;
      case 0x3c8:
        this.dacWriteIndex = value;
        this.dacSub = 0;
        this.dacState = 0;
        return;
      case 0x3c9:
        this.dac[this.dacWriteIndex * 3 + this.dacSub] = value & 0x3f;
        if (++this.dacSub === 3) {
          this.dacSub = 0;
          this.dacWriteIndex = (this.dacWriteIndex + 1) & 0xff;
        }
        return;
      case 0x3ce:
        this.gcIndex = value & 0x0f;
        return;
      case 0x3cf:
        this.gc[this.gcIndex] = value & GC_MASK[this.gcIndex]!;
        return;
      case 0x3b4:
      case 0x3d4:
        if (color === (port === 0x3d4)) this.crtcIndex = value;
        return;
      case 0x3b5:
      case 0x3d5:
        if (color === (port === 0x3d5)) this.writeCrtc(this.crtcIndex, value);
        return;
      case 0x3ba:
      case 0x3da:
        if (color === (port === 0x3da)) this.featureControl = value & 0x03;
        return;
    }
  }

  private writeAttr(index: number, value: number): void {
    if (index <= 0x0f) this.attr[index] = value & 0x3f;
    else if (index === 0x10) this.attr[index] = value & ~0x10;
    else if (index === 0x11) this.attr[index] = value;
    else if (index === 0x12) this.attr[index] = value & 0x3f;
    else if (index === 0x13) this.attr[index] = value & 0x0f;
    else if (index === 0x14) this.attr[index] = value & 0x0f;
  }

  private writeCrtc(index: number, value: number): void {
    if (index <= 7 && this.crtc[0x11]! & 0x80) {
      // CR00-CR07 protected; only the line compare bit 8 of CR07 stays writable
      if (index === 7) this.crtc[7] = (this.crtc[7]! & ~0x10) | (value & 0x10);
      return;
    }
    this.crtc[index] = value;
  }

  private readStatus1(): number {
    this.attrFlip = false;
    const n = this.statusReads++;
    // 20-read cycle: vertical retrace for the last 4; horizontal blanking every other read
    const retrace = n % 20 >= 16;
    return (retrace ? 0x08 : 0) | (retrace || (n & 1) !== 0 ? 0x01 : 0);
  }

  // Memory -----------------------------------------------------------------------------------

  /** Offset of `addr` inside the window the memory map selects, or -1. */
  private windowOffset(addr: number): number {
    const off = addr - VGA_WINDOW_BASE;
    switch ((this.gc[6]! >> 2) & 3) {
      case 0:
        return off >= 0 && off < 0x20000 ? off : -1;
      case 1:
        return off >= 0 && off < 0x10000 ? off : -1;
      case 2:
        return off >= 0x10000 && off < 0x18000 ? off - 0x10000 : -1;
      default:
        return off >= 0x18000 && off < 0x20000 ? off - 0x18000 : -1;
    }
  }

  readMemory(addr: number): number {
    const off = this.windowOffset(addr);
    if (off < 0) return 0xff;
    const vram = this.vram;
    if (this.seq[4]! & 0x08) {
      // chain 4: the low two address bits pick the plane
      const offset = (off >> 2) & 0xffff;
      this.loadLatch(offset);
      return vram[offset * 4 + (off & 3)]!;
    }
    if (this.gc[5]! & 0x10) {
      // odd/even: address bit 0 picks plane 0/1 (or 2/3 with read map select bit 1)
      const offset = (off >> 1) & 0xffff;
      this.loadLatch(offset);
      return vram[offset * 4 + ((this.gc[4]! & 2) | (off & 1))]!;
    }
    const offset = off & 0xffff;
    this.loadLatch(offset);
    if (!(this.gc[5]! & 0x08)) return this.latch[this.gc[4]! & 3]!;
    // read mode 1: colour compare
    const compare = this.gc[2]!;
    const care = this.gc[7]!;
    let result = 0xff;
    for (let p = 0; p < 4; p++) {
      if (!((care >> p) & 1)) continue;
      const want = (compare >> p) & 1 ? 0xff : 0x00;
      result &= ~(this.latch[p]! ^ want);
    }
    return result & 0xff;
  }

  writeMemory(addr: number, value: number): void {
    const off = this.windowOffset(addr);
    if (off < 0) return;
    value &= 0xff;
    this.version++;
    const mapMask = this.seq[2]! & 0x0f;
    const vram = this.vram;
    if (this.seq[4]! & 0x08) {
      const plane = off & 3;
      if (mapMask & (1 << plane)) vram[((off >> 2) & 0xffff) * 4 + plane] = value;
      return;
    }
    if (!(this.seq[4]! & 0x04)) {
      // odd/even: even addresses reach planes 0 and 2, odd ones 1 and 3
      const base = ((off >> 1) & 0xffff) * 4;
      const planes = mapMask & (off & 1 ? 0b1010 : 0b0101);
      for (let p = 0; p < 4; p++) if (planes & (1 << p)) vram[base + p] = value;
      return;
    }
    const base = (off & 0xffff) * 4;
    const mode = this.gc[5]! & 3;
    if (mode === 1) {
      for (let p = 0; p < 4; p++) if (mapMask & (1 << p)) vram[base + p] = this.latch[p]!;
      return;
    }
    const rot = this.gc[3]! & 7;
    const rotated = ((value >> rot) | (value << (8 - rot))) & 0xff;
    const setReset = this.gc[0]!;
    const enableSetReset = this.gc[1]!;
    let bitMask = this.gc[8]!;
    if (mode === 3) bitMask &= rotated;
    const op = (this.gc[3]! >> 3) & 3;
    for (let p = 0; p < 4; p++) {
      if (!(mapMask & (1 << p))) continue;
      let data: number;
      if (mode === 0) data = (enableSetReset >> p) & 1 ? ((setReset >> p) & 1 ? 0xff : 0) : rotated;
      else if (mode === 2) data = (value >> p) & 1 ? 0xff : 0;
      else data = (setReset >> p) & 1 ? 0xff : 0;
      const latch = this.latch[p]!;
      if (op === 1) data &= latch;
      else if (op === 2) data |= latch;
      else if (op === 3) data ^= latch;
      vram[base + p] = (data & bitMask) | (latch & ~bitMask & 0xff);
    }
  }

  private loadLatch(offset: number): void {
    const i = offset * 4;
    const v = this.vram;
    this.latch[0] = v[i]!;
    this.latch[1] = v[i + 1]!;
    this.latch[2] = v[i + 2]!;
    this.latch[3] = v[i + 3]!;
  }

  // Text rendering ------------------------------------------------------------------------------

  /** The text screen as the CRTC scans it out (character/attribute at plane 0/1). */
  textScreen(): TextScreen {
    const crtc = this.crtc;
    const graphics = (this.gc[6]! & 1) !== 0 || (this.attr[0x10]! & 1) !== 0;
    const cols = clamp(crtc[1]! + 1, 1, 256);
    const pitch = crtc[0x13]! * 2 || cols;
    const charHeight = (crtc[9]! & 0x1f) + 1;
    const vde = crtc[0x12]! | ((crtc[7]! & 0x02) << 7) | ((crtc[7]! & 0x40) << 3);
    const rows = clamp(Math.floor((vde + 1) / charHeight), 1, 128);
    const start = (crtc[0x0c]! << 8) | crtc[0x0d]!;
    const chars = new Uint8Array(rows * cols);
    const attrs = new Uint8Array(rows * cols);
    const lines: string[] = [];
    for (let r = 0; r < rows; r++) {
      let line = "";
      for (let c = 0; c < cols; c++) {
        const offset = (start + r * pitch + c) & 0xffff;
        const ch = graphics ? 0x20 : this.vram[offset * 4]!;
        chars[r * cols + c] = ch;
        attrs[r * cols + c] = graphics ? 0 : this.vram[offset * 4 + 1]!;
        line += ch === 0 || ch === 0xff ? " " : CP437[ch];
      }
      lines.push(line);
    }
    const enabled = (this.attrIndex & 0x20) !== 0 && !(this.seq[1]! & 0x20);
    const location = (crtc[0x0e]! << 8) | crtc[0x0f]!;
    const rel = (location - start) & 0xffff;
    const row = Math.floor(rel / pitch);
    const col = rel % pitch;
    const cstart = crtc[0x0a]! & 0x1f;
    const cend = crtc[0x0b]! & 0x1f;
    const visible = enabled && !graphics && !(crtc[0x0a]! & 0x20) && cstart <= cend && row < rows && col < cols;
    return {
      cols,
      rows,
      lines,
      chars,
      attrs,
      cursor: { row, col, visible, start: cstart, end: cend },
      blink: (this.attr[0x10]! & 0x08) !== 0,
      enabled,
      graphics,
      version: this.version,
    };
  }

  /** The screen as plain text, one line per row, trailing spaces removed. */
  text(): string {
    return this.textScreen()
      .lines.map((l) => l.trimEnd())
      .join("\n");
  }

  /**
   * The 16 text colours as CSS "#rrggbb": attribute colour index -> palette register ->
   * (colour select) -> DAC entry (masked by the PEL mask) -> 6-bit RGB scaled to 8 bits.
   */
  textColors(): string[] {
    const out: string[] = [];
    const mode = this.attr[0x10]!;
    const colorSelect = this.attr[0x14]!;
    for (let i = 0; i < 16; i++) {
      let index = this.attr[i]! & 0x3f;
      if (mode & 0x80) index = (index & 0x0f) | ((colorSelect & 0x03) << 4);
      index |= (colorSelect & 0x0c) << 4;
      index &= this.pelMask;
      const hex = (c: number): string =>
        Math.round((this.dac[index * 3 + c]! * 255) / 63)
          .toString(16)
          .padStart(2, "0");
      out.push(`#${hex(0)}${hex(1)}${hex(2)}`);
    }
    return out;
  }
}

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));
