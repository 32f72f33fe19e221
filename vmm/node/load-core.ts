// Node adapter: compiles build/core.wasm once per process.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

let cached: WebAssembly.Module | undefined;

/** build/core.wasm, or the file named by CORE_WASM (parallel builds in one tree). */
export function coreWasmPath(): string {
  return process.env.CORE_WASM ?? fileURLToPath(new URL("../../build/core.wasm", import.meta.url));
}

export function loadCoreModule(): WebAssembly.Module {
  if (!cached) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(coreWasmPath());
    } catch {
      throw new Error(`core.wasm is not built (${coreWasmPath()}): run "npm run build"`);
    }
    cached = new WebAssembly.Module(new Uint8Array(bytes));
  }
  return cached;
}
