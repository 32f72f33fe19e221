// Guided labs as data (docs/labs.md describes the format): a teacher writes a JSON file in
// web/labs/ and the page lists it, with no change to the application's code. parseLab() checks a
// file and says everything wrong with it at once, so a mistake in a lab is an error with a reason,
// never a page that silently shows half a lab.

import { KIND_NAMES, type KindName } from "../../../vmm/stats/events.js";
import { type MmuMode, VIRT_MODES, type VirtMode } from "../../../vmm/virt/vmcs.js";
import { guestById, mmusFor } from "../guests.js";
import { LANGS, type Localized } from "../i18n/index.js";

export type CompareOp = ">" | ">=" | "<" | "<=" | "==";
export const OPS: readonly CompareOp[] = [">", ">=", "<", "<=", "=="];

export interface CounterRef {
  kind: KindName;
  /** One reason of the kind; all reasons when absent. */
  reason?: number;
  /** Only the events handled there: in the core (the Wasm CPU) or the host (the TypeScript VMM); both when absent. */
  where?: "core" | "host";
}

/** Figures of a step's qcow2 disk when the run ended (the Disk tab's; check.ts DiskFigures). */
export const DISK_FIGURES = ["fileBytes", "grownBytes", "data", "zero", "l2Tables", "guestBytesWritten"] as const;
export type DiskFigure = (typeof DISK_FIGURES)[number];
/** Figures of a step's live migration (the Migrate tab's, QEMU's `info migrate`). */
export const MIGRATION_FIGURES = [
  "iterations",
  "completed",
  "converged",
  "downtimeMs",
  "totalTimeMs",
  "stopPages",
  "transferredBytes",
  "lastIterationPages",
] as const;
export type MigrationFigure = (typeof MIGRATION_FIGURES)[number];

/**
 * A live migration during a step: once COM1 prints `when`, the page migrates the guest to a second
 * Worker with these parameters (QEMU's names; max-bandwidth in MiB/s), then types `after` into the
 * destination's shell.
 */
export interface StepMigration {
  when: string;
  after: string;
  "max-bandwidth": number;
  "downtime-limit": number;
  "max-iterations"?: number;
  "auto-converge"?: boolean;
}

export type Check =
  | { label: Localized; output: string }
  | { label: Localized; disk: DiskFigure; op: CompareOp; value: number }
  | { label: Localized; disk: DiskFigure; op: CompareOp; step: string; factor?: number }
  | { label: Localized; migration: MigrationFigure; op: CompareOp; value: number }
  | { label: Localized; migration: MigrationFigure; op: CompareOp; step: string; factor?: number }
  | { label: Localized; counter: CounterRef; op: CompareOp; value: number }
  /** Compares this step's count with a count (`of`, default the same) in another step of the lab. */
  | { label: Localized; counter: CounterRef; op: CompareOp; step: string; of?: CounterRef; factor?: number };

export interface Step {
  id: string;
  title: Localized;
  machine: { guest: string; mode: VirtMode; mmu: MmuMode };
  /** Migrate the guest live during the step (the guest then need not end by itself). */
  migrate?: StepMigration;
  instructions: Localized;
  predict: { question: Localized; choices: { id: string; text: Localized }[]; answer: string };
  checks: Check[];
  explanation: Localized;
}

export interface Lab {
  id: string;
  title: Localized;
  summary: Localized;
  goals: Localized[];
  steps: Step[];
  sources: string[];
}

export class LabFormatError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === "object" && x !== null && !Array.isArray(x);

