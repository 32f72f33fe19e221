// NE2000 on PCI: the Realtek RTL8029 (10EC:8029), a DP8390 core with 32 KiB of packet memory
// behind a 32-byte I/O BAR. The full-virtualization NIC: every register and every byte of every
// frame moves through port I/O (remote DMA through the data port), where virtio-net moves a
// descriptor. Behaviour follows the DP8390 data sheet as QEMU's ne2000.c models it, which is what
// Linux's ne2k-pci and lib8390 expect:
//
//   0x00-0x0F  DP8390 registers; CR (0x00) selects page 0-3 (bits 7:6), starts/stops the NIC,
//              starts remote DMA (read 0x08, write 0x10) and transmission (0x04)
//   0x10       data port: remote DMA at RSAR for RBCR bytes; in word mode (DCR bit 0) a byte or
//              word access moves a word, a dword access four bytes; RDC in ISR when done
//   0x18-0x1F  reset port: a read resets the NIC (ISR RST)
//
// Memory: the station-address PROM at 0x0000 (each byte doubled, as word-wide cards read it) and
// packet RAM at 0x4000-0xBFFF (pages 0x40-0xBF). Receive: frames the address filter accepts
// (own address, broadcast with RCR.AB, multicast with RCR.AM through the 64-bit hash of the
// Ethernet CRC's top 6 bits, everything with RCR.PRO) go into the ring PSTART..PSTOP at CURR,
// behind a 4-byte header {status, next page, length}; a frame the ring cannot hold before BNRY
// sets ISR.OVW and is dropped. INTx# follows ISR & IMR.

import type { AccessSize } from "../bus/port-bus.js";
import { PciFunction } from "../pci/pci.js";
import type { NetBackend } from "./backend.js";

const CR_STOP = 0x01;
const CR_TRANS = 0x04;
const CR_RREAD = 0x08;
const CR_RWRITE = 0x10;
export const ISR = { PRX: 0x01, PTX: 0x02, RXE: 0x04, TXE: 0x08, OVW: 0x10, CNT: 0x20, RDC: 0x40, RST: 0x80 } as const;
const RCR_AB = 0x04;
const RCR_AM = 0x08;
const RCR_PRO = 0x10;
const RSR_RXOK = 0x01;
const RSR_PHY = 0x20;
const TSR_PTX = 0x01;

const PMEM_START = 0x4000;
const MEM_SIZE = 0xc000;
const MAX_FRAME = 1514;

/** The Ethernet CRC-32 as the DP8390's multicast hash computes it (most significant bit first). */
export function ethernetCrc(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    let b = byte;
    for (let j = 0; j < 8; j++) {
      const carry = (crc >>> 31) ^ (b & 1);
      crc = (crc << 1) >>> 0;
      b >>= 1;
      if (carry) crc = ((crc ^ 0x04c11db6) | 1) >>> 0;
    }
  }
  return crc >>> 0;
}

/** The registers and packet memory: plain data, apart from the wiring. */
export interface Ne2000State {
  cmd: number;
  /** PSTART / PSTOP as byte addresses. */
  start: number;
  stop: number;
  boundary: number;
  tpsr: number;
  tcnt: number;
  rsar: number;
  rcnt: number;
  rcr: number;
  tcr: number;
  dcr: number;
  isr: number;
  imr: number;
  tsr: number;
  rsr: number;
  curpag: number;
  phys: number[];
  mult: number[];
  mem: Uint8Array;
}

export interface Ne2000Counters {
  txFrames: number;
  rxFrames: number;
  /** Frames the address filter refused. */
  rxFiltered: number;
  /** Frames dropped because the ring was full (ISR.OVW). */
  rxOverflows: number;
}

export class Ne2000 extends PciFunction {
  readonly state: Ne2000State;
  readonly counters: Ne2000Counters = { txFrames: 0, rxFrames: 0, rxFiltered: 0, rxOverflows: 0 };

