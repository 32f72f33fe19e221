// The tiny Linux with virtio-console as its console (console=hvc0, no serial console): the
// kernel's messages, /init's marker and the shell's prompt come out of hvc0, and a command typed
// into hvc0 runs. Issue 10 asks that the guest can use hvc0 as its console.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { VirtioConsole } from "../../devices/virtio/console.js";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

const guest = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/linux/${name}`, import.meta.url)));

describe("virtio-console as the guest's console", () => {
  it("boots to a shell on hvc0 and runs a command typed there", async () => {
    let text = "";
    let serial = "";
    const hvc = new VirtioConsole((bytes) => {
      text += String.fromCharCode(...bytes);
    });
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 64 << 20,
      pci: { virtio: [hvc] },
      onSerial: (com, b) => {
        if (com === 1) serial += String.fromCharCode(b);
      },
    });
    loadLinux(vm.cpu, { kernel: guest("bzImage"), initrd: guest("initramfs.cpio.gz"), cmdline: "console=hvc0" });
    const until = (want: string, from = 0) => {
      for (let i = 0; i < 2000 && !text.includes(want, from); i++) {
        const stop = vm.run(2_000_000);
        if (stop.kind !== "limit") throw new Error(`stopped: ${JSON.stringify(stop)}\n${text.slice(-500)}`);
      }
      if (!text.includes(want, from)) throw new Error(`no '${want}' on hvc0; it shows:\n${text.slice(-800)}`);
    };
    until("~ # ");
    expect(text).toContain("x86lab: init ok, Linux");
    const from = text.length;
    hvc.send("echo hvc0-says-$((6*7))\r");
    until("hvc0-says-42", from);
    // Nothing went to the serial port: hvc0 is the console.
    expect(serial).not.toContain("init ok");
  });
});
