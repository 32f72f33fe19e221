// The virtio PCI transport (virtio 1.2, section 4.1), transitional: a modern interface through
// four vendor capabilities pointing into a 16 KiB memory BAR (BAR4), and the legacy interface
// (virtio 0.9.5) on an I/O BAR (BAR0) for drivers that predate 1.0.
//
//   BAR4 + 0x0000  common configuration (features, status, queue setup)      cfg_type 1
//   BAR4 + 0x1000  ISR status (read clears it and drops INTx#)                cfg_type 3
//   BAR4 + 0x2000  device-specific configuration                              cfg_type 4
//   BAR4 + 0x3000  notifications: queue q at + 4 * q (notify_off_multiplier 4) cfg_type 2
//   config space   a PCI configuration access window into the BARs            cfg_type 5
//
// Transitional identity (1AF4:1000 + n with the virtio device ID as subsystem ID, revision 0), as
// QEMU gives by default: Linux's virtio_pci takes the modern interface when the capabilities are
// there and falls back to legacy with virtio_pci.force_legacy=1.
//
// MSI-X as QEMU lays it out: BAR1 (4 KiB) holds the table (a vector per queue plus one for
// configuration changes) at 0 and the PBA at 0x800; common configuration's msix_config and
// queue_msix_vector (or, on the legacy interface with MSI-X enabled, the registers at 0x14/0x16,
// which move the device configuration to 0x18) map interrupts to vectors. With MSI-X enabled the
// ISR bits are still set but INTx# stays low and the vector's message goes to the MSI sink
// (devices/pci/msix.ts: without a local APIC, nowhere); otherwise interrupts are INTx#,
// level-triggered through the PIIX3's PIRQ routing.
//
// Requests complete in the access that kicks the queue. When the driver breaks a
// queue (virtqueue.ts lists how) the device sets DEVICE_NEEDS_RESET, raises a configuration
// interrupt, counts the fault and leaves that queue stopped until the driver resets the device.

import type { AccessSize } from "../bus/port-bus.js";
import { DmaError, type GuestMemory } from "../dma.js";
import { type MsiSink, Msix, UndeliveredMsi } from "../pci/msix.js";
import { PciFunction } from "../pci/pci.js";
import { bit, VIRTIO_F, type VirtioContext, type VirtioDevice } from "./device.js";
import { type DescChain, newQueueState, Virtqueue, VirtqueueError, type VirtqueueState } from "./virtqueue.js";

export const VIRTIO_PCI_VENDOR = 0x1af4;
/** Transitional PCI device IDs by virtio device ID (virtio 1.2, 4.1.2.1). */
const TRANSITIONAL_ID: Record<number, number> = { 1: 0x1000, 2: 0x1001, 5: 0x1002, 3: 0x1003, 4: 0x1005 };

export const STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

export const CAP = { COMMON: 1, NOTIFY: 2, ISR: 3, DEVICE: 4, PCI_CFG: 5 } as const;
export const MODERN_BAR = 4;
export const LEGACY_BAR = 0;
export const REGION = { common: 0x0000, isr: 0x1000, device: 0x2000, notify: 0x3000 } as const;
export const NOTIFY_MULTIPLIER = 4;
const MODERN_BAR_SIZE = 0x4000;
const COMMON_SIZE = 0x38;
export const NO_VECTOR = 0xffff;
export const MSIX_BAR = 1;
const MSIX_BAR_SIZE = 0x1000;
const MSIX_PBA = 0x800;

/** Legacy I/O register offsets (virtio 0.9.5, without MSI-X). */
export const LEGACY = {
  HOST_FEATURES: 0x00,
  GUEST_FEATURES: 0x04,
  QUEUE_PFN: 0x08,
  QUEUE_NUM: 0x0c,
  QUEUE_SEL: 0x0e,
  QUEUE_NOTIFY: 0x10,
  STATUS: 0x12,
  ISR: 0x13,
  CONFIG: 0x14,
  /** With MSI-X enabled: the configuration and selected queue's vectors, and config from 0x18. */
  CONFIG_VECTOR: 0x14,
  QUEUE_VECTOR: 0x16,
  CONFIG_MSIX: 0x18,
} as const;

