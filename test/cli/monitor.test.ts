// The monitor's commands (vmm/monitor/monitor.ts) on a running machine: each command's output,
// x/xp with QEMU's format letters, stop/cont/system_reset, sendkey, info subcommands and the
// registry other parts use (registerInfo).

import { describe, expect, it } from "vitest";
import { loadKernel } from "../../vmm/boot/kernel.js";
import { Machine } from "../../vmm/lib/machine.js";
import { Monitor } from "../../vmm/monitor/monitor.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";
import { multibootKernel } from "../vmm/cli-process.js";

// At 0x100020: mov eax,0x12345678; mov [0x200000],eax; mov ebx,0xcafe; jmp $ (spins)
const SPIN = [0xb8, 0x78, 0x56, 0x34, 0x12, 0xa3, 0, 0, 0x20, 0, 0xbb, 0xfe, 0xca, 0, 0, 0xeb, 0xfe];

async function machineWith(code: number[], startPaused = false) {
  const kernel = multibootKernel(code);
  const machine = await Machine.create(
    async (io) => {
      const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 32 << 20, ...io });
      loadKernel(vm.cpu, kernel, undefined, "");
      return vm;
    },
    { startPaused },
  );
  let quit = false;
  const files = new Map<string, string | Uint8Array>();
  const monitor = new Monitor(machine, {
    quit: () => {
      quit = true;
      machine.end({ kind: "quit", by: "monitor" });
    },
    writeFile: (p, d) => files.set(p, d),
  });
  return { machine, monitor, files, quitted: () => quit };
}

/** Runs the machine for a moment (a few slices), then pauses it. */
async function runAWhile(machine: Machine): Promise<void> {
  void machine.run();
  machine.resume();
  await new Promise((r) => setTimeout(r, 100));
  machine.pause();
}

