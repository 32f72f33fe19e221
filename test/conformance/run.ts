// Runs conformance files of either kind (MOO or x86-vectors/1) with shared machines.

import { loadCoreModule } from "../../vmm/node/load-core.js";
import { collectFiles } from "./paths.js";
import { type FileResult, newResult } from "./results.js";
import { SstRunner } from "./sst.js";
import { VectorRunner } from "./vectors.js";

export class ConformanceRunner {
  private sst?: SstRunner;
  private vectors?: VectorRunner;
  private readonly module: WebAssembly.Module;

  constructor(module: WebAssembly.Module = loadCoreModule()) {
    this.module = module;
  }

  async runFile(file: string): Promise<FileResult> {
    if (/\.moo(\.gz)?$/i.test(file)) {
      this.sst ??= await SstRunner.create(this.module);
      return this.sst.runFile(file);
    }
    if (/\.json(\.gz)?$/i.test(file)) {
      this.vectors ??= await VectorRunner.create(this.module);
      return this.vectors.runFile(file);
    }
    const res = newResult(file, "?");
    res.error = "not a .MOO, .MOO.gz, .json or .json.gz file";
    return res;
  }

  /** Runs every data file under the given paths, in order, calling `onFile` after each. */
  async runPaths(paths: string[], onFile?: (r: FileResult) => void): Promise<FileResult[]> {
    const out: FileResult[] = [];
    for (const f of collectFiles(paths)) {
      const r = await this.runFile(f);
      onFile?.(r);
      out.push(r);
    }
    return out;
  }
}

export interface Totals {
  passed: number;
  failed: number;
  excluded: number;
  /** Files that could not be read or run. */
  errors: number;
}

export function totals(results: FileResult[]): Totals {
  const t: Totals = { passed: 0, failed: 0, excluded: 0, errors: 0 };
  for (const r of results) {
    t.passed += r.passed;
    t.failed += r.failed;
    t.excluded += r.excluded;
    if (r.error) t.errors++;
  }
  return t;
}