/** The transport's registers and queues: plain data, apart from the wiring. */
export interface VirtioPciState {
  status: number;
  deviceFeatureSelect: number;
  driverFeatureSelect: number;
  /** Driver features, low and high 32 bits. */
  driverFeatures: [number, number];
  queueSelect: number;
  isr: number;
  configGeneration: number;
  queues: VirtqueueState[];
  /** MSI-X vector of configuration changes, and of each queue (NO_VECTOR: none). */
  configVector: number;
  queueVectors: number[];
}

/** What crossed the device's boundary, for the stats and `info virtio`. */
export interface VirtioCounters {
  /** Register accesses (modern BAR, legacy BAR, PCI_CFG window), reads and writes. */
  registerAccesses: number;
  /** Kicks, per queue. */
  notifications: number[];
  /** Chains returned in the used ring, per queue. */
  completed: number[];
  /** Rising edges of INTx#. */
  interrupts: number;
  /** Queue faults by kind ("device": the device model failed on a request). */
  faults: Record<string, number>;
}

export interface VirtioPciOptions {
  memory: GuestMemory;
  /** Offer the legacy interface on BAR0 (default true). */
  transitional?: boolean;
  /** Where MSI-X messages go (default: counted as undeliverable; there is no local APIC). */
  msi?: MsiSink;
}

export class VirtioPci extends PciFunction implements VirtioContext {
  readonly state: VirtioPciState;
  readonly counters: VirtioCounters;
  /** The message of the last fault, for diagnosis. */
  lastFault = "";
  readonly offered: bigint;
  private readonly vqs: Virtqueue[];
  private readonly mem: GuestMemory;
  private readonly cfgCap: number;
  private inNotify = false;
  private readonly toSignal = new Set<Virtqueue>();
  readonly msix: Msix;

  constructor(
    readonly device: VirtioDevice,
    options: VirtioPciOptions,
  ) {
    const transitional = options.transitional ?? true;
    const legacyId = TRANSITIONAL_ID[device.deviceId];
    super(device.name, {
      vendor: VIRTIO_PCI_VENDOR,
      device: transitional && legacyId ? legacyId : 0x1040 + device.deviceId,
      revision: transitional ? 0 : 1,
      classCode: device.classCode,
      subsystemVendor: VIRTIO_PCI_VENDOR,
      subsystem: transitional ? device.deviceId : 0x1100,
      interruptPin: 1,
    });
    this.mem = options.memory;
    this.offered = device.features | bit(VIRTIO_F.VERSION_1) | bit(VIRTIO_F.INDIRECT_DESC) | bit(VIRTIO_F.EVENT_IDX);
    this.state = {
      status: 0,
      deviceFeatureSelect: 0,
      driverFeatureSelect: 0,
      driverFeatures: [0, 0],
      queueSelect: 0,
      isr: 0,
      configGeneration: 0,
      queues: device.queueSizes.map((n) => newQueueState(n)),
      configVector: NO_VECTOR,
      queueVectors: device.queueSizes.map(() => NO_VECTOR),
    };
    this.vqs = this.state.queues.map((q) => new Virtqueue(q, this.mem));
    const n = device.queueSizes.length;
    this.counters = {
      registerAccesses: 0,
      notifications: new Array(n).fill(0),
      completed: new Array(n).fill(0),
      interrupts: 0,
      faults: {},
    };

    if (transitional) {
      let size = 32;
      while (size < LEGACY.CONFIG_MSIX + device.configSize) size *= 2;
      this.defineBar(LEGACY_BAR, {
        kind: "io",
        size,
        sizes: 1 | 2 | 4,
        read: (off, s) => this.count(this.legacyRead(off, s)),
        write: (off, s, v) => {
          this.count(0);
          this.legacyWrite(off, s, v);
        },
      });
    }
    this.defineBar(MODERN_BAR, {
      kind: "mem",
      size: MODERN_BAR_SIZE,
      sizes: 1 | 2 | 4,
      read: (off, s) => this.count(this.modernRead(off, s)),
      write: (off, s, v) => {
        this.count(0);
        this.modernWrite(off, s, v);
      },
    });
    this.defineBar(MSIX_BAR, {
      kind: "mem",
      size: MSIX_BAR_SIZE,
      sizes: 1 | 2 | 4,
      read: (off, s) => this.count(this.msix.read(off, s) ?? 0),
      write: (off, s, v) => {
        this.count(0);
        this.msix.write(off, s, v);
      },
    });
    this.msix = new Msix(this, {
      vectors: n + 1,
      bar: MSIX_BAR,
      tableOffset: 0,
      pbaOffset: MSIX_PBA,
      sink: options.msi ?? new UndeliveredMsi(),
    });
    this.virtioCap(CAP.COMMON, REGION.common, COMMON_SIZE);
    this.virtioCap(CAP.ISR, REGION.isr, 1);
    this.virtioCap(CAP.DEVICE, REGION.device, Math.max(4, device.configSize));
    const notify = this.virtioCap(CAP.NOTIFY, REGION.notify, NOTIFY_MULTIPLIER * n, 20);
    this.set32(notify + 16, NOTIFY_MULTIPLIER);
    // The configuration access window: bar, offset and length are the driver's to set.
    this.cfgCap = this.virtioCap(CAP.PCI_CFG, 0, 0, 20);
    this.config[this.cfgCap + 4] = 0;
    this.wmask[this.cfgCap + 4] = 0xff;
    this.setMask32(this.cfgCap + 8, 0xffffffff);
    this.setMask32(this.cfgCap + 12, 0xffffffff);
    this.setMask32(this.cfgCap + 16, 0xffffffff);
    this.saveResetState();
    device.attach(this);
  }

