// x86-vectors/1 through the conformance runner: a few hand-checked vectors that exercise the
// pm32-flat-user environment itself (paging, CPL 3, the data-page diff, faults), then the
// native corpus that test/native generates on the host CPU.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { collectFiles, REPO_ROOT } from "./paths.js";
import type { FileResult } from "./results.js";
import { DATA_PATTERN, type VectorFile, VectorRunner, type VectorTest } from "./vectors.js";

const CORPUS = join(REPO_ROOT, "test", "native", "corpus");
const corpusFiles = existsSync(CORPUS) && readdirSync(CORPUS).length > 0 ? collectFiles([CORPUS]) : [];

const base = {
  eax: "0x0",
  ecx: "0x0",
  edx: "0x0",
  ebx: "0x0",
  esp: "0x2000ff00",
  ebp: "0x0",
  esi: "0x0",
  edi: "0x0",
  eflags: "0x202",
};
const STATUS = "0x8d5"; // OF SF ZF AF PF CF

/** A test whose final registers are the initial ones with `changes` applied. */
function vec(
  name: string,
  bytes: string,
  init: Record<string, string>,
  changes: Record<string, string>,
  extra: Partial<VectorTest> = {},
): VectorTest {
  const initial = { ...base, ...init };
  return {
    name,
    bytes,
    initial: { regs: initial },
    final: { regs: { ...initial, ...changes }, ram: [] },
    exception: null,
    flags_mask: STATUS,
    ...extra,
  };
}

/** [address, byte] entries for the stack bytes PUSH writes, where they differ from the pattern. */
function pushed(addr: number, value: number): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i < 4; i++) {
    const b = (value >>> (8 * i)) & 0xff;
    if (b !== DATA_PATTERN[addr - 0x2000_0000 + i]) out.push([`0x${(addr + i).toString(16)}`, b]);
  }
  return out;
}

const handmade: VectorFile = {
  format: "x86-vectors/1",
  env: "pm32-flat-user",
  source: "written by hand from the SDM",
  tests: [
    // 0x7FFFFFFF + 1: OF SF AF PF set, IF kept (VECTORS.md's example).
    vec(
      "add eax, ebx",
      "01d8",
      { eax: "0x7fffffff", ebx: "0x1" },
      { eax: "0x80000000", eflags: "0xa96", eip: "0x10000002" },
    ),
    // Two instructions, then the INT3 that fills the code page.
    vec(
      "add eax, ebx; add eax, eax",
      "01d801c0",
      { eax: "0x1", ebx: "0x2" },
      { eax: "0x6", eflags: "0x206", eip: "0x10000004" },
    ),
    // PUSH writes the data page; the diff lists only bytes that differ from the pattern.
    {
      ...vec("push eax", "50", { eax: "0x11223344" }, { esp: "0x2000fefc", eip: "0x10000001" }),
      final: {
        regs: { ...base, eax: "0x11223344", esp: "0x2000fefc", eip: "0x10000001" },
        ram: pushed(0x2000fefc, 0x11223344),
      },
    },
    // A read outside the two mapped regions: #PF, not present, user read (error 4), CR2 = address.
    vec(
      "mov eax, [0x30000000]",
      "8b0500000030",
      {},
      { eip: "0x10000000" },
      { exception: { vector: 14, error_code: 4, cr2: "0x30000000" } },
    ),
    // A store to the data page: only the bytes that differ from the pattern are listed.
    {
      ...vec("mov [0x20000010], eax", "a310000020", { eax: "0xdeadbeef" }, { eip: "0x10000005" }),
      final: {
        regs: { ...base, eax: "0xdeadbeef", eip: "0x10000005" },
        ram: pushed(0x20000010, 0xdeadbeef),
      },
    },
    // IN at CPL 3 with IOPL 0 and no I/O permission bitmap: #GP(0).
    vec("in al, 0x80", "e480", {}, { eip: "0x10000000" }, { exception: { vector: 13, error_code: 0 } }),
    // HLT at CPL 3: #GP(0), EIP at the HLT.
    vec("hlt", "f4", {}, { eip: "0x10000000" }, { exception: { vector: 13, error_code: 0 } }),
  ],
};

let runner: VectorRunner;
beforeAll(async () => {
  runner = await VectorRunner.create(loadCoreModule());
});

function explain(r: FileResult): string {
  const lines = [`${r.file}: ${r.passed} passed, ${r.failed} failed${r.error ? ` (${r.error})` : ""}`];
  for (const f of r.failures.slice(0, 5)) lines.push(`  #${f.index} ${f.name} [${f.bytes}]: ${f.diff.join("; ")}`);
  return lines.join("\n");
}

describe("x86-vectors/1 runner (pm32-flat-user)", () => {
  it("passes hand-checked vectors", () => {
    const r = runner.runFile("handmade.json", handmade);
    expect(r.error, explain(r)).toBeUndefined();
    expect(r.failed, explain(r)).toBe(0);
    expect(r.passed).toBe(handmade.tests.length);
  });

  it("reports a wrong expectation as a failure with a register diff", () => {
    const wrong = { ...handmade, tests: [vec("add eax, ebx", "01d8", { eax: "0x1", ebx: "0x1" }, { eax: "0x3" })] };
    const r = runner.runFile("wrong.json", wrong);
    expect(r.failed).toBe(1);
    expect(r.failures[0].diff.join("\n")).toMatch(/eax: expected 0x00000003, got 0x00000002/);
  });

  it("refuses an environment it does not know", () => {
    const r = runner.runFile("other.json", { ...handmade, env: "pm32-flat-kernel" });
    expect(r.error).toMatch(/unknown environment/);
  });
});

describe("native corpus (test/native/corpus)", () => {
  if (corpusFiles.length === 0) {
    it.skip("no vectors in test/native/corpus yet: run `npm run cpu-diff` to generate them", () => {});
    return;
  }
  it.each(corpusFiles.map((f) => [f.slice(CORPUS.length + 1), f]))("%s", (_name, file) => {
    const r = runner.runFile(file);
    expect(r.error, explain(r)).toBeUndefined();
    expect(r.passed + r.failed).toBeGreaterThan(0);
    expect(r.failed, explain(r)).toBe(0);
  });
});
