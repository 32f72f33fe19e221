// What the page remembers (settings.ts) and the trace table's qualification decoding.

import { describe, expect, it } from "vitest";
import { commandDone } from "../../web/src/machine.js";
import { decodeQualification } from "../../web/src/qualification.js";
import { defaultSettings, loadSettings, saveSettings, withQuery } from "../../web/src/settings.js";

function memoryStorage(init?: string) {
  const m = new Map<string, string>();
  if (init !== undefined) m.set("x86lab.settings.v1", init);
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
}

describe("settings", () => {
  it("round-trips through storage", () => {
    const st = memoryStorage();
    const s = {
      ...defaultSettings(),
      guest: "nanobench",
      mode: "hvm" as const,
      mmu: "shadow" as const,
      lang: "ko" as const,
    };
    saveSettings(s, st);
    expect(loadSettings(st)).toEqual({ ...s, memMiB: 64 });
  });

  it("brings back an upload only when it was kept in the browser", () => {
    const kept = loadSettings(memoryStorage(JSON.stringify({ guest: "upload", kept: "hda:disk.img", mode: "bt" })));
    expect([kept.guest, kept.kept, kept.mode]).toEqual(["upload", "hda:disk.img", "bt"]);
    const gone = loadSettings(memoryStorage(JSON.stringify({ guest: "upload", kept: "", mode: "bt" })));
    expect([gone.guest, gone.kept]).toEqual(["linux", ""]);
    // A built-in guest named in the address wins, and forgets the kept medium.
    const linked = withQuery(kept, "?guest=sensitive");
    expect([linked.guest, linked.kept]).toEqual(["sensitive", ""]);
  });

  it("falls back field by field on malformed or stale entries", () => {
    expect(loadSettings(memoryStorage("{not json"))).toEqual(loadSettings(memoryStorage()));
    const s = loadSettings(memoryStorage(JSON.stringify({ guest: "gone", mode: "warp", lang: "ko", memMiB: 3 })));
    expect(s.guest).toBe("linux");
    expect(s.mode).toBe("native");
    expect(s.lang).toBe("ko");
    expect(s.memMiB).toBe(64);
  });

  it("keeps a mode the guest runs under and an MMU the mode has", () => {
    // The tiny Linux does not boot under trap; nanobench-pv needs pv (with EPT).
    expect(loadSettings(memoryStorage(JSON.stringify({ guest: "linux", mode: "trap" }))).mode).toBe("native");
    const pv = loadSettings(memoryStorage(JSON.stringify({ guest: "nanobench-pv", mode: "bt", mmu: "shadow" })));
    expect([pv.mode, pv.mmu]).toEqual(["pv", "ept"]);
  });

  it("takes overrides from the address", () => {
    const s = withQuery(defaultSettings(), "?guest=sensitive&mode=trap&lang=ko");
    expect([s.guest, s.mode, s.mmu, s.lang]).toEqual(["sensitive", "trap", "shadow", "ko"]);
    expect(withQuery(defaultSettings(), "?mode=hvm&mmu=shadow").mmu).toBe("shadow");
    expect(withQuery(defaultSettings(), "?guest=nope&mode=nope").guest).toBe("linux");
  });
});

describe("exit qualifications", () => {
  const exit = (reason: number, qualification: number) => decodeQualification({ kind: "exit", reason, qualification });
  it("decodes I/O, control-register, EPT and page-fault exits as the SDM lays them out", () => {
    expect(exit(30, (0x3f8 << 16) | 0)).toBe("out port 0x03f8, 1 byte");
    expect(exit(30, (0x60 << 16) | 8 | 1)).toBe("in port 0x0060, 2 bytes");
    expect(exit(30, (0x1f0 << 16) | 0x20 | 0x10 | 8 | 3)).toBe("rep ins port 0x01f0, 4 bytes");
    expect(exit(28, (3 << 8) | 3)).toBe("mov cr3, ebx");
    expect(exit(28, (1 << 4) | (0 << 8) | 3)).toBe("mov eax, cr3");
    expect(exit(28, 2 << 4)).toBe("clts");
    expect(exit(48, 2)).toBe("write");
    expect(exit(48, 5)).toBe("read+fetch");
    expect(exit(0, 0xc0001000)).toBe("linear 0xc0001000");
    expect(decodeQualification({ kind: "callout", reason: 3, qualification: 0 })).toBe("");
  });
});

describe("measuring one command", () => {
  it("ends when the prompt is back after the command's own echo line", () => {
    expect(commandDone("ls /proc")).toBe(false); // still echoing
    expect(commandDone("ls /proc\r\n~ # ")).toBe(true);
    expect(commandDone("ls /proc\r\n1\r\n2\r\n")).toBe(false); // output, no prompt yet
    expect(commandDone("ls /proc\r\n1\r\n2\r\n/tmp $ ")).toBe(true);
    expect(commandDone("~ # ls")).toBe(false);
    expect(commandDone("cat /proc/uptime\r\n1.5 0.2\r\n~ # \x1b[6n")).toBe(true); // busybox asks for the cursor
  });
});
