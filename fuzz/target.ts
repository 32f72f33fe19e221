// What a fuzz target is. A target turns a seed into one case (a guest program, a device traffic
// script, a mutated image), runs it with a bounded amount of work, and says what happened. The
// runner (fuzz/runner.ts) runs cases in worker threads under a wall-clock watchdog, so a case
// that hangs the host is seen as a hang, not as a stuck fuzzer.

/** What one case did. "ok" is the only good outcome. */
export type CaseVerdict =
  /** The host threw (an exception escaped the emulator, a wasm trap, a non-one-line CLI error). */
  | "crash"
  /** The case did not finish within its wall-clock bound. */
  | "hang"
  /** Modes that must agree ended in different states. */
  | "divergence"
  | "ok";

export interface CaseResult {
  verdict: CaseVerdict;
  /** Guest instructions the case retired (all modes added up), for the campaign's figures. */
  instructions: number;
  /** One line: what went wrong (empty when ok). */
  detail: string;
  /**
   * The case in a form a regression test can replay without the generator (JSON-serialisable):
   * filled in when the verdict is not ok, after minimisation.
   */
  reproducer?: unknown;
}

export interface FuzzTarget {
  /** Short name: `cpu`, `devices`, `images`, ... (the file name under fuzz/targets/). */
  readonly name: string;
  /** Builds the case numbered `seed` and runs it. Must not depend on anything but the seed. */
  run(seed: number, opts: CaseOptions): Promise<CaseResult>;
  /** Replays a saved reproducer (the regression tests call this). */
  replay(reproducer: unknown, opts: CaseOptions): Promise<CaseResult>;
  /**
   * The case numbered `seed`, generated but not run (JSON-serialisable): what the runner saves
   * when a case hung, since a hung worker cannot report its own case.
   */
  generate(seed: number, opts: CaseOptions): unknown;
}

export interface CaseOptions {
  /** The virtualization modes the case runs under (every mode when the CLI says --mode all). */
  modes: readonly ("native" | "trap" | "bt" | "hvm" | "pv")[];
  /** Wall-clock bound for the whole case, in milliseconds (the watchdog's limit). */
  wallMs: number;
}