describe("monitor", () => {
  it("help lists every command, and help CMD explains one", async () => {
    const { monitor } = await machineWith(SPIN);
    const help = await monitor.execute("help");
    for (const c of [
      "help",
      "info",
      "x /fmt addr",
      "xp /fmt addr",
      "stop",
      "cont",
      "system_reset",
      "system_powerdown",
      "sendkey",
      "screendump",
      "gdbserver",
      "quit",
    ]) {
      expect(help).toContain(c);
    }
    expect(await monitor.execute("help info")).toMatch(/info registers\s+-- the CPU's registers/);
    expect(await monitor.execute("bogus")).toBe("unknown command: 'bogus' (help lists them)\n");
  });

  it("info registers, cpus, status, and stop/cont move the status", async () => {
    const { machine, monitor } = await machineWith(SPIN, true);
    expect(await monitor.execute("info status")).toBe("VM status: paused (prelaunch)\n");
    await runAWhile(machine);
    expect(await monitor.execute("info status")).toBe("VM status: paused\n");
    const regs = await monitor.execute("info registers");
    expect(regs).toMatch(/EAX=12345678 EBX=0000cafe/);
    expect(regs).toMatch(/EIP=0010002f/);
    expect(regs).toMatch(/CS =0008 00000000 ffffffff/);
    expect(await monitor.execute("info cpus")).toBe("* CPU #0: pc=0x0010002f mode=native\n");
    await monitor.execute("cont");
    expect(await monitor.execute("info status")).toBe("VM status: running\n");
    await monitor.execute("stop");
    expect(await monitor.execute("info status")).toBe("VM status: paused\n");
    machine.end({ kind: "quit", by: "test" });
  });

  it("x and xp dump memory with QEMU's /NFU letters", async () => {
    const { machine, monitor } = await machineWith(SPIN, true);
    await runAWhile(machine);
    expect(await monitor.execute("xp /1wx 0x200000")).toBe("00200000: 0x12345678\n");
    expect(await monitor.execute("xp /4bx 0x200000")).toBe("00200000: 0x78 0x56 0x34 0x12\n");
    expect(await monitor.execute("xp /2hd 0x200000")).toBe("00200000: 22136 4660\n");
    expect(await monitor.execute("xp /1wu 0x200000")).toBe("00200000: 305419896\n");
    expect(await monitor.execute("xp /1wo 0x200000")).toBe("00200000: 02215053170\n");
    expect(await monitor.execute("xp /1gx 0x200000")).toBe("00200000: 0x0000000012345678\n");
    // The last format is remembered; x reads through paging (off here: identity).
    expect(await monitor.execute("x 0x200000")).toBe("00200000: 0x0000000012345678\n");
    expect(await monitor.execute("xp /2c 0x100000")).toBe("00100000: '\\x02' '\\xb0'\n");
    expect(await monitor.execute("x /1wx $eip-15")).toBe("00100020: 0x345678b8\n");
    const many = await monitor.execute("xp /6wx 0x100000");
    expect(many.split("\n").filter(Boolean)).toEqual([
      "00100000: 0x1badb002 0x00010000 0xe4514ffe 0x00100000",
      "00100010: 0x00100000 0x00000000",
    ]);
    expect(await monitor.execute("xp /1wx 0xfffffff0")).toMatch(/Cannot access memory/);
    // x/Ni disassembles (test/vmm/disasm.test.ts checks the forms); the format may be glued on.
    expect(await monitor.execute("x/4i 0x100020")).toBe(
      [
        "0x00100020:  b8 78 56 34 12           mov    $0x12345678,%eax",
        "0x00100025:  a3 00 00 20 00           mov    %eax,0x200000",
        "0x0010002a:  bb fe ca 00 00           mov    $0xcafe,%ebx",
        "0x0010002f:  eb fe                    jmp    0x10002f",
        "",
      ].join("\n"),
    );
    expect(await monitor.execute("x/1i $pc")).toBe("0x0010002f:  eb fe                    jmp    0x10002f\n");
    expect(await monitor.execute("set disassembly-flavor intel")).toBe("");
    expect(await monitor.execute("xp/2i 0x100020")).toMatch(/mov {4}eax,0x12345678\n.*mov {4}ds:0x200000,eax\n$/);
    expect(await monitor.execute("set disassembly-flavor arm")).toMatch(/only 'set disassembly-flavor att\|intel'/);
    expect(await monitor.execute("x /3s 0")).toMatch(/format 's' \(strings\) is not supported/);
    expect(await monitor.execute("x /1q 0")).toMatch(/bad format letter 'q'/);
    expect(await monitor.execute("x")).toMatch(/give an address/);
    expect(await monitor.execute("x $nope")).toMatch(/no register/);
    machine.end({ kind: "quit", by: "test" });
  });

  it("info stats (and its reset), trace, tlb, mem, mtree, pic, pci, jit, io", async () => {
    const { machine, monitor } = await machineWith(SPIN, true);
    await runAWhile(machine);
    const stats = await monitor.execute("info stats");
    expect(stats).toMatch(/instructions retired: \d+/);
    expect(stats).toMatch(/mode: native \(memory: direct\)/);
    expect(stats).not.toMatch(/Measured host time/);
    expect(await monitor.execute("info stats reset")).toMatch(/zeroed/);
    expect(await monitor.execute("info stats bogus")).toMatch(/only 'reset'/);
    expect(await monitor.execute("info trace")).toMatch(/trace ring empty|crossings traced/);
    expect(await monitor.execute("info tlb")).toBe("PG disabled\n");
    expect(await monitor.execute("info mem")).toBe("PG disabled\n");
    const mtree = await monitor.execute("info mtree");
    expect(mtree).toMatch(/00000000-[0-9a-f]{8} \(ram\)/);
    expect(mtree).not.toMatch(/unassigned/);
    expect(await monitor.execute("info pic")).toMatch(/^pic0: irr=.. imr=.. isr=.. irq_base=.. elcr=..\npic1: /);
    expect(await monitor.execute("info pci")).toMatch(/00:00\.0 8086:1237/);
    expect(await monitor.execute("info jit")).toMatch(/\S/);
    expect(await monitor.execute("info io")).toMatch(/\S/);
    expect(await monitor.execute("info bogus")).toMatch(/unknown info subcommand: 'bogus'/);
    machine.end({ kind: "quit", by: "test" });
  });

  it("registers info subcommands from outside (info network and the like)", async () => {
    const { monitor } = await machineWith(SPIN, true);
    monitor.registerInfo("network", "the NICs and their wires", (a) => `net ${a.join(",")}\n`);
    expect(await monitor.execute("info network x y")).toBe("net x,y\n");
    expect(await monitor.execute("info")).toMatch(/info network\s+-- the NICs and their wires/);
  });

  it("system_reset reboots, system_powerdown and quit end the machine", async () => {
    const { machine, monitor, quitted } = await machineWith(SPIN, true);
    const resets: string[] = [];
    machine.on("reset", (s) => resets.push(s));
    const done = machine.run();
    machine.resume();
    await monitor.execute("system_reset");
    await new Promise((r) => setTimeout(r, 50));
    expect(resets).toEqual(["monitor"]);
    expect(machine.resets).toBe(1);
    await monitor.execute("system_powerdown");
    expect(await done).toEqual({ kind: "powerdown" });
    const other = await machineWith(SPIN, true);
    await other.monitor.execute("quit");
    expect(other.quitted()).toBe(true);
    expect(quitted()).toBe(false);
  });

  it("sendkey presses keys on the PS/2 keyboard (QEMU's names) and names a bad one", async () => {
    const { machine, monitor } = await machineWith(SPIN, true);
    const i8042 = machine.vm.devices.i8042;
    // The controller translates the keyboard's set 2 to set 1 (its power-on command byte):
    // makes in order, breaks (make | 0x80) in reverse.
    expect(await monitor.execute("sendkey ctrl-alt-delete")).toBe("");
    const bytes: number[] = [];
    while (i8042.readStatus() & 1) bytes.push(i8042.readData());
    expect(bytes).toEqual([0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]);
    expect(await monitor.execute("sendkey ctrl-bogus")).toMatch(/unknown key 'bogus'/);
    expect(await monitor.execute("sendkey")).toMatch(/name the keys/);
  });

  it("screendump needs a VGA and writes a picture or its text", async () => {
    const { machine, monitor, files } = await machineWith(SPIN, true);
    expect(await monitor.execute("screendump out.txt")).toMatch(/no VGA/);
    const vga = machine.vm.attachVga();
    for (const [i, b] of [0x48, 7, 0x69, 7].entries()) machine.vm.devices.mmio.write(0xb8000 + i, 1, b);
    expect(vga).toBeDefined();
    expect(await monitor.execute("screendump out.txt")).toBe("");
    expect((files.get("out.txt") as string).split("\n")[0]).toBe("Hi");
    // A picture (test/devices/vga-image.test.ts checks its pixels): PPM unless PNG is asked
    // for; no VGA BIOS ran here, so plane 2 has no font and the command says so.
    expect(await monitor.execute("screendump out.ppm")).toMatch(/plane 2 holds no font/);
    expect(new TextDecoder().decode((files.get("out.ppm") as Uint8Array).subarray(0, 15))).toBe("P6\n720 400\n255\n");
    await monitor.execute("screendump shot -f png");
    expect([...(files.get("shot") as Uint8Array).subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
    expect(await monitor.execute("screendump x.png -f gif")).toMatch(/format 'gif': use ppm, png or txt/);
    expect(await monitor.execute("screendump")).toMatch(/give a file name/);
    // A path the host cannot write is the command's error, not the process's.
    files.set = () => {
      throw new Error("ENOENT: no such file or directory");
    };
    expect(await monitor.execute("screendump /nonexistent/dir/x.ppm")).toMatch(
      /^screendump: cannot write '\/nonexistent\/dir\/x.ppm': ENOENT/,
    );
  });
});