  /** A virtio_pci_cap (16 bytes, or more for notify and pci_cfg) in the capability list. */
  private virtioCap(type: number, offset: number, length: number, capLength = 16): number {
    const at = this.addCapability(0x09, capLength);
    this.config[at + 2] = capLength;
    this.config[at + 3] = type;
    this.config[at + 4] = MODERN_BAR;
    this.set32(at + 8, offset);
    this.set32(at + 12, length);
    return at;
  }

  private count(v: number): number {
    this.counters.registerAccesses++;
    return v;
  }

  // VirtioContext ------------------------------------------------------------------------------

  get features(): bigint {
    const [lo, hi] = this.state.driverFeatures;
    return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  }

  queue(index: number): Virtqueue | undefined {
    const q = this.vqs[index];
    return q?.state.enabled && !q.state.broken ? q : undefined;
  }

  complete(queue: Virtqueue, chain: DescChain, written: number): void {
    queue.push(chain, written);
    const i = this.vqs.indexOf(queue);
    if (i >= 0) this.counters.completed[i]!++;
    if (this.inNotify) this.toSignal.add(queue);
    else this.signal(queue);
  }

  configChanged(): void {
    this.state.configGeneration = (this.state.configGeneration + 1) & 0xff;
    this.raise(2, this.state.configVector);
  }

  // Interrupts ---------------------------------------------------------------------------------

  private signal(queue: Virtqueue): void {
    let need: boolean;
    try {
      need = queue.needInterrupt();
    } catch (e) {
      this.fault(queue, e);
      return;
    }
    if (need) this.raise(1, this.state.queueVectors[this.vqs.indexOf(queue)] ?? NO_VECTOR);
  }

  /** Sets the ISR bit and interrupts: the vector's message under MSI-X, INTx# otherwise. */
  private raise(isrBit: number, vector: number): void {
    const was = this.state.isr;
    this.state.isr |= isrBit;
    if (this.msix.enabled) {
      if (vector !== NO_VECTOR) this.counters.interrupts++;
      this.msix.notify(vector);
      return;
    }
    if (was === 0) this.counters.interrupts++;
    this.setIntx(true);
  }

  /** A vector the driver asks for: kept if the table has it, NO_VECTOR otherwise (4.1.5.1.2). */
  private vectorFor(v: number): number {
    return v < this.msix.vectors ? v : NO_VECTOR;
  }

  private readIsr(): number {
    const v = this.state.isr;
    this.state.isr = 0;
    this.setIntx(false);
    return v;
  }

  // Queue processing ---------------------------------------------------------------------------

  /** The driver kicked queue `index`. */
  kick(index: number): void {
    const q = this.vqs[index];
    if (!q) return;
    this.counters.notifications[index]!++;
    if (!q.state.enabled || q.state.broken || this.state.status & STATUS.NEEDS_RESET) return;
    this.inNotify = true;
    try {
      this.device.notify(index);
    } catch (e) {
      this.fault(q, e);
    } finally {
      this.inNotify = false;
    }
    for (const s of this.toSignal) this.signal(s);
    this.toSignal.clear();
  }

