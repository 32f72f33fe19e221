// Result shapes shared by the MOO and x86-vectors runners.

export interface TestFailure {
  index: number;
  name: string;
  bytes: string;
  /** One line per difference: "ax: expected 0x1234, got 0x1235". */
  diff: string[];
  /** Set when an exclusion explains the failure: its reason. */
  excludedBy?: string;
}

export interface FileResult {
  file: string;
  /** The exclusion key of the file (for example "C286:F6.6"). */
  key: string;
  passed: number;
  failed: number;
  excluded: number;
  /** Failures not explained by an exclusion (all of them are kept). */
  failures: TestFailure[];
  /** Failures an exclusion explains (the first few are kept). */
  excludedFailures: TestFailure[];
  /** Excluded failures counted by the exclusion's reason. */
  excludedByReason: Record<string, number>;
  /** A problem with the file itself (unreadable, unknown environment). */
  error?: string;
}

export const hex = (v: number, digits = 0): string => `0x${(v >>> 0).toString(16).padStart(digits, "0")}`;

export function newResult(file: string, key: string): FileResult {
  return { file, key, passed: 0, failed: 0, excluded: 0, failures: [], excludedFailures: [], excludedByReason: {} };
}

/** Number of excluded failures kept per file for --verbose. */
export const KEEP_EXCLUDED = 5;

export function record(res: FileResult, f: TestFailure | null, exclusionReason: string | null): void {
  if (!f) {
    res.passed++;
  } else if (exclusionReason !== null) {
    res.excluded++;
    f.excludedBy = exclusionReason;
    res.excludedByReason[exclusionReason] = (res.excludedByReason[exclusionReason] ?? 0) + 1;
    if (res.excludedFailures.length < KEEP_EXCLUDED) res.excludedFailures.push(f);
  } else {
    res.failed++;
    res.failures.push(f);
  }
}
