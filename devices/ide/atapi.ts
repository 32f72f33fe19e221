// The packet commands of an ATAPI CD-ROM (MMC-2/MMC-3 and SPC, the subset SeaBIOS's El Torito
// boot and Linux's sr/cdrom drivers send): what each returns or which sense it reports. The
// ATA side (PACKET, DRQ blocks, byte counts, interrupt reason) is in channel.ts; this file knows
// nothing of ports.

import type { BlockDevice } from "../storage/block.js";

export const CD_SECTOR = 2048;

/** SCSI sense keys and additional sense codes used here. */
export const SENSE = {
  NONE: 0x00,
  NOT_READY: 0x02,
  ILLEGAL_REQUEST: 0x05,
  UNIT_ATTENTION: 0x06,
} as const;
export const ASC = {
  INVALID_OPCODE: 0x20,
  LBA_OUT_OF_RANGE: 0x21,
  INVALID_FIELD: 0x24,
  MEDIUM_CHANGED: 0x28,
  SAVING_NOT_SUPPORTED: 0x39,
  MEDIUM_NOT_PRESENT: 0x3a,
} as const;

/** Data the device sends for a command, produced piece by piece (reads can be large). */
export interface AtapiData {
  total: number;
  get(offset: number, length: number): Uint8Array;
}

export type AtapiResult = { kind: "ok" } | { kind: "data"; data: AtapiData } | { kind: "error" };

const be16 = (b: Uint8Array, off: number): number => (b[off]! << 8) | b[off + 1]!;
const be32 = (b: Uint8Array, off: number): number => ((b[off]! << 24) | (b[off + 1]! << 16) | be16(b, off + 2)) >>> 0;
const put16 = (b: Uint8Array, off: number, v: number): void => {
  b[off] = (v >> 8) & 0xff;
  b[off + 1] = v & 0xff;
};
const put32 = (b: Uint8Array, off: number, v: number): void => {
  put16(b, off, v >>> 16);
  put16(b, off + 2, v & 0xffff);
};
const ascii = (b: Uint8Array, off: number, len: number, s: string): void => {
  for (let i = 0; i < len; i++) b[off + i] = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20;
};

/** LBA to MSF (the first sector of the disc is 00:02:00). */
function lbaToMsf(b: Uint8Array, off: number, lba: number): void {
  const f = lba + 150;
  b[off] = 0;
  b[off + 1] = Math.floor(f / (75 * 60));
  b[off + 2] = Math.floor(f / 75) % 60;
  b[off + 3] = f % 75;
}

function bytes(buf: Uint8Array, allocation: number): AtapiResult {
  const data = buf.subarray(0, Math.min(buf.length, allocation));
  if (data.length === 0) return { kind: "ok" };
  return { kind: "data", data: { total: data.length, get: (o, l) => data.subarray(o, o + l) } };
}

export interface AtapiOptions {
  vendor?: string;
  product?: string;
  revision?: string;
}

export class AtapiCdrom {
  /** The disc, as 512-byte sectors (undefined: tray empty). */
  private disc: BlockDevice | undefined;
  senseKey: number = SENSE.NONE;
  asc = 0;
  ascq = 0;
  /** PREVENT ALLOW MEDIUM REMOVAL state. */
  locked = false;
  /** A medium change the guest has not been told of (UNIT ATTENTION). */
  private changed = false;
  /** A media event for GET EVENT STATUS NOTIFICATION: 0 none, 2 new media, 3 media removal. */
  private mediaEvent = 0;
  private readonly vendor: string;
  private readonly product: string;
  private readonly revision: string;

  constructor(medium?: BlockDevice, options: AtapiOptions = {}) {
    this.disc = medium;
    this.vendor = options.vendor ?? "QEMU";
    this.product = options.product ?? "QEMU DVD-ROM";
    this.revision = options.revision ?? "2.5+";
  }

  get medium(): BlockDevice | undefined {
    return this.disc;
  }

