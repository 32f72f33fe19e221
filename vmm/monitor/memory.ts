// The monitor's view of guest memory: `x` (virtual) and `xp` (physical) with QEMU's /NFU
// format, and the page tables as `info tlb` and `info mem` show them (32-bit and PAE paging,
// walked in guest-physical memory without touching the accessed/dirty bits).

import { type Cpu, REG, SEG } from "../cpu.js";

/** QEMU's x/xp format: count, format letter (i: instructions), unit size in bytes. */
export interface DumpFormat {
  count: number;
  format: "x" | "d" | "u" | "o" | "c" | "a" | "i";
  size: 1 | 2 | 4 | 8;
}

export class MonitorError extends Error {}

const SIZES: Record<string, 1 | 2 | 4 | 8> = { b: 1, h: 2, w: 4, g: 8 };
const REGS: Record<string, number> = {
  eax: REG.EAX,
  ebx: REG.EBX,
  ecx: REG.ECX,
  edx: REG.EDX,
  esi: REG.ESI,
  edi: REG.EDI,
  ebp: REG.EBP,
  esp: REG.ESP,
};

/** Parses `/NFU` (each part optional, in any order as QEMU takes them) onto the last format. */
export function parseFormat(spec: string, last: DumpFormat): DumpFormat {
  const m = /^\/(\d*)([a-z]*)$/.exec(spec);
  if (!m) throw new MonitorError(`bad format '${spec}': use /NFU (N count, F x|d|u|o|c|a|i, U b|h|w|g)`);
  const f: DumpFormat = { ...last, count: m[1] ? Number(m[1]) : 1 };
  let sizeGiven = false;
  for (const ch of m[2]!) {
    if (ch in SIZES) {
      f.size = SIZES[ch]!;
      sizeGiven = true;
    } else if ("xduocai".includes(ch)) f.format = ch as DumpFormat["format"];
    else if (ch === "s") throw new MonitorError("format 's' (strings) is not supported");
    else throw new MonitorError(`bad format letter '${ch}' (x d u o c a i; sizes b h w g)`);
  }
  if (f.format === "c" && !sizeGiven) f.size = 1;
  if (f.format === "a" && !sizeGiven) f.size = 4;
  if (f.count < 1 || f.count > 65536) throw new MonitorError("count: 1 to 65536");
  return f;
}

/**
 * An address: a number (0x hex or decimal), or $reg / $eip, with + or - terms. As in QEMU, $pc
 * is the linear address of the next instruction (CS base + EIP); $eip is EIP alone.
 */
export function parseAddress(cpu: Cpu, text: string): number {
  let total = 0;
  const parts = text.replace(/\s+/g, "").match(/[+-]?[^+-]+/g);
  if (!parts) throw new MonitorError(`bad address '${text}'`);
  for (const part of parts) {
    const neg = part.startsWith("-");
    const t = part.replace(/^[+-]/, "");
    let v: number;
    if (t.startsWith("$")) {
      const r = t.slice(1).toLowerCase();
      if (r === "eip") v = cpu.eip;
      else if (r === "pc") v = cpu.segment(SEG.CS).base + cpu.eip;
      else if (r in REGS) v = cpu.reg(REGS[r]!);
      else throw new MonitorError(`no register '${t}'`);
    } else if (/^(0x[0-9a-f]+|\d+)$/i.test(t)) v = Number(t);
    else throw new MonitorError(`bad address '${text}'`);
    total += neg ? -v : v;
  }
  return total >>> 0;
}

