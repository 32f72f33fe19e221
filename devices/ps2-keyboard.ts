// A PS/2 (MF2) keyboard as seen through its serial link: it answers the host's commands and
// sends scan codes from set 2 (or set 1 when the host selects it with 0xF0 0x01; set 3 is
// accepted but sent as set 2). The i8042 (devices/i8042.ts) pulls bytes with `nextByte` and
// translates set 2 to set 1 when its command byte asks.
//
// Facts from the IBM PS/2 Hardware Interface Technical Reference (keyboard commands 0xED-0xFF,
// ACK 0xFA, BAT completion 0xAA, ID 0xAB 0x83, resend 0xFE) and the standard set-2 make codes.

/** 8042 translation of scan-code set 2 to set 1 (IBM PS/2 Technical Reference; identity above 0x88). */
export const SET2_TO_SET1: Uint8Array = (() => {
  const low = [
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59, 0x65, 0x38, 0x2a,
    0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b, 0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05,
    0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d, 0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a,
    0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f, 0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26,
    0x27, 0x19, 0x0c, 0x61, 0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63,
    0x76, 0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f, 0x52, 0x53,
    0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54, 0x80, 0x81, 0x82, 0x41, 0x54,
  ];
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = i < low.length ? low[i]! : i;
  return t;
})();

/**
 * Set-2 make codes by DOM `KeyboardEvent.code`, for hosts that forward key events. A value above
 * 0xFF means the key is sent with the 0xE0 prefix (0xE0xx).
 */
export const SET2_BY_CODE: Readonly<Record<string, number>> = {
  Escape: 0x76,
  F1: 0x05,
  F2: 0x06,
  F3: 0x04,
  F4: 0x0c,
  F5: 0x03,
  F6: 0x0b,
  F7: 0x83,
  F8: 0x0a,
  F9: 0x01,
  F10: 0x09,
  F11: 0x78,
  F12: 0x07,
  Backquote: 0x0e,
  Digit1: 0x16,
  Digit2: 0x1e,
  Digit3: 0x26,
  Digit4: 0x25,
  Digit5: 0x2e,
  Digit6: 0x36,
  Digit7: 0x3d,
  Digit8: 0x3e,
  Digit9: 0x46,
  Digit0: 0x45,
  Minus: 0x4e,
  Equal: 0x55,
  Backspace: 0x66,
  Tab: 0x0d,
  KeyQ: 0x15,
  KeyW: 0x1d,
  KeyE: 0x24,
  KeyR: 0x2d,
  KeyT: 0x2c,
  KeyY: 0x35,
  KeyU: 0x3c,
  KeyI: 0x43,
  KeyO: 0x44,
  KeyP: 0x4d,
  BracketLeft: 0x54,
  BracketRight: 0x5b,
  Backslash: 0x5d,
  CapsLock: 0x58,
  KeyA: 0x1c,
  KeyS: 0x1b,
  KeyD: 0x23,
  KeyF: 0x2b,
  KeyG: 0x34,
  KeyH: 0x33,
  KeyJ: 0x3b,
  KeyK: 0x42,
  KeyL: 0x4b,
  Semicolon: 0x4c,
  Quote: 0x52,
  Enter: 0x5a,
  ShiftLeft: 0x12,
  KeyZ: 0x1a,
  KeyX: 0x22,
  KeyC: 0x21,
  KeyV: 0x2a,
  KeyB: 0x32,
  KeyN: 0x31,
  KeyM: 0x3a,
  Comma: 0x41,
  Period: 0x49,
  Slash: 0x4a,
  ShiftRight: 0x59,
  ControlLeft: 0x14,
  AltLeft: 0x11,
  Space: 0x29,
  AltRight: 0xe011,
  ControlRight: 0xe014,
  MetaLeft: 0xe01f,
  MetaRight: 0xe027,
  ContextMenu: 0xe02f,
  Insert: 0xe070,
  Delete: 0xe071,
  Home: 0xe06c,
  End: 0xe069,
  PageUp: 0xe07d,
  PageDown: 0xe07a,
  ArrowUp: 0xe075,
  ArrowDown: 0xe072,
  ArrowLeft: 0xe06b,
  ArrowRight: 0xe074,
  NumLock: 0x77,
  ScrollLock: 0x7e,
  NumpadDivide: 0xe04a,
  NumpadMultiply: 0x7c,
  NumpadSubtract: 0x7b,
  NumpadAdd: 0x79,
  NumpadEnter: 0xe05a,
  NumpadDecimal: 0x71,
  Numpad0: 0x70,
  Numpad1: 0x69,
  Numpad2: 0x72,
  Numpad3: 0x7a,
  Numpad4: 0x6b,
  Numpad5: 0x73,
  Numpad6: 0x74,
  Numpad7: 0x6c,
  Numpad8: 0x75,
  Numpad9: 0x7d,
};