/** Checks a parsed JSON value against the lab format; throws LabFormatError listing every problem. */
export function parseLab(value: unknown, file = "lab"): Lab {
  const problems: string[] = [];
  const bad = (where: string, what: string) => problems.push(`${where}: ${what}`);
  const text = (v: unknown, where: string): Localized => {
    if (!isObj(v)) {
      bad(where, "must be an object with a text per language (en, ko)");
      return { en: "", ko: "" };
    }
    for (const l of LANGS) if (typeof v[l] !== "string" || v[l] === "") bad(`${where}.${l}`, "missing text");
    return v as Localized;
  };
  const str = (v: unknown, where: string): string => {
    if (typeof v !== "string" || v === "") bad(where, "must be a non-empty string");
    return String(v);
  };
  const arr = (v: unknown, where: string): unknown[] => {
    if (!Array.isArray(v) || v.length === 0) {
      bad(where, "must be a non-empty list");
      return [];
    }
    return v;
  };

  if (!isObj(value)) throw new LabFormatError(`${file}: a lab is a JSON object`);
  const lab: Lab = {
    id: str(value.id, "id"),
    title: text(value.title, "title"),
    summary: text(value.summary, "summary"),
    goals: arr(value.goals, "goals").map((g, i) => text(g, `goals[${i}]`)),
    steps: [],
    sources: arr(value.sources, "sources").map((s, i) => str(s, `sources[${i}]`)),
  };
  const stepIds = new Set((Array.isArray(value.steps) ? value.steps : []).map((s) => (isObj(s) ? s.id : undefined)));
  for (const [i, s] of arr(value.steps, "steps").entries()) {
    const at = `steps[${i}]`;
    if (!isObj(s)) {
      bad(at, "must be an object");
      continue;
    }
    const m = isObj(s.machine) ? s.machine : {};
    const guest = guestById(String(m.guest));
    const migrate = s.migrate === undefined ? undefined : parseMigrate(s.migrate, `${at}.migrate`, bad);
    if (!guest) bad(`${at}.machine.guest`, `unknown guest '${String(m.guest)}'`);
    else if (!guest.finite && !migrate)
      bad(`${at}.machine.guest`, `'${guest.id}' does not end by itself; a lab step needs a lab kernel`);
    const mode = m.mode as VirtMode;
    if (!VIRT_MODES.includes(mode)) bad(`${at}.machine.mode`, `unknown mode '${String(m.mode)}'`);
    else if (guest && !guest.modes.includes(mode)) bad(`${at}.machine.mode`, `${guest.id} does not run under ${mode}`);
    const mmu = (m.mmu ?? (VIRT_MODES.includes(mode) ? mmusFor(mode)[0] : "direct")) as MmuMode;
    if (VIRT_MODES.includes(mode) && !mmusFor(mode).includes(mmu))
      bad(`${at}.machine.mmu`, `${mode} cannot use ${mmu}`);
    const p = isObj(s.predict) ? s.predict : {};
    const choices = arr(p.choices, `${at}.predict.choices`).map((c, j) => ({
      id: str(isObj(c) ? c.id : undefined, `${at}.predict.choices[${j}].id`),
      text: text(isObj(c) ? c.text : undefined, `${at}.predict.choices[${j}].text`),
    }));
    const answer = str(p.answer, `${at}.predict.answer`);
    if (choices.length > 0 && !choices.some((c) => c.id === answer))
      bad(`${at}.predict.answer`, `no choice '${answer}'`);
    const checks = arr(s.checks, `${at}.checks`).map((c, j) => parseCheck(c, `${at}.checks[${j}]`, stepIds, text, bad));
    lab.steps.push({
      id: str(s.id, `${at}.id`),
      title: text(s.title, `${at}.title`),
      machine: { guest: String(m.guest), mode, mmu },
      migrate,
      instructions: text(s.instructions, `${at}.instructions`),
      predict: { question: text(p.question, `${at}.predict.question`), choices, answer },
      checks,
      explanation: text(s.explanation, `${at}.explanation`),
    });
  }
  if (problems.length > 0) throw new LabFormatError(`${file}: ${problems.join("; ")}`);
  return lab;
}

function parseMigrate(v: unknown, at: string, bad: (where: string, what: string) => void): StepMigration {
  const m = isObj(v) ? v : {};
  if (!isObj(v)) bad(at, "must be an object");
  for (const k of ["when", "after"] as const)
    if (typeof m[k] !== "string" || m[k] === "") bad(`${at}.${k}`, "must be a non-empty string");
  for (const k of ["max-bandwidth", "downtime-limit"] as const)
    if (typeof m[k] !== "number" || !(Number(m[k]) > 0)) bad(`${at}.${k}`, "must be a positive number");
  if (m["max-iterations"] !== undefined && !(Number.isInteger(m["max-iterations"]) && Number(m["max-iterations"]) > 0))
    bad(`${at}.max-iterations`, "must be a positive integer");
  if (m["auto-converge"] !== undefined && typeof m["auto-converge"] !== "boolean")
    bad(`${at}.auto-converge`, "must be true or false");
  return m as unknown as StepMigration;
}

