// A gdb stub for one machine: the GDB remote serial protocol's commands on top of the Machine's
// run control. Breakpoints (Z0 software, Z1 hardware) and watchpoints (Z2 write, Z3 read, Z4
// access) are the core's host lists (breakpoints.ts), single step, continue, Ctrl-C, registers
// (registers.ts) and memory through the guest's page tables. A stop at a watchpoint is reported
// as gdb's T05watch/rwatch/awatch reply with the address; the machine's end (power-off, a reset
// under -no-reboot, a triple fault, isa-debug-exit, quit) as W with the exit status.

import type { Machine, MachineEnd } from "../lib/machine.js";
import { readLinear, translate } from "../monitor/memory.js";
import type { Breakpoints } from "./breakpoints.js";
import { fromHex, toHex } from "./packets.js";
import { readAll, readRegister, TARGET_XML, writeAll, writeRegister } from "./registers.js";

const SIGINT = "02";
const SIGTRAP = "05";

/** One gdb connection. `send` writes a reply's data (framing is the transport's). */
export class GdbSession {
  /** A continue is outstanding: the next stop is reported to gdb. */
  private waiting = false;
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly machine: Machine,
    private readonly breakpoints: Breakpoints,
    private readonly send: (data: string) => void,
    private readonly onKill: () => void,
    /** The exit status of an ended machine, as the process reports it (W's value). */
    private readonly exitStatus: (end: MachineEnd) => number,
  ) {
    // As QEMU does, the CPU stops while gdb attaches.
    machine.pause("debugger");
    this.offs.push(
      machine.on("stop", (reason) => {
        if (!this.waiting) return;
        this.waiting = false;
        this.send(reason === "breakpoint" ? this.trapReply() : `S${SIGINT}`);
      }),
      machine.on("end", (end) => {
        if (!this.waiting) return;
        this.waiting = false;
        this.send(this.exitReply(end));
      }),
    );
  }

  close(): void {
    for (const off of this.offs) off();
  }

  /** Ctrl-C: stop the running CPU (the stop event answers the outstanding continue). */
  interrupt(): void {
    if (this.machine.status === "running") this.machine.pause("debugger");
  }

  /** Handles one packet; returns the reply, or undefined when the reply comes later (continue). */
  handle(p: string): string | undefined {
    const m = this.machine;
    const cpu = () => m.vm.cpu;
    if (m.status === "ended" && p !== "k" && p !== "D" && p !== "?") return this.exitReply(m.ended!);
    switch (p[0]) {
      case "?":
        return m.status === "ended" ? this.exitReply(m.ended!) : `S${SIGTRAP}`;
      case "g":
        return readAll(cpu());
      case "G":
        return writeAll(cpu(), p.slice(1)) ? "OK" : "E01";
      case "p": {
        const v = readRegister(cpu(), Number.parseInt(p.slice(1), 16));
        return v ?? "E01";
      }
      case "P": {
        const [n = "", v = ""] = p.slice(1).split("=");
        return writeRegister(cpu(), Number.parseInt(n, 16), v) ? "OK" : "E01";
      }
      case "m":
        return this.readMemory(p.slice(1));
      case "M":
        return this.writeMemory(p.slice(1));
      case "X":
        // Binary writes: not offered, so gdb uses M.
        return "";
      case "c":
        if (p.length > 1) cpu().eip = Number.parseInt(p.slice(1), 16) >>> 0;
        this.waiting = true;
        m.resume();
        return undefined;
      case "s": {
        if (p.length > 1) cpu().eip = Number.parseInt(p.slice(1), 16) >>> 0;
        // The JIT would run a whole block: the step is interpreted.
        const jit = cpu().jitEnabled;
        cpu().jitEnabled = false;
        m.step();
        if (m.status !== "ended") cpu().jitEnabled = jit;
        return m.status === "ended" ? this.exitReply(m.ended!) : this.trapReply();
      }
      case "Z":
      case "z":
        return this.breakpoint(p);
      case "D":
        this.breakpoints.clear();
        m.resume();
        return "OK";
      case "k":
        this.onKill();
        return undefined;
      case "H":
      case "T":
        return "OK";
      case "q":
        return this.query(p);
      case "Q":
        return p === "QStartNoAckMode" ? "OK" : "";
      case "v":
        return p === "vMustReplyEmpty" ? "" : "";
      default:
        return "";
    }
  }

  /**
   * The machine ended (power-off, a reset under -no-reboot, a triple fault, isa-debug-exit,
   * quit): W and the exit status's low byte, as QEMU's stub reports its exit to a waiting gdb.
   */
  private exitReply(end: MachineEnd): string {
    return `W${(this.exitStatus(end) & 0xff).toString(16).padStart(2, "0")}`;
  }

  /** A SIGTRAP stop: a watchpoint's T packet when one stopped the CPU, else S05. */
  private trapReply(): string {
    const hit = this.breakpoints.takeWatchHit(this.machine.vm);
    return hit ? `T${SIGTRAP}${hit.name}:${hit.addr.toString(16)};` : `S${SIGTRAP}`;
  }

  private query(p: string): string {
    if (p.startsWith("qSupported")) {
      return "PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+;QStartNoAckMode+";
    }
    const xfer = /^qXfer:features:read:target\.xml:([0-9a-f]+),([0-9a-f]+)$/.exec(p);
    if (xfer) {
      const off = Number.parseInt(xfer[1]!, 16);
      const len = Number.parseInt(xfer[2]!, 16);
      const part = TARGET_XML.slice(off, off + len);
      return `${off + len >= TARGET_XML.length ? "l" : "m"}${part}`;
    }
    if (p.startsWith("qXfer:features:read:")) return "E00";
    if (p === "qAttached") return "1";
    if (p === "qC") return "QC1";
    if (p === "qfThreadInfo") return "m1";
    if (p === "qsThreadInfo") return "l";
    if (p.startsWith("qSymbol")) return "OK";
    return "";
  }

  private readMemory(args: string): string {
    const [a = "", l = ""] = args.split(",");
    const addr = Number.parseInt(a, 16);
    const len = Number.parseInt(l, 16);
    if (!Number.isFinite(addr) || !(len >= 0) || len > 0x10000) return "E01";
    const bytes = readLinear(this.machine.vm.cpu, addr >>> 0, len);
    return bytes ? toHex(bytes) : "E14";
  }

  private writeMemory(args: string): string {
    const m = /^([0-9a-f]+),([0-9a-f]+):([0-9a-fA-F]*)$/.exec(args);
    if (!m) return "E01";
    const addr = Number.parseInt(m[1]!, 16) >>> 0;
    const data = fromHex(m[3]!);
    if (!data || data.length !== Number.parseInt(m[2]!, 16)) return "E01";
    const cpu = this.machine.vm.cpu;
    // Every page first, so that a write that faults halfway writes nothing.
    const pieces: [number, Uint8Array][] = [];
    for (let done = 0; done < data.length; ) {
      const lin = (addr + done) >>> 0;
      const n = Math.min(data.length - done, 4096 - (lin & 0xfff));
      const phys = translate(cpu, lin);
      if (phys === null || phys + n > cpu.ramBytes) return "E14";
      pieces.push([phys, data.subarray(done, done + n)]);
      done += n;
    }
    for (const [phys, bytes] of pieces) cpu.writePhysical(phys, bytes);
    return "OK";
  }

  private breakpoint(p: string): string {
    const m = /^([Zz])([0-4]),([0-9a-f]+),([0-9a-f]+)/.exec(p);
    if (!m) return "E01";
    const [, op, type = "", a = "", k = ""] = m;
    const addr = Number.parseInt(a, 16);
    if (type === "0" || type === "1") {
      if (op === "z") {
        this.breakpoints.remove(addr);
        return "OK";
      }
      return this.breakpoints.add(addr) ? "OK" : "E0c";
    }
    // Watchpoints: the kind field is the length in bytes.
    const len = Number.parseInt(k, 16);
    if (op === "z") {
      this.breakpoints.removeWatch(type, addr, len);
      return "OK";
    }
    return this.breakpoints.addWatch(type, addr, len) ? "OK" : "E0c";
  }
}
