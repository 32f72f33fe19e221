// A fuzz worker thread: runs the cases the runner sends, one at a time, and answers with each
// CaseResult. A case that never answers is the runner's to call a hang (it then ends this thread).

import { parentPort } from "node:worker_threads";
import type { CaseOptions, CaseResult } from "./target.js";
import { TARGETS } from "./targets/index.js";

export interface WorkerRequest {
  id: number;
  target: string;
  seed: number;
  opts: CaseOptions;
}

export interface WorkerResponse {
  id: number;
  result: CaseResult;
  ms: number;
}

parentPort?.on("message", async (req: WorkerRequest) => {
  const start = performance.now();
  let result: CaseResult;
  try {
    const target = TARGETS[req.target];
    if (!target) throw new Error(`no fuzz target '${req.target}'`);
    result = await target.run(req.seed, req.opts);
  } catch (err) {
    result = { verdict: "crash", instructions: 0, detail: `target threw: ${String(err).split("\n")[0]}` };
  }
  parentPort?.postMessage({ id: req.id, result, ms: performance.now() - start } satisfies WorkerResponse);
});
