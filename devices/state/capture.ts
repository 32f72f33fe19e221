// A device's state as data, apart from its wiring: `captureState` walks a device object and
// keeps what is state (numbers, flags, byte arrays, plain records, and the device's own helper
// objects: a channel, a queue, an interrupt line); `applyState` writes such a record into
// another instance of the same device, wired its own way. What is wiring is never touched:
// functions (callbacks), and objects of classes not registered as state (buses, disks, guest
// memory, backends, clocks), and the fields a class names as transient (derived from the rest,
// rebuilt by its `stateLoaded` hook). The record is encoded as JSON with byte arrays set apart
// (`encodeState`), so a device section of a saved VM is exact and compact.

/** Classes whose instances, met inside a device, are part of its state (registry.ts). */
const stateClasses = new Set<unknown>();
/** Fields that are derived or wiring, per class (looked up along the prototype chain). */
const transient = new Map<unknown, Set<string>>();

export function registerStateClasses(...classes: unknown[]): void {
  for (const c of classes) stateClasses.add(c);
}

export function registerTransient(cls: { prototype: unknown }, fields: string[]): void {
  transient.set(cls.prototype, new Set(fields));
}

function isTransient(obj: object, key: string): boolean {
  for (let p = Object.getPrototypeOf(obj); p; p = Object.getPrototypeOf(p)) {
    if (transient.get(p)?.has(key)) return true;
  }
  return false;
}

/** A device whose state does not fit the instance it is loaded into. */
export class DeviceStateError extends Error {}

/** The tree: JSON values, with typed arrays, big integers, maps and sets as tagged objects. */
export type StateValue = null | boolean | number | string | Uint8Array | StateValue[] | { [key: string]: StateValue };

type TypedArray = Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array | Int32Array | Float64Array;
const TYPED: Record<string, new (n: number) => TypedArray> = {
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Float64Array,
};

function typedName(v: unknown): string | undefined {
  if (!ArrayBuffer.isView(v) || v instanceof DataView) return undefined;
  for (const [name, ctor] of Object.entries(TYPED)) if (v.constructor === ctor) return name;
  return undefined;
}

function isPlain(v: object): boolean {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** Whether `v` is a nested object captureState descends into. */
function isStateObject(v: object): boolean {
  return isPlain(v) || stateClasses.has(Object.getPrototypeOf(v).constructor);
}

const SKIP = Symbol("skip");

/** Keys from the device to a value: where a second reference to one object points. */
type Path = (string | number)[];

interface Capture {
  /** State objects already captured, with where: a second reference becomes {$ref: path}. */
  seen: Map<object, Path>;
}

/** Checks run before capture: a device in the middle of something it cannot save says what. */
const busyChecks = new Map<unknown, (obj: object) => string | undefined>();

export function registerBusyCheck(cls: { prototype: unknown }, check: (obj: object) => string | undefined): void {
  busyChecks.set(cls.prototype, check);
}

function captureValue(v: unknown, path: Path, cx: Capture): StateValue | typeof SKIP {
  switch (typeof v) {
    case "function":
    case "symbol":
      return SKIP;
    case "undefined":
      return { $u: 1 };
    case "bigint":
      return { $big: v.toString() };
    case "number":
      return Number.isFinite(v) ? v : { $num: String(v) };
    case "boolean":
    case "string":
      return v;
  }
  if (v === null) return null;
  const obj = v as object;
  const typed = typedName(obj);
  if (typed) return { $typed: typed, bytes: bytesOf(obj as TypedArray) };
  if (Array.isArray(obj)) {
    return obj.map((e, i) => {
      const c = captureValue(e, [...path, i], cx);
      return c === SKIP ? { $skip: 1 } : c;
    });
  }
  if (obj instanceof Set) return { $set: [...obj].map((e) => primitive(e, path)) };
  if (obj instanceof Map) return { $map: [...obj].map(([k, e]) => [primitive(k, path), primitive(e, path)]) };
  if (!isStateObject(obj)) return SKIP;
  const earlier = cx.seen.get(obj);
  if (earlier) return { $ref: earlier };
  return captureObject(obj, path, cx);
}

/** Map keys and set members: only values that need no wiring (never objects). */
function primitive(v: unknown, path: Path): StateValue {
  if (v !== null && typeof v === "object" && !typedName(v)) {
    throw new DeviceStateError(`${path.join(".")}: a map or set holds objects; name the field transient`);
  }
  const c = captureValue(v, path, { seen: new Map() });
  return c === SKIP ? null : c;
}

function captureObject(obj: object, path: Path, cx: Capture): { [key: string]: StateValue } {
  cx.seen.set(obj, path);
  for (let p = Object.getPrototypeOf(obj); p; p = Object.getPrototypeOf(p)) {
    const busy = busyChecks.get(p)?.(obj);
    if (busy) throw new DeviceStateError(`${path.join(".") || "device"}: ${busy}; let it finish and save again`);
  }
  const out: { [key: string]: StateValue } = {};
  for (const key of Object.keys(obj)) {
    if (isTransient(obj, key)) continue;
    const c = captureValue((obj as Record<string, unknown>)[key], [...path, key], cx);
    if (c !== SKIP) out[key] = c;
  }
  return out;
}

/** The state of `device` (its own fields and its registered helper objects), as data. */
export function captureState(device: object): { [key: string]: StateValue } {
  return captureObject(device, [], { seen: new Map() });
}

function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function tagOf(v: StateValue): string | undefined {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  for (const t of ["$u", "$big", "$num", "$typed", "$set", "$map", "$skip", "$ref"]) if (t in v) return t;
  return undefined;
}

function restoreValue(v: StateValue, path: string): unknown {
  switch (tagOf(v)) {
    case "$u":
      return undefined;
    case "$big":
      return BigInt((v as { $big: string }).$big);
    case "$num":
      return Number((v as { $num: string }).$num);
    case "$typed": {
      const t = v as unknown as { $typed: string; bytes: Uint8Array };
      const ctor = TYPED[t.$typed];
      if (!ctor) throw new DeviceStateError(`${path}: unknown array type ${t.$typed}`);
      const out = new ctor(t.bytes.length / new ctor(1).BYTES_PER_ELEMENT);
      new Uint8Array(out.buffer).set(t.bytes);
      return out;
    }
    case "$set":
      return new Set((v as { $set: StateValue[] }).$set.map((e) => restoreValue(e, path)));
    case "$map":
      return new Map(
        (v as { $map: [StateValue, StateValue][] }).$map.map(([k, e]) => [
          restoreValue(k, path),
          restoreValue(e, path),
        ]),
      );
  }
  if (Array.isArray(v)) return v.map((e, i) => restoreValue(e, `${path}[${i}]`));
  if (v !== null && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(v)) o[k] = restoreValue(e, `${path}.${k}`);
    return o;
  }
  return v;
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typedName(v)) return "bytes";
  if (v instanceof Map) return "map";
  if (v instanceof Set) return "set";
  return typeof v;
}

