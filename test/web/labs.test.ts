// The guided labs (web/labs/*.json): every file parses, and every step, run headless on the
// same lab kernel and mode the page would use, passes its own automatic check. A lab whose
// checks do not hold for what the guest actually does fails here, before a student sees it.
// Also: the format's errors are specific, and the checker compares as documented.

import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { kernelFormat } from "../../vmm/boot/kernel.js";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import { Vm } from "../../vmm/vm.js";
import { guestById } from "../../web/src/guests.js";
import { checkStep, type StepRun } from "../../web/src/labs/check.js";
import { type Lab, LabFormatError, parseLab, type Step } from "../../web/src/labs/format.js";

const ROOT = new URL("../../", import.meta.url);
const LAB_DIR = new URL("web/labs/", ROOT);
const files = readdirSync(LAB_DIR).filter((f) => f.endsWith(".json"));

async function runStep(step: Step): Promise<StepRun> {
  const guest = guestById(step.machine.guest)!;
  const kernel = new Uint8Array(readFileSync(new URL(guest.kernelFile, ROOT)));
  expect(kernelFormat(kernel)).toBe("multiboot");
  let output = "";
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: guest.memMiB << 20,
    clock: "icount",
    mode: step.machine.mode,
    mmu: step.machine.mmu,
    onSerial: (com, byte) => {
      if (com === 1) output += String.fromCharCode(byte);
    },
  });
  loadMultiboot(vm.cpu, { kernel, cmdline: guest.cmdline });
  const stop = vm.run(50_000_000);
  expect(stop.kind, `${step.id}: ${output.slice(-300)}`).toBe("debug-exit");
  return { output, counters: readCoreStats(vm.cpu).counters };
}

describe("guided labs", () => {
  it("has the labs the page starts with", () => {
    expect(files.sort()).toEqual(expect.arrayContaining(["popek-goldberg.json", "shadow-vs-ept.json"]));
  });

  for (const file of files) {
    it(`${file}: parses, and every step passes its automatic check on the real guest`, async () => {
      const lab: Lab = parseLab(JSON.parse(readFileSync(new URL(file, LAB_DIR), "utf8")), file);
      expect(lab.steps.length).toBeGreaterThan(0);
      const runs: Record<string, StepRun> = {};
      for (const step of lab.steps) runs[step.id] = await runStep(step);
      for (const step of lab.steps) {
        const results = checkStep(step, runs[step.id]!, runs);
        const failed = results.filter((r) => !r.pass).map((r) => `${step.id}: ${r.check.label.en} (${r.observed})`);
        expect(failed).toEqual([]);
        // The predicted answer is one of the choices (parseLab checks it; the page compares to it).
        expect(step.predict.choices.map((c) => c.id)).toContain(step.predict.answer);
      }
    });
  }

  it("shows what the checks discriminate: the trap step's checks fail on the bt run", async () => {
    const lab = parseLab(JSON.parse(readFileSync(new URL("popek-goldberg.json", LAB_DIR), "utf8")));
    const trap = lab.steps.find((s) => s.id === "trap")!;
    const bt = lab.steps.find((s) => s.id === "bt")!;
    const btRun = await runStep(bt);
    const results = checkStep(trap, btRun, {});
    expect(results.filter((r) => r.pass).length).toBeLessThan(results.length);
  });
});

describe("lab format", () => {
  const minimal = () => ({
    id: "x",
    title: { en: "T", ko: "제목" },
    summary: { en: "S", ko: "요약" },
    goals: [{ en: "G", ko: "목표" }],
    sources: ["a source"],
    steps: [
      {
        id: "one",
        title: { en: "One", ko: "하나" },
        machine: { guest: "sensitive", mode: "bt" },
        instructions: { en: "Do", ko: "하기" },
        predict: {
          question: { en: "Q", ko: "질문" },
          choices: [{ id: "a", text: { en: "A", ko: "가" } }],
          answer: "a",
        },
        checks: [{ label: { en: "L", ko: "라" }, counter: { kind: "callout" }, op: ">", value: 0 }],
        explanation: { en: "E", ko: "설명" },
      },
    ],
  });

  it("accepts a minimal lab and fills in the mode's default memory virtualization", () => {
    const lab = parseLab(minimal());
    expect(lab.steps[0]!.machine).toEqual({ guest: "sensitive", mode: "bt", mmu: "shadow" });
  });

  it("lists every problem of a bad lab at once", () => {
    const bad = minimal() as Record<string, unknown> & ReturnType<typeof minimal>;
    bad.title = { en: "only English" } as never;
    const step = bad.steps[0]! as Record<string, unknown>;
    step.machine = { guest: "linux", mode: "trap" };
    (step.predict as { answer: string }).answer = "z";
    step.checks = [
      { label: { en: "L", ko: "라" }, counter: { kind: "nope" }, op: "~", value: 1 },
      { label: { en: "L", ko: "라" }, output: "(" },
      { label: { en: "L", ko: "라" }, counter: { kind: "exit" }, op: ">", step: "missing" },
    ];
    let message = "";
    try {
      parseLab(bad, "bad.json");
    } catch (e) {
      expect(e).toBeInstanceOf(LabFormatError);
      message = (e as Error).message;
    }
    for (const part of [
      "bad.json",
      "title.ko: missing text",
      "does not end by itself",
      "linux does not run under trap",
      "no choice 'z'",
      "unknown kind 'nope'",
      "must be one of",
      "not a regular expression",
      "no step 'missing'",
    ]) {
      expect(message).toContain(part);
    }
  });

  it("checks counters by kind or reason, output patterns, and other steps' counts times a factor", () => {
    const lab = parseLab(minimal());
    const step: Step = {
      ...lab.steps[0]!,
      checks: [
        { label: lab.title, counter: { kind: "exit", reason: 30 }, op: "==", value: 5 },
        { label: lab.title, counter: { kind: "exit" }, op: ">=", value: 7 },
        { label: lab.title, output: "violations (\\d+)" },
        { label: lab.title, counter: { kind: "exit" }, op: ">", step: "other", factor: 3 },
        { label: lab.title, counter: { kind: "exit" }, op: "<", step: "other", of: { kind: "trap", reason: 13 } },
      ],
    };
    const counters = [
      { kind: "exit" as const, reason: 30, name: "", core: 0, host: 5 },
      { kind: "exit" as const, reason: 0, name: "", core: 2, host: 0 },
    ];
    const other = {
      output: "",
      counters: [
        { kind: "exit" as const, reason: 1, name: "", core: 2, host: 0 },
        { kind: "trap" as const, reason: 13, name: "", core: 8, host: 0 },
      ],
    };
    const r = checkStep(step, { output: "a\r\nviolations 15\r\n", counters }, { other });
    expect(r.map((x) => [x.pass, x.observed])).toEqual([
      [true, "5"],
      [true, "7"],
      [true, "15"],
      [true, "7 / 6"],
      [true, "7 / 8"],
    ]);
    // Without the other step's run, a comparison cannot pass.
    expect(checkStep(step, { output: "", counters }, {})[3]!.pass).toBe(false);
  });
});
