// Domain definitions as the command line's flags: each element maps to its flag, the flags parse
// with the command line's own parser (vmm/node/args.ts), and what this machine cannot honour is
// an error naming the element.

import { describe, expect, it } from "vitest";
import { domainArgv } from "../../../manage/libvirt/domain-argv.js";
import { DomainXmlError, parseDomainXml } from "../../../manage/libvirt/domain-xml.js";
import { parseArgs } from "../../../vmm/node/args.js";

const places = {
  qmp: "/run/d.qmp",
  console: "/run/d.console",
  network: (n: string) => (n === "default" ? "/run/net-default.sock" : undefined),
  volume: (p: string, v: string) => (p === "default" && v === "c.qcow2" ? `/images/${v}` : undefined),
};

function domain(inner: string, attrs = "type='kvm'"): string {
  return `<domain ${attrs}><name>d</name><memory unit='MiB'>128</memory><os><type arch='i686'>hvm</type>
    <kernel>/k/bzImage</kernel><initrd>/k/initrd</initrd><cmdline>console=ttyS0</cmdline></os>${inner}</domain>`;
}

const argv = (xml: string, extra = {}) => domainArgv(parseDomainXml(xml), { ...places, ...extra });

describe("domain XML as command-line flags", () => {
  it("maps a domain with every device kind", () => {
    const a = argv(
      domain(`<metadata><x86lab:machine xmlns:x86lab='urn:x86lab:domain:1' mode='bt' jit='off' clock='realtime'/></metadata>
      <clock offset='localtime'/><on_reboot>destroy</on_reboot>
      <devices>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='/i/a.qcow2'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver type='raw'/><source file='/i/b.img'/><target dev='hdb' bus='ide'/><transient/></disk>
        <disk type='volume' device='disk'><source pool='default' volume='c.qcow2'/><target dev='vdb'/><readonly/></disk>
        <disk type='file' device='cdrom'><source file='/i/cd.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
        <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/><model type='virtio'/></interface>
        <interface type='user'><model type='ne2k_pci'/></interface>
        <serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>
        <console type='file'><source path='/log/hvc0'/><target type='virtio' port='0'/></console>
        <memballoon model='virtio'/><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
        <video><model type='vga'/></video>
        <controller type='usb' model='none'/><controller type='pci' model='pci-root'/><input type='mouse' bus='ps2'/>
      </devices>`),
    );
    expect(a).toEqual([
      "--mode",
      "bt",
      "--jit",
      "off",
      "--clock",
      "realtime",
      "-m",
      "128",
      "-rtc",
      "base=localtime",
      "-no-reboot",
      "-kernel",
      "/k/bzImage",
      "-initrd",
      "/k/initrd",
      "-append",
      "console=ttyS0",
      "-drive",
      "file=/i/a.qcow2,if=virtio,format=qcow2,snapshot=off,id=disk0",
      "-drive",
      "file=/i/b.img,if=ide,format=raw,index=1,snapshot=on,id=disk1",
      "-drive",
      "file=/images/c.qcow2,if=virtio,readonly=on,snapshot=off,id=disk2",
      "-drive",
      "file=/i/cd.iso,if=ide,media=cdrom,index=2,snapshot=off,id=disk3",
      "-netdev",
      "stream,id=net0,server=off,addr.type=unix,addr.path=/run/net-default.sock",
      "-device",
      "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01",
      "-netdev",
      "user,id=net1",
      "-device",
      "ne2k_pci,netdev=net1",
      "-chardev",
      "file,id=console0,path=/log/hvc0",
      "-device",
      "virtio-serial-pci",
      "-device",
      "virtconsole,chardev=console0",
      "-device",
      "virtio-balloon-pci",
      "-device",
      "virtio-rng-pci",
      "-serial",
      "unix:/run/d.console,server,wait=off",
      "-monitor",
      "none",
      "-qmp",
      "unix:/run/d.qmp,server,wait=off",
    ]);
  });

  it("gives flags the command line's own parser takes", () => {
    const a = argv(domain("<devices><serial type='pty'/><memballoon model='virtio'/></devices>"), {
      paused: true,
      incoming: "unix:/run/d.incoming",
    });
    const parsed = parseArgs(a);
    expect(parsed.mode).toBe("hvm");
    expect(parsed.memMiB).toBe(128);
    expect(parsed.serialSocket).toBe("/run/d.console");
    expect(parsed.qmp).toEqual([{ kind: "unix", path: "/run/d.qmp" }]);
    expect(parsed.incomingLive).toBe("unix:/run/d.incoming");
    expect(parsed.startPaused).toBe(true);
    expect(parsed.machine.devices.map((d) => d.driver)).toEqual(["virtio-balloon-pci"]);
  });

  it("boots from the disks through the firmware without a kernel", () => {
    const xml = `<domain type='qemu'><name>d</name><memory unit='MiB'>64</memory><os><type>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os>
      <devices><disk type='file' device='cdrom'><source file='/i/cd.iso'/><target dev='hdc'/></disk></devices></domain>`;
    const a = argv(xml);
    expect(a.slice(0, 4)).toEqual(["--mode", "native", "-m", "64"]);
    expect(a).toContain("order=dc");
    expect(parseArgs(a).firmwareBoot).toBe(true);
  });

  const refused: [string, string, string?][] = [
    ["<vcpu>2</vcpu>", "<domain><vcpu>: 2: this machine has one CPU"],
    [
      "<features><acpi/></features>",
      "<domain><features><acpi>: this machine has no ACPI (shutdown powers it off without asking the guest): remove it",
    ],
    [
      "<cpu mode='custom'><model>Skylake-Client</model></cpu>",
      "<domain><cpu><model>: 'Skylake-Client': the CPU is fixed (family 6 model 3); use mode='host-passthrough' or no <cpu>",
    ],
    [
      "<currentMemory unit='MiB'>64</currentMemory>",
      "<domain><currentMemory>: differs from <memory>: this machine cannot start with its balloon inflated",
    ],
    [
      "<clock offset='variable' adjustment='3600'/>",
      "<domain><clock>: offset='variable': this machine has utc and localtime",
    ],
    [
      "<on_poweroff>restart</on_poweroff>",
      "<domain><on_poweroff>: restart: the machine's process ends when it powers off (destroy)",
    ],
    [
      "<devices><disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='sata'/></disk></devices>",
      "<domain><devices><disk><target>: bus='sata' (dev='sda'): this machine has ide and virtio",
    ],
    [
      "<devices><disk type='file' device='disk'><driver type='vmdk'/><source file='/a'/><target dev='vda'/></disk></devices>",
      "<domain><devices><disk><driver>: type='vmdk': this machine reads raw and qcow2",
    ],
    [
      "<devices><disk type='file' device='disk'><source file='/a'/><target dev='hde' bus='ide'/></disk></devices>",
      "<domain><devices><disk><target>: dev='hde': IDE targets are hda, hdb, hdc, hdd",
    ],
    [
      "<devices><disk type='file' device='floppy'><source file='/a'/><target dev='fda'/></disk></devices>",
      "<domain><devices><disk>: device='floppy': this machine has disks and CD-ROMs",
    ],
    [
      "<devices><disk type='volume' device='disk'><source pool='default' volume='missing'/><target dev='vda'/></disk></devices>",
      "",
    ],
    [
      "<devices><interface type='network'><source network='other'/></interface></devices>",
      "<domain><devices><interface><source>: network 'other' is not active (net-start it)",
    ],
    [
      "<devices><interface type='bridge'><source bridge='br0'/></interface></devices>",
      "<domain><devices><interface>: type='bridge': this machine has network and user interfaces",
    ],
    [
      "<devices><interface type='user'><model type='e1000'/></interface></devices>",
      "<domain><devices><interface><model>: type='e1000': this machine has virtio and ne2k_pci",
    ],
    [
      "<devices><interface type='user'><bandwidth/></interface></devices>",
      "<domain><devices><interface><bandwidth>: is not supported by this machine",
    ],
    [
      "<devices><serial type='pty'><target port='1'/></serial></devices>",
      "<domain><devices><serial><target>: port='1': COM1 (port 0) is the one serial port here",
    ],
    [
      "<devices><serial type='pty'/><serial type='null'/></devices>",
      "<domain><devices><serial> (#2): a second serial port: this machine gives COM1 only",
    ],
    [
      "<devices><console type='pty'><target type='virtio'/></console></devices>",
      "<domain><devices><console>: type='pty' on a virtio target: this machine has file and null there (use the serial console for a pty)",
    ],
    [
      "<devices><graphics type='vnc'/></devices>",
      "<domain><devices><graphics>: there is no graphical display: use the serial console (virsh console)",
    ],
    ["<devices><sound model='ich6'/></devices>", "<domain><devices><sound>: is not a device this machine has"],
    [
      "<devices><controller type='usb' model='qemu-xhci'/></devices>",
      "<domain><devices><controller>: type='usb': this machine has pci, ide and virtio-serial controllers (usb only as model='none')",
    ],
    [
      "<devices><video><model type='qxl'/></video></devices>",
      "<domain><devices><video><model>: type='qxl': this machine has a VGA (text mode)",
    ],
    [
      "<devices><rng model='virtio'><backend model='egd'/></rng></devices>",
      "<domain><devices><rng><backend>: model='egd': this machine has random and builtin",
    ],
    [
      "<devices><memballoon model='xen'/></devices>",
      "<domain><devices><memballoon>: model='xen': this machine has virtio (or none)",
    ],
    ["<sysinfo type='smbios'/>", "<domain><sysinfo>: is not supported by this machine"],
  ];
  it.each(refused)("refuses %s", (inner, message) => {
    const xml =
      inner.startsWith("<vcpu>") || inner.startsWith("<currentMemory")
        ? domain("").replace("</memory>", `</memory>${inner}`)
        : domain(inner);
    let err: unknown;
    try {
      argv(xml);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainXmlError);
    if (message) expect((err as Error).message).toBe(message);
    else expect((err as Error).message).toBe("<domain><devices><disk><source>: no volume 'missing' in pool 'default'");
  });

  it("refuses 64-bit and q35 guests, and other hypervisors' domains", () => {
    const os = (t: string) =>
      `<domain type='kvm'><name>d</name><memory unit='MiB'>64</memory><os>${t}<kernel>/k</kernel></os></domain>`;
    expect(() => argv(os("<type arch='x86_64'>hvm</type>"))).toThrow(
      "<domain><os><type>: arch='x86_64': the CPU is 32-bit (i686)",
    );
    expect(() => argv(os("<type machine='q35'>hvm</type>"))).toThrow(
      "<domain><os><type>: machine='q35': this machine is the i440FX pc",
    );
    expect(() => argv(os("<type>xen</type>"))).toThrow("<domain><os><type>: 'xen': this machine runs hvm guests");
    expect(() => argv(domain("", "type='xen'"))).toThrow(
      "<domain>: type='xen': use kvm (the hvm mode) or qemu (native)",
    );
    expect(() => argv(domain("").replace("unit='MiB'>128", "unit='KiB'>1000"))).toThrow(
      "<domain><memory>: 1000 KiB is not a whole number of MiB (-m takes MiB)",
    );
  });
});
