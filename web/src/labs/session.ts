// The student's progress through the labs in this tab: the chosen lab, predictions, the step
// being run and each step's recorded run. It lives beside the machine, not in the Labs view, so
// switching to another tab (to watch the chart while a step runs) loses nothing, and a run that
// ends while another tab is open is still recorded.

import type { Machine } from "../machine.js";
import type { StepRun } from "./check.js";

export class LabSession {
  labId: string | undefined;
  /** Lab id -> step id -> the chosen prediction. */
  readonly predictions: Record<string, Record<string, string>> = {};
  /** Lab id -> step id -> what the step's run left behind. */
  readonly runs: Record<string, Record<string, StepRun>> = {};
  pending: { lab: string; step: string; boot: number } | undefined;

  constructor(private readonly machine: Machine) {
    machine.subscribe(() => this.observe());
  }

  predict(lab: string, step: string, choice: string): void {
    this.predictions[lab] = { ...this.predictions[lab], [step]: choice };
  }

  /** Called right after the step's machine was booted. */
  started(lab: string, step: string): void {
    this.pending = { lab, step, boot: this.machine.bootCount };
  }

  /** The step's run is over when its boot's guest has stopped: record what it did. */
  private observe(): void {
    const p = this.pending;
    const m = this.machine;
    if (!p || m.bootCount !== p.boot) {
      if (p && m.bootCount !== p.boot) this.pending = undefined; // another boot replaced the step's
      return;
    }
    if (m.status.state !== "stopped") return;
    this.runs[p.lab] = { ...this.runs[p.lab], [p.step]: { output: m.serialText, counters: m.stats?.counters ?? [] } };
    this.pending = undefined;
  }
}
