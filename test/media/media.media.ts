// Real-world boot media from Debian packages (guests/fetch.sh puts them in
// $X86LAB_CACHE/media, default ~/.cache/x86lab/media): memtest86+ must start its first pass on
// the serial console; the GRUB hybrid ISO must boot from the CD-ROM through SeaBIOS to the tiny
// kernel's shell; the SYSLINUX disk must do the same from IDE.

import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CowDisk } from "../../devices/storage/block.js";
import { loadKernel } from "../../vmm/boot/kernel.js";
import { installFirmware } from "../../vmm/firmware.js";
import { fileSource } from "../../vmm/node/image-file.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

const cache = process.env.X86LAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "x86lab");
const media = (name: string): string => {
  const p = join(cache, "media", name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run guests/fetch.sh first (it builds the media into ${cache})`);
  return p;
};
const rom = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/seabios/${name}`, import.meta.url)));

async function machine() {
  const out = { serial: "" };
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 128 << 20,
    onSerial: (com, b) => {
      if (com === 1) out.serial += String.fromCharCode(b);
    },
  });
  return { vm, out };
}

/** Runs until the shell prompt, sends uname -a, and expects the tiny kernel's answer. */
function shellAnswers(vm: Vm, out: { serial: string }, limit: number): void {
  let sent = false;
  const stop = vm.run(limit, () => {
    if (!sent && out.serial.includes("~ # ")) {
      sent = true;
      vm.devices.com1.receive("uname -a\r");
    }
    if (sent && /i686 GNU\/Linux/.test(out.serial)) vm.requestStop({ kind: "stopped" });
  });
  expect(stop.kind, out.serial.slice(-800)).toBe("stopped");
  expect(out.serial).toMatch(/Linux tiny 6\.1\.\d+ .* i686 GNU\/Linux/);
}

describe("real-world media (guests/fetch.sh)", () => {
  it("memtest86+ starts its first pass on the serial console", async () => {
    const { vm, out } = await machine();
    loadKernel(vm.cpu, new Uint8Array(readFileSync(media("memtest86+ia32.bin"))), undefined, "console=ttyS0,115200");
    const stop = vm.run(8_000_000_000, () => {
      if (/\[Address test, walking ones/.test(out.serial)) vm.requestStop({ kind: "stopped" });
    });
    expect(stop.kind, out.serial.slice(-800)).toBe("stopped");
    expect(out.serial).toContain("Memtest86+ v6");
  });

  it("the GRUB ISO boots from the CD-ROM through SeaBIOS to the tiny kernel's shell", async () => {
    const { vm, out } = await machine();
    installFirmware(vm, {
      bios: rom("bios.bin"),
      vgaBios: rom("vgabios.bin"),
      bootLetters: "d",
      cdrom: new CowDisk(fileSource(media("grub.iso"), "CD image"), { granularity: 2048, readOnly: true }),
    });
    shellAnswers(vm, out, 4_000_000_000);
  });

  it("the SYSLINUX disk boots from IDE through SeaBIOS to the tiny kernel's shell", async () => {
    const { vm, out } = await machine();
    installFirmware(vm, {
      bios: rom("bios.bin"),
      vgaBios: rom("vgabios.bin"),
      bootLetters: "c",
      hda: new CowDisk(fileSource(media("syslinux.img"), "disk image")),
    });
    shellAnswers(vm, out, 2_000_000_000);
  });
});
