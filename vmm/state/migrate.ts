// Live migration, pre-copy (Clark et al., NSDI 2005; QEMU's RAM migration): the source sends
// every non-zero page of RAM while the guest keeps running, then, round by round, the pages the
// guest wrote meanwhile (the EPT dirty log, vmm/virt/dirty-log.ts), until few enough are left or
// the rounds run out; then it stops the guest and sends the last dirty pages with the CPU and
// device state (a saved-VM file without RAM, vm-state.ts). The destination, a VM built with the
// same configuration, applies them and answers; only then is the source done. Any failure
// (the destination refuses the machine, stops answering, reports an error) leaves the source VM
// as it was, able to run on.
//
// The channel is a MessagePort (a Worker's, or node:worker_threads'): postMessage/onmessage.
// This is the in-page form (a Worker's MessagePort), kept simple: dirty logging needs the EPT MMU
// (hvm or pv), rounds are run here. Migration between processes over a socket, in every mode,
// with QEMU's stop rules, auto-converge and a bandwidth cap, is outgoing.ts / incoming.ts
// (docs/migration.md).

import { collectDirtyFrames } from "../virt/dirty-log.js";
import type { Vm } from "../vm.js";
import { VmStateError } from "./container.js";
import { nonZeroPages } from "./dirty-tracker.js";
import { MigrationError } from "./migration-stream.js";
import { describeMachine, machineDifferences, restoreStateBytes, stateBytes } from "./vm-state.js";