  constructor(
    readonly backend: NetBackend,
    readonly mac = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x57),
  ) {
    super("ne2k_pci (RTL8029)", { vendor: 0x10ec, device: 0x8029, classCode: 0x020000, interruptPin: 1 });
    this.defineBar(0, {
      kind: "io",
      size: 32,
      sizes: 1 | 2 | 4,
      read: (off, size) => this.ioRead(off, size),
      write: (off, size, v) => this.ioWrite(off, size, v),
    });
    this.saveResetState();
    this.state = {
      cmd: 0,
      start: 0,
      stop: 0,
      boundary: 0,
      tpsr: 0,
      tcnt: 0,
      rsar: 0,
      rcnt: 0,
      rcr: 0,
      tcr: 0,
      dcr: 0,
      isr: 0,
      imr: 0,
      tsr: 0,
      rsr: 0,
      curpag: 0,
      phys: [0, 0, 0, 0, 0, 0],
      mult: [0, 0, 0, 0, 0, 0, 0, 0],
      mem: new Uint8Array(MEM_SIZE),
    };
    this.resetNic();
    backend.onReceive = (frame) => this.receive(frame);
  }

  /** The reset port, and power-on: ISR.RST, the PROM image in memory. */
  private resetNic(): void {
    const s = this.state;
    s.isr = ISR.RST;
    s.cmd = CR_STOP | 0x20;
    const prom = new Uint8Array(16);
    prom.set(this.mac, 0);
    prom[14] = prom[15] = 0x57; // 'W': a word-wide card
    for (let i = 0; i < 16; i++) s.mem[2 * i] = s.mem[2 * i + 1] = prom[i]!;
    this.updateIrq();
  }

  override reset(): void {
    super.reset();
    this.resetNic();
  }

  private updateIrq(): void {
    const s = this.state;
    this.setIntx((s.isr & s.imr & 0x7f) !== 0);
  }

  // Registers -------------------------------------------------------------------------------

  private ioRead(off: number, size: AccessSize): number {
    if (off < 0x10) return this.readReg(off);
    if (off < 0x18) return this.dataRead(size);
    this.resetNic();
    return 0;
  }

  private ioWrite(off: number, size: AccessSize, v: number): void {
    if (off < 0x10) this.writeReg(off, v & 0xff);
    else if (off < 0x18) this.dataWrite(size, v);
  }

  private readReg(off: number): number {
    const s = this.state;
    if (off === 0) return s.cmd;
    const page = s.cmd >> 6;
    if (page === 1) {
      if (off <= 6) return s.phys[off - 1]!;
      if (off === 7) return s.curpag;
      return s.mult[off - 8]!;
    }
    if (page === 2) {
      const regs: Record<number, number> = {
        1: s.start >> 8,
        2: s.stop >> 8,
        4: s.tpsr,
        12: s.rcr,
        13: s.tcr,
        14: s.dcr,
        15: s.imr,
      };
      return regs[off] ?? 0;
    }
    if (page === 3) return off === 5 || off === 6 ? 0x40 : 0; // CONFIG2/3: 10BASE-T link
    switch (off) {
      case 0x03:
        return s.boundary;
      case 0x04:
        return s.tsr;
      case 0x07:
        return s.isr;
      case 0x08:
        return s.rsar & 0xff;
      case 0x09:
        return s.rsar >> 8;
      case 0x0a:
        return 0x50; // RTL8029 ID 'P'
      case 0x0b:
        return 0x43; // 'C'
      case 0x0c:
        return s.rsr;
      default:
        return 0; // CLDA, FIFO, the tally counters (no errors happen here)
    }
  }

  private writeReg(off: number, v: number): void {
    const s = this.state;
    if (off === 0) {
      this.writeCommand(v);
      return;
    }
    const page = s.cmd >> 6;
    if (page === 1) {
      if (off <= 6) s.phys[off - 1] = v;
      else if (off === 7) s.curpag = v;
      else s.mult[off - 8] = v;
      return;
    }
    if (page !== 0) return;
    switch (off) {
      case 0x01:
        s.start = v << 8;
        break;
      case 0x02:
        s.stop = v << 8;
        break;
      case 0x03:
        s.boundary = v;
        break;
      case 0x04:
        s.tpsr = v;
        break;
      case 0x05:
        s.tcnt = (s.tcnt & 0xff00) | v;
        break;
      case 0x06:
        s.tcnt = (s.tcnt & 0x00ff) | (v << 8);
        break;
      case 0x07:
        s.isr &= ~(v & 0x7f);
        this.updateIrq();
        break;
      case 0x08:
        s.rsar = (s.rsar & 0xff00) | v;
        break;
      case 0x09:
        s.rsar = (s.rsar & 0x00ff) | (v << 8);
        break;
      case 0x0a:
        s.rcnt = (s.rcnt & 0xff00) | v;
        break;
      case 0x0b:
        s.rcnt = (s.rcnt & 0x00ff) | (v << 8);
        break;
      case 0x0c:
        s.rcr = v;
        break;
      case 0x0d:
        s.tcr = v;
        break;
      case 0x0e:
        s.dcr = v;
        break;
      case 0x0f:
        s.imr = v;
        this.updateIrq();
        break;
    }
  }

  private writeCommand(v: number): void {
    const s = this.state;
    s.cmd = v;
    if (v & CR_STOP) return;
    s.isr &= ~ISR.RST;
    // A remote DMA of zero bytes completes at once.
    if (v & (CR_RREAD | CR_RWRITE) && s.rcnt === 0) s.isr |= ISR.RDC;
    if (v & CR_TRANS) {
      const at = s.tpsr << 8;
      if (at >= PMEM_START && at + s.tcnt <= MEM_SIZE && s.tcnt >= 14) {
        this.counters.txFrames++;
        this.backend.transmit(s.mem.slice(at, at + Math.min(s.tcnt, MAX_FRAME + 4)));
      }
      s.tsr = TSR_PTX;
      s.isr |= ISR.PTX;
      s.cmd &= ~CR_TRANS;
    }
    this.updateIrq();
  }

  // Remote DMA ------------------------------------------------------------------------------

  private memRead(addr: number): number {
    return addr < 32 || (addr >= PMEM_START && addr < MEM_SIZE) ? this.state.mem[addr]! : 0xff;
  }

  private memWrite(addr: number, v: number): void {
    if (addr >= PMEM_START && addr < MEM_SIZE) this.state.mem[addr] = v;
  }

  /** Bytes one data-port access moves: 1 in byte mode, 2 in word mode, 4 for a dword access. */
  private width(size: AccessSize): number {
    if (size === 4) return 4;
    return this.state.dcr & 1 ? 2 : 1;
  }

  private dmaAdvance(n: number): void {
    const s = this.state;
    s.rsar = (s.rsar + n) & 0xffff;
    if (s.rsar === s.stop && s.stop !== 0) s.rsar = s.start; // the ring wraps for DMA too
    if (s.rcnt <= n) {
      s.rcnt = 0;
      s.isr |= ISR.RDC;
      this.updateIrq();
    } else {
      s.rcnt -= n;
    }
  }

  private dataRead(size: AccessSize): number {
    const s = this.state;
    const n = this.width(size);
    let v = 0;
    for (let i = 0; i < n; i++) v |= this.memRead((s.rsar + i) & 0xffff) << (8 * i);
    if (s.rcnt > 0) this.dmaAdvance(n);
    // A byte access in word mode moves a word but returns its low byte.
    return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v >>> 0;
  }

  private dataWrite(size: AccessSize, v: number): void {
    const s = this.state;
    if (s.rcnt === 0) return;
    const n = this.width(size);
    for (let i = 0; i < n; i++) this.memWrite((s.rsar + i) & 0xffff, (v >>> (8 * i)) & 0xff);
    this.dmaAdvance(n);
  }

  // Receive ---------------------------------------------------------------------------------

  private accepts(f: Uint8Array): boolean {
    const s = this.state;
    if (s.rcr & RCR_PRO) return true;
    if (f.subarray(0, 6).every((b) => b === 0xff)) return (s.rcr & RCR_AB) !== 0;
    if (f[0]! & 1) {
      if (!(s.rcr & RCR_AM)) return false;
      const index = ethernetCrc(f.subarray(0, 6)) >>> 26;
      return (s.mult[index >> 3]! & (1 << (index & 7))) !== 0;
    }
    return s.phys.every((b, i) => b === f[i]);
  }

  /** Room in the ring from CURR up to BNRY, in bytes. */
  private ringFree(): number {
    const s = this.state;
    const index = s.curpag << 8;
    const boundary = s.boundary << 8;
    return index < boundary ? boundary - index : s.stop - s.start - (index - boundary);
  }

  receive(frame: Uint8Array): void {
    const s = this.state;
    if (s.cmd & CR_STOP || s.start < PMEM_START || s.stop > MEM_SIZE || s.stop <= s.start) return;
    if (frame.length < 14 || frame.length > MAX_FRAME + 4) return;
    if (!this.accepts(frame)) {
      this.counters.rxFiltered++;
      return;
    }
    const buf = frame.length < 60 ? Uint8Array.from({ length: 60 }, (_, i) => frame[i] ?? 0) : frame;
    const total = buf.length + 4;
    if (this.ringFree() < total + 256) {
      s.isr |= ISR.OVW;
      this.counters.rxOverflows++;
      this.updateIrq();
      return;
    }
    let index = s.curpag << 8;
    if (index < s.start || index >= s.stop) index = s.start;
    let next = index + ((total + 4 + 255) & ~0xff);
    if (next >= s.stop) next -= s.stop - s.start;
    s.rsr = RSR_RXOK | (buf[0]! & 1 ? RSR_PHY : 0);
    s.mem.set([s.rsr, next >> 8, total & 0xff, total >> 8], index);
    index += 4;
    let done = 0;
    while (done < buf.length) {
      const n = Math.min(buf.length - done, s.stop - index);
      s.mem.set(buf.subarray(done, done + n), index);
      done += n;
      index += n;
      if (index === s.stop) index = s.start;
    }
    s.curpag = next >> 8;
    s.isr |= ISR.PRX;
    this.counters.rxFrames++;
    this.updateIrq();
  }
}
