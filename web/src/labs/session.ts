// The student's progress through the labs in this tab: the chosen lab, predictions, the step
// being run and each step's recorded run. It lives beside the machine, not in the Labs view, so
// switching to another tab (to watch the chart while a step runs) loses nothing, and a run that
// ends while another tab is open is still recorded.
//
// A step with `migrate` is driven from here: once the guest prints the step's `when`, the guest
// migrates to a second Worker with the step's parameters; once it runs there, the step's `after`
// is typed into the destination's shell (which ends with `exit`: the guest reboots and the run
// is over). A migration that fails ends the step at once, with its figures.

import type { MigrationParameters } from "../../../vmm/state/outgoing.js";
import type { Machine } from "../machine.js";
import type { StepRun } from "./check.js";
import { diskFigures, migrationFigures } from "./figures.js";
import type { StepMigration } from "./format.js";

/** The step's migration settings as the source's parameters (max-bandwidth from MiB/s to bytes/s). */
export function migrationParameters(m: StepMigration): Partial<MigrationParameters> {
  return {
    "max-bandwidth": m["max-bandwidth"] * 2 ** 20,
    "downtime-limit": m["downtime-limit"],
    ...(m["max-iterations"] !== undefined && { "max-iterations": m["max-iterations"] }),
    ...(m["auto-converge"] !== undefined && { "auto-converge": m["auto-converge"] }),
  };
}

interface Pending {
  lab: string;
  step: string;
  boot: number;
  migrate?: StepMigration;
  /** The migration was started, and the destination's command typed. */
  migrating?: boolean;
  typed?: boolean;
}

export class LabSession {
  labId: string | undefined;
  /** Lab id -> step id -> the chosen prediction. */
  readonly predictions: Record<string, Record<string, string>> = {};
  /** Lab id -> step id -> what the step's run left behind. */
  readonly runs: Record<string, Record<string, StepRun>> = {};
  pending: Pending | undefined;
  /** Why the step's migration could not start, if it could not. */
  error: string | undefined;

  constructor(private readonly machine: Machine) {
    machine.subscribe(() => this.observe());
  }

  predict(lab: string, step: string, choice: string): void {
    this.predictions[lab] = { ...this.predictions[lab], [step]: choice };
  }

  /** Called right after the step's machine was booted. */
  started(lab: string, step: string, migrate?: StepMigration): void {
    this.error = undefined;
    this.pending = { lab, step, boot: this.machine.bootCount, migrate };
  }

  /** The step's run is over when its boot's guest has stopped: record what it did. */
  private observe(): void {
    const p = this.pending;
    const m = this.machine;
    if (!p || m.bootCount !== p.boot) {
      if (p && m.bootCount !== p.boot) this.pending = undefined; // another boot replaced the step's
      return;
    }
    const migrationEnded = p.migrate !== undefined && this.driveMigration(p, p.migrate);
    if (migrationEnded || m.status.state === "stopped") this.record(p);
  }

  /** Starts the step's migration when due and types `after` once the guest runs on the destination; true when a failed migration ends the step. */
  private driveMigration(p: Pending, spec: StepMigration): boolean {
    const m = this.machine;
    if (!p.migrating) {
      if (m.status.state !== "running" || !m.serialText.includes(spec.when)) return false;
      p.migrating = true;
      try {
        m.migrate(migrationParameters(spec));
      } catch (e) {
        this.error = (e as Error).message;
        return true;
      }
      return false;
    }
    const mig = m.migration;
    if (!mig) return false;
    if (mig.finished && mig.info?.status !== "completed") return true;
    if (mig.switched && !p.typed) {
      p.typed = true;
      m.input(new TextEncoder().encode(`${spec.after}\r`));
    }
    return false;
  }

  private record(p: Pending): void {
    const m = this.machine;
    const run: StepRun = { output: m.serialText, counters: m.stats?.counters ?? [] };
    if (m.disk && m.diskAtBoot)
      run.disk = diskFigures(m.disk.allocation, m.diskAtBoot.allocation.fileBytes, m.disk.guestBytesWritten);
    if (p.migrate && m.migration?.info) run.migration = migrationFigures(m.migration.info);
    this.runs[p.lab] = { ...this.runs[p.lab], [p.step]: run };
    this.pending = undefined;
  }
}
