// The Intel 8042 keyboard controller of the PC/AT and PS/2 at ports 0x60 (data) and 0x64 (status
// / command), with a PS/2 keyboard (devices/ps2-keyboard.ts) on its first port and no mouse on
// the auxiliary port. It also owns two lines of the output port: A20 (bit 1) and CPU reset
// (bit 0, active low), which the Vm wires to cpu.setA20 and to a system reset.
//
// Facts from the IBM PS/2 Hardware Interface Technical Reference ("Keyboard/Auxiliary Device
// Controller": status register bits, command byte, commands 0x20-0xFF, output port bits) and the
// IBM PC/AT Technical Reference (A20 through the output port, reset by pulsing bit 0 with 0xFE).
// 0xDD/0xDF are the HP Vectra A20 commands many controllers and QEMU accept.

import { PORT } from "./bus/addresses.js";
import type { IrqLine } from "./bus/irq.js";
import type { PortBus } from "./bus/port-bus.js";
import { Ps2Keyboard, SET2_TO_SET1 } from "./ps2-keyboard.js";

const STATUS_OBF = 0x01;
const STATUS_SYS = 0x04;
const STATUS_CMD = 0x08; // last write was to 0x64
const STATUS_UNLOCKED = 0x10; // keyboard not inhibited by the key lock
const STATUS_AUX_OBF = 0x20;

/** Command byte bits. */
export const CTR = {
  KBD_INT: 0x01,
  AUX_INT: 0x02,
  SYS: 0x04,
  KBD_DISABLE: 0x10,
  AUX_DISABLE: 0x20,
  TRANSLATE: 0x40,
} as const;

const OUT_RESET = 0x01; // 1 = CPU running (active low reset)
const OUT_A20 = 0x02;
const OUT_KBD_OBF = 0x10;
const OUT_AUX_OBF = 0x20;

export interface I8042Options {
  /** IRQ 1. */
  irqKeyboard: IrqLine;
  /** IRQ 12 (used only for controller-generated aux bytes: no mouse is attached). */
  irqAux?: IrqLine;
  /** The output port's A20 line changed. */
  onA20?: (enabled: boolean) => void;
  /** The output port pulsed or drove CPU reset. */
  onReset?: () => void;
  keyboard?: Ps2Keyboard;
}

export class I8042 {
  readonly keyboard: Ps2Keyboard;
  private readonly irqKbd: IrqLine;
  private readonly irqAux: IrqLine | undefined;
  onA20: ((enabled: boolean) => void) | undefined;
  onReset: (() => void) | undefined;

  private ctr = CTR.KBD_INT | CTR.TRANSLATE;
  private outPort = OUT_RESET | OUT_A20;
  private sysFlag = false;
  private lastWasCommand = false;
  /** The output buffer: -1 when empty. */
  private obf = -1;
  /** What port 0x60 returns when the buffer is empty: the last byte read. */
  private lastByte = 0;
  private obfAux = false;
  /** Controller replies waiting for the output buffer (they go before device bytes). */
  private readonly replies: { byte: number; aux: boolean }[] = [];
  /** A controller command waiting for its data byte on port 0x60, or 0. */
  private pendingCommand = 0;
  /** Translation state: the keyboard sent 0xF0 (break prefix). */
  private breakPrefix = false;
  /** Internal RAM reachable with 0x20-0x3F / 0x60-0x7F (byte 0 is the command byte). */
  private readonly ram = new Uint8Array(32);

  constructor(options: I8042Options) {
    this.keyboard = options.keyboard ?? new Ps2Keyboard();
    this.irqKbd = options.irqKeyboard;
    this.irqAux = options.irqAux;
    this.onA20 = options.onA20;
    this.onReset = options.onReset;
    this.keyboard.onData = () => this.refill();
  }

  /**
   * Power-on: keyboard interrupt and translation on, A20 enabled through the output port (as
   * QEMU's controller starts; a BIOS sets the rest).
   */
  reset(): void {
    this.ctr = CTR.KBD_INT | CTR.TRANSLATE;
    this.outPort = OUT_RESET | OUT_A20;
    this.sysFlag = false;
    this.lastWasCommand = false;
    this.obf = -1;
    this.obfAux = false;
    this.replies.length = 0;
    this.pendingCommand = 0;
    this.breakPrefix = false;
    this.keyboard.reset();
    this.updateIrq();
  }

  attach(bus: PortBus): void {
    bus.register({
      owner: "i8042 data",
      start: PORT.I8042_DATA,
      length: 1,
      read: () => this.readData(),
      write: (_p, _s, v) => this.writeData(v),
    });
    bus.register({
      owner: "i8042 status/command",
      start: PORT.I8042_COMMAND,
      length: 1,
      read: () => this.readStatus(),
      write: (_p, _s, v) => this.writeCommand(v),
    });
  }

  get a20(): boolean {
    return (this.outPort & OUT_A20) !== 0;
  }

  get commandByte(): number {
    return this.ctr;
  }

  readStatus(): number {
    let s = STATUS_UNLOCKED;
    if (this.obf >= 0) s |= STATUS_OBF | (this.obfAux ? STATUS_AUX_OBF : 0);
    if (this.sysFlag) s |= STATUS_SYS;
    if (this.lastWasCommand) s |= STATUS_CMD;
    // IBF (bit 1) is never set: commands complete within the port write.
    return s;
  }

  readData(): number {
    if (this.obf < 0) return this.lastByte;
    const v = this.obf;
    this.lastByte = v;
    this.obf = -1;
    this.obfAux = false;
    this.updateIrq();
    this.refill();
    return v;
  }

