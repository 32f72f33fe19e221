// The one ABI source (core/layout/abi.mjs, with core/layout/layout.mjs): the generated files on
// disk are what the generators produce now, and the AssemblyScript and TypeScript sides hold
// the same numbers. A hand edit of a generated file, or a source change without `npm run build`,
// fails here rather than as a core and a host that disagree on an exit reason.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { callouts, eventKinds, exitReasons, hypercalls } from "../../core/layout/abi.mjs";
import { generatedFiles } from "../../scripts/gen-layout.mjs";
import * as A from "../../vmm/generated/abi.js";
import * as L from "../../vmm/generated/layout.js";
import { Callout, reasonName } from "../../vmm/stats/events.js";

/** `export const NAME: u32 = VALUE;` (AssemblyScript) or `export const NAME = VALUE;` (TypeScript). */
function constantsOf(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^export const (\w+)(?:: u32)? = (0x[0-9a-f]+|\d+);$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

describe("generated ABI and layout", () => {
  it("every generated file is up to date with core/layout/ (regenerated and compared)", () => {
    const files = generatedFiles();
    expect(files.map(([path]) => path)).toContain("core/generated/abi.ts");
    for (const [path, text] of files) {
      const onDisk = readFileSync(path, "utf8");
      expect(onDisk, `${path} is stale: run npm run build`).toBe(text);
    }
  });

  it("AssemblyScript and TypeScript define the same constants with the same values", () => {
    for (const [asPath, tsPath] of [
      ["core/generated/abi.ts", "vmm/generated/abi.ts"],
      ["core/generated/layout.ts", "vmm/generated/layout.ts"],
    ]) {
      const as = constantsOf(readFileSync(asPath!, "utf8"));
      const ts = constantsOf(readFileSync(tsPath!, "utf8"));
      expect(as.size).toBeGreaterThan(20);
      expect([...ts.entries()].sort()).toEqual([...as.entries()].sort());
    }
    // And the module the host imports holds them (not only its text).
    const as = constantsOf(readFileSync("core/generated/abi.ts", "utf8"));
    const mod = A as unknown as Record<string, number>;
    for (const [name, value] of as) expect(mod[name], name).toBe(value);
    const layout = constantsOf(readFileSync("core/generated/layout.ts", "utf8"));
    expect(layout.get("EVENT_KINDS")).toBe(eventKinds.length);
    expect(L.EVENT_KINDS).toBe(eventKinds.length);
  });

  it("the keyed TypeScript views agree with the constants the core uses", () => {
    for (const [n, key] of exitReasons as [number, string, string][]) {
      expect(A.ExitReason[key as keyof typeof A.ExitReason]).toBe(n);
      expect(A.EXIT_REASON_NAMES[n]).toBeTypeOf("string");
    }
    expect(A.EXIT_IO_INSTRUCTION).toBe(30);
    expect(A.EXIT_VMCALL).toBe(18);
    expect(A.PROC.useMsrBitmaps).toBe(A.PROC_USE_MSR_BITMAPS);
    expect(A.PROC.activateSecondary).toBe(0x80000000);
    expect(A.PROC2.enableEpt).toBe(A.PROC2_ENABLE_EPT);
    expect(A.Kind.trap).toBe(A.KIND_TRAP);
    expect(A.KIND_NAMES.length).toBe(L.EVENT_KINDS);
    expect(A.ShadowFault.ptWrite).toBe(A.SHADOW_FAULT_PT_WRITE);
    expect(Callout["mov to CR3"]).toBe(A.CALLOUT_MOV_TO_CR3);
    expect(A.CALLOUT_NAMES).toEqual(callouts);
    for (const [n, name] of hypercalls as [number, string][]) expect(reasonName(A.Kind.hypercall, n)).toBe(name);
    expect(A.TV_TR).toBe(A.TV_LDTR + 4);
  });

  it("the translator's forms take their callout numbers from the ABI", () => {
    const forms = readFileSync("core/generated/bt-forms.ts", "utf8");
    const reexport = /export \{ ([^}]*) \} from "\.\/abi";/.exec(forms);
    expect(reexport).not.toBeNull();
    const names = reexport![1]!.split(", ");
    expect(names.length).toBe(callouts.length);
    const mod = A as unknown as Record<string, number>;
    for (const n of names) expect(mod[n], n).toBeTypeOf("number");
    expect(forms).not.toMatch(/export const CALLOUT_/);
  });
});
