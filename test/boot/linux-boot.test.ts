// The tiny Linux (guests/linux) boots through the Linux boot protocol to its busybox shell on
// COM1 and answers a command, on the icount clock (same instructions, same output).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BootImageError, loadLinux, parseSetupHeader } from "../../vmm/boot/linux.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

const guest = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/linux/${name}`, import.meta.url)));

/** Runs until the serial output contains `text`, or fails after `limit` instructions. */
function runUntil(vm: Vm, out: { text: string }, text: string, limit: number): void {
  const start = vm.cpu.instructions;
  while (!out.text.includes(text)) {
    if (Number(vm.cpu.instructions - start) > limit) {
      throw new Error(`no '${text}' after ${limit} instructions; output ends with:\n${out.text.slice(-600)}`);
    }
    const stop = vm.run(5_000_000);
    if (stop.kind !== "limit") throw new Error(`guest stopped: ${JSON.stringify(stop)}\n${out.text.slice(-600)}`);
  }
}

describe("tiny Linux boot (direct boot, icount clock)", () => {
  it("reaches the shell and answers uname -a over the serial line", async () => {
    const out = { text: "" };
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 64 << 20,
      onSerial: (com, b) => {
        if (com === 1) out.text += String.fromCharCode(b);
      },
    });
    loadLinux(vm.cpu, {
      kernel: guest("bzImage"),
      initrd: guest("initramfs.cpio.gz"),
      cmdline: "console=ttyS0 panic=-1",
    });
    runUntil(vm, out, "x86lab: init ok", 1_500_000_000);
    runUntil(vm, out, "~ # ", 500_000_000);
    expect(out.text).toContain("Linux version 6.1");
    vm.devices.com1.receive("uname -a\r");
    runUntil(vm, out, "i686 GNU/Linux", 300_000_000);
    expect(out.text).toMatch(/Linux tiny 6\.1\.\d+ .* i686 GNU\/Linux/);
    // PCI under direct boot: configuration mechanism #1 found, the bus probed, the functions
    // bound (the VMM did the firmware's PCI setup: BAR4 of the IDE function at 0xC000).
    expect(out.text).toContain("PCI: Using configuration type 1 for base access");
    expect(out.text).not.toContain("No config space access function found");
    expect(out.text).not.toContain("System does not support PCI");
    expect(out.text).toContain("pci 0000:00:01.1: [8086:7010] type 00 class 0x010180");
    expect(out.text).toContain("ata2: PATA max MWDMA2 cmd 0x170 ctl 0x376 bmdma 0xc008 irq 15");
    vm.devices.com1.receive("ls /sys/bus/pci/devices; cat /sys/bus/pci/devices/0000:00:01.1/vendor\r");
    runUntil(vm, out, "0x8086", 300_000_000);
    expect(out.text).toContain("0000:00:00.0  0000:00:01.0  0000:00:01.1");
  });
});

describe("Linux boot protocol loader", () => {
  it("reads the committed kernel's setup header", () => {
    const hdr = parseSetupHeader(guest("bzImage"));
    expect(hdr.version).toBeGreaterThanOrEqual(0x0202);
    expect(hdr.code32Start).toBe(0x100000);
  });

  it("refuses what is not a bzImage with a clear error", () => {
    expect(() => parseSetupHeader(new Uint8Array(8192))).toThrow(BootImageError);
    expect(() => parseSetupHeader(new Uint8Array(100))).toThrow(/too small/);
    const noHdr = new Uint8Array(8192);
    noHdr[0x1fe] = 0x55;
    noHdr[0x1ff] = 0xaa;
    expect(() => parseSetupHeader(noHdr)).toThrow(/HdrS/);
    const truncated = guest("bzImage").slice(0, 0x1000);
    expect(() => parseSetupHeader(truncated)).toThrow(/truncated/);
  });

  it("refuses a VM too small for the kernel instead of corrupting memory", async () => {
    const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 16 << 20 });
    expect(() => loadLinux(vm.cpu, { kernel: guest("bzImage") })).toThrow(/MiB of RAM/);
  });
});

describe("Vm run loop", () => {
  it("reports a triple fault as a shutdown with the last exception", async () => {
    const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 1 << 20 });
    // Real mode, IDT limit 0: INT3 cannot be delivered (#GP), nor can #GP (#DF), nor #DF.
    vm.cpu.writePhysical(0x7c00, Uint8Array.of(0xcc));
    vm.cpu.setRealSegment(1, 0);
    vm.cpu.eip = 0x7c00;
    vm.cpu.setIdtr(0, 0);
    const stop = vm.run(1000);
    expect(stop.kind).toBe("shutdown");
    if (stop.kind === "shutdown") {
      expect(stop.message).toBe("triple fault");
      // INT3 -> #GP (beyond the IDT limit) -> #GP again -> #DF, whose delivery fails too.
      expect(stop.detail).toMatch(/last exception: vector 8, error code 0x0/);
    }
  });
});
