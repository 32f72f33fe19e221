// `-device virtio-serial-pci` on the command line (issue 10): the tiny Linux booted with
// `console=hvc0` and hvc0 on a -chardev gives its shell there. Over stdio, commands typed on the
// terminal reach that shell (not COM1) and the answers come back; the monitor's `info pci` and
// `info virtio` list the device. Over a file, the guest's console output lands in the file.
// Wrong spellings are one-line errors before anything runs.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseArgs } from "../../vmm/node/args.js";
import { spawnCli } from "../vmm/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-hvc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HVC = ["-device", "virtio-serial-pci", "-device", "virtconsole,chardev=c0"];
const APPEND = ["-append", "console=hvc0 panic=-1"];

/** Resolves when `text()` contains `want` (after `from`), or rejects with what it shows. */
function waitFor(text: () => string, want: string | RegExp, from = 0, ms = 90_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      const s = text().slice(from);
      if (typeof want === "string" ? s.includes(want) : want.test(s)) resolve();
      else if (Date.now() - t0 > ms) reject(new Error(`no ${want} within ${ms} ms; output ends:\n${s.slice(-800)}`));
      else setTimeout(poll, 50);
    };
    poll();
  });
}

describe("npm start -device virtio-serial-pci", () => {
  it("gives the tiny Linux's shell on hvc0 over -chardev stdio; info pci and info virtio list it", async () => {
    // -serial none: COM1 shows nothing, so everything seen came through hvc0.
    const { child, output, exited } = spawnCli(["-serial", "none", "-chardev", "stdio,id=c0", ...HVC, ...APPEND]);
    try {
      const out = () => output.stdout;
      await waitFor(out, "~ # ");
      expect(out()).toContain("x86lab: init ok, Linux");
      // Two commands: the guest's receive buffers come back after the first.
      let from = out().length;
      child.stdin.write("echo hvc-$((6*7))\r");
      await waitFor(out, "hvc-42\r\n", from);
      from = out().length;
      child.stdin.write("cat /sys/class/tty/hvc0/dev; echo done-$((2+3))\r");
      await waitFor(out, /\d+:\d+\r\ndone-5\r\n/, from);
      from = out().length;
      child.stdin.write("\x01cinfo pci\ninfo virtio\n");
      await waitFor(out, /queue 1: size \d+ enabled/, from);
      const info = out().slice(from);
      expect(info).toMatch(/00:0\d\.0 1af4:1003 class 078000 virtio-console, INTA# IRQ \d+/);
      expect(info).toMatch(/virtio-console: status 0xf /);
      // The guest's writes went through the transmit queue, its keys through the receive queue.
      const rx = /queue 0: size \d+ enabled avail \d+ used (\d+)/.exec(info);
      const tx = /queue 1: size \d+ enabled avail \d+ used (\d+)/.exec(info);
      expect(Number(rx?.[1])).toBeGreaterThanOrEqual(2);
      expect(Number(tx?.[1])).toBeGreaterThan(10);
      child.stdin.write("quit\n");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  }, 150_000);

  it("writes hvc0 to -chardev file; the keyboard stays with COM1", async () => {
    const path = join(dir, "hvc0.log");
    const { child, output, exited } = spawnCli([
      "-chardev",
      `file,id=c0,path=${path}`,
      ...HVC,
      ...APPEND,
      "--max-instructions",
      "600000000",
    ]);
    try {
      const status = await exited;
      expect(status).toBe(0);
      const log = readFileSync(path, "latin1");
      expect(log).toContain("x86lab: init ok, Linux");
      expect(log).toContain("~ # ");
      // With console=hvc0 nothing of /init's reaches COM1 (the terminal).
      expect(output.stdout).not.toContain("init ok");
    } finally {
      child.kill("SIGKILL");
    }
  }, 150_000);

  it("refuses wrong spellings in one line", () => {
    const err = (argv: string[]) => () => parseArgs(argv);
    expect(err(["-device", "virtconsole,chardev=c0"])).toThrow(/add -device virtio-serial-pci/);
    expect(err(["-device", "virtconsole"])).toThrow(/chardev=ID is required/);
    expect(err([...HVC])).toThrow(/no -chardev with id=c0/);
    expect(err(["-chardev", "stdio,id=c0", "-device", "virtio-serial-pci"])).toThrow(/id=c0: no device uses it/);
    expect(err(["-chardev", "socket,id=c0,path=/x", ...HVC])).toThrow(/stdio, file and null/);
    expect(err(["-chardev", "file,id=c0", ...HVC])).toThrow(/path=FILE is required/);
    expect(err(["-chardev", "stdio", ...HVC])).toThrow(/id=NAME is required/);
    expect(err(["-chardev", "stdio,id=c0", ...HVC, "-monitor", "stdio"])).toThrow(/cannot share the terminal/);
    expect(
      err(["-chardev", "null,id=c0", "-chardev", "null,id=c1", ...HVC, "-device", "virtconsole,chardev=c1"]),
    ).toThrow(/2 consoles, 1 virtio-serial-pci/);
    // Accepted: two ports, each on its own device.
    const two = [
      "-device",
      "virtio-serial-pci",
      "-device",
      "virtconsole,chardev=a",
      "-device",
      "virtconsole,chardev=b",
    ];
    const ok = parseArgs(["-chardev", "null,id=a", "-chardev", "stdio,id=b", "-device", "virtio-serial-pci", ...two]);
    expect(ok.machine.devices.filter((d) => d.driver === "virtio-serial-pci")).toHaveLength(2);
  });
});