  /** The driver broke `queue` (or the device failed on it): stop it and ask for a reset. */
  private fault(queue: Virtqueue, e: unknown): void {
    const kind = e instanceof VirtqueueError ? e.fault : e instanceof DmaError ? "outside-ram" : "device";
    this.counters.faults[kind] = (this.counters.faults[kind] ?? 0) + 1;
    this.lastFault = e instanceof Error ? e.message : String(e);
    queue.state.broken = true;
    if (!(this.state.status & STATUS.NEEDS_RESET)) {
      this.state.status |= STATUS.NEEDS_RESET;
      this.configChanged();
    }
  }

  /** Total faults counted. */
  get faultCount(): number {
    return Object.values(this.counters.faults).reduce((a, b) => a + b, 0);
  }

  // Status and features ------------------------------------------------------------------------

  private writeStatus(v: number): void {
    v &= 0xff;
    if (v === 0) {
      this.resetDevice();
      return;
    }
    const s = this.state;
    const was = s.status;
    if (v & STATUS.FEATURES_OK && !(was & STATUS.FEATURES_OK)) {
      // Features must be a subset of the offer, and the modern interface needs VERSION_1.
      const accepted = this.features;
      if ((accepted & ~this.offered) !== 0n || !(accepted & bit(VIRTIO_F.VERSION_1))) v &= ~STATUS.FEATURES_OK;
      else this.applyFeatures();
    }
    s.status = (v & ~STATUS.NEEDS_RESET) | (was & STATUS.NEEDS_RESET);
    if (v & STATUS.DRIVER_OK && !(was & STATUS.DRIVER_OK)) this.device.driverReady?.();
  }

  private applyFeatures(): void {
    const f = this.features;
    for (const q of this.vqs) {
      q.eventIdx = (f & bit(VIRTIO_F.EVENT_IDX)) !== 0n;
      q.indirect = (f & bit(VIRTIO_F.INDIRECT_DESC)) !== 0n;
    }
  }

  private resetDevice(): void {
    const s = this.state;
    s.status = 0;
    s.deviceFeatureSelect = 0;
    s.driverFeatureSelect = 0;
    s.driverFeatures = [0, 0];
    s.queueSelect = 0;
    s.configVector = NO_VECTOR;
    s.queueVectors.fill(NO_VECTOR);
    s.queues.forEach((q, i) => {
      Object.assign(q, newQueueState(this.device.queueSizes[i]!));
    });
    this.applyFeatures();
    this.device.reset();
    this.readIsr();
  }

  override reset(): void {
    super.reset();
    this.msix.reset();
    this.resetDevice();
  }

  private offeredWord(select: number): number {
    if (select > 1) return 0;
    return Number((this.offered >> BigInt(32 * select)) & 0xffffffffn) >>> 0;
  }

  // Modern interface ---------------------------------------------------------------------------

  private modernRead(off: number, size: AccessSize): number {
    if (off < REGION.isr) return off < COMMON_SIZE ? this.commonRead(off, size) : 0;
    if (off < REGION.device) return off === REGION.isr ? this.readIsr() : 0;
    if (off < REGION.notify) {
      const o = off - REGION.device;
      return o + size <= this.device.configSize ? this.device.configRead(o, size) : 0;
    }
    return 0;
  }

  private modernWrite(off: number, size: AccessSize, v: number): void {
    if (off < REGION.isr) {
      if (off < COMMON_SIZE) this.commonWrite(off, size, v);
    } else if (off >= REGION.device && off < REGION.notify) {
      const o = off - REGION.device;
      if (o + size <= this.device.configSize) this.device.configWrite?.(o, size, v);
    } else if (off >= REGION.notify) {
      const q = (off - REGION.notify) / NOTIFY_MULTIPLIER;
      if (Number.isInteger(q)) this.kick(q);
    }
  }

  private get selected(): VirtqueueState | undefined {
    return this.state.queues[this.state.queueSelect];
  }

  private commonRead(off: number, _size: AccessSize): number {
    const s = this.state;
    const q = this.selected;
    switch (off) {
      case 0x00:
        return s.deviceFeatureSelect;
      case 0x04:
        return this.offeredWord(s.deviceFeatureSelect);
      case 0x08:
        return s.driverFeatureSelect;
      case 0x0c:
        return s.driverFeatureSelect <= 1 ? s.driverFeatures[s.driverFeatureSelect]! : 0;
      case 0x10:
        return s.configVector;
      case 0x12:
        return s.queues.length;
      case 0x14:
        return s.status;
      case 0x15:
        return s.configGeneration;
      case 0x16:
        return s.queueSelect;
      case 0x18:
        return q ? q.size : 0;
      case 0x1a:
        return q ? s.queueVectors[s.queueSelect]! : NO_VECTOR;
      case 0x1c:
        return q?.enabled ? 1 : 0;
      case 0x1e:
        return s.queueSelect; // queue_notify_off: queue q notifies at q * multiplier
      case 0x20:
        return q?.desc ?? 0;
      case 0x28:
        return q?.avail ?? 0;
      case 0x30:
        return q?.used ?? 0;
      default:
        return 0; // high halves of the 64-bit addresses, queue_notify_data, queue_reset
    }
  }

