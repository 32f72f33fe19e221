// A fuzz worker thread's entry: worker threads do not inherit tsx's loader from the main
// thread on Node 20, so the worker registers it before loading the TypeScript worker.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
