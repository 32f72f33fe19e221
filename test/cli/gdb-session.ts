// Helpers for the gdb stub's tests: Debian's gdb run in batch mode against `npm start -gdb`, and
// a raw client that sends packets and collects the replies.

import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { frame, PacketReader } from "../../vmm/gdb/packets.js";

export const ROOT = new URL("../../", import.meta.url).pathname;
/** A Multiboot kernel with symbols (gdb-guest/guest.c). */
export const GUEST = join(ROOT, "test/cli/gdb-guest/guest.elf");
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A port per test process and use, away from the usual ones. */
export const port = (n: number) => 20_000 + ((process.pid * 7 + n) % 20_000);

export async function connectWhenUp(p: number): Promise<Socket> {
  for (let i = 0; i < 200; i++) {
    const s = await new Promise<Socket | undefined>((resolve) => {
      const c = connect(p, "127.0.0.1");
      c.once("connect", () => resolve(c));
      c.once("error", () => resolve(undefined));
    });
    if (s) return s;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${p}`);
}

/**
 * Runs gdb on `elf` (none: the target's description alone) with the commands after `target
 * remote`; resolves with what it printed.
 */
export async function runGdb(dir: string, p: number, commands: string[], elf: string | null = GUEST): Promise<string> {
  const script = join(dir, `cmds-${p}.gdb`);
  writeFileSync(script, ["set pagination off", `target remote 127.0.0.1:${p}`, ...commands].join("\n"));
  return new Promise<string>((resolve) =>
    execFile(
      "gdb",
      ["-q", "-batch", "-nx", "-x", script, ...(elf ? [elf] : [])],
      { timeout: 60_000 },
      (_e, stdout, stderr) => resolve(stdout + stderr),
    ),
  );
}

/** A raw protocol client: ask() sends a packet (or raw bytes) and waits for the next reply. */
export async function rawClient(p: number) {
  const sock = await connectWhenUp(p);
  sock.setEncoding("latin1");
  const reader = new PacketReader();
  const got: string[] = [];
  let closed = false;
  sock.on("data", (t: string) => {
    for (const m of reader.push(t)) if (m.kind === "packet") got.push(m.data);
  });
  sock.on("close", () => {
    closed = true;
  });
  const ask = async (data: string, raw = false): Promise<string> => {
    const n = got.length;
    sock.write(raw ? data : frame(data));
    for (let i = 0; i < 400 && got.length === n && !closed; i++) await sleep(25);
    if (got.length === n) throw new Error(`no answer to ${JSON.stringify(data)}`);
    return got[n]!;
  };
  return { sock, ask, got, isClosed: () => closed };
}
