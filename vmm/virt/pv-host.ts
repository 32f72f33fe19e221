// The host's half of the pv hypercall ABI (docs/hypercalls.md): the hypercalls the core forwards
// because they need the host's devices or its clock. The console writes a guest buffer to the
// serial console's output; the one-shot timer raises IRQ 0 through the PIC when virtual time
// passes a kvmclock deadline; the virtio notify kicks a queue of a virtio-pci function without
// an I/O write (test/vmm/pv-notify.test.ts). Every guest-supplied
// address and length is checked here: a bad one is an error in EAX, never a host exception.

import type { TimedDevice } from "../../devices/clock.js";
import type { GuestMemory } from "../../devices/dma.js";
import type { Cpu } from "../cpu.js";
import {
  EFAULT,
  EINVAL,
  KVM_ENOSYS,
  PV_CONSOLE_MAX,
  PV_HC_CONSOLE_WRITE,
  PV_HC_SET_TIMER,
  PV_HC_VIRTIO_NOTIFY,
} from "../generated/abi.js";

import * as L from "../generated/layout.js";

/** The PIC inputs pulseSharedIrq drives. */
export interface IrqInputs {
  setIrq(irq: number, level: boolean): void;
  line(irq: number): { readonly level: boolean };
}

/**
 * An edge on an ISA IRQ input that its own device (the PIT on IRQ 0) also drives: low, high,
 * then back to that device's level, so the device's next edge is not lost or doubled.
 */
export function pulseSharedIrq(pic: IrqInputs, irq: number): void {
  pic.setIrq(irq, false);
  pic.setIrq(irq, true);
  pic.setIrq(irq, pic.line(irq).level);
}

/** What the pv host needs from the machine. */
export interface PvHostOptions {
  cpu: Cpu;
  /** Guest memory for the buffers hypercalls name (the Vm's: RAM and ROM, bounds-checked). */
  memory: GuestMemory;
  /** The serial console's output (the Vm's onSerial for COM1). */
  console?: (byte: number) => void;
  /** Raises an edge on IRQ 0 (the timer's interrupt). */
  pulseIrq0: () => void;
  /** Virtual time in nanoseconds (the Vm's clock). */
  nowNs: () => number;
  /**
   * Kicks queue `queue` of the virtio-pci function at bus 0 `devfn` (device << 3 | function), as
   * a write to its notify register would; false when there is no such function or queue.
   */
  virtioNotify?: (devfn: number, queue: number) => boolean;
}

/** The one-shot timer of PV_HC_SET_TIMER: a device on the Vm's clock. */
export class PvTimer implements TimedDevice {
  /** Virtual time (the Vm's clock, ns) at which IRQ 0 fires; Infinity when disarmed. */
  private deadlineNs = Number.POSITIVE_INFINITY;
  /** Interrupts raised so far. */
  fired = 0;

  constructor(private readonly pulse: () => void) {}

  arm(atNs: number): void {
    this.deadlineNs = atNs;
  }

  cancel(): void {
    this.deadlineNs = Number.POSITIVE_INFINITY;
  }

  advance(nowNs: number): void {
    if (nowNs >= this.deadlineNs) this.fire();
  }

  /** Disarms and raises the interrupt. */
  fire(): void {
    this.deadlineNs = Number.POSITIVE_INFINITY;
    this.fired++;
    this.pulse();
  }

  nextDeadlineNs(): number {
    return this.deadlineNs;
  }
}

export class PvHost {
  readonly timer: PvTimer;
  private readonly cpu: Cpu;
  private readonly memory: GuestMemory;
  private readonly console: ((byte: number) => void) | undefined;
  private readonly nowNs: () => number;
  private readonly virtioNotify: PvHostOptions["virtioNotify"];

  constructor(opts: PvHostOptions) {
    this.virtioNotify = opts.virtioNotify;
    this.cpu = opts.cpu;
    this.memory = opts.memory;
    this.console = opts.console;
    this.nowNs = opts.nowNs;
    this.timer = new PvTimer(opts.pulseIrq0);
  }

  /** A forwarded hypercall (EAX = nr, arguments in EBX, ECX); returns the new EAX. */
  hypercall(nr: number): number {
    const ebx = this.cpu.reg(3);
    const ecx = this.cpu.reg(1);
    switch (nr) {
      case PV_HC_CONSOLE_WRITE:
        return this.consoleWrite(ebx, ecx);
      case PV_HC_SET_TIMER:
        return this.setTimer(ecx * 2 ** 32 + ebx);
      case PV_HC_VIRTIO_NOTIFY:
        // EBX = devfn (bus 0), ECX = queue index.
        if (!this.virtioNotify) return -KVM_ENOSYS;
        if (ebx > 0xff || ecx > 0xffff) return -EINVAL;
        return this.virtioNotify(ebx, ecx) ? 0 : -EINVAL;
      default:
        return -KVM_ENOSYS;
    }
  }

  private consoleWrite(gpa: number, length: number): number {
    if (length > PV_CONSOLE_MAX) return -EINVAL;
    if (length === 0) return 0;
    // RAM or ROM only (the VGA window inside RAM is device memory, not bytes to copy).
    if (!this.memory.check(gpa, length)) return -EFAULT;
    const bytes = this.memory.read(gpa, length);
    if (this.console) for (const b of bytes) this.console(b);
    return length;
  }

  /**
   * kvmclock time is the guest's TSC (one tick per nanosecond: see core/cpu/ops/kvm-paravirt.ts), so
   * the deadline is that many nanoseconds from now on the Vm's clock. A deadline already passed
   * fires at once, as Xen's set_timer_op does; 0 cancels.
   */
  private setTimer(deadline: number): number {
    if (deadline === 0) {
      this.timer.cancel();
      return 0;
    }
    const delta = deadline - this.guestTsc();
    if (delta <= 0) {
      this.timer.fire();
      return 0;
    }
    this.timer.arm(this.nowNs() + delta);
    // The run loop sized the current slice before this deadline existed: end it, so the next
    // slice stops at the deadline instead of up to a slice late.
    this.cpu.requestStop();
    return 0;
  }

  /** The TSC as RDTSC reads it now, in the middle of a run() (core currentTsc()). */
  private guestTsc(): number {
    const dv = new DataView(this.cpu.memory.buffer);
    const tsc = Number(dv.getBigUint64(L.S_TSC, true));
    const atRunStart = Number(dv.getBigUint64(L.S_INSN_COUNT, true));
    return tsc + (this.cpu.retired - atRunStart) * this.cpu.u32(L.S_TSC_PER_INSN);
  }
}
