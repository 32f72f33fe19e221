// The bus-master IDE engine of one channel (SFF-8038i "Bus Master Programming Interface for IDE
// ATA Controllers", as the PIIX3 implements it in its BMIBA window): a command register (bit 0
// start/stop, bit 3 direction), a status register (bit 0 active, bit 1 error, bit 2 interrupt,
// bits 5-6 drive DMA capable, bit 7 simplex-only, read as 0), and the address of a physical region
// descriptor (PRD) table. Each PRD is 8 bytes: a 32-bit buffer address (bit 0 ignored), a 16-bit
// byte count (bit 0 ignored, 0 meaning 64 KiB) and, in bit 15 of the last word, end of table.
//
// A transfer runs when the channel's device has a DMA command posted, the guest has set the start
// bit and the function may master the bus (PCI command bit 2), in whichever order those happen.
// It starts in the access that completed the three and ends when the disk has answered (at once
// for a disk that answers at once, else later while the guest runs on, the engine active
// meanwhile); the result shows in the status bits as the spec's table of interrupt/active
// combinations says:
//   - the device's data fitted the PRDs exactly: active 0, interrupt 1;
//   - the PRDs describe more than the transfer: active stays 1, interrupt 1;
//   - the PRDs are shorter than the transfer: active 0, interrupt 0, nothing moved (the device
//     goes idle, as in QEMU, so the guest's timeout and reset recover);
//   - the PRD table or a buffer is outside RAM (a master abort on the real bus): error 1,
//     active 0, and the command fails with ABRT and an interrupt.
// The direction bit is not checked against the command (a READ DMA with the bit clear still
// writes memory), as in QEMU. A table is read for at most 8,192 entries (64 KiB, the most the spec lets it span); a longer
// one without end of table is treated like a PRD outside RAM. Memory is reached only through
// GuestMemory, so the guest's own write tracking sees every byte a READ DMA stores.

import { DmaError, type GuestMemory } from "../dma.js";
import type { IdeChannel } from "./channel.js";

/** Bus-master command register bits. */
export const BM_CMD = { START: 0x01, TO_MEMORY: 0x08 } as const;
/** Bus-master status register bits. */
export const BM_ST = { ACTIVE: 0x01, ERROR: 0x02, INTERRUPT: 0x04, DRIVE0_DMA: 0x20, DRIVE1_DMA: 0x40 } as const;

const PRD_EOT = 0x80000000;
const MAX_PRDS = 8192;

/** What a transfer did, for the counters. */
export interface BusMasterCounters {
  transfers: number;
  bytes: number;
  /** PRD tables shorter than the transfer. */
  short: number;
  /** PRD tables or buffers outside RAM. */
  busErrors: number;
}

interface Segment {
  addr: number;
  length: number;
}

export class BusMaster {
  command = 0;
  status = 0;
  prdTable = 0;
  readonly counters: BusMasterCounters = { transfers: 0, bytes: 0, short: 0, busErrors: 0 };

  /**
   * @param channel whose DMA commands this engine serves (set again when the drives change)
   * @param memory guest memory, once the VM exists (none: every transfer is a bus error)
   * @param mayMaster whether the PCI command register lets the function master the bus
   */
  constructor(
    public channel: IdeChannel,
    public memory: GuestMemory | undefined,
    private readonly mayMaster: () => boolean,
  ) {}

  reset(): void {
    this.command = this.status = this.prdTable = 0;
  }

  /** The device raised INTRQ. */
  deviceInterrupt(): void {
    this.status |= BM_ST.INTERRUPT;
  }

  readByte(reg: number): number {
    if (reg === 0) return this.command;
    if (reg === 2) return this.status;
    if (reg >= 4) return (this.prdTable >>> ((reg - 4) * 8)) & 0xff;
    return 0;
  }