/** Writes `saved` into the live value at `holder[key]`, keeping the live objects' identity. */
interface Apply {
  root: object;
  /** References to other state objects, set once everything else is in place. */
  refs: (() => void)[];
}

function resolve(root: object, path: Path, where: string): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== "object")
      throw new DeviceStateError(`${where}: reference ${path.join(".")} leads nowhere`);
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

function applyInto(
  holder: Record<string | number, unknown>,
  key: string | number,
  saved: StateValue,
  path: string,
  cx: Apply,
): void {
  const live = holder[key];
  const tag = tagOf(saved);
  if (tag === "$skip") return;
  if (tag === "$ref") {
    const target = (saved as { $ref: Path }).$ref;
    cx.refs.push(() => {
      holder[key] = resolve(cx.root, target, path);
    });
    return;
  }
  if (tag === "$typed") {
    const want = restoreValue(saved, path) as TypedArray;
    const name = typedName(live);
    if (name && name === typedName(want) && (live as TypedArray).length === want.length) {
      (live as TypedArray).set(want as never);
    } else if (live === undefined || name === typedName(want)) {
      // A buffer the device replaces as it works (a transfer's data): the saved one takes its place.
      holder[key] = want;
    } else {
      throw new DeviceStateError(`${path}: saved ${typedName(want)}[${want.length}] does not fit ${kindOf(live)}`);
    }
    return;
  }
  if (tag === "$set" || tag === "$map") {
    const want = restoreValue(saved, path) as Set<unknown> | Map<unknown, unknown>;
    if (live instanceof Set && want instanceof Set) {
      live.clear();
      for (const e of want) live.add(e);
    } else if (live instanceof Map && want instanceof Map) {
      live.clear();
      for (const [k, e] of want) live.set(k, e);
    } else {
      throw new DeviceStateError(`${path}: saved ${tag.slice(1)} does not fit ${kindOf(live)}`);
    }
    return;
  }
  if (Array.isArray(saved)) {
    if (!Array.isArray(live)) {
      if (live === undefined || live === null) {
        holder[key] = restoreValue(saved, path);
        return;
      }
      throw new DeviceStateError(`${path}: saved array does not fit ${kindOf(live)}`);
    }
    const objects =
      live.some((e) => e !== null && typeof e === "object" && !typedName(e) && isStateObject(e)) ||
      saved.some((e) => tagOf(e) === "$skip" || tagOf(e) === "$ref");
    if (objects) {
      if (live.length !== saved.length) {
        throw new DeviceStateError(`${path}: ${saved.length} saved entries for ${live.length} in this machine`);
      }
      for (let i = 0; i < saved.length; i++) applyInto(live as never, i, saved[i]!, `${path}[${i}]`, cx);
    } else {
      // Plain data (queued bytes, pending frames): the saved contents replace the live ones.
      live.length = 0;
      for (let i = 0; i < saved.length; i++) live.push(restoreValue(saved[i]!, `${path}[${i}]`));
    }
    return;
  }
  if (saved !== null && typeof saved === "object" && !tag) {
    if (live === null || typeof live !== "object" || typedName(live)) {
      holder[key] = restoreValue(saved, path);
      return;
    }
    applyObject(live as object, saved as { [key: string]: StateValue }, path, cx);
    return;
  }
  // A reference that was empty when saved (an IDE channel between transfers) is empty again.
  const empty = saved === null || tag === "$u";
  if (!empty && live !== null && typeof live === "object" && isStateObject(live) && !typedName(live)) {
    throw new DeviceStateError(`${path}: saved ${kindOf(saved)} does not fit an object`);
  }
  holder[key] = restoreValue(saved, path);
}

