// `npm run img -- COMMAND ...`: qemu-img's commands and options for raw and qcow2 images.
//
//   create [-q] [-f fmt] [-b backing] [-F backing_fmt] [-o opts] FILE [SIZE]
//   info [-f fmt] [--output=human|json] FILE
//   check [-q] [-f fmt] [--output=human|json] [-r leaks|all] FILE
//   convert [-q] [-c] [-f fmt] [-O fmt] [-o opts] [-B backing] [-F backing_fmt] SRC DST
//   snapshot [-q] -l|-c NAME|-a NAME|-d NAME FILE
//   commit [-q] [-f fmt] [-d] FILE
//   rebase [-q] [-f fmt] [-u] -b BACKING [-F backing_fmt] FILE
//   map [-f fmt] [--output=human|json] FILE
//   resize [-q] [-f fmt] [--shrink] FILE [+|-]SIZE
//
// Exit status as qemu-img's: 0 done; 1 an error (one line on stderr); check: 2 corruption,
// 3 leaked clusters only.

import { type ParseArgsConfig, parseArgs } from "node:util";
import { ImageFormatError } from "../storage/file.js";
import { Qcow2Image } from "../storage/qcow2.js";
import { checkQcow2 } from "../storage/qcow2-check.js";
import { applySnapshot, createSnapshot, deleteSnapshot, readSnapshots } from "../storage/qcow2-snapshot.js";
import { commit, convert, create, openTool, parseSize, rebase, resize } from "./img-commands.js";
import {
  checkJson,
  checkText,
  infoJson,
  infoText,
  json,
  mapChain,
  mapJson,
  mapText,
  snapshotTable,
} from "./img-output.js";

export class ImgError extends Error {}

const COMMON = {
  f: { type: "string" },
  q: { type: "boolean" },
  output: { type: "string" },
  U: { type: "boolean" },
} as const;

type Out = { stdout: string[]; stderr: string[] };