function parseCheck(
  c: unknown,
  at: string,
  stepIds: Set<unknown>,
  text: (v: unknown, where: string) => Localized,
  bad: (where: string, what: string) => void,
): Check {
  if (!isObj(c)) {
    bad(at, "must be an object");
    return { label: { en: "", ko: "" }, output: "" };
  }
  const label = text(c.label, `${at}.label`);
  if (typeof c.disk === "string" || typeof c.migration === "string") {
    const [field, names] =
      typeof c.disk === "string" ? (["disk", DISK_FIGURES] as const) : (["migration", MIGRATION_FIGURES] as const);
    const name = String(c[field]);
    if (!(names as readonly string[]).includes(name)) bad(`${at}.${field}`, `must be one of ${names.join(", ")}`);
    const op = c.op as CompareOp;
    if (!OPS.includes(op)) bad(`${at}.op`, `must be one of ${OPS.join(" ")}`);
    if (c.factor !== undefined && typeof c.factor !== "number") bad(`${at}.factor`, "must be a number");
    if (typeof c.step === "string") {
      if (!stepIds.has(c.step)) bad(`${at}.step`, `no step '${c.step}' in this lab`);
    } else if (typeof c.value !== "number") bad(at, "needs 'value' or 'step'");
    const cmp =
      typeof c.step === "string"
        ? { op, step: c.step, factor: c.factor as number | undefined }
        : { op, value: Number(c.value) };
    return (field === "disk" ? { label, disk: name, ...cmp } : { label, migration: name, ...cmp }) as Check;
  }
  if (typeof c.output === "string") {
    try {
      new RegExp(c.output, "m");
    } catch (e) {
      bad(`${at}.output`, `not a regular expression (${(e as Error).message})`);
    }
    return { label, output: c.output };
  }
  const ref = isObj(c.counter) ? c.counter : {};
  if (!KIND_NAMES.includes(ref.kind as KindName)) bad(`${at}.counter.kind`, `unknown kind '${String(ref.kind)}'`);
  if (ref.reason !== undefined && !Number.isInteger(ref.reason)) bad(`${at}.counter.reason`, "must be an integer");
  if (ref.where !== undefined && ref.where !== "core" && ref.where !== "host")
    bad(`${at}.counter.where`, "must be core or host");
  const counter: CounterRef = {
    kind: ref.kind as KindName,
    reason: ref.reason as number | undefined,
    where: ref.where as CounterRef["where"],
  };
  const op = c.op as CompareOp;
  if (!OPS.includes(op)) bad(`${at}.op`, `must be one of ${OPS.join(" ")}`);
  if (typeof c.step === "string") {
    if (!stepIds.has(c.step)) bad(`${at}.step`, `no step '${c.step}' in this lab`);
    if (c.factor !== undefined && typeof c.factor !== "number") bad(`${at}.factor`, "must be a number");
    let of: CounterRef | undefined;
    if (c.of !== undefined) {
      const o = isObj(c.of) ? c.of : {};
      if (!KIND_NAMES.includes(o.kind as KindName)) bad(`${at}.of.kind`, `unknown kind '${String(o.kind)}'`);
      if (o.reason !== undefined && !Number.isInteger(o.reason)) bad(`${at}.of.reason`, "must be an integer");
      of = { kind: o.kind as KindName, reason: o.reason as number | undefined };
    }
    return { label, counter, op, step: c.step, of, factor: c.factor as number | undefined };
  }
  if (typeof c.value !== "number") bad(at, "needs 'output', or 'counter' and 'op' with 'value' or 'step'");
  return { label, counter, op, value: Number(c.value) };
}
