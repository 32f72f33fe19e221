// Guest programs that check system behaviour user mode cannot reach (guests/tests/*.asm, built
// by guests/tests/build.sh; the .bin files are committed). Each is loaded at 0x7C00, started in
// real mode, reports "ok N - ..." / "not ok N - ..." lines on port 0xE9 and writes its failure
// count to port 0xF4. Every program's header cites the SDM rules it checks.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CODE, loadReal, machine, text } from "./harness.js";

const dir = fileURLToPath(new URL("../../guests/tests/", import.meta.url));

interface Outcome {
  reason: string;
  exitCode: number | null;
  log: string;
}

async function runProgram(name: string, budget = 5_000_000): Promise<Outcome> {
  const m = await machine(8 << 20);
  loadReal(m, readFileSync(`${dir}${name}.bin`), CODE);
  let reason = "budget";
  for (let spent = 0; spent < budget && m.exitCode === null; spent += 100_000) {
    reason = m.cpu.run(100_000);
    if (reason !== "budget" && reason !== "stop") break;
  }
  return { reason, exitCode: m.exitCode, log: text(m) };
}

/** The report's failed lines, for a readable assertion message. */
function failures(log: string): string[] {
  return log.split("\n").filter((l) => l.startsWith("not ok"));
}

const programs: [string, string][] = [
  ["pmode", "real -> protected -> real mode switches, segment loads and limits"],
  ["paging", "4 KiB and 4 MiB pages, #PF error codes and CR2, A/D bits, INVLPG, global pages"],
  ["privilege", "CPL 3 entry and exit, privileged instructions, IOPL, gates, SYSENTER/SYSEXIT"],
  ["exceptions", "exception vectors, error codes, priorities, double fault"],
  ["cpuid", "CPUID, RDMSR/WRMSR and RDTSC as a guest sees them"],
  ["v86", "virtual-8086 mode: entry, interrupts, sensitive instructions, VME"],
  ["tasks", "hardware task switches: CALL/JMP to a TSS, IRET with NT, task gates, busy bits"],
];

describe("system guest programs (guests/tests)", () => {
  it.each(programs)("%s: %s", async (name) => {
    const out = await runProgram(name);
    expect(failures(out.log), out.log).toEqual([]);
    expect(out.log, out.log).toMatch(/^done \d+ tests, failed 0$/m);
    expect(out.exitCode).toBe(0);
  });
});

describe("the guest-program harness (guests/tests/selftest.asm)", () => {
  it("reports a failing check and an unexpected exception, and exits with the failure count", async () => {
    const out = await runProgram("selftest");
    expect(out.log.split("\n").filter((l) => l.length > 0)).toEqual([
      "ok 1 - a passing check",
      "not ok 2 - a failing check: got 00000001 want 00000002",
      expect.stringMatching(/^not ok - unexpected exception 00000006 error 00000000 at 00000008:/),
      "done 2 tests, failed 2",
    ]);
    expect(out.exitCode).toBe(2);
  });
});
