// Node adapter: a disk or CD image file as an ImageSource, read (and, only in write-through
// mode, written) in place with positioned I/O, so large images are never loaded whole.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import type { ImageSource } from "../../devices/storage/block.js";
import { UserInputError } from "./files.js";

export function fileSource(path: string, what: string, writable = false): ImageSource {
  let fd: number;
  try {
    fd = openSync(path, writable ? "r+" : "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserInputError(
      `cannot open ${what} '${path}': ${code === "ENOENT" ? "no such file" : (code ?? String(err))}`,
    );
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new UserInputError(`${what} '${path}' is not a regular file`);
  }
  const source: ImageSource = {
    size: stat.size,
    readAt(offset, dest) {
      let done = 0;
      while (done < dest.length) {
        const n = readSync(fd, dest, done, dest.length - done, offset + done);
        if (n <= 0) break;
        done += n;
      }
    },
  };
  if (writable) {
    source.writeAt = (offset, data) => {
      writeSync(fd, data, 0, data.length, offset);
    };
    source.flush = () => fsyncSync(fd);
  }
  return source;
}