  /** Capacity in 2048-byte sectors (a trailing partial sector is not addressable). */
  get capacity(): number {
    return this.disc ? Math.floor(this.disc.sectors / 4) : 0;
  }

  /** Puts a disc in (or takes it out, with undefined); the guest sees a UNIT ATTENTION. */
  changeMedium(medium: BlockDevice | undefined): void {
    this.disc = medium;
    this.changed = true;
    this.mediaEvent = medium ? 2 : 3;
  }

  private fail(key: number, asc: number, ascq = 0): AtapiResult {
    this.senseKey = key;
    this.asc = asc;
    this.ascq = ascq;
    return { kind: "error" };
  }

  private noMedium(): AtapiResult {
    return this.fail(SENSE.NOT_READY, ASC.MEDIUM_NOT_PRESENT);
  }

  private invalidField(): AtapiResult {
    return this.fail(SENSE.ILLEGAL_REQUEST, ASC.INVALID_FIELD);
  }

  /** Runs one 12-byte packet. */
  execute(p: Uint8Array): AtapiResult {
    const op = p[0]!;
    if (op !== 0x03) {
      this.senseKey = SENSE.NONE;
      this.asc = 0;
      this.ascq = 0;
    }
    // A medium change is reported once, to the first command that can report it.
    if (this.changed && op !== 0x03 && op !== 0x12 && op !== 0x4a) {
      this.changed = false;
      return this.fail(SENSE.UNIT_ATTENTION, ASC.MEDIUM_CHANGED);
    }
    switch (op) {
      case 0x00: // TEST UNIT READY
        return this.disc ? { kind: "ok" } : this.noMedium();
      case 0x03: // REQUEST SENSE
        return this.requestSense(p[4]!);
      case 0x12: // INQUIRY
        return this.inquiry(p);
      case 0x1b: // START STOP UNIT (eject and load are accepted and ignored)
      case 0x2b: // SEEK(10)
      case 0xbb: // SET CD SPEED
        if (op === 0x2b && !this.disc) return this.noMedium();
        return { kind: "ok" };
      case 0x1e: // PREVENT ALLOW MEDIUM REMOVAL
        this.locked = (p[4]! & 1) !== 0;
        return { kind: "ok" };
      case 0x25: // READ CAPACITY
        return this.readCapacity();
      case 0x28: // READ(10)
        return this.read(be32(p, 2), be16(p, 7));
      case 0xa8: // READ(12)
        return this.read(be32(p, 2), be32(p, 6));
      case 0x43: // READ TOC/PMA/ATIP
        return this.readToc(p);
      case 0x46: // GET CONFIGURATION
        return this.getConfiguration(p);
      case 0x4a: // GET EVENT STATUS NOTIFICATION
        return this.getEventStatus(p);
      case 0x51: // READ DISC INFORMATION
        return this.readDiscInformation(p);
      case 0x5a: // MODE SENSE(10)
        return this.modeSense(p);
      case 0xbd: // MECHANISM STATUS
        return this.mechanismStatus(p);
      default:
        return this.fail(SENSE.ILLEGAL_REQUEST, ASC.INVALID_OPCODE);
    }
  }

  private requestSense(allocation: number): AtapiResult {
    const b = new Uint8Array(18);
    b[0] = 0x70; // current error, fixed format
    b[2] = this.senseKey;
    b[7] = 10; // additional sense length
    b[12] = this.asc;
    b[13] = this.ascq;
    this.senseKey = SENSE.NONE;
    this.asc = 0;
    this.ascq = 0;
    return bytes(b, allocation);
  }

  private inquiry(p: Uint8Array): AtapiResult {
    if (p[1]! & 1) return this.invalidField(); // no vital product data pages
    const b = new Uint8Array(36);
    b[0] = 0x05; // CD/DVD device
    b[1] = 0x80; // removable
    b[2] = 0x00; // ANSI version (ATAPI devices report 0)
    b[3] = 0x21; // ATAPI version 2, response data format 1
    b[4] = 36 - 5; // additional length
    ascii(b, 8, 8, this.vendor);
    ascii(b, 16, 16, this.product);
    ascii(b, 32, 4, this.revision);
    return bytes(b, p[4]!);
  }