/**
 * A plain record of numbers only (a device's counters by request type, keys added as requests
 * come): its keys are data, not fields, so the saved record replaces the live one's.
 */
function isCounterTable(live: object, saved: { [key: string]: StateValue }): boolean {
  const proto = Object.getPrototypeOf(live);
  if (proto !== Object.prototype && proto !== null) return false;
  const numeric = (v: unknown) => typeof v === "number" || tagOf(v as StateValue) === "$num";
  return Object.values(live).every(numeric) && Object.values(saved).every(numeric);
}

function applyObject(live: object, saved: { [key: string]: StateValue }, path: string, cx: Apply): void {
  if (isCounterTable(live, saved)) {
    const table = live as Record<string, unknown>;
    for (const key of Object.keys(table)) delete table[key];
    for (const [key, value] of Object.entries(saved)) table[key] = restoreValue(value, `${path}.${key}`);
    return;
  }
  const want: Record<string, true> = {};
  for (const key of Object.keys(live)) {
    if (isTransient(live, key)) continue;
    const v = (live as Record<string, unknown>)[key];
    if (typeof v === "function" || typeof v === "symbol") continue;
    if (
      v !== null &&
      typeof v === "object" &&
      !typedName(v) &&
      !Array.isArray(v) &&
      !(v instanceof Map) &&
      !(v instanceof Set) &&
      !isStateObject(v)
    )
      continue;
    want[key] = true;
  }
  for (const key of Object.keys(want)) {
    if (!(key in saved)) throw new DeviceStateError(`${path}.${key}: missing from the saved state`);
  }
  for (const [key, value] of Object.entries(saved)) {
    if (!(key in want))
      throw new DeviceStateError(`${path}.${key}: saved, but this machine's device has no such field`);
    applyInto(live as Record<string, unknown>, key, value, `${path}.${key}`, cx);
  }
  const hook = (live as { stateLoaded?: () => void }).stateLoaded;
  if (typeof hook === "function") hooks.push(() => hook.call(live));
}

let hooks: (() => void)[] = [];

/**
 * Loads a captured state into `device` (same class, its own wiring). References between its
 * objects are set last, then every `stateLoaded` hook runs (innermost first).
 */
export function applyState(device: object, saved: { [key: string]: StateValue }, name = "device"): void {
  const cx: Apply = { root: device, refs: [] };
  hooks = [];
  applyObject(device, saved, name, cx);
  for (const r of cx.refs) r();
  const run = hooks;
  hooks = [];
  for (const h of run) h();
}

// ---- bytes ----------------------------------------------------------------------------------

/** JSON with every byte array moved to a blob after it: [u32 json length][json][blobs]. */
export function encodeState(tree: StateValue): Uint8Array {
  const blobs: Uint8Array[] = [];
  const json = JSON.stringify(tree, (_k, v) => {
    if (v instanceof Uint8Array) {
      blobs.push(v);
      return { $blob: blobs.length - 1 };
    }
    return v;
  });
  const text = new TextEncoder().encode(json);
  let size = 4 + text.length;
  for (const b of blobs) size += 4 + b.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, text.length, true);
  out.set(text, 4);
  let at = 4 + text.length;
  for (const b of blobs) {
    dv.setUint32(at, b.length, true);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

export function decodeState(bytes: Uint8Array): StateValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = () => new DeviceStateError("device state: truncated or malformed");
  if (bytes.length < 4) throw fail();
  const n = dv.getUint32(0, true);
  if (4 + n > bytes.length) throw fail();
  const blobs: Uint8Array[] = [];
  let at = 4 + n;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw fail();
    const len = dv.getUint32(at, true);
    if (at + 4 + len > bytes.length) throw fail();
    blobs.push(bytes.slice(at + 4, at + 4 + len));
    at += 4 + len;
  }
  let parsed: StateValue;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n)), (_k, v) => {
      if (v && typeof v === "object" && "$blob" in v) {
        const b = blobs[v.$blob as number];
        if (!b) throw fail();
        return b;
      }
      return v;
    });
  } catch {
    throw fail();
  }
  return parsed;
}
