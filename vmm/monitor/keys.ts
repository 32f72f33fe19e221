// QEMU's key names for `sendkey` (ctrl-alt-delete, a, ret, f1...), mapped to the DOM key codes
// the PS/2 keyboard model takes. Keys joined with '-' go down in order and up in reverse.

import type { Ps2Keyboard } from "../../devices/ps2-keyboard.js";
import { SET2_BY_CODE } from "../../devices/ps2-keyboard.js";
import { MonitorError } from "./memory.js";

const NAMED: Record<string, string> = {
  shift: "ShiftLeft",
  shift_r: "ShiftRight",
  alt: "AltLeft",
  alt_r: "AltRight",
  altgr: "AltRight",
  ctrl: "ControlLeft",
  ctrl_r: "ControlRight",
  meta_l: "MetaLeft",
  meta_r: "MetaRight",
  menu: "ContextMenu",
  esc: "Escape",
  ret: "Enter",
  spc: "Space",
  tab: "Tab",
  backspace: "Backspace",
  delete: "Delete",
  insert: "Insert",
  home: "Home",
  end: "End",
  pgup: "PageUp",
  pgdn: "PageDown",
  up: "ArrowUp",
  down: "ArrowDown",
  left: "ArrowLeft",
  right: "ArrowRight",
  minus: "Minus",
  equal: "Equal",
  bracket_left: "BracketLeft",
  bracket_right: "BracketRight",
  semicolon: "Semicolon",
  apostrophe: "Quote",
  grave_accent: "Backquote",
  backslash: "Backslash",
  comma: "Comma",
  dot: "Period",
  slash: "Slash",
  caps_lock: "CapsLock",
  num_lock: "NumLock",
  scroll_lock: "ScrollLock",
  kp_enter: "NumpadEnter",
};

/** The DOM code for a QEMU key name, or undefined. */
export function keyCode(name: string): string | undefined {
  const n = name.toLowerCase();
  if (NAMED[n]) return NAMED[n];
  if (/^[a-z]$/.test(n)) return `Key${n.toUpperCase()}`;
  if (/^[0-9]$/.test(n)) return `Digit${n}`;
  if (/^f([1-9]|1[0-2])$/.test(n)) return n.toUpperCase();
  if (/^kp_[0-9]$/.test(n)) return `Numpad${n[3]}`;
  return undefined;
}

export function sendKeys(keyboard: Ps2Keyboard, combo: string): void {
  const codes = combo.split("-").map((k) => {
    const code = keyCode(k);
    if (!code || SET2_BY_CODE[code] === undefined) throw new MonitorError(`sendkey: unknown key '${k}'`);
    return code;
  });
  for (const c of codes) keyboard.keyByCode(c, true);
  for (const c of [...codes].reverse()) keyboard.keyByCode(c, false);
}
