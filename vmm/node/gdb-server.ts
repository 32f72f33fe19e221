// Placeholder until the gdb stub lands (next commit): -s, -gdb and gdbserver say so.
import type { Machine } from "../lib/machine.js";
import { UserInputError } from "./files.js";

export async function startGdbServer(_machine: Machine, port: number): Promise<{ close(): void }> {
  throw new UserInputError(`-gdb tcp::${port}: the gdb stub is not available yet`);
}