/** The channel's side both ends use (MessagePort in browsers and node:worker_threads). */
export interface MigrationPort {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

type Message =
  | { type: "begin"; machine: ReturnType<typeof describeMachine> }
  | { type: "ready" }
  | { type: "pages"; round: number; frames: Uint32Array; data: Uint8Array }
  | { type: "state"; bytes: Uint8Array }
  | { type: "done" }
  | { type: "error"; message: string };

export { MigrationError };

export interface MigrationOptions {
  /** Pre-copy rounds after the first full pass, at most (QEMU and Xen stop after a few). */
  maxRounds?: number;
  /** Guest instructions run between two rounds (the guest runs while pages are sent). */
  roundInstructions?: number;
  /** Stop and copy once a round leaves at most this many dirty pages. */
  stopPages?: number;
  /** How long to wait for the destination's answer, in ms. */
  timeoutMs?: number;
}

export interface MigrationRound {
  round: number;
  pages: number;
  bytes: number;
}

export interface MigrationStats {
  rounds: MigrationRound[];
  /** Pages sent while the guest was stopped, and the stop-and-copy's host time (downtime). */
  stopPages: number;
  downtimeMs: number;
  totalMs: number;
  /** Bytes sent in all (pages and the state file) against the guest's RAM size. */
  totalBytes: number;
  ramBytes: number;
}

const PAGE = 4096;

function receiver(port: MigrationPort, timeoutMs: number): () => Promise<Message> {
  const queue: Message[] = [];
  let wake: (() => void) | undefined;
  port.onmessage = (ev) => {
    queue.push(ev.data as Message);
    wake?.();
  };
  return async () => {
    const end = Date.now() + timeoutMs;
    while (queue.length === 0) {
      const left = end - Date.now();
      if (left <= 0) throw new MigrationError(`the other side did not answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
    return queue.shift()!;
  };
}

function pagesMessage(vm: Vm, round: number, frames: number[]): { msg: Message; bytes: number } {
  const ram = vm.cpu.ram;
  const data = new Uint8Array(frames.length * PAGE);
  frames.forEach((f, i) => {
    data.set(ram.subarray(f * PAGE, (f + 1) * PAGE), i * PAGE);
  });
  return {
    msg: { type: "pages", round, frames: Uint32Array.from(frames), data },
    bytes: data.length + frames.length * 4,
  };
}

function ramFrames(vm: Vm, dirty: number[]): number[] {
  const limit = vm.cpu.ramBytes / PAGE;
  return dirty.filter((f) => f < limit);
}

/** Sends `vm` to the destination at the other end of `port`; the source stays as it was on failure. */
export async function migrateOut(vm: Vm, port: MigrationPort, opts: MigrationOptions = {}): Promise<MigrationStats> {
  if (vm.mmu !== "ept") {
    throw new MigrationError(`live migration needs the EPT MMU's dirty log (this VM runs ${vm.mode}/${vm.mmu})`);
  }
  const maxRounds = opts.maxRounds ?? 5;
  const roundInstructions = opts.roundInstructions ?? 2_000_000;
  const stopAt = opts.stopPages ?? 64;
  const next = receiver(port, opts.timeoutMs ?? 30_000);
  const send = (m: Message, transfer: Transferable[] = []) => port.postMessage(m, transfer);
  const expect = async (type: Message["type"]) => {
    const m = await next();
    if (m.type === "error") throw new MigrationError(`the destination refused: ${m.message}`);
    if (m.type !== type) throw new MigrationError(`the destination answered ${m.type}, not ${type}`);
  };
  const t0 = performance.now();
  send({ type: "begin", machine: describeMachine(vm) });
  await expect("ready");

  // Round 0: every page that is not zero (the destination's RAM starts zeroed); the dirty log
  // starts now, so what the guest writes from here on is sent again.
  collectDirtyFrames(vm.cpu);
  const first = nonZeroPages(vm.cpu.ram);
  const rounds: MigrationRound[] = [];
  let totalBytes = 0;
  const sendPages = (round: number, frames: number[]) => {
    const { msg, bytes } = pagesMessage(vm, round, frames);
    const m = msg as Extract<Message, { type: "pages" }>;
    send(msg, [m.frames.buffer, m.data.buffer]);
    totalBytes += bytes;
    return bytes;
  };
  rounds.push({ round: 0, pages: first.length, bytes: sendPages(0, first) });

  // Pre-copy rounds: the guest runs, then what it dirtied is sent, until little is left.
  let dirty: number[] = [];
  for (let round = 1; round <= maxRounds; round++) {
    const stop = vm.run(roundInstructions);
    dirty = ramFrames(vm, collectDirtyFrames(vm.cpu).frames);
    // The last round's pages go with the guest stopped: that is the stop-and-copy.
    if (stop.kind !== "limit" || dirty.length <= stopAt || round === maxRounds) break;
    rounds.push({ round, pages: dirty.length, bytes: sendPages(round, dirty) });
    dirty = [];
  }

  // Stop and copy: the guest does not run again here; the last dirty pages and the state go.
  const tStop = performance.now();
  dirty = [...new Set([...dirty, ...ramFrames(vm, collectDirtyFrames(vm.cpu).frames)])].sort((a, b) => a - b);
  const stopPages = dirty.length;
  sendPages(maxRounds + 1, dirty);
  const state = await stateBytes(vm, { ram: false });
  totalBytes += state.length;
  send({ type: "state", bytes: state }, [state.buffer]);
  await expect("done");
  const end = performance.now();
  port.onmessage = null;
  return { rounds, stopPages, downtimeMs: end - tStop, totalMs: end - t0, totalBytes, ramBytes: vm.cpu.ramBytes };
}

/**
 * Receives a VM into `vm` (built with the same configuration, not running). Resolves when it
 * holds the source's state; the source then ends. Refuses a different machine at the start.
 */
export async function migrateIn(vm: Vm, port: MigrationPort, opts: { timeoutMs?: number } = {}): Promise<void> {
  const next = receiver(port, opts.timeoutMs ?? 30_000);
  const send = (m: Message) => port.postMessage(m);
  try {
    const begin = await next();
    if (begin.type !== "begin") throw new MigrationError(`expected begin, got ${begin.type}`);
    const diff = machineDifferences(begin.machine, describeMachine(vm));
    if (diff.length > 0) throw new VmStateError(`a different machine configuration: ${diff.join("; ")}`);
    send({ type: "ready" });
    const ram = vm.cpu.ram;
    for (;;) {
      const m = await next();
      if (m.type === "pages") {
        if (m.data.length !== m.frames.length * PAGE) throw new MigrationError("a pages message of the wrong length");
        m.frames.forEach((f, i) => {
          if ((f + 1) * PAGE > ram.length) throw new MigrationError(`page ${f} is outside this VM's RAM`);
          ram.set(m.data.subarray(i * PAGE, (i + 1) * PAGE), f * PAGE);
        });
      } else if (m.type === "state") {
        await restoreStateBytes(vm, m.bytes, { ram: false });
        send({ type: "done" });
        port.onmessage = null;
        return;
      } else {
        throw new MigrationError(`unexpected message ${m.type}`);
      }
    }
  } catch (e) {
    send({ type: "error", message: (e as Error).message });
    port.onmessage = null;
    throw e;
  }
}