function parse<const T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T) {
  try {
    const all = { ...COMMON, ...options };
    return parseArgs({ args: argv, options: all, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ImgError((e as Error).message);
  }
}

function outputKind(v: string | undefined): "human" | "json" {
  if (v === undefined || v === "human" || v === "json") return v ?? "human";
  throw new ImgError(`--output must be used with human or json as argument.`);
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new ImgError(`Expecting one image file name (${what})`);
  return positionals[0]!;
}

/** Runs one command; returns the exit status and what to print. */
export function runImg(argv: string[]): { status: number } & Out {
  const out: Out = { stdout: [], stderr: [] };
  const [command, ...rest] = argv;
  try {
    const status = dispatch(command, rest, out);
    return { status, ...out };
  } catch (e) {
    if (e instanceof ImgError || e instanceof ImageFormatError) {
      out.stderr.push(`img: ${e.message}`);
      return { status: 1, ...out };
    }
    throw e;
  }
}

function dispatch(command: string | undefined, argv: string[], out: Out): number {
  switch (command) {
    case "create": {
      const { values: v, positionals: p } = parse(argv, {
        b: { type: "string" },
        F: { type: "string" },
        o: { type: "string" },
        u: { type: "boolean" },
      });
      if (p.length < 1 || p.length > 2) throw new ImgError("Expecting image file name (and a size)");
      const line = create(p[0]!, { format: v.f, backing: v.b, backingFormat: v.F, options: v.o, size: p[1] });
      if (!v.q) out.stdout.push(line);
      return 0;
    }
    case "info": {
      const { values: v, positionals: p } = parse(argv, { "backing-chain": { type: "boolean" } });
      const file = one(p, "info");
      const img = openTool(file, v.f, false);
      try {
        out.stdout.push(outputKind(v.output) === "json" ? json(infoJson(img, file)) : infoText(img, file));
      } finally {
        img.close();
      }
      return 0;
    }
    case "check": {
      const { values: v, positionals: p } = parse(argv, { r: { type: "string" } });
      const file = one(p, "check");
      if (v.r !== undefined && v.r !== "leaks" && v.r !== "all")
        throw new ImgError(`Unknown option value for -r (expecting 'leaks' or 'all'): ${v.r}`);
      const img = openTool(file, v.f, v.r !== undefined);
      try {
        if (!(img instanceof Qcow2Image)) throw new ImgError(`This image format does not support checks`);
        let r = checkQcow2(img, v.r as "leaks" | "all" | undefined);
        const kind = outputKind(v.output);
        if (kind === "human") out.stderr.push(...r.messages);
        if (v.r && (r.leaksFixed || r.corruptionsFixed)) {
          const fixed = r;
          r = checkQcow2(img);
          r.leaksFixed = fixed.leaksFixed;
          r.corruptionsFixed = fixed.corruptionsFixed;
          r.leaks += fixed.leaksFixed;
          r.corruptions += fixed.corruptionsFixed;
        }
        if (!v.q) out.stdout.push(kind === "json" ? checkJson(r, file) : checkText(r, v.r !== undefined));
        if (r.corruptions - r.corruptionsFixed > 0) return 2;
        if (r.leaks - r.leaksFixed > 0) return 3;
        return 0;
      } finally {
        img.close();
      }
    }
    case "convert": {
      const { values: v, positionals: p } = parse(argv, {
        c: { type: "boolean" },
        O: { type: "string" },
        o: { type: "string" },
        B: { type: "string" },
        F: { type: "string" },
        p: { type: "boolean" },
      });
      if (p.length !== 2) throw new ImgError("Expecting a source and a target file name");
      convert(p[0]!, p[1]!, {
        format: v.f,
        outFormat: v.O,
        compress: v.c ?? false,
        options: v.o,
        backing: v.B,
        backingFormat: v.F,
      });
      return 0;
    }
    case "snapshot": {
      const { values: v, positionals: p } = parse(argv, {
        l: { type: "boolean" },
        c: { type: "string" },
        a: { type: "string" },
        d: { type: "string" },
      });
      const file = one(p, "snapshot");
      const ops = [v.l, v.c, v.a, v.d].filter((x) => x !== undefined).length;
      if (ops !== 1) throw new ImgError("Cannot mix '-l', '-a', '-c', '-d' (give exactly one)");
      const img = openTool(file, v.f, !v.l);
      try {
        if (!(img instanceof Qcow2Image)) throw new ImgError(`${file}: snapshots need a qcow2 image`);
        if (v.l) {
          const list = readSnapshots(img);
          if (list.length) out.stdout.push("Snapshot list:", snapshotTable(list));
        } else if (v.c !== undefined) createSnapshot(img, v.c);
        else if (v.a !== undefined) applySnapshot(img, v.a);
        else if (v.d !== undefined) deleteSnapshot(img, v.d);
      } finally {
        img.close();
      }
      return 0;
    }
    case "commit": {
      const { values: v, positionals: p } = parse(argv, { d: { type: "boolean" }, p: { type: "boolean" } });
      commit(one(p, "commit"), v.f, v.d ?? false);
      if (!v.q) out.stdout.push("Image committed.");
      return 0;
    }
    case "rebase": {
      const { values: v, positionals: p } = parse(argv, {
        b: { type: "string" },
        F: { type: "string" },
        u: { type: "boolean" },
        p: { type: "boolean" },
      });
      if (v.b === undefined) throw new ImgError("Must specify backing file (-b) or use '-b \"\"' to remove it");
      rebase(one(p, "rebase"), { format: v.f, backing: v.b, backingFormat: v.F, unsafe: v.u ?? false });
      return 0;
    }
    case "map": {
      const { values: v, positionals: p } = parse(argv, {});
      const file = one(p, "map");
      const img = openTool(file, v.f, false);
      try {
        const entries = mapChain(img);
        out.stdout.push(outputKind(v.output) === "json" ? mapJson(entries) : mapText(entries));
      } finally {
        img.close();
      }
      return 0;
    }
    case "resize": {
      // A negative size ("-1M") looks like an option to parseArgs: take it off the end first.
      const size = argv[argv.length - 1];
      if (size === undefined || !/^[+-]?\d/.test(size)) throw new ImgError("Expecting image file name and size");
      const { values: v, positionals: p } = parse(argv.slice(0, -1), { shrink: { type: "boolean" } });
      resize(one(p, "resize"), size, v.f, v.shrink ?? false);
      if (!v.q) out.stdout.push("Image resized.");
      return 0;
    }
    case undefined:
    case "-h":
    case "--help":
      out.stdout.push(
        "usage: img create|info|check|convert|snapshot|commit|rebase|map|resize [options] FILE ... (docs/storage.md)",
      );
      return command === undefined ? 1 : 0;
    default:
      throw new ImgError(`Command not found: ${command}`);
  }
}

export { parseSize };

// Run as a program.
if (process.argv[1] && /img\.[jt]s$/.test(process.argv[1])) {
  const r = runImg(process.argv.slice(2));
  for (const l of r.stdout) process.stdout.write(`${l}\n`);
  for (const l of r.stderr) process.stderr.write(`${l}\n`);
  process.exitCode = r.status;
}
