// The gdb stub's watchpoints (Z2 write, Z3 read, Z4 access: the core's host watchpoints, which
// stop after the instruction whose data access touched them) with Debian's gdb (`watch`,
// `rwatch`, `awatch`) and packet by packet (the T05watch reply and its address, in the native
// and bt modes); and the stop replies when the machine ends while gdb waits for a stop (W with
// the process's exit status: a triple fault, a reset under -no-reboot, system_powerdown).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TRIPLE_FAULT_STATUS } from "../../vmm/node/exit-status.js";
import { multibootKernel, spawnCli } from "../vmm/cli-process.js";
import { connectWhenUp, GUEST, port, rawClient, runGdb, sleep } from "./gdb-session.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-gdbwatch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kernel(name: string, code: number[]): string {
  const path = join(dir, name);
  writeFileSync(path, multibootKernel(code));
  return path;
}

describe("gdb watchpoints", () => {
  it("Debian's gdb: watch, rwatch and awatch stop after the access with the values", async () => {
    const p = port(101);
    const vm = spawnCli(["-kernel", GUEST, "-gdb", `tcp::${p}`, "-S"]);
    (await connectWhenUp(p)).destroy();
    // add_step: mov counter,%eax (0x10000c); add 4(%esp),%eax; mov %eax,counter (0x100015);
    // mov counter,%eax (0x10001a); ret (0x10001f).
    const out = await runGdb(dir, p, [
      "watch counter",
      "continue",
      "continue",
      "info watchpoints",
      "delete",
      "rwatch counter",
      "continue",
      "print $pc",
      "delete",
      "awatch counter",
      "continue",
      "continue",
      "delete",
      "continue",
    ]);
    expect(out).toMatch(/Hardware watchpoint 1: counter\s+Old value = 0\s+New value = 1\s+add_step \(x=x@entry=1\)/);
    expect(out).toMatch(/Hardware watchpoint 1: counter\s+Old value = 1\s+New value = 3\s+add_step \(x=x@entry=2\)/);
    expect(out).toMatch(/hw watchpoint\s+keep y\s+counter\s+breakpoint already hit 2 times/);
    // The read at 0x10001a traps with EIP at the next instruction.
    expect(out).toMatch(/Hardware read watchpoint 2: counter\s+Value = 3\s+0x0010001f in add_step \(x=x@entry=2\)/);
    expect(out).toMatch(/\$1 = \(void \(\*\)\(\)\) 0x10001f <add_step\+19>/);
    // An access watchpoint reports the write (old and new) and then the read.
    expect(out).toMatch(
      /Hardware access \(read\/write\) watchpoint 3: counter\s+Value = 3\s+0x00100011 in add_step \(x=x@entry=3\)/,
    );
    expect(out).toMatch(/Hardware access \(read\/write\) watchpoint 3: counter\s+Old value = 3\s+New value = 6/);
    expect(out).toMatch(/exited with code 01/);
    expect(await vm.exited).toBe(1);
  }, 90_000);

  // mov dword [0x200000],1 (0x100020); mov eax,[0x200004] (0x10002a); inc dword [0x200008]
  // (0x10002f); mov dword [0x1ffffe],0 (0x100035); jmp $ (0x10003f)
  const WRITES = [
    ...[0xc7, 0x05, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00],
    ...[0xa1, 0x04, 0x00, 0x20, 0x00],
    ...[0xff, 0x05, 0x08, 0x00, 0x20, 0x00],
    ...[0xc7, 0x05, 0xfe, 0xff, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00],
    ...[0xeb, 0xfe],
  ];
  for (const mode of ["native", "bt"]) {
    it(`packets (${mode}): Z2/Z3/Z4, T05watch with the address, EIP after the access`, async () => {
      const p = port(110 + (mode === "bt" ? 1 : 0));
      const vm = spawnCli(["-kernel", kernel(`writes-${mode}.bin`, WRITES), "-gdb", `tcp::${p}`, "-S", "--mode", mode]);
      const { sock, ask } = await rawClient(p);
      expect(await ask("?")).toBe("S05");
      expect(await ask("Z2,200000,4")).toBe("OK");
      expect(await ask("Z3,200004,4")).toBe("OK");
      expect(await ask("Z4,200008,1")).toBe("OK");
      expect(await ask("Z2,200000,0")).toBe("E0c"); // no bytes
      expect(await ask("c")).toBe("T05watch:200000;");
      expect(await ask("p8")).toBe("2a001000"); // EIP 0x10002a: the write completed
      expect(await ask("m200000,4")).toBe("01000000");
      expect(await ask("c")).toBe("T05rwatch:200004;");
      expect(await ask("p8")).toBe("2f001000");
      expect(await ask("s")).toBe("T05awatch:200008;"); // a step that accesses reports it
      expect(await ask("m200008,4")).toBe("01000000");
      // A write that starts below the watched bytes is reported at the first of them.
      expect(await ask("c")).toBe("T05watch:200000;");
      expect(await ask("p8")).toBe("3f001000");
      for (const z of ["z2,200000,4", "z3,200004,4", "z4,200008,1"]) expect(await ask(z)).toBe("OK");
      expect(await ask("s")).toBe("S05"); // jmp $: nothing left to report
      sock.write("$k#6b");
      expect(await vm.exited).toBe(0);
    }, 60_000);
  }
});

