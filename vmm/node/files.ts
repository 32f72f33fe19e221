// Node adapter: reads guest images for the command line (vmm/ itself stays free of Node built-ins).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export class UserInputError extends Error {}

/** Reads a file the user named; a missing or unreadable file is a one-line error. */
export function readGuestFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (code ?? String(err));
    throw new UserInputError(`cannot read ${what} '${path}': ${why}`);
  }
}

/** A file shipped with the project (guests/...), resolved from the repository root. */
export function projectFile(rel: string): string {
  return fileURLToPath(new URL(`../../${rel}`, import.meta.url));
}