  private commonWrite(off: number, _size: AccessSize, v: number): void {
    const s = this.state;
    const q = this.selected;
    const setupAllowed = q !== undefined && !q.enabled;
    switch (off) {
      case 0x00:
        s.deviceFeatureSelect = v >>> 0;
        break;
      case 0x08:
        s.driverFeatureSelect = v >>> 0;
        break;
      case 0x0c:
        if (s.driverFeatureSelect <= 1 && !(s.status & STATUS.FEATURES_OK)) {
          s.driverFeatures[s.driverFeatureSelect] = v >>> 0;
        }
        break;
      case 0x10:
        s.configVector = this.vectorFor(v & 0xffff);
        break;
      case 0x14:
        this.writeStatus(v);
        break;
      case 0x16:
        s.queueSelect = v & 0xffff;
        break;
      case 0x1a:
        if (q) s.queueVectors[s.queueSelect] = this.vectorFor(v & 0xffff);
        break;
      case 0x18: {
        // A power of two up to the device's maximum; 0 or anything else is ignored.
        const max = this.device.queueSizes[s.queueSelect] ?? 0;
        if (setupAllowed && v > 0 && v <= max && (v & (v - 1)) === 0) q.size = v;
        break;
      }
      case 0x1c:
        if (q && v === 1) q.enabled = true;
        break;
      case 0x20:
        if (setupAllowed) q.desc = v >>> 0;
        break;
      case 0x28:
        if (setupAllowed) q.avail = v >>> 0;
        break;
      case 0x30:
        if (setupAllowed) q.used = v >>> 0;
        break;
      case 0x24:
      case 0x2c:
      case 0x34:
        // High halves: this machine has 32-bit guest-physical addresses; a queue above 4 GiB
        // cannot be in RAM, so the queue is marked unusable.
        if (setupAllowed && v !== 0) q.desc = q.avail = q.used = 0xfffff000;
        break;
      default:
        break; // read-only fields
    }
  }

  // Legacy interface ---------------------------------------------------------------------------

  /** Where the legacy interface's device configuration starts (0x18 with MSI-X enabled). */
  private get legacyConfig(): number {
    return this.msix.enabled ? LEGACY.CONFIG_MSIX : LEGACY.CONFIG;
  }

  private legacyRead(off: number, size: AccessSize): number {
    const s = this.state;
    const q = this.selected;
    if (off >= this.legacyConfig) {
      const o = off - this.legacyConfig;
      return o + size <= this.device.configSize ? this.device.configRead(o, size) : 0;
    }
    if (off === LEGACY.CONFIG_VECTOR) return s.configVector;
    if (off === LEGACY.QUEUE_VECTOR) return q ? s.queueVectors[s.queueSelect]! : NO_VECTOR;
    switch (off) {
      case LEGACY.HOST_FEATURES:
        return this.offeredWord(0);
      case LEGACY.GUEST_FEATURES:
        return s.driverFeatures[0];
      case LEGACY.QUEUE_PFN:
        return q?.enabled ? Math.floor(q.desc / 4096) : 0;
      case LEGACY.QUEUE_NUM:
        return q ? q.size : 0;
      case LEGACY.QUEUE_SEL:
        return s.queueSelect;
      case LEGACY.STATUS:
        return s.status;
      case LEGACY.ISR:
        return this.readIsr();
      default:
        return 0;
    }
  }

