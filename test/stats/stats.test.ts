import { describe, expect, it } from "vitest";
import {
  Callout,
  countOf,
  diffSnapshots,
  ExitReason,
  Kind,
  mergeSnapshots,
  reasonName,
  ShadowFault,
  Stats,
  Where,
} from "../../vmm/stats/index.js";

describe("event names", () => {
  it("names exit reasons with the SDM's numbers", () => {
    expect(ExitReason.ioInstruction).toBe(30);
    expect(ExitReason.eptViolation).toBe(48);
    expect(ExitReason.vmcall).toBe(18);
    expect(ExitReason.crAccess).toBe(28);
    expect(reasonName(Kind.exit, 30)).toBe("I/O instruction");
    expect(reasonName(Kind.exit, 48)).toBe("EPT violation");
    expect(reasonName(Kind.exit, 200)).toBe("exit reason 200");
    expect(reasonName(Kind.hypercall, 5)).toBe("KVM_HC_KICK_CPU");
    expect(reasonName(Kind.io, 0x80)).toBe("port 0x0080");
    expect(reasonName(Kind.callout, Callout.cli)).toBe("cli");
  });
});

describe("Stats counters", () => {
  it("counts by kind, reason and where handled", () => {
    const s = new Stats(8);
    s.count(Kind.exit, ExitReason.ioInstruction, Where.host);
    s.count(Kind.exit, ExitReason.ioInstruction, Where.host);
    s.count(Kind.exit, ExitReason.cpuid, Where.core);
    s.count(Kind.io, 0x80, Where.core, 5);
    s.count(Kind.shadowFault, ShadowFault.hidden, Where.host, 3);
    s.count(Kind.guestInstr, 0, Where.core, 1000);
    expect(s.get(Kind.exit, 30)).toBe(2);
    expect(s.get(Kind.exit, 30, Where.host)).toBe(2);
    expect(s.get(Kind.exit, 30, Where.core)).toBe(0);
    expect(s.get(Kind.exit, 12)).toBe(0);
    expect(s.total(Kind.exit)).toBe(3);
    const snap = s.snapshot();
    expect(snap.counters).toEqual([
      { kind: "exit", reason: 10, name: "CPUID", core: 1, host: 0 },
      { kind: "exit", reason: 30, name: "I/O instruction", core: 0, host: 2 },
      expect.objectContaining({ kind: "shadowFault", reason: 0, core: 0, host: 3 }),
      expect.objectContaining({ kind: "guestInstr", reason: 0, core: 1000, host: 0 }),
      { kind: "io", reason: 0x80, name: "port 0x0080", core: 5, host: 0 },
    ]);
    expect(snap.totals.exit).toBe(3);
    expect(snap.totals.io).toBe(5);
    expect(snap.totals.hypercall).toBe(0);
    expect(countOf(snap, "exit", 30, "host")).toBe(2);
    // Plain data: survives a JSON round trip unchanged.
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it("crossing() counts and traces", () => {
    const s = new Stats(4);
    s.crossing(Kind.exit, ExitReason.eptViolation, Where.host, 0x82, 0xc0101234, 0x1234000, 77);
    expect(s.get(Kind.exit, 48, Where.host)).toBe(1);
    const snap = s.snapshot();
    expect(snap.trace).toEqual({
      capacity: 4,
      recorded: 1,
      entries: [
        {
          seq: 1,
          kind: "exit",
          reason: 48,
          name: "EPT violation",
          where: "host",
          qualification: 0x82,
          eip: 0xc0101234,
          gpa: 0x1234000,
          vtime: 77,
        },
      ],
    });
  });

  it("reset() clears counters and the trace", () => {
    const s = new Stats(4);
    s.crossing(Kind.exit, 10, Where.core, 0, 0, 0, 1);
    s.count(Kind.io, 0x60, Where.host);
    s.reset();
    const snap = s.snapshot();
    expect(snap.counters).toEqual([]);
    expect(snap.trace.entries).toEqual([]);
    expect(snap.trace.recorded).toBe(0);
    s.crossing(Kind.exit, 12, Where.core, 0, 0, 0, 2);
    expect(s.snapshot().trace.entries.map((e) => [e.seq, e.reason])).toEqual([[1, 12]]);
  });

  it("rejects a bad capacity", () => {
    expect(() => new Stats(0)).toThrow(RangeError);
    expect(() => new Stats(1.5)).toThrow(RangeError);
  });
});

describe("trace ring", () => {
  it("keeps the newest N in order when it wraps", () => {
    const s = new Stats(5);
    for (let i = 1; i <= 13; i++)
      s.crossing(Kind.exit, i, i % 2 === 0 ? Where.core : Where.host, i * 16, 0x1000 + i, i * 4096, i * 10);
    const t = s.snapshot().trace;
    expect(t.recorded).toBe(13);
    expect(t.entries.map((e) => e.seq)).toEqual([9, 10, 11, 12, 13]);
    expect(t.entries.map((e) => e.reason)).toEqual([9, 10, 11, 12, 13]);
    expect(t.entries.map((e) => e.vtime)).toEqual([90, 100, 110, 120, 130]);
    expect(t.entries.map((e) => e.where)).toEqual(["host", "core", "host", "core", "host"]);
    expect(t.entries[0]).toMatchObject({ qualification: 9 * 16, eip: 0x1009, gpa: 9 * 4096 });
    // All 13 were counted even though only 5 are kept.
    expect(s.total(Kind.exit)).toBe(13);
  });

  it("before wrapping keeps all, oldest first; exactly full keeps all", () => {
    const s = new Stats(3);
    s.crossing(Kind.callout, Callout.cli, Where.core, 0, 0, 0, 1);
    s.crossing(Kind.callout, Callout.sti, Where.core, 0, 0, 0, 2);
    expect(s.snapshot().trace.entries.map((e) => e.name)).toEqual(["cli", "sti"]);
    s.crossing(Kind.hypercall, 5, Where.host, 0, 0, 0, 3);
    expect(s.snapshot().trace.entries.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it("stores 32-bit EIP and qualification unsigned", () => {
    const s = new Stats(2);
    s.crossing(Kind.exit, 28, Where.host, 0xffffffff, 0xfffffff0, 0xfee00000, 0);
    const e = s.snapshot().trace.entries[0]!;
    expect(e.eip).toBe(0xfffffff0);
    expect(e.qualification).toBe(0xffffffff);
    expect(e.gpa).toBe(0xfee00000);
  });
});

describe("snapshot diff and merge", () => {
  it("diff gives the counts and new trace entries between two points", () => {
    const s = new Stats(4);
    s.crossing(Kind.exit, 30, Where.host, 0, 0, 0, 1);
    s.count(Kind.guestInstr, 0, Where.core, 100);
    const a = s.snapshot();
    s.crossing(Kind.exit, 30, Where.host, 0, 0, 0, 2);
    s.crossing(Kind.exit, 10, Where.core, 0, 0, 0, 3);
    s.count(Kind.guestInstr, 0, Where.core, 50);
    const b = s.snapshot();
    const d = diffSnapshots(a, b);
    expect(d.counters.map((r) => [r.kind, r.reason, r.core, r.host])).toEqual([
      ["exit", 10, 1, 0],
      ["exit", 30, 0, 1],
      ["guestInstr", 0, 50, 0],
    ]);
    expect(d.totals.exit).toBe(2);
    expect(d.trace.recorded).toBe(2);
    expect(d.trace.entries.map((e) => e.vtime)).toEqual([2, 3]);
    // Diff of a snapshot with itself is empty.
    expect(diffSnapshots(b, b).counters).toEqual([]);
    // The inputs are not modified.
    expect(a.counters.find((r) => r.reason === 30)!.host).toBe(1);
  });

  it("diff refuses snapshots across a reset or in the wrong order", () => {
    const s = new Stats(4);
    s.crossing(Kind.exit, 30, Where.host, 0, 0, 0, 1);
    const a = s.snapshot();
    s.reset();
    const b = s.snapshot();
    expect(() => diffSnapshots(a, b)).toThrow(RangeError);
  });

  it("merge adds counters and keeps the newest trace entries by virtual time", () => {
    const x = new Stats(2);
    const y = new Stats(3);
    x.crossing(Kind.exit, 30, Where.host, 0, 0, 0, 10);
    x.crossing(Kind.exit, 30, Where.host, 0, 0, 0, 30);
    x.count(Kind.walkRef, 1, Where.core, 14);
    y.crossing(Kind.exit, 30, Where.core, 0, 0, 0, 20);
    y.crossing(Kind.hypercall, 11, Where.host, 0, 0, 0, 40);
    y.crossing(Kind.exit, 12, Where.host, 0, 0, 0, 5);
    const m = mergeSnapshots(x.snapshot(), y.snapshot());
    expect(countOf(m, "exit", 30)).toBe(3);
    expect(countOf(m, "exit", 30, "core")).toBe(1);
    expect(countOf(m, "walkRef")).toBe(14);
    expect(m.totals.exit).toBe(4);
    expect(m.totals.hypercall).toBe(1);
    expect(m.trace.capacity).toBe(3);
    expect(m.trace.recorded).toBe(5);
    expect(m.trace.entries.map((e) => e.vtime)).toEqual([20, 30, 40]);
    expect(m.counters.map((r) => r.kind)).toEqual(["exit", "exit", "hypercall", "walkRef"]);
  });
});
