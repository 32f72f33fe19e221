// One command-line parser for the CLI, the benchmarks and the tools: node:util's parseArgs, after
// a small shim that accepts QEMU's spellings. QEMU writes long options with one dash (-kernel,
// -m, -no-reboot) and separates a value by a space; parseArgs wants `--name=value`. The shim
// rewrites each known option, single or double dash, into `--name=value` (so a value that starts
// with a dash, `-append "-v"`, is never taken for an option) and reports unknown options and
// missing values in one line. The usage text is generated from the same table, so --help lists
// every flag there is.

import { parseArgs as nodeParseArgs } from "node:util";
import { UserInputError } from "./files.js";

export interface OptionSpec {
  type: "string" | "boolean";
  /** May be given more than once (the values in order). */
  multiple?: boolean;
  /** A one-letter alias written -x (-h for --help). */
  short?: string;
  /** Shown in the usage: `-kernel FILE`. */
  value?: string;
  /** One line (or more, with \n) for the usage text. */
  help: string;
  /** QEMU spells it with one dash; the usage shows it so (both spellings are accepted). */
  qemu?: boolean;
  /** Left out of the usage (an alias kept for old scripts). */
  hidden?: boolean;
}

export type OptionTable = Record<string, OptionSpec>;

export interface CommandLine {
  /** The program as the user types it, for messages: "npm start --". */
  program: string;
  /** Text after the usage line (what the positionals are, examples). */
  summary?: string;
  /** What the positionals are called in the usage (none taken if absent). */
  positionals?: string;
  options: OptionTable;
}

/** One option as given, in command-line order. */
export interface OptionToken {
  name: string;
  /** How the user wrote it (for messages): `-kernel`, `--mode`. */
  flag: string;
  value: string | undefined;
}

export interface Parsed {
  /** parseArgs' values: a string or boolean per option, an array for `multiple`. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  /** Every option in order (the CLI needs -nic's position among the others). */
  tokens: OptionToken[];
}

/** Asked for --help (or -version): the text goes to stdout and the exit status is 0. */
export class HelpRequest extends Error {}

/** The display spelling of an option: `-kernel` or `--mode`. */
export function flagName(name: string, spec: OptionSpec): string {
  return `${spec.qemu || name.length === 1 ? "-" : "--"}${name}`;
}

/** The usage text: every option the table has (but hidden aliases), one per line or block. */
export function usage(cl: CommandLine): string {
  const lines = [`usage: ${cl.program} [options]${cl.positionals ? ` ${cl.positionals}` : ""}`];
  if (cl.summary) lines.push(cl.summary);
  for (const [name, spec] of Object.entries(cl.options)) {
    if (spec.hidden) continue;
    let head = flagName(name, spec);
    if (spec.short) head = `-${spec.short}, ${head}`;
    if (spec.value) head += ` ${spec.value}`;
    const help = spec.help.split("\n");
    if (head.length < 22) lines.push(`  ${head.padEnd(22)}${help[0]}`);
    else lines.push(`  ${head}`, `  ${"".padEnd(22)}${help[0]}`);
    for (const more of help.slice(1)) lines.push(`  ${"".padEnd(22)}${more}`);
  }
  return lines.join("\n");
}

/**
 * Parses `argv` against the table. Throws UserInputError (one line, for exit status 2) for an
 * unknown option, a missing value, a value given to a switch, or a positional where none is
 * taken; throws HelpRequest for -h/--help.
 */
export function parseCommandLine(cl: CommandLine, argv: readonly string[]): Parsed {
  const options = { ...cl.options };
  const help = `(${cl.program} --help lists them)`;
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) if (spec.short) byShort.set(spec.short, name);
  const rewritten: string[] = [];
  const tokens: OptionToken[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(a);
    let name = m?.[1] ?? "";
    const inline = m?.[2];
    if (!(name in options) && !a.startsWith("--") && byShort.has(name)) name = byShort.get(name)!;
    if (name === "help" || name === "h") throw new HelpRequest(usage(cl));
    const spec = Object.hasOwn(options, name) ? options[name] : undefined;
    if (!spec) throw new UserInputError(`unknown option '${a.replace(/=.*/s, "")}' ${help}`);
    let value: string | undefined;
    if (spec.type === "string") {
      value = inline ?? argv[++i];
      if (value === undefined) throw new UserInputError(`${a} needs a value ${help}`);
      rewritten.push(`--${name}=${value}`);
    } else {
      if (inline !== undefined) throw new UserInputError(`${a.replace(/=.*/s, "")} takes no value`);
      rewritten.push(`--${name}`);
    }
    tokens.push({ name, flag: a.replace(/=.*/s, ""), value });
  }
  if (positionals.length > 0 && !cl.positionals) {
    throw new UserInputError(`unexpected argument '${positionals[0]}' ${help}`);
  }
  const config: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(options))
    config[name] = { type: spec.type, multiple: spec.multiple === true };
  // Everything was checked above; parseArgs collects the values (last one wins, or all of them).
  const { values } = nodeParseArgs({ args: rewritten, options: config, strict: true, allowPositionals: false });
  return { values: values as Parsed["values"], positionals, tokens };
}

/** A string option's value, or `fallback`. */
export function stringOption(p: Parsed, name: string, fallback: string): string;
export function stringOption(p: Parsed, name: string): string | undefined;
export function stringOption(p: Parsed, name: string, fallback?: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : fallback;
}

/** A whole number in [min, max] from an option, or a one-line error naming the flag. */
export function integerOption(p: Parsed, name: string, fallback: number, min: number, max: number): number {
  const raw = stringOption(p, name);
  if (raw === undefined) return fallback;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UserInputError(`--${name} ${raw}: give a whole number from ${min} to ${max}`);
  }
  return n;
}

/** A number (possibly fractional) in [min, max] from an option. */
export function numberOption(p: Parsed, name: string, fallback: number, min: number, max: number): number {
  const raw = stringOption(p, name);
  if (raw === undefined) return fallback;
  const n = raw.trim() === "" ? Number.NaN : Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UserInputError(`--${name} ${raw}: give a number from ${min} to ${max}`);
  }
  return n;
}

/** One of a fixed set of words from an option. */
export function choiceOption<T extends string>(p: Parsed, name: string, choices: readonly T[], fallback: T): T {
  const raw = stringOption(p, name);
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UserInputError(`--${name} ${raw}: use ${choices.join(", ")}`);
  }
  return raw as T;
}

/**
 * For the tools' own main(): parses, and turns --help into the usage on stdout (exit 0) and a
 * bad command line into one line on stderr (exit 2), never a stack trace.
 */
export function parseOrExit(cl: CommandLine, argv: readonly string[]): Parsed {
  try {
    return parseCommandLine(cl, argv);
  } catch (err) {
    exitOnCommandLineError(err);
  }
}

/** Prints a HelpRequest (status 0) or a UserInputError (status 2) and exits; rethrows others. */
export function exitOnCommandLineError(err: unknown): never {
  if (err instanceof HelpRequest) {
    process.stdout.write(`${err.message}\n`);
    process.exit(0);
  }
  if (err instanceof UserInputError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
