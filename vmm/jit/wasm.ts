// A minimal WebAssembly binary writer for the JIT: function bodies as byte code built op by op,
// and a module of one exported function (and the helpers it calls) that imports the core's memory
// and a few core routines.
// Only what compiled blocks use (i32 arithmetic, loads and stores, structured control flow).

export const I32 = 0x7f;

/** Opcodes (WebAssembly core spec, section 5.4). */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i32Load8u: 0x2d,
  i32Load8s: 0x2c,
  i32Load16u: 0x2f,
  i32Load16s: 0x2e,
  i64Load: 0x29,
  i32Store: 0x36,
  i64Store: 0x37,
  i32Store8: 0x3a,
  i32Store16: 0x3b,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeS: 0x4c,
  i32LeU: 0x4d,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32Popcnt: 0x69,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  i32Rotl: 0x77,
  i32Rotr: 0x78,
  i32WrapI64: 0xa7,
  i64ExtendI32s: 0xac,
  i64ExtendI32u: 0xad,
  i64Add: 0x7c,
  i64DivU: 0x80,
  i64RemU: 0x82,
  i64Or: 0x84,
  i64Shl: 0x86,
  i64Mul: 0x7e,
  i64ShrS: 0x87,
  i64Const: 0x42,
  i32Extend8s: 0xc0,
  i32Extend16s: 0xc1,
} as const;

const VOID_BLOCK = 0x40;

/** A function body under construction. */
export class Code {
  private bytes: number[] = [];

  get length(): number {
    return this.bytes.length;
  }
  op(o: number): this {
    this.bytes.push(o);
    return this;
  }
  u32(v: number): this {
    let x = v >>> 0;
    do {
      let b = x & 0x7f;
      x >>>= 7;
      if (x !== 0) b |= 0x80;
      this.bytes.push(b);
    } while (x !== 0);
    return this;
  }
  i32(v: number): this {
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) {
        this.bytes.push(b);
        return this;
      }
      this.bytes.push(b | 0x80);
    }
  }
  const(v: number): this {
    return this.op(Op.i32Const).i32(v);
  }
  /** i64.const of a small value (the signed LEB128 of an i32 is the same bytes). */
  const64(v: number): this {
    return this.op(Op.i64Const).i32(v);
  }
  get(local: number): this {
    return this.op(Op.localGet).u32(local);
  }
  set(local: number): this {
    return this.op(Op.localSet).u32(local);
  }
  tee(local: number): this {
    return this.op(Op.localTee).u32(local);
  }
  /** A load at the address on the stack + `offset` (align hint: natural for 4, else 0). */
  load(o: number, offset = 0): this {
    const align = o === Op.i64Load ? 3 : o === Op.i32Load ? 2 : o === Op.i32Load16u || o === Op.i32Load16s ? 1 : 0;
    return this.op(o).u32(align).u32(offset);
  }
  store(o: number, offset = 0): this {
    const align = o === Op.i64Store ? 3 : o === Op.i32Store ? 2 : o === Op.i32Store16 ? 1 : 0;
    return this.op(o).u32(align).u32(offset);
  }
  /** i32.load of a fixed address. */
  loadAt(addr: number): this {
    return this.const(addr).load(Op.i32Load);
  }
  /** i32.store of the value `value()` pushes to a fixed address. */
  storeAt(addr: number, value: () => void): this {
    this.const(addr);
    value();
    return this.store(Op.i32Store);
  }
  ifVoid(): this {
    return this.op(Op.if).op(VOID_BLOCK);
  }
  blockVoid(): this {
    return this.op(Op.block).op(VOID_BLOCK);
  }
  loopVoid(): this {
    return this.op(Op.loop).op(VOID_BLOCK);
  }
  call(fn: number): this {
    return this.op(Op.call).u32(fn);
  }
  toBytes(): number[] {
    return this.bytes;
  }
}

export interface FuncType {
  params: number[];
  results: number[];
}

export interface ModuleSpec {
  types: FuncType[];
  /** Function imports from module "e", by name, with their type index. */
  imports: { name: string; type: number }[];
  /** The exported function: its type, its extra i32 locals and its body (without the final end). */
  func: FuncSpec;
  /** Functions only the exported one calls, indices after it. */
  helpers?: FuncSpec[];
  /** The exported function's name in the name section (what profilers show). */
  name?: string;
}

export interface FuncSpec {
  type: number;
  locals: number;
  body: Code;
}

function leb(out: number[], v: number): void {
  let x = v >>> 0;
  do {
    let b = x & 0x7f;
    x >>>= 7;
    if (x !== 0) b |= 0x80;
    out.push(b);
  } while (x !== 0);
}

function name(out: number[], s: string): void {
  leb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  leb(out, content.length);
  for (const b of content) out.push(b);
}

/**
 * Encodes a module that imports memory "e"."m" (any size) and the given functions, and exports
 * its first function as "f" (function index = number of imports; its helpers follow).
 */
export function encodeModule(spec: ModuleSpec): Uint8Array {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  leb(types, spec.types.length);
  for (const t of spec.types) {
    types.push(0x60);
    leb(types, t.params.length);
    types.push(...t.params);
    leb(types, t.results.length);
    types.push(...t.results);
  }
  section(out, 1, types);
  const imports: number[] = [];
  leb(imports, spec.imports.length + 1);
  name(imports, "e");
  name(imports, "m");
  imports.push(0x02, 0x00, 0x00); // memory, limits: min 0, no max
  for (const im of spec.imports) {
    name(imports, "e");
    name(imports, im.name);
    imports.push(0x00);
    leb(imports, im.type);
  }
  section(out, 2, imports);
  const all = [spec.func, ...(spec.helpers ?? [])];
  const funcs: number[] = [];
  leb(funcs, all.length);
  for (const f of all) leb(funcs, f.type);
  section(out, 3, funcs);
  const exports: number[] = [];
  leb(exports, 1);
  name(exports, "f");
  exports.push(0x00);
  leb(exports, spec.imports.length);
  section(out, 7, exports);
  const code: number[] = [];
  leb(code, all.length);
  for (const f of all) {
    const body: number[] = [];
    if (f.locals > 0) {
      leb(body, 1);
      leb(body, f.locals);
      body.push(I32);
    } else leb(body, 0);
    for (const b of f.body.toBytes()) body.push(b);
    body.push(Op.end);
    leb(code, body.length);
    for (const b of body) code.push(b);
  }
  section(out, 10, code);
  if (spec.name !== undefined) {
    // The name section (custom section "name", subsection 1: function names).
    const names: number[] = [];
    leb(names, 1);
    leb(names, spec.imports.length);
    name(names, spec.name);
    const custom: number[] = [];
    name(custom, "name");
    custom.push(1);
    leb(custom, names.length);
    for (const b of names) custom.push(b);
    section(out, 0, custom);
  }
  return Uint8Array.from(out);
}