  writeData(v: number): void {
    v &= 0xff;
    this.lastWasCommand = false;
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    if (cmd === 0) {
      // To the keyboard; sending to it re-enables the keyboard interface.
      this.ctr &= ~CTR.KBD_DISABLE;
      this.keyboard.write(v);
      this.refill();
      return;
    }
    if (cmd === 0x60) {
      this.setCommandByte(v);
    } else if (cmd > 0x60 && cmd < 0x80) {
      this.ram[cmd & 0x1f] = v;
    } else if (cmd === 0xd1) {
      this.writeOutputPort(v);
    } else if (cmd === 0xd2) {
      this.reply(v, false); // as if the keyboard sent it
    } else if (cmd === 0xd3) {
      this.reply(v, true); // as if the aux device sent it
    } else if (cmd === 0xd4) {
      // To the aux device: none is attached, the byte is lost (the host times out).
    }
  }

  writeCommand(c: number): void {
    c &= 0xff;
    this.lastWasCommand = true;
    this.pendingCommand = 0;
    if (c === 0x20) {
      this.reply(this.ctr, false);
      return;
    }
    if (c > 0x20 && c < 0x40) {
      this.reply(this.ram[c & 0x1f]!, false);
      return;
    }
    if ((c >= 0x60 && c < 0x80) || c === 0xd1 || c === 0xd2 || c === 0xd3 || c === 0xd4) {
      this.pendingCommand = c;
      return;
    }
    switch (c) {
      case 0xa1: // controller version
        this.reply(0x00, false);
        break;
      case 0xa4: // password installed? no
        this.reply(0xf1, false);
        break;
      case 0xa7: // disable aux interface
        this.setCommandByte(this.ctr | CTR.AUX_DISABLE);
        break;
      case 0xa8: // enable aux interface
        this.setCommandByte(this.ctr & ~CTR.AUX_DISABLE);
        break;
      case 0xa9: // aux interface test: 0 = no error
        this.reply(0x00, false);
        break;
      case 0xaa: // controller self test
        this.sysFlag = true;
        this.reply(0x55, false);
        break;
      case 0xab: // keyboard interface test: 0 = no error
        this.reply(0x00, false);
        break;
      case 0xad: // disable keyboard interface
        this.setCommandByte(this.ctr | CTR.KBD_DISABLE);
        break;
      case 0xae: // enable keyboard interface
        this.setCommandByte(this.ctr & ~CTR.KBD_DISABLE);
        break;
      case 0xc0: // read input port: keyboard not inhibited, colour display jumper
        this.reply(0x80, false);
        break;
      case 0xd0: // read output port
        this.reply(this.outputPort(), false);
        break;
      case 0xdd: // A20 off (HP Vectra)
        this.writeOutputPort(this.outPort & ~OUT_A20);
        break;
      case 0xdf: // A20 on
        this.writeOutputPort(this.outPort | OUT_A20);
        break;
      case 0xe0: // read test inputs
        this.reply(0x00, false);
        break;
      default:
        if (c >= 0xf0) {
          // Pulse output port bits 0-3 low for ~6 us where the command's bits are 0: bit 0 is reset.
          if ((c & 1) === 0) this.onReset?.();
        }
      // Other commands: ignored.
    }
  }

  private outputPort(): number {
    let v = this.outPort | 0xc0; // keyboard clock and data lines idle high
    if (this.obf >= 0) v |= this.obfAux ? OUT_AUX_OBF : OUT_KBD_OBF;
    return v;
  }

  private writeOutputPort(v: number): void {
    const old = this.outPort;
    this.outPort = v & (OUT_RESET | OUT_A20);
    if ((old ^ this.outPort) & OUT_A20) this.onA20?.(this.a20);
    if (!(v & OUT_RESET)) {
      // Bit 0 low holds the CPU in reset; the controller lets it go again when it resets itself.
      this.outPort |= OUT_RESET;
      this.onReset?.();
    }
  }

  private setCommandByte(v: number): void {
    this.ctr = v & 0x7f;
    this.sysFlag = (v & CTR.SYS) !== 0;
    this.updateIrq();
    this.refill();
  }

  private reply(byte: number, aux: boolean): void {
    this.replies.push({ byte, aux });
    this.refill();
  }

  /** Moves the next waiting byte into an empty output buffer. */
  private refill(): void {
    if (this.obf >= 0) return;
    const r = this.replies.shift();
    if (r) {
      this.obf = r.byte;
      this.obfAux = r.aux;
    } else if (!(this.ctr & CTR.KBD_DISABLE)) {
      while (this.keyboard.hasData) {
        const b = this.keyboard.nextByte();
        const t = this.translate(b);
        if (t < 0) continue; // a break prefix swallowed by translation
        this.obf = t;
        this.obfAux = false;
        break;
      }
    }
    this.updateIrq();
  }

  /** Set 2 -> set 1 when the command byte asks; -1 for a consumed 0xF0 prefix. */
  private translate(b: number): number {
    if (!(this.ctr & CTR.TRANSLATE)) return b;
    if (b === 0xf0) {
      this.breakPrefix = true;
      return -1;
    }
    const t = SET2_TO_SET1[b]!;
    if (this.breakPrefix) {
      this.breakPrefix = false;
      return t | 0x80;
    }
    return t;
  }

  private updateIrq(): void {
    const full = this.obf >= 0;
    this.irqKbd.set(full && !this.obfAux && (this.ctr & CTR.KBD_INT) !== 0);
    this.irqAux?.set(full && this.obfAux && (this.ctr & CTR.AUX_INT) !== 0);
  }
}
