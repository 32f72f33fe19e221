// Small PC ports that are not worth a file each:
// - 0x92, system control port A (IBM PS/2 Model 50/60 Technical Reference): bit 1 drives A20
//   ("fast A20"), a 0-to-1 transition of bit 0 resets the CPU ("fast reset"). Resets to 0: on a
//   PIIX the A20 gate is the OR of this bit and the i8042's output port bit 1.
// - 0x80, the POST checkpoint port (PC/AT BIOSes write progress codes; Linux uses it as a delay).
// - 0xE9 and 0x402, debug consoles (Bochs' "port E9 hack"; QEMU's debugcon, where SeaBIOS logs
//   with CONFIG_DEBUG_IO at 0x402). Reading returns 0xE9 so guests can detect them.
// - 0xF0, the PC/AT coprocessor error latch: FERR# raises IRQ 13 until a write to 0xF0 clears it.
// - 0xF4, QEMU's isa-debug-exit (iobase=0xf4, iosize=4): writing v asks the VMM to exit with
//   status (v << 1) | 1, so no guest-chosen value can mean success (QEMU hw/misc/debugexit.c).

import { PORT } from "./bus/addresses.js";
import type { IrqLine } from "./bus/irq.js";
import type { PortBus } from "./bus/port-bus.js";

export interface SystemControlPortAOptions {
  onA20?: (enabled: boolean) => void;
  onReset?: () => void;
}

/** Port 0x92. */
export class SystemControlPortA {
  private value = 0;
  onA20: ((enabled: boolean) => void) | undefined;
  onReset: (() => void) | undefined;

  constructor(options: SystemControlPortAOptions = {}) {
    this.onA20 = options.onA20;
    this.onReset = options.onReset;
  }

  get a20(): boolean {
    return (this.value & 0x02) !== 0;
  }

  reset(): void {
    this.value = 0;
  }

  attach(bus: PortBus): void {
    bus.register({
      owner: "port A (0x92)",
      start: PORT.SYSTEM_CONTROL_A,
      length: 1,
      read: () => this.value,
      write: (_p, _s, v) => this.write(v),
    });
  }

  write(v: number): void {
    const old = this.value;
    this.value = v & 0x03;
    if ((old ^ v) & 0x02) this.onA20?.(this.a20);
    if (v & 0x01 && !(old & 0x01)) {
      this.value &= ~0x01; // the reset bit reads back 0 once the reset happened
      this.onReset?.();
    }
  }
}

/** Port 0x80: remembers the last POST code. */
export class PostPort {
  last = -1;
  /** Every code written, for traces. */
  onCode: ((code: number) => void) | undefined;

  constructor(onCode?: (code: number) => void) {
    this.onCode = onCode;
  }

  attach(bus: PortBus): void {
    bus.register({
      owner: "POST port (0x80)",
      start: PORT.POST,
      length: 1,
      read: () => (this.last < 0 ? 0xff : this.last),
      write: (_p, _s, v) => {
        this.last = v & 0xff;
        this.onCode?.(this.last);
      },
    });
  }
}

/** A debug console port (0xE9 or 0x402): bytes written go to the sink. */
export class DebugConsole {
  constructor(
    readonly port: number,
    public sink: (byte: number) => void,
  ) {}

  attach(bus: PortBus): void {
    bus.register({
      owner: `debug console (0x${this.port.toString(16)})`,
      start: this.port,
      length: 1,
      read: () => 0xe9,
      write: (_p, _s, v) => this.sink(v & 0xff),
    });
  }
}

/** QEMU's isa-debug-exit at 0xF4-0xF7. */
export class DebugExit {
  /** The exit status requested last, or undefined. */
  requested: number | undefined;

  constructor(
    public onExit: (status: number) => void,
    readonly port: number = PORT.DEBUG_EXIT,
  ) {}

  attach(bus: PortBus): void {
    bus.register({
      owner: "isa-debug-exit",
      start: this.port,
      length: 4,
      sizes: 1 | 2 | 4,
      read: () => 0,
      write: (_p, _s, v) => {
        // QEMU: exit((val << 1) | 1) with the value as written at the access width.
        const status = (v * 2 + 1) % 0x1_0000_0000;
        this.requested = status;
        this.onExit(status);
      },
    });
  }
}

/** Port 0xF0-0xF1: the PC/AT's x87 error latch on IRQ 13 (the Vm calls `ferr` for CpuHost.fpuError). */
export class FpuErrorLatch {
  constructor(private readonly irq: IrqLine) {}

  ferr(): void {
    this.irq.raise();
  }

  attach(bus: PortBus): void {
    bus.register({
      owner: "x87 error latch (0xf0)",
      start: PORT.FPU_ERROR,
      length: 2,
      read: () => 0xff,
      write: () => this.irq.lower(), // 0xF0 clears the latch (0xF1 resets the coprocessor)
    });
  }
}