export const KBD = {
  ACK: 0xfa,
  BAT_OK: 0xaa,
  ECHO: 0xee,
  RESEND: 0xfe,
} as const;

/** The keyboard's output buffer (the real one holds 16 keys); overflow drops input. */
const QUEUE_LIMIT = 64;

export class Ps2Keyboard {
  private readonly queue: number[] = [];
  /** A command waiting for its parameter byte (0xED, 0xF0, 0xF3), or 0. */
  private pendingCommand = 0;
  private lastSent = 0;
  scanning = true;
  scanCodeSet = 2;
  leds = 0;
  typematic = 0x2b;
  /** Called when a byte becomes available, so the controller can take it. */
  onData: (() => void) | undefined;

  /** True when bytes wait for the controller. */
  get hasData(): boolean {
    return this.queue.length > 0;
  }

  /** The next byte for the controller, or -1. */
  nextByte(): number {
    const b = this.queue.shift();
    if (b === undefined) return -1;
    this.lastSent = b;
    return b;
  }

  reset(): void {
    this.queue.length = 0;
    this.pendingCommand = 0;
    this.setDefaults();
  }

  private setDefaults(): void {
    this.scanning = true;
    this.scanCodeSet = 2;
    this.typematic = 0x2b;
  }

  private send(...bytes: number[]): void {
    for (const b of bytes) if (this.queue.length < QUEUE_LIMIT) this.queue.push(b);
    this.onData?.();
  }

  /** A byte from the host (the i8042 forwards port 0x60 writes here). */
  write(b: number): void {
    if (this.pendingCommand !== 0) {
      const cmd = this.pendingCommand;
      this.pendingCommand = 0;
      // Every parameter is below 0xED; a command byte instead abandons the parameter and runs.
      if (b < 0xed) {
        this.parameter(cmd, b);
        return;
      }
    }
    switch (b) {
      case 0xff: // reset: ACK, then the basic assurance test passes
        this.queue.length = 0;
        this.setDefaults();
        this.send(KBD.ACK, KBD.BAT_OK);
        return;
      case 0xfe: // resend
        this.send(this.lastSent);
        return;
      case 0xf6: // set defaults
        this.setDefaults();
        this.send(KBD.ACK);
        return;
      case 0xf5: // disable scanning (and set defaults)
        this.setDefaults();
        this.scanning = false;
        this.queue.length = 0;
        this.send(KBD.ACK);
        return;
      case 0xf4: // enable scanning
        this.scanning = true;
        this.queue.length = 0;
        this.send(KBD.ACK);
        return;
      case 0xf2: // identify: MF2 keyboard
        this.send(KBD.ACK, 0xab, 0x83);
        return;
      case 0xf0: // scan code set
      case 0xf3: // typematic rate and delay
      case 0xed: // LEDs
        this.pendingCommand = b;
        this.send(KBD.ACK);
        return;
      case 0xee:
        this.send(KBD.ECHO);
        return;
      case 0xf7:
      case 0xf8:
      case 0xf9:
      case 0xfa:
      case 0xfb:
      case 0xfc:
      case 0xfd: // set-3 key types: accepted, no effect
        this.send(KBD.ACK);
        return;
      default:
        this.send(KBD.RESEND);
    }
  }

  private parameter(cmd: number, b: number): void {
    switch (cmd) {
      case 0xed:
        this.leds = b & 7;
        this.send(KBD.ACK);
        break;
      case 0xf3:
        this.typematic = b & 0x7f;
        this.send(KBD.ACK);
        break;
      default: // 0xf0
        if (b === 0) this.send(KBD.ACK, this.scanCodeSet);
        else if (b <= 3) {
          this.scanCodeSet = b;
          this.send(KBD.ACK);
        } else this.send(KBD.RESEND);
    }
  }

  /** A key went down or up: `code` is a set-2 make code, 0xE0xx for extended keys. */
  key(code: number, down: boolean): void {
    if (!this.scanning) return;
    const extended = code > 0xff;
    const make = code & 0xff;
    if (this.scanCodeSet === 1) {
      const s1 = SET2_TO_SET1[make]!;
      this.send(...(extended ? [0xe0] : []), down ? s1 : s1 | 0x80);
    } else {
      this.send(...(extended ? [0xe0] : []), ...(down ? [] : [0xf0]), make);
    }
  }

  /** A key by DOM `KeyboardEvent.code`; returns false for keys it does not know. */
  keyByCode(code: string, down: boolean): boolean {
    const c = SET2_BY_CODE[code];
    if (c === undefined) return false;
    this.key(c, down);
    return true;
  }
}