  private readCapacity(): AtapiResult {
    if (!this.disc) return this.noMedium();
    const b = new Uint8Array(8);
    put32(b, 0, this.capacity - 1); // last addressable block
    put32(b, 4, CD_SECTOR);
    return bytes(b, 8);
  }

  private read(lba: number, count: number): AtapiResult {
    const disc = this.disc;
    if (!disc) return this.noMedium();
    if (lba + count > this.capacity) return this.fail(SENSE.ILLEGAL_REQUEST, ASC.LBA_OUT_OF_RANGE);
    if (count === 0) return { kind: "ok" };
    const start = lba * CD_SECTOR;
    return {
      kind: "data",
      data: {
        total: count * CD_SECTOR,
        get: (offset, length) => {
          // Whole 512-byte sectors covering the piece, then the piece out of them.
          const first = Math.floor((start + offset) / 512);
          const last = Math.ceil((start + offset + length) / 512);
          const skip = start + offset - first * 512;
          return disc.read(first, last - first).subarray(skip, skip + length);
        },
      },
    };
  }

  private readToc(p: Uint8Array): AtapiResult {
    if (!this.disc) return this.noMedium();
    const msf = (p[1]! & 2) !== 0;
    const allocation = be16(p, 7);
    const format = p[2]! & 0x0f || p[9]! >> 6;
    const addr = (b: Uint8Array, off: number, lba: number) => (msf ? lbaToMsf(b, off, lba) : put32(b, off, lba));
    if (format === 0) {
      const start = p[6]!;
      if (start > 1 && start !== 0xaa) return this.invalidField();
      const withTrack1 = start <= 1;
      const b = new Uint8Array(4 + (withTrack1 ? 8 : 0) + 8);
      b[2] = 1; // first track
      b[3] = 1; // last track
      let o = 4;
      if (withTrack1) {
        b[o + 1] = 0x14; // ADR 1 (Q sub-channel position), control 4 (data track)
        b[o + 2] = 1;
        addr(b, o + 4, 0);
        o += 8;
      }
      b[o + 1] = 0x14;
      b[o + 2] = 0xaa; // lead-out
      addr(b, o + 4, this.capacity);
      o += 8;
      put16(b, 0, o - 2);
      return bytes(b, allocation);
    }
    if (format === 1) {
      // Multi-session information: one session, its first track starts at 0.
      const b = new Uint8Array(12);
      put16(b, 0, 10);
      b[2] = 1;
      b[3] = 1;
      b[5] = 0x14;
      b[6] = 1;
      addr(b, 8, 0);
      return bytes(b, allocation);
    }
    return this.invalidField();
  }

  /** MMC profile: DVD-ROM for discs larger than a CD can hold, CD-ROM otherwise. */
  private get profile(): number {
    if (!this.disc) return 0;
    return this.capacity > 405000 ? 0x0010 : 0x0008;
  }

  private getConfiguration(p: Uint8Array): AtapiResult {
    const rt = p[1]! & 3;
    if (rt === 3) return this.invalidField();
    const start = be16(p, 2);
    const b = new Uint8Array(8 + 12);
    put16(b, 6, this.profile); // current profile
    let o = 8;
    if (start === 0) {
      // Feature 0000h, profile list: DVD-ROM and CD-ROM, the mounted one marked current.
      b[o + 2] = 0x03; // persistent, current
      b[o + 3] = 8;
      put16(b, o + 4, 0x0010);
      b[o + 6] = this.profile === 0x0010 ? 1 : 0;
      put16(b, o + 8, 0x0008);
      b[o + 10] = this.profile === 0x0008 ? 1 : 0;
      o += 12;
    }
    put32(b, 0, o - 4);
    return bytes(b.subarray(0, o), be16(p, 7));
  }