  private legacyWrite(off: number, size: AccessSize, v: number): void {
    const s = this.state;
    if (off >= this.legacyConfig) {
      const o = off - this.legacyConfig;
      if (o + size <= this.device.configSize) this.device.configWrite?.(o, size, v);
      return;
    }
    if (off === LEGACY.CONFIG_VECTOR) {
      s.configVector = this.vectorFor(v & 0xffff);
      return;
    }
    if (off === LEGACY.QUEUE_VECTOR) {
      if (this.selected) s.queueVectors[s.queueSelect] = this.vectorFor(v & 0xffff);
      return;
    }
    switch (off) {
      case LEGACY.GUEST_FEATURES:
        // Legacy drivers see and accept the low 32 bits only (no VERSION_1).
        s.driverFeatures = [(v & this.offeredWord(0)) >>> 0, 0];
        this.applyFeatures();
        break;
      case LEGACY.QUEUE_PFN: {
        const q = this.selected;
        if (!q) break;
        if (v === 0) {
          Object.assign(q, newQueueState(this.device.queueSizes[s.queueSelect]!));
          break;
        }
        const layout = Virtqueue.legacyLayout(v * 4096, q.size);
        Object.assign(q, layout, { enabled: true });
        break;
      }
      case LEGACY.QUEUE_SEL:
        s.queueSelect = v & 0xffff;
        break;
      case LEGACY.QUEUE_NOTIFY:
        this.kick(v & 0xffff);
        break;
      case LEGACY.STATUS:
        if ((v & 0xff) === 0) this.resetDevice();
        else {
          const was = s.status;
          s.status = (v & 0xff & ~STATUS.NEEDS_RESET) | (was & STATUS.NEEDS_RESET);
          if (v & STATUS.DRIVER_OK && !(was & STATUS.DRIVER_OK)) this.device.driverReady?.();
        }
        break;
      default:
        break;
    }
  }

  // The PCI_CFG window -------------------------------------------------------------------------

  private cfgWindow(): { bar: number; offset: number; length: number } {
    const c = this.cfgCap;
    return { bar: this.config[c + 4]!, offset: this.get32(c + 8), length: this.get32(c + 12) };
  }

  override readConfig(offset: number, size: AccessSize): number {
    const data = this.cfgCap + 16;
    if (offset >= data && offset < data + 4) {
      const w = this.cfgWindow();
      const len = w.length as AccessSize;
      if (len === 1 || len === 2 || len === 4) {
        let v = 0;
        if (w.bar === MODERN_BAR) v = this.count(this.modernRead(w.offset, len));
        else if (w.bar === LEGACY_BAR && this.bars[LEGACY_BAR]) v = this.count(this.legacyRead(w.offset, len));
        this.set32(data, v);
      }
    }
    return super.readConfig(offset, size);
  }

  protected override configWritten(offset: number, size: AccessSize): void {
    // MSI-X enabled: INTx# must not be asserted; unmasking sends what is pending.
    if (this.msix.enabled) this.setIntx(false);
    this.msix.controlWritten(offset, size);
    const data = this.cfgCap + 16;
    if (offset < data + 4 && offset + size > data) {
      const w = this.cfgWindow();
      const len = w.length as AccessSize;
      if (len !== 1 && len !== 2 && len !== 4) return;
      const v = this.get32(data) & (len === 4 ? 0xffffffff : (1 << (len * 8)) - 1);
      this.count(0);
      if (w.bar === MODERN_BAR) this.modernWrite(w.offset, len, v >>> 0);
      else if (w.bar === LEGACY_BAR && this.bars[LEGACY_BAR]) this.legacyWrite(w.offset, len, v >>> 0);
    }
  }

  /** For `info virtio`: one line per queue. */
  describe(): string[] {
    const s = this.state;
    const lines = [
      `${this.name}: status 0x${s.status.toString(16)} features 0x${this.features.toString(16)} isr ${s.isr} interrupts ${this.counters.interrupts} register accesses ${this.counters.registerAccesses}`,
      `  MSI-X ${this.msix.enabled ? "enabled" : "disabled"}: ${this.msix.vectors} vectors, ${this.msix.counters.messages} messages (config vector ${s.configVector === NO_VECTOR ? "none" : s.configVector})`,
    ];
    s.queues.forEach((q, i) => {
      lines.push(
        `  queue ${i}: size ${q.size} ${q.enabled ? "enabled" : "disabled"}${q.broken ? " BROKEN" : ""} avail ${q.lastAvail} used ${q.usedIdx} kicks ${this.counters.notifications[i]} completed ${this.counters.completed[i]}`,
      );
    });
    const faults = Object.entries(this.counters.faults);
    if (faults.length)
      lines.push(`  faults: ${faults.map(([k, n]) => `${k} ${n}`).join(", ")} (last: ${this.lastFault})`);
    return lines;
  }
}