  writeByte(reg: number, v: number): void {
    if (reg === 0) {
      const was = this.command & BM_CMD.START;
      // The direction bit may not change while the engine is active (SFF-8038i 1.2): kept.
      const dir = this.status & BM_ST.ACTIVE ? this.command & BM_CMD.TO_MEMORY : v & BM_CMD.TO_MEMORY;
      this.command = (v & BM_CMD.START) | dir;
      if (!(v & BM_CMD.START)) {
        // Stop: the engine is idle again; a transfer the device still waits for is abandoned by
        // the engine (the device keeps waiting until the guest resets or reissues it).
        this.status &= ~BM_ST.ACTIVE;
      } else if (!was) {
        this.status |= BM_ST.ACTIVE;
        this.run();
      }
    } else if (reg === 2) {
      // Bits 6:5 are read/write; 2 (interrupt) and 1 (error) clear on 1; 0 and 7 are read-only.
      const s = this.status;
      this.status = (s & ~0x60 & ~(v & 0x06)) | (v & 0x60);
    } else if (reg >= 4) {
      const shift = (reg - 4) * 8;
      const mask = (reg === 4 ? 0xfc : 0xff) << shift; // the PRD table is dword aligned
      this.prdTable = ((this.prdTable & ~mask) | ((v << shift) & mask)) >>> 0;
    }
  }

  /** Moves the posted command's data if the device, the guest and the bus all allow it now. */
  run(): void {
    const req = this.channel.dmaRequest;
    if (!req || this.channel.dmaInFlight || !(this.status & BM_ST.ACTIVE) || !this.mayMaster()) return;
    const bytes = req.sectors * 512;
    let plan: { segments: Segment[]; exhausted: boolean } | undefined;
    try {
      plan = this.walk(bytes, req.toMemory);
    } catch (e) {
      if (!(e instanceof DmaError)) throw e;
      this.busError();
      return;
    }
    if (!plan) {
      this.counters.short++;
      this.status &= ~BM_ST.ACTIVE;
      this.channel.failDma(false);
      return;
    }
    const memory = this.memory!;
    const data = new Uint8Array(bytes);
    if (!req.toMemory) {
      // WRITE DMA: the guest's buffers are read now, when the engine starts.
      try {
        copySegments(plan.segments, data, (addr, part) => memory.readInto(addr, part));
      } catch (e) {
        if (!(e instanceof DmaError)) throw e;
        this.busError();
        return;
      }
    }
    // The engine stays active until the disk has answered (inside this call for a disk that
    // answers at once); the guest sees the interrupt bit when the data is there.
    this.channel.dmaTransfer(data, (ok) => {
      if (!ok) {
        this.status &= ~BM_ST.ACTIVE;
        return;
      }
      if (req.toMemory) {
        try {
          copySegments(plan.segments, data, (addr, part) => memory.write(addr, part));
        } catch (e) {
          if (!(e instanceof DmaError)) throw e;
          this.busError();
          return;
        }
      }
      this.counters.transfers++;
      this.counters.bytes += bytes;
      if (plan.exhausted) this.status &= ~BM_ST.ACTIVE;
      this.channel.finishDma();
    });
  }

  /**
   * The buffers for `bytes` bytes, from the PRD table; `exhausted` when the transfer ends exactly
   * at the end of the entry marked end of table. Undefined when the table is shorter. Throws
   * DmaError when the table is outside RAM or a buffer the transfer uses is.
   */
  private walk(bytes: number, toMemory: boolean): { segments: Segment[]; exhausted: boolean } | undefined {
    const memory = this.memory;
    if (!memory) throw new DmaError("the IDE bus master has no guest memory");
    const segments: Segment[] = [];
    let left = bytes;
    let prd = this.prdTable;
    for (let i = 0; i < MAX_PRDS; i++, prd += 8) {
      const addr = memory.readU32(prd) & ~1;
      const word = memory.readU32(prd + 4);
      const count = word & 0xfffe || 0x10000;
      const eot = (word & PRD_EOT) !== 0;
      const length = Math.min(count, left);
      if (!memory.check(addr, length, toMemory)) throw new DmaError(`PRD buffer 0x${addr.toString(16)} is outside RAM`);
      segments.push({ addr, length });
      left -= length;
      if (left === 0) return { segments, exhausted: eot && length === count };
      if (eot) return undefined;
    }
    throw new DmaError("PRD table without end of table");
  }

  private busError(): void {
    this.counters.busErrors++;
    this.status = (this.status | BM_ST.ERROR) & ~BM_ST.ACTIVE;
    this.channel.failDma(true);
  }
}

/** Walks `data` along the PRD buffers, handing each buffer's address and its part of the data to `move`. */
function copySegments(segments: Segment[], data: Uint8Array, move: (addr: number, part: Uint8Array) => void): void {
  let off = 0;
  for (const s of segments) {
    move(s.addr, data.subarray(off, off + s.length));
    off += s.length;
  }
}