  private getEventStatus(p: Uint8Array): AtapiResult {
    if (!(p[1]! & 1)) return this.invalidField(); // only polled operation
    const allocation = be16(p, 7);
    const MEDIA = 1 << 4;
    if (!(p[4]! & MEDIA)) {
      const b = new Uint8Array(4);
      put16(b, 0, 2);
      b[2] = 0x80; // no event available
      b[3] = MEDIA; // supported classes
      return bytes(b, allocation);
    }
    const b = new Uint8Array(8);
    put16(b, 0, 6);
    b[2] = 0x04; // media class
    b[3] = MEDIA;
    b[4] = this.mediaEvent;
    b[5] = this.disc ? 0x02 : 0x00; // media present (tray closed)
    this.mediaEvent = 0;
    return bytes(b, allocation);
  }

  private readDiscInformation(p: Uint8Array): AtapiResult {
    if (!this.disc) return this.noMedium();
    if ((p[1]! & 7) !== 0) return this.invalidField();
    const b = new Uint8Array(34);
    put16(b, 0, 32);
    b[2] = 0x0e; // last session complete, disc complete
    b[3] = 1; // first track on disc
    b[4] = 1; // sessions
    b[5] = 1; // first track in last session
    b[6] = 1; // last track in last session
    b[7] = 0x20; // unrestricted use
    b[8] = 0x00; // CD-DA or CD-ROM
    put32(b, 16, 0xffffffff); // last session lead-in start: none
    put32(b, 20, 0xffffffff); // last possible lead-out start: none
    return bytes(b, be16(p, 7));
  }

  private modeSense(p: Uint8Array): AtapiResult {
    const control = p[2]! >> 6;
    const page = p[2]! & 0x3f;
    const allocation = be16(p, 7);
    if (control === 3) return this.fail(SENSE.ILLEGAL_REQUEST, ASC.SAVING_NOT_SUPPORTED);
    const changeable = control === 1;
    const pages: Uint8Array[] = [];
    if (page === 0x01 || page === 0x3f) {
      // Read error recovery parameters.
      const pg = new Uint8Array(8);
      pg[0] = 0x01;
      pg[1] = 6;
      if (!changeable) pg[3] = 5; // read retry count
      pages.push(pg);
    }
    if (page === 0x2a || page === 0x3f) {
      // CD/DVD capabilities and mechanical status.
      const pg = new Uint8Array(20);
      pg[0] = 0x2a;
      pg[1] = 18;
      if (!changeable) {
        pg[2] = 0x3b; // reads CD-R, CD-RW, method 2, DVD-ROM, DVD-R
        pg[4] = 0x71; // audio play, composite, digital ports, multi-session
        pg[5] = 0x60; // CD-DA stream accurate, reads CD-DA
        pg[6] = 0x29 | (this.locked ? 0x02 : 0); // lock supported, eject, tray loading mechanism
        pg[7] = 0x03; // separate channel volume and mute
        put16(pg, 8, 706); // maximum read speed, kB/s
        put16(pg, 10, 2); // volume levels
        put16(pg, 12, 512); // buffer size, KiB
        put16(pg, 14, 706); // current read speed
      }
      pages.push(pg);
    }
    if (pages.length === 0) return this.invalidField();
    const length = 8 + pages.reduce((n, pg) => n + pg.length, 0);
    const b = new Uint8Array(length);
    put16(b, 0, length - 2);
    b[2] = this.disc ? 0x01 : 0x70; // medium type: 120 mm data disc, or door closed with no disc
    let o = 8;
    for (const pg of pages) {
      b.set(pg, o);
      o += pg.length;
    }
    return bytes(b, allocation);
  }

  private mechanismStatus(p: Uint8Array): AtapiResult {
    const b = new Uint8Array(8);
    b[5] = 1; // one slot
    return bytes(b, be16(p, 8));
  }
}
