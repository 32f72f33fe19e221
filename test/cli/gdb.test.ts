// The gdb stub (vmm/gdb/, vmm/node/gdb-server.ts): Debian's gdb against a Multiboot kernel with
// symbols (gdb-guest/guest.elf) sets a breakpoint on a function, continues, reads registers,
// steps and reads memory; the protocol itself is checked packet by packet (registers, memory
// writes, Z0/Z1, step, Ctrl-C, kill).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checksum, frame, PacketReader } from "../../vmm/gdb/packets.js";
import { multibootKernel, spawnCli } from "../vmm/cli-process.js";
import { connectWhenUp, GUEST, port, rawClient, runGdb, sleep } from "./gdb-session.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-gdb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("packets", () => {
  it("frames with a checksum and escapes, and reads packets and Ctrl-C", () => {
    expect(frame("OK")).toBe("$OK#9a");
    expect(frame("a#b")).toBe(`$a}\x03b#${checksum("a}\x03b").toString(16).padStart(2, "0")}`);
    const r = new PacketReader();
    expect(r.push("+$g#6")).toEqual([]);
    expect(r.push("7\x03$m0,4#00")).toEqual([
      { kind: "packet", data: "g" },
      { kind: "interrupt" },
      { kind: "bad-checksum" },
    ]);
  });
});

describe("gdb stub", () => {
  it("Debian's gdb: break on a function, continue, registers, step, memory", async () => {
    const p = port(1);
    const vm = spawnCli(["-kernel", GUEST, "-gdb", `tcp::${p}`, "-S"]);
    (await connectWhenUp(p)).destroy();
    const out = await runGdb(dir, p, [
      "break add_step",
      "continue",
      "info registers eip esp eflags",
      "print x",
      "continue",
      "print counter",
      "stepi",
      "stepi",
      "info registers eip",
      "x/2xw &data_word",
      "set var data_word = 0xabcdef01",
      "x/1xw &data_word",
      "delete",
      "hbreak kmain",
      "info breakpoints",
      "delete",
      "continue",
    ]);
    expect(out).toMatch(/Breakpoint 1 at 0x10000c: file gdb-guest\/guest\.c/);
    expect(out).toMatch(/Breakpoint 1, add_step \(x=x@entry=1\)/);
    expect(out).toMatch(/eip\s+0x10000c\s+0x10000c <add_step>/);
    expect(out).toMatch(/esp\s+0x101050\s+0x101050 <stack\+4080>/);
    expect(out).toMatch(/\$1 = 1/);
    expect(out).toMatch(/Breakpoint 1, add_step \(x=x@entry=2\)/);
    expect(out).toMatch(/\$2 = 1/); // counter after the first call
    expect(out).toMatch(/0x10004c <data_word>:\s+0x12345678\s+0x00000001/);
    expect(out).toMatch(/0x10004c <data_word>:\s+0xabcdef01/);
    expect(out).toMatch(/hw breakpoint\s+keep y\s+0x00100020/);
    expect(out).toMatch(/exited with code 01/);
    expect(await vm.exited).toBe(1);
  }, 90_000);

  it("the protocol: registers, memory writes, Z0/Z1, step, Ctrl-C, kill", async () => {
    const p = port(2);
    // mov ebx,0xcafe; jmp $
    const spin = join(dir, "spin.bin");
    writeFileSync(spin, multibootKernel([0xbb, 0xfe, 0xca, 0, 0, 0xeb, 0xfe]));
    const vm = spawnCli(["-kernel", spin, "-gdb", `tcp::${p}`]);
    const { sock, ask } = await rawClient(p);
    expect(await ask("qSupported:multiprocess+")).toMatch(/qXfer:features:read\+/);
    expect(await ask("qXfer:features:read:target.xml:0,ffff")).toMatch(/^l<\?xml.*org\.gnu\.gdb\.i386\.core.*st7/);
    expect(await ask("?")).toBe("S05");
    const regs = await ask("g");
    expect(regs).toHaveLength(16 * 8 + 8 * 20 + 8 * 8);
    expect(regs.slice(3 * 8, 4 * 8)).toBe("feca0000"); // EBX
    expect(regs.slice(8 * 8, 9 * 8)).toBe("25001000"); // EIP at the jmp $ (0x100025)
    expect(await ask("p8")).toBe("25001000");
    expect(await ask("m100000,4")).toBe("02b0ad1b");
    expect(await ask("M200000,4:01020304")).toBe("OK");
    expect(await ask("m200000,4")).toBe("01020304");
    expect(await ask("mfffff000,4")).toBe("E14");
    expect(await ask("P0=78563412")).toBe("OK");
    expect((await ask("g")).slice(0, 8)).toBe("78563412");
    expect(await ask("Pa=10000000")).toBe("E01"); // CS cannot be loaded this way
    expect(await ask("Z2,200000,4")).toBe("OK"); // watchpoints: the core's (gdb-watch.test.ts)
    expect(await ask("z2,200000,4")).toBe("OK");
    expect(await ask("Z1,100025,1")).toBe("OK");
    expect(await ask("c")).toBe("S05"); // jmp $ returns to the breakpoint at once
    expect(await ask("z1,100025,1")).toBe("OK");
    expect(await ask("s")).toBe("S05");
    expect(await ask("p8")).toBe("25001000");
    // Continue with no breakpoint, then Ctrl-C stops it.
    sock.write(frame("c"));
    await sleep(300);
    expect(await ask("\x03", true)).toBe("S02");
    expect(await ask("QStartNoAckMode")).toBe("OK");
    expect(await ask("qAttached")).toBe("1");
    sock.write(frame("k"));
    expect(await vm.exited).toBe(0);
  }, 60_000);
});
