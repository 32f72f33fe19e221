// The VGA model under Debian's SeaBIOS VGA BIOS (vgabios-isavga.bin, the build QEMU's isa-vga
// uses): its POST, then int 10h mode 3, teletype output past the bottom row (the BIOS scrolls
// text memory) and a cursor move, on the real CPU core. The ROM is the committed
// guests/seabios/vgabios.bin (Debian's vgabios-isavga.bin).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MmioBus } from "../../devices/bus/mmio-bus.js";
import { type AccessSize, PortBus } from "../../devices/bus/port-bus.js";
import { DebugConsole } from "../../devices/misc-ports.js";
import { Vga } from "../../devices/vga/vga.js";
import { Cpu, REG } from "../../vmm/cpu.js";
import { PHYS_MMIO } from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

const ROM = new URL("../../guests/seabios/vgabios.bin", import.meta.url);

describe("SeaBIOS VGA BIOS on the VGA model", () => {
  it("sets mode 3, loads the font into plane 2, prints, scrolls and moves the cursor", async () => {
    // just the CPU, the VGA and SeaBIOS' debug port: nothing else is needed
    let log = "";
    const ports = new PortBus();
    const mmio = new MmioBus();
    new DebugConsole(0x402, (b) => {
      log += String.fromCharCode(b);
    }).attach(ports);
    const vga = new Vga();
    vga.attach(ports, mmio);
    const cpu = await Cpu.create(loadCoreModule(), 16 << 20, {
      ioRead: (port, size) => ports.read(port, size as AccessSize),
      ioWrite: (port, size, value) => ports.write(port, size as AccessSize, value),
      mmioRead: (addr, size) => mmio.read(addr, size as AccessSize),
      mmioWrite: (addr, size, value) => mmio.write(addr, size as AccessSize, value),
    });
    cpu.mapPhysical(0xa0000, 0x20000, PHYS_MMIO);
    cpu.writePhysical(0xc0000, new Uint8Array(readFileSync(ROM)));

    let text = "Hi \xc9\xcd\xbb\r\n";
    for (let i = 0; i < 30; i++) text += `line ${i}\r\n`;
    text += "end";
    const code = [0x9a, 0x03, 0x00, 0x00, 0xc0]; // call far c000:0003 (the ROM's init)
    code.push(0xb8, 0x03, 0x00, 0xcd, 0x10); // mov ax,3; int 10h
    for (const ch of text) code.push(0xb8, ch.charCodeAt(0), 0x0e, 0xbb, 0x07, 0x00, 0xcd, 0x10); // AH=0Eh teletype
    code.push(0xb4, 0x02, 0xb7, 0x00, 0xba, 0x0a, 0x05, 0xcd, 0x10); // AH=02h: row 5, column 10
    code.push(0xfa, 0xf4); // cli; hlt
    cpu.writePhysical(0x7c00, new Uint8Array(code));
    for (let s = 0; s < 6; s++) cpu.setRealSegment(s, 0);
    cpu.setReg(REG.ESP, 0x7000);
    cpu.eip = 0x7c00;
    let reason = cpu.run(1_000_000);
    for (let i = 0; i < 50 && reason === "budget"; i++) reason = cpu.run(1_000_000);
    expect(reason).toBe("halt"); // the final cli; hlt
    expect(cpu.eip).toBe(0x7c00 + code.length);
    expect(log).toContain("No VBE DISPI interface detected, falling back to stdvga");

    const s = vga.textScreen();
    expect([s.cols, s.rows, s.enabled, s.graphics]).toEqual([80, 25, true, false]);
    expect(vga.misc).toBe(0x67);
    expect(s.lines[0]!.trimEnd()).toBe("line 6");
    expect(s.lines[23]!.trimEnd()).toBe("line 29");
    expect(s.lines[24]!.trimEnd()).toBe("end");
    expect(s.attrs[0]).toBe(0x07);
    expect(s.cursor).toMatchObject({ row: 5, col: 10, visible: true });
    // the 8x16 'A' the BIOS loaded into plane 2
    const glyph = Array.from({ length: 16 }, (_, i) => vga.vram[(0x41 * 32 + i) * 4 + 2]);
    expect(glyph).toEqual([0, 0, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe, 0xc6, 0xc6, 0xc6, 0xc6, 0, 0, 0, 0]);
  });
});
