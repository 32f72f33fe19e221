// The guided labs (web/labs/*.json): every file parses, and every step, run headless on the
// same lab kernel and mode the page would use, passes its own automatic check. A lab whose
// checks do not hold for what the guest actually does fails here, before a student sees it.
// Also: the format's errors are specific, and the checker compares as documented.

import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { guestById } from "../../web/src/guests.js";
import { checkStep, type StepRun } from "../../web/src/labs/check.js";
import {
  type Lab,
  LabFormatError,
  MIGRATION_FIGURES,
  type MigrationFigure,
  parseLab,
  type Step,
} from "../../web/src/labs/format.js";
import { type GuestRun, runGuest } from "./run-guest.js";
import { runMigratingGuest } from "./run-migration.js";

const LAB_DIR = new URL("../../web/labs/", import.meta.url);
const files = readdirSync(LAB_DIR).filter((f) => f.endsWith(".json"));

/** Runs by guest and mode: a guest runs the same every time (icount), so each is booted once. */
const cache = new Map<string, Promise<GuestRun>>();

async function runStep(step: Step): Promise<StepRun> {
  const guest = guestById(step.machine.guest)!;
  const key = `${guest.id} ${step.machine.mode} ${step.machine.mmu}${step.migrate ? ` ${JSON.stringify(step.migrate)}` : ""}`;
  if (!cache.has(key))
    cache.set(
      key,
      step.migrate
        ? runMigratingGuest(guest.id, step.machine.mode, step.machine.mmu, step.migrate)
        : runGuest(guest.id, step.machine.mode, step.machine.mmu),
    );
  const run = await cache.get(key)!;
  // A lab kernel ends through isa-debug-exit; the tiny Linux doing one job, by rebooting when its script exits.
  expect(run.stop.kind, `${step.id}: ${run.output.slice(-300)}`).toBe(guest.work ? "reset" : "debug-exit");
  return run;
}

describe("guided labs", () => {
  it("has the labs the page starts with", () => {
    expect(files.sort()).toEqual(
      expect.arrayContaining([
        "popek-goldberg.json",
        "shadow-vs-ept.json",
        "hypervisor-types.json",
        "exit-cost-sweep.json",
        "virtio-vs-emulated.json",
        "thin-provisioning.json",
        "live-migration.json",
      ]),
    );
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
      // The live-migration lab sends about 11 MiB at 2 MiB/s per step, plus the dirtying guest's rounds.
    }, 300_000);
  }

  it("shows what the checks discriminate: the trap step's checks fail on the bt run", async () => {
    const lab = parseLab(JSON.parse(readFileSync(new URL("popek-goldberg.json", LAB_DIR), "utf8")));
    const trap = lab.steps.find((s) => s.id === "trap")!;
    const bt = lab.steps.find((s) => s.id === "bt")!;
    const btRun = await runStep(bt);
    const results = checkStep(trap, btRun, {});
    expect(results.filter((r) => r.pass).length).toBeLessThan(results.length);
  });

  it("and in the new labs: the hosted step fails on the emulator's run, the virtio step on the IDE run", async () => {
    const load = (f: string) => parseLab(JSON.parse(readFileSync(new URL(f, LAB_DIR), "utf8")));
    const types = load("hypervisor-types.json");
    const hosted = types.steps.find((s) => s.id === "hosted")!;
    const native = await runStep(types.steps.find((s) => s.id === "emulator")!);
    expect(checkStep(hosted, native, {}).filter((r) => !r.pass).length).toBeGreaterThan(0);
    const io = load("virtio-vs-emulated.json");
    const [ide, virtio] = [io.steps.find((s) => s.id === "ide")!, io.steps.find((s) => s.id === "virtio")!];
    const ideRun = await runStep(ide);
    const failed = checkStep(virtio, ideRun, { ide: ideRun }).filter((r) => !r.pass);
    // Not found, too many exits, no MMIO notification, too many interrupts; only the dd line holds.
    expect(failed.length).toBe(virtio.checks.length - 1);
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

  it("checks a migrating step's settings and the disk and migration figures' names", () => {
    const bad = minimal() as ReturnType<typeof minimal>;
    const step = bad.steps[0]! as Record<string, unknown>;
    // A shell guest that does not end by itself is allowed in a step that migrates it...
    step.machine = { guest: "linux-migrate-idle", mode: "hvm" };
    step.migrate = { when: "x86lab-migrate-2", after: "exit", "max-bandwidth": 1, "downtime-limit": 300 };
    step.checks = [
      { label: { en: "L", ko: "라" }, migration: "iterations", op: "<=", value: 3 },
      { label: { en: "L", ko: "라" }, disk: "grownBytes", op: "==", step: "one", factor: 2 },
    ];
    expect(parseLab(bad).steps[0]!.migrate!["max-bandwidth"]).toBe(1);
    // ...and every mistake in them is named.
    step.migrate = { when: "", "max-bandwidth": -1, "downtime-limit": "300", "max-iterations": 1.5 };
    step.checks = [
      { label: { en: "L", ko: "라" }, migration: "rounds", op: "<=", value: 3 },
      { label: { en: "L", ko: "라" }, disk: "data", op: "=", step: "nowhere" },
    ];
    expect(() => parseLab(bad, "m.json")).toThrow(LabFormatError);
    const message = (() => {
      try {
        return parseLab(bad, "m.json") && "";
      } catch (e) {
        return (e as Error).message;
      }
    })();
    for (const part of [
      "migrate.when: must be a non-empty string",
      "migrate.after: must be a non-empty string",
      "migrate.max-bandwidth: must be a positive number",
      "migrate.downtime-limit: must be a positive number",
      "migrate.max-iterations: must be a positive integer",
      "checks[0].migration: must be one of iterations",
      "checks[1].op: must be one of",
      "no step 'nowhere'",
    ])
      expect(message, message).toContain(part);
  });

  it("compares disk and migration figures with values and other steps, and fails when a run has none", () => {
    const lab = parseLab(minimal());
    const label = lab.title;
    const step: Step = {
      ...lab.steps[0]!,
      checks: [
        { label, disk: "grownBytes", op: "==", step: "write" },
        { label, disk: "guestBytesWritten", op: "==", step: "write", factor: 2 },
        { label, migration: "iterations", op: ">", value: 3 },
        { label, migration: "converged", op: "==", value: 1 },
      ],
    };
    const figures = (grown: number, written: number) => ({
      fileBytes: 0,
      grownBytes: grown,
      data: 0,
      zero: 0,
      l2Tables: 0,
      guestBytesWritten: written,
    });
    const migration = {
      ...(Object.fromEntries(MIGRATION_FIGURES.map((f) => [f, 0])) as Record<MigrationFigure, number>),
      iterations: 12,
      converged: 0,
    };
    const run = { output: "", counters: [], disk: figures(100, 20), migration } as StepRun;
    const write = { output: "", counters: [], disk: figures(100, 10) } as StepRun;
    expect(checkStep(step, run, { write }).map((r) => r.pass)).toEqual([true, true, true, false]);
    expect(checkStep(step, run, { write: { ...write, disk: figures(99, 10) } })[0]!.pass).toBe(false);
    // A run without a disk or a migration passes none of them.
    expect(checkStep(step, { output: "", counters: [] }, { write }).map((r) => r.pass)).toEqual([
      false,
      false,
      false,
      false,
    ]);
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
