// Node adapter: a disk or CD image file as an ImageSource, read (and, only in write-through
// mode, written) in place with positioned I/O, so large images are never loaded whole.
import { closeSync, fsyncSync, readSync, writeSync } from "node:fs";
import type { ImageSource } from "../../devices/storage/block.js";
import { openGuestFile, type SizeLimit, UserInputError } from "./files.js";

/** The largest disk an ATA drive can address: LBA48, 2^48 sectors of 512 bytes. */
export const ATA_DISK_LIMIT: SizeLimit = { bytes: 2 ** 48 * 512, why: "an LBA48 disk (2^48 sectors)" };
/** The largest CD ATAPI READ CAPACITY can report: 2^32 blocks of 2048 bytes. */
export const ATAPI_CD_LIMIT: SizeLimit = { bytes: 2 ** 32 * 2048, why: "an ATAPI medium (2^32 blocks of 2 KiB)" };

export function fileSource(path: string, what: string, writable = false, limit?: SizeLimit): ImageSource {
  const { fd, size } = openGuestFile(path, what, writable);
  if (limit && size > limit.bytes) {
    closeSync(fd);
    throw new UserInputError(`${what} '${path}' is ${size} bytes, larger than ${limit.why} can be`);
  }
  const source: ImageSource = {
    size,
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