describe("gdb breakpoints in bt's translated kernel code", () => {
  // l: inc eax (0x100020); jmp l (0x100021): kernel code (CPL 0) that bt translates, and that the
  // JIT compiles to wasm once hot. A breakpoint set after it runs compiled must still stop it.
  it("packets: Z0 in a loop already compiled to wasm stops at it, EIP at the breakpoint", async () => {
    const p = port(112);
    const vm = spawnCli([
      "-kernel",
      kernel("loop-bt.bin", [0x40, 0xeb, 0xfd]),
      "-gdb",
      `tcp::${p}`,
      "-S",
      "--mode",
      "bt",
    ]);
    const { sock, ask } = await rawClient(p);
    const readEax = async () => Number.parseInt(((await ask("p0")).match(/../g) ?? []).reverse().join(""), 16);
    expect(await ask("?")).toBe("S05");
    // Round the loop a million times (EAX counts them) before the breakpoint, however loaded the
    // host: hot long before that, so the breakpoint lands in compiled code.
    let rounds = 0;
    for (let i = 0; i < 200 && rounds < 1_000_000; i++) {
      sock.write("$c#63");
      await sleep(200);
      expect(await ask("\x03", true)).toBe("S02");
      rounds = await readEax();
    }
    expect(rounds).toBeGreaterThanOrEqual(1_000_000);
    expect(await ask("Z0,100021,1")).toBe("OK");
    expect(await ask("c")).toBe("S05");
    expect(await ask("p8")).toBe("21001000");
    const eax = await readEax();
    expect(await ask("c")).toBe("S05"); // once more round the loop
    expect(await readEax()).toBe(eax + 1);
    expect(await ask("z0,100021,1")).toBe("OK");
    sock.write("$k#6b");
    expect(await vm.exited).toBe(0);
  }, 60_000);
});

describe("gdb: the machine ends while gdb waits", () => {
  it("a triple fault: exited with the CLI's status (4)", async () => {
    const p = port(120);
    const vm = spawnCli(["-kernel", kernel("triple.bin", [0x0f, 0x0b]), "-gdb", `tcp::${p}`, "-S"]);
    (await connectWhenUp(p)).destroy();
    const out = await runGdb(dir, p, ["continue"], null);
    expect(out).toMatch(/\[Inferior 1 \(Remote target\) exited with code 04\]/);
    expect(await vm.exited).toBe(TRIPLE_FAULT_STATUS);
  }, 60_000);

  it("a reset under -no-reboot: exited normally; without it the machine reboots and gdb stays", async () => {
    // mov al,0xfe; out 0x64,al (the keyboard controller's reset pulse); jmp $
    const reset = kernel("reset.bin", [0xb0, 0xfe, 0xe6, 0x64, 0xeb, 0xfe]);
    const p = port(121);
    const vm = spawnCli(["-kernel", reset, "-gdb", `tcp::${p}`, "-S", "-no-reboot"]);
    (await connectWhenUp(p)).destroy();
    const out = await runGdb(dir, p, ["continue"], null);
    expect(out).toMatch(/\[Inferior 1 \(Remote target\) exited normally\]/);
    expect(await vm.exited).toBe(0);

    // Without -no-reboot the guest's reset reboots the machine and gdb stays attached: the
    // breakpoint on the OUT stops both boots, and the marker written at the first stop is gone
    // at the second (a new VM, fresh RAM).
    const q = port(122);
    const rebooting = spawnCli(["-kernel", reset, "-gdb", `tcp::${q}`, "-S"]);
    const { ask } = await rawClient(q);
    expect(await ask("Z1,100022,1")).toBe("OK");
    expect(await ask("c")).toBe("S05");
    expect(await ask("M200000,4:11111111")).toBe("OK");
    expect(await ask("c")).toBe("S05");
    expect(await ask("p8")).toBe("22001000");
    expect(await ask("m200000,4")).toBe("00000000");
    rebooting.child.kill();
    await rebooting.exited;
  }, 60_000);

  it("system_powerdown from the monitor: W00 to the waiting gdb", async () => {
    const p = port(123);
    const vm = spawnCli(["-kernel", kernel("spin.bin", [0xeb, 0xfe]), "-gdb", `tcp::${p}`, "-monitor", "stdio"]);
    const { ask } = await rawClient(p);
    const reply = ask("c");
    // Once the continue has resumed the CPU (the monitor says so), power it down.
    for (let i = 0; i < 100 && !vm.output.stdout.includes("VM status: running"); i++) {
      vm.child.stdin.write("info status\n");
      await sleep(100);
    }
    vm.child.stdin.write("system_powerdown\n");
    expect(await reply).toBe("W00");
    expect(await vm.exited).toBe(0);
    expect(vm.output.stdout).toContain("[x86lab: powered down]");
  }, 60_000);
});
