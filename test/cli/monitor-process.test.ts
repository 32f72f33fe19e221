// The monitor and QMP as a user reaches them: Ctrl-A C on the terminal with node:readline's line
// editing and history, -monitor stdio, and QMP on a unix socket and on stdio with its events.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { multibootKernel, spawnCli } from "../vmm/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-mon-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// mov ebx,0xcafe; jmp $
const kernel = join(dir, "spin.bin");
writeFileSync(kernel, multibootKernel([0xbb, 0xfe, 0xca, 0, 0, 0xeb, 0xfe]));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(get: () => string, re: RegExp, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(get())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${re} in:\n${get()}`);
    await sleep(20);
  }
}

describe("the monitor on the terminal", () => {
  it("Ctrl-A C opens it; Backspace, Home and history edit lines; Ctrl-A X quits", async () => {
    const { child, output, exited } = spawnCli(["-kernel", kernel]);
    await sleep(1500);
    child.stdin.write("\x01c");
    await waitFor(() => output.stdout, /\(qemu\) /);
    // "info statx", a Backspace, "us": Backspace deletes what was typed.
    child.stdin.write("info statx\x7fus\r");
    await waitFor(() => output.stdout, /VM status: running/);
    // Home, then the missing "i".
    child.stdin.write("nfo registers\x1b[Hi\r");
    await waitFor(() => output.stdout, /EBX=0000cafe/);
    // Up twice: the first command again.
    child.stdin.write("\x1b[A\x1b[A\r");
    await waitFor(() => output.stdout, /VM status: running[\s\S]*VM status: running/);
    child.stdin.write("stop\rinfo status\r");
    await waitFor(() => output.stdout, /VM status: paused/);
    child.stdin.write("\x01x");
    expect(await exited).toBe(0);
    expect(output.stdout).toContain("[x86lab: quit]");
    // No raw escape codes were inserted into the command lines.
    expect(output.stdout).not.toMatch(/unknown command/);
  }, 40_000);

  it("-monitor stdio takes commands line by line and quits on 'quit'", async () => {
    const { child, output, exited } = spawnCli(["-kernel", kernel, "-monitor", "stdio", "-S"]);
    const gdbPort = 20_000 + ((process.pid * 7 + 3) % 20_000);
    child.stdin.write(`info status\ncont\ninfo status\nxp /1wx 0x100000\ngdbserver tcp::${gdbPort}\nquit\n`);
    expect(await exited).toBe(0);
    expect(output.stdout).toMatch(/VM status: paused \(prelaunch\)[\s\S]*VM status: running/);
    expect(output.stdout).toContain("00100000: 0x1badb002");
    expect(output.stdout).toMatch(/Waiting for gdb connection on device 'tcp:127\.0\.0\.1:\d+'/);
  }, 30_000);
});

/** A QMP client: sends commands, collects every message. */
function qmpClient(sock: Socket) {
  const messages: Record<string, unknown>[] = [];
  let buf = "";
  sock.setEncoding("utf8");
  sock.on("data", (d: string) => {
    buf += d;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) messages.push(JSON.parse(line));
      nl = buf.indexOf("\n");
    }
  });
  let id = 0;
  const execute = async (cmd: string, args?: Record<string, unknown>) => {
    const my = ++id;
    sock.write(JSON.stringify({ execute: cmd, ...(args ? { arguments: args } : {}), id: my }));
    const end = Date.now() + 10_000;
    for (;;) {
      const reply = messages.find((m) => m.id === my);
      if (reply) return reply;
      if (Date.now() > end) throw new Error(`no reply to ${cmd}`);
      await sleep(10);
    }
  };
  const event = async (name: string) => {
    const end = Date.now() + 10_000;
    for (;;) {
      const ev = messages.find((m) => m.event === name);
      if (ev) return ev;
      if (Date.now() > end) throw new Error(`no ${name} event`);
      await sleep(10);
    }
  };
  return { messages, execute, event };
}

describe("QMP", () => {
  it("on a unix socket: greeting, negotiation, commands, events, quit", async () => {
    const path = join(dir, "qmp.sock");
    const { output, exited } = spawnCli(["-kernel", kernel, "-S", "-qmp", `unix:${path},server,wait=off`]);
    let sock: Socket | undefined;
    const end = Date.now() + 20_000;
    while (!sock) {
      sock = await new Promise<Socket | undefined>((resolve) => {
        const s = connect(path);
        s.once("connect", () => resolve(s));
        s.once("error", () => resolve(undefined));
      });
      if (!sock) {
        if (Date.now() > end) throw new Error(`QMP socket never appeared: ${output.stderr}`);
        await sleep(100);
      }
    }
    const q = qmpClient(sock);
    await waitFor(() => JSON.stringify(q.messages), /"QMP"/);
    expect(q.messages[0]).toMatchObject({ QMP: { version: { package: "x86lab" }, capabilities: [] } });
    expect(await q.execute("query-status")).toMatchObject({ error: { class: "CommandNotFound" } });
    expect(await q.execute("qmp_capabilities")).toMatchObject({ return: {} });
    expect(await q.execute("query-status")).toMatchObject({ return: { status: "prelaunch", running: false } });
    expect(await q.execute("cont")).toMatchObject({ return: {} });
    await q.event("RESUME");
    expect(await q.execute("query-status")).toMatchObject({ return: { status: "running", running: true } });
    expect(await q.execute("stop")).toMatchObject({ return: {} });
    expect(await q.event("STOP")).toMatchObject({ timestamp: { seconds: expect.any(Number) } });
    const regs = (await q.execute("human-monitor-command", { "command-line": "info registers" })) as { return: string };
    expect(regs.return).toMatch(/EBX=0000cafe/);
    expect(await q.execute("human-monitor-command", {})).toMatchObject({ error: { class: "GenericError" } });
    expect(await q.execute("system_reset")).toMatchObject({ return: {} });
    expect(await q.execute("cont")).toMatchObject({ return: {} });
    expect(await q.event("RESET")).toMatchObject({ data: { guest: false, reason: "qmp" } });
    expect(await q.execute("no-such-command")).toMatchObject({ error: { class: "CommandNotFound" } });
    sock.write("{not json}");
    await waitFor(() => JSON.stringify(q.messages), /JSON parse error/);
    expect(await q.execute("quit")).toMatchObject({ return: {} });
    expect(await q.event("SHUTDOWN")).toMatchObject({ data: { guest: false, reason: "host-qmp-quit" } });
    expect(await exited).toBe(0);
  }, 40_000);

  it("on stdio", async () => {
    const { child, output, exited } = spawnCli(["-kernel", kernel, "-qmp", "stdio"]);
    child.stdin.write('{"execute":"qmp_capabilities"}\n{"execute":"query-status","id":"a"}\n{"execute":"quit"}\n');
    expect(await exited).toBe(0);
    expect(output.stdout).toMatch(/\{"return":\{"status":"running","singlestep":false,"running":true\},"id":"a"\}/);
    expect(output.stdout).toMatch(/"event":"SHUTDOWN"/);
  }, 30_000);
});