function formatUnit(bytes: Uint8Array, at: number, f: DumpFormat): string {
  let v = 0n;
  for (let i = f.size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
  const bits = BigInt(f.size * 8);
  switch (f.format) {
    case "x":
    case "i": // never dumped as units (the monitor disassembles)
      return `0x${v.toString(16).padStart(f.size * 2, "0")}`;
    case "a":
      return `0x${v.toString(16).padStart(8, "0")}`;
    case "u":
      return v.toString();
    case "d":
      return (v >= 1n << (bits - 1n) ? v - (1n << bits) : v).toString();
    case "o":
      return `0${v.toString(8)}`;
    case "c": {
      const c = Number(v & 0xffn);
      return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `'\\x${c.toString(16).padStart(2, "0")}'`;
    }
  }
}

/**
 * The lines x/xp print: 16 bytes' worth of units per line (8 for 'c'), each line led by its
 * address. `read` returns the bytes at an address or null where nothing is mapped.
 */
export function dumpMemory(
  addr: number,
  f: DumpFormat,
  read: (addr: number, len: number) => Uint8Array | null,
): string {
  const perLine = f.format === "c" ? 8 : Math.max(1, 16 / f.size);
  const lines: string[] = [];
  for (let i = 0; i < f.count; i += perLine) {
    const n = Math.min(perLine, f.count - i);
    const at = (addr + i * f.size) >>> 0;
    const bytes = read(at, n * f.size);
    const head = `${at.toString(16).padStart(8, "0")}:`;
    if (!bytes) {
      lines.push(`${head} Cannot access memory`);
      break;
    }
    const units: string[] = [];
    for (let k = 0; k < n; k++) units.push(formatUnit(bytes, k * f.size, f));
    lines.push(`${head} ${units.join(" ")}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Bytes at a guest-physical address, or null past RAM's end. */
export function readPhysical(cpu: Cpu, addr: number, len: number): Uint8Array | null {
  if (addr + len > cpu.ramBytes) return null;
  return cpu.readPhysical(addr, len);
}

/** Bytes at a linear address through the guest's page tables (no A/D bits set), or null. */
export function readLinear(cpu: Cpu, addr: number, len: number): Uint8Array | null {
  const out = new Uint8Array(len);
  for (let done = 0; done < len; ) {
    const lin = (addr + done) >>> 0;
    const phys = translate(cpu, lin);
    const n = Math.min(len - done, 4096 - (lin & 0xfff));
    if (phys === null || phys + n > cpu.ramBytes) return null;
    out.set(cpu.readPhysical(phys, n), done);
    done += n;
  }
  return out;
}

/** One mapping of the guest's page tables. */
export interface Mapping {
  linear: number;
  physical: number;
  size: number;
  writable: boolean;
  user: boolean;
  accessed: boolean;
  dirty: boolean;
  global: boolean;
}

const CR0_PG = 0x8000_0000;
const CR4_PSE = 0x10;
const CR4_PAE = 0x20;

function u32(cpu: Cpu, phys: number): number {
  if (phys + 4 > cpu.ramBytes) return 0;
  const b = cpu.readPhysical(phys, 4);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

function u64(cpu: Cpu, phys: number): number {
  // Physical addresses above 4 GiB do not exist in this machine: the low word and bits 32-35.
  return u32(cpu, phys) + (u32(cpu, phys + 4) & 0xf) * 2 ** 32;
}

function mapping(linear: number, e: number, physical: number, size: number, writable: boolean, user: boolean): Mapping {
  return {
    linear,
    physical,
    size,
    writable,
    user,
    accessed: (e & 0x20) !== 0,
    dirty: (e & 0x40) !== 0,
    global: (e & 0x100) !== 0,
  };
}

/** Every present mapping, in linear order (SDM vol. 3, 4.3 and 4.4). Paging off: none. */
export function pageMappings(cpu: Cpu): Mapping[] {
  const out: Mapping[] = [];
  if ((cpu.cr(0) & CR0_PG) === 0) return out;
  const cr3 = cpu.cr(3);
  if (cpu.cr(4) & CR4_PAE) {
    for (let i = 0; i < 4; i++) {
      const pdpte = u64(cpu, (cr3 & ~0x1f) + i * 8);
      if (!(pdpte & 1)) continue;
      const pd = pdpte - (pdpte % 4096);
      for (let j = 0; j < 512; j++) {
        const pde = u64(cpu, pd + j * 8);
        if (!(pde & 1)) continue;
        const lin = i * 2 ** 30 + j * 2 ** 21;
        if (pde & 0x80) {
          out.push(mapping(lin, pde, pde - (pde % 2 ** 21), 2 ** 21, (pde & 2) !== 0, (pde & 4) !== 0));
          continue;
        }
        const pt = pde - (pde % 4096);
        for (let k = 0; k < 512; k++) {
          const pte = u64(cpu, pt + k * 8);
          if (pte & 1) {
            out.push(
              mapping(lin + k * 4096, pte, pte - (pte % 4096), 4096, (pde & pte & 2) !== 0, (pde & pte & 4) !== 0),
            );
          }
        }
      }
    }
    return out;
  }
  const pse = (cpu.cr(4) & CR4_PSE) !== 0;
  for (let i = 0; i < 1024; i++) {
    const pde = u32(cpu, (cr3 & ~0xfff) + i * 4);
    if (!(pde & 1)) continue;
    const lin = i * 2 ** 22;
    if (pse && pde & 0x80) {
      out.push(mapping(lin, pde, (pde & 0xffc00000) >>> 0, 2 ** 22, (pde & 2) !== 0, (pde & 4) !== 0));
      continue;
    }
    const pt = (pde & ~0xfff) >>> 0;
    for (let k = 0; k < 1024; k++) {
      const pte = u32(cpu, pt + k * 4);
      if (pte & 1) {
        out.push(
          mapping(lin + k * 4096, pte, (pte & ~0xfff) >>> 0, 4096, (pde & pte & 2) !== 0, (pde & pte & 4) !== 0),
        );
      }
    }
  }
  return out;
}

/** A linear address's physical address through the page tables (identity without paging). */
export function translate(cpu: Cpu, lin: number): number | null {
  if ((cpu.cr(0) & CR0_PG) === 0) return lin;
  const cr3 = cpu.cr(3);
  if (cpu.cr(4) & CR4_PAE) {
    const pdpte = u64(cpu, (cr3 & ~0x1f) + Math.floor(lin / 2 ** 30) * 8);
    if (!(pdpte & 1)) return null;
    const pde = u64(cpu, pdpte - (pdpte % 4096) + ((lin >>> 21) & 511) * 8);
    if (!(pde & 1)) return null;
    if (pde & 0x80) return pde - (pde % 2 ** 21) + (lin % 2 ** 21);
    const pte = u64(cpu, pde - (pde % 4096) + ((lin >>> 12) & 511) * 8);
    return pte & 1 ? pte - (pte % 4096) + (lin & 0xfff) : null;
  }
  const pde = u32(cpu, (cr3 & ~0xfff) + (lin >>> 22) * 4);
  if (!(pde & 1)) return null;
  if (cpu.cr(4) & CR4_PSE && pde & 0x80) return ((pde & 0xffc00000) >>> 0) + (lin & 0x3fffff);
  const pte = u32(cpu, ((pde & ~0xfff) >>> 0) + ((lin >>> 12) & 1023) * 4);
  return pte & 1 ? ((pte & ~0xfff) >>> 0) + (lin & 0xfff) : null;
}

const hex8 = (n: number) => n.toString(16).padStart(8, "0");

/** QEMU's `info tlb`: one line per page, linear: physical and flags. */
export function infoTlb(cpu: Cpu): string {
  if ((cpu.cr(0) & CR0_PG) === 0) return "PG disabled\n";
  const lines = pageMappings(cpu).map(
    (m) =>
      `${hex8(m.linear)}: ${m.physical.toString(16).padStart(9, "0")} ${m.global ? "G" : "-"}${m.dirty ? "D" : "-"}${m.accessed ? "A" : "-"}${m.user ? "U" : "-"}${m.writable ? "W" : "-"}${m.size > 4096 ? ` (${m.size >> 20} MiB page)` : ""}`,
  );
  return lines.length ? `${lines.join("\n")}\n` : "no pages mapped\n";
}

/** QEMU's `info mem`: linear ranges with the same permissions merged. */
export function infoMem(cpu: Cpu): string {
  if ((cpu.cr(0) & CR0_PG) === 0) return "PG disabled\n";
  const ranges: { start: number; end: number; perm: string }[] = [];
  for (const m of pageMappings(cpu)) {
    const perm = `${m.user ? "u" : "-"}r${m.writable ? "w" : "-"}`;
    const last = ranges[ranges.length - 1];
    if (last && last.end === m.linear && last.perm === perm) last.end += m.size;
    else ranges.push({ start: m.linear, end: m.linear + m.size, perm });
  }
  const lines = ranges.map((r) => `${hex8(r.start)}-${hex8(r.end % 2 ** 32)} ${hex8(r.end - r.start)} ${r.perm}`);
  return lines.length ? `${lines.join("\n")}\n` : "no pages mapped\n";
}
