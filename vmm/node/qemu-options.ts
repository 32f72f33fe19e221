// QEMU's option strings (`key=value,key=value`, possibly after a leading word such as a driver or
// backend name), parsed with one-line errors for the flags that take them (-drive, -device,
// -netdev, -nic).

import { UserInputError } from "./files.js";

/** key=value pairs of a QEMU option string. */
export function keyValues(flag: string, value: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of value.split(",")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new UserInputError(`${flag} ${value}: '${part}' is not key=value`);
    const key = part.slice(0, eq);
    if (map.has(key)) throw new UserInputError(`${flag} ${value}: '${key}' given twice`);
    map.set(key, part.slice(eq + 1));
  }
  return map;
}

/** A leading word and the key=value pairs after it (`user,id=n0`, `virtio-net-pci,netdev=n0`). */
export function wordAndKeyValues(flag: string, value: string): { head: string; kv: Map<string, string> } {
  const comma = value.indexOf(",");
  const head = comma < 0 ? value : value.slice(0, comma);
  return { head, kv: keyValues(flag, comma < 0 ? "" : value.slice(comma + 1)) };
}
