// Node adapter: reads guest images for the command line (vmm/ itself stays free of Node built-ins).
// A file is checked before a byte is read: it must be a regular file (a FIFO would block forever,
// /dev/zero never ends) and no larger than what it is for can be.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { fileURLToPath } from "node:url";

export class UserInputError extends Error {}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory";
  if (code === "EACCES") return "permission denied";
  return code ?? String(err);
}

function fileKind(stat: Stats): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Opens a file the user named without blocking (O_NONBLOCK: opening a FIFO with no writer would
 * otherwise wait forever) and checks it is a regular file. Returns the descriptor and its size.
 */
export function openGuestFile(path: string, what: string, writable = false): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, (writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NONBLOCK);
  } catch (err) {
    throw new UserInputError(`cannot open ${what} '${path}': ${errnoText(err)}`);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new UserInputError(`${what} '${path}' is ${fileKind(stat)}, not a regular file`);
  }
  return { fd, size: stat.size };
}

/** A byte limit and what it comes from, for the message when a file exceeds it. */
export interface SizeLimit {
  bytes: number;
  why: string;
}

function formatBytes(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n >= 2 ** 10 && n % 2 ** 10 === 0) return `${n / 2 ** 10} KiB`;
  return `${n} bytes`;
}

/** Reads a whole file the user named; a missing, special or oversized file is a one-line error. */
export function readGuestFile(path: string, what: string, limit?: SizeLimit): Uint8Array {
  const { fd, size } = openGuestFile(path, what);
  try {
    if (limit && size > limit.bytes) {
      throw new UserInputError(
        `${what} '${path}' is ${size} bytes; ${limit.why} (${formatBytes(limit.bytes)}) is the most it can be`,
      );
    }
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, bytes, done, size - done, done);
      if (n <= 0) throw new UserInputError(`${what} '${path}' shrank while it was read`);
      done += n;
    }
    return bytes;
  } catch (err) {
    if (err instanceof UserInputError) throw err;
    throw new UserInputError(`cannot read ${what} '${path}': ${errnoText(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** A file shipped with the project (guests/...), resolved from the repository root. */
export function projectFile(rel: string): string {
  return fileURLToPath(new URL(`../../${rel}`, import.meta.url));
}
