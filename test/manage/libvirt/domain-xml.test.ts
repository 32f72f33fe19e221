// Domain XML in and out: a domain as virt-install writes one (with elements and attributes this
// machine does not know) survives parse -> format -> parse and a JSON round trip unchanged, and
// bad XML is refused with a message naming the element and the problem.

import { describe, expect, it } from "vitest";
import { DomainXmlError, formatDomainXml, parseDomainXml } from "../../../manage/libvirt/domain-xml.js";

const VIRT_INSTALL_XML = `<?xml version="1.0"?>
<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>web1</name>
  <uuid>3E3FCE454F534FA7BB3211F34168B82B</uuid>
  <title>A web server</title>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
    <x86lab:machine xmlns:x86lab="urn:x86lab:domain:1" mode="pv" jit="off" clock="realtime"/>
  </metadata>
  <memory unit='GiB'>1</memory>
  <currentMemory unit='MiB'>512</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='i686' machine='pc-i440fx-7.2'>hvm</type>
    <boot dev='cdrom'/>
    <boot dev='hd'/>
    <bootmenu enable='no'/>
  </os>
  <features><acpi/><apic/><vmport state='off'/></features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <pm><suspend-to-mem enabled='no'/></pm>
  <devices>
    <emulator>/usr/bin/qemu-system-i386</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/web1.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/srv/debian.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <controller type='usb' model='qemu-xhci' ports='15'/>
    <interface type='network'>
      <mac address='52:54:00:AB:CD:EF'/>
      <source network='default' portgroup='web'/>
      <model type='ne2k_pci'/>
      <link state='up'/>
    </interface>
    <serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <input type='tablet' bus='usb'/>
    <graphics type='vnc' port='-1' autoport='yes'><listen type='address'/></graphics>
    <video><model type='vga' vram='16384' heads='1' primary='yes'/></video>
    <memballoon model='virtio'><stats period='5'/></memballoon>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend><rate bytes='1024' period='1000'/></rng>
  </devices>
  <qemu:commandline><qemu:arg value='-no-hpet'/></qemu:commandline>
</domain>
`;

describe("domain XML", () => {
  it("reads the elements this machine knows", () => {
    const d = parseDomainXml(VIRT_INSTALL_XML);
    expect(d.name).toBe("web1");
    expect(d.uuid).toBe("3e3fce45-4f53-4fa7-bb32-11f34168b82b");
    expect(d.memoryKiB).toBe(1024 * 1024);
    expect(d.currentMemoryKiB).toBe(512 * 1024);
    expect(d.os).toMatchObject({ type: "hvm", arch: "i686", machine: "pc-i440fx-7.2", boot: ["cdrom", "hd"] });
    expect(d.x86lab).toEqual({ mode: "pv", jit: false, clock: "realtime" });
    const disks = d.devices.filter((x) => x.kind === "disk");
    expect(disks).toMatchObject([
      { device: "disk", format: "qcow2", file: "/var/lib/libvirt/images/web1.qcow2", target: "vda", bus: "virtio" },
      { device: "cdrom", format: "raw", target: "hdc", bus: "ide", readonly: true },
    ]);
    expect(d.devices.find((x) => x.kind === "interface")).toMatchObject({
      type: "network",
      network: "default",
      portgroup: "web",
      mac: "52:54:00:ab:cd:ef",
      model: "ne2k_pci",
    });
    expect(d.devices.find((x) => x.kind === "rng")).toMatchObject({
      model: "virtio",
      backend: { model: "random", source: "/dev/urandom" },
    });
  });

  it("keeps unknown elements and attributes through a round trip", () => {
    const d = parseDomainXml(VIRT_INSTALL_XML);
    const xml = formatDomainXml(d);
    for (const kept of [
      "<libosinfo:os id='http://debian.org/debian/12'/>",
      "<bootmenu enable='no'/>",
      "discard='unmap'",
      "<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>",
      "<controller type='usb' model='qemu-xhci' ports='15'/>",
      "<link state='up'/>",
      "<model name='isa-serial'/>",
      "<target type='virtio' name='org.qemu.guest_agent.0'/>",
      "<listen type='address'/>",
      "vram='16384' heads='1' primary='yes'",
      "<stats period='5'/>",
      "<rate bytes='1024' period='1000'/>",
      "<qemu:arg value='-no-hpet'/>",
      "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'",
      "<suspend-to-mem enabled='no'/>",
      "<timer name='hpet' present='no'/>",
      "<cpu mode='host-passthrough' check='none' migratable='on'/>",
      "<vcpu placement='static'>1</vcpu>",
    ])
      expect(xml).toContain(kept);
    const again = parseDomainXml(xml);
    expect(again).toEqual(d);
    expect(formatDomainXml(again)).toBe(xml);
    // The engine stores the definition as JSON.
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it("writes the running domain's id and libvirt's units", () => {
    const xml = formatDomainXml(parseDomainXml(VIRT_INSTALL_XML), { id: 7 });
    expect(xml.split("\n")[0]).toBe(
      "<domain type='kvm' id='7' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>",
    );
    expect(xml).toContain("<memory unit='KiB'>1048576</memory>");
    expect(xml).toContain("<currentMemory unit='KiB'>524288</currentMemory>");
  });

  const bad: [string, string | RegExp][] = [
    ["<domain type='kvm'><name>x</name>", /not well-formed XML at line 1, column \d+/],
    ["<network><name>x</name></network>", "the root element is <network>, not <domain>"],
    ["<domain><name>x</name></domain>", "<domain>: type= is missing (kvm or qemu)"],
    ["<domain type='kvm'><memory>1</memory><os><type>hvm</type></os></domain>", "<domain>: <name> is missing"],
    ["<domain type='kvm'><name>x</name><os><type>hvm</type></os></domain>", "<domain>: <memory> is missing"],
    [
      "<domain type='kvm'><name>x</name><memory unit='parsecs'>1</memory><os><type>hvm</type></os></domain>",
      /<domain><memory>: unit='parsecs' is not a unit/,
    ],
    [
      "<domain type='kvm'><name>x</name><memory>64M</memory><os><type>hvm</type></os></domain>",
      "<domain><memory>: '64M' is not a whole number",
    ],
    [
      "<domain type='kvm'><name>x</name><uuid>1234</uuid><memory>1</memory><os><type>hvm</type></os></domain>",
      "<domain><uuid>: '1234' is not a UUID",
    ],
    [
      "<domain type='kvm'><name>x</name><memory>1</memory><currentMemory>2</currentMemory><os><type>hvm</type></os></domain>",
      "<domain><currentMemory>: larger than <memory>",
    ],
    [
      "<domain type='kvm'><name>x</name><memory>1</memory><vcpu>zero</vcpu><os><type>hvm</type></os></domain>",
      "<domain><vcpu>: 'zero' is not a positive number",
    ],
    ["<domain type='kvm'><name>x</name><memory>1</memory></domain>", "<domain>: <os> is missing"],
    [
      "<domain type='kvm'><name>x</name><memory>1</memory><os><type>hvm</type><boot dev='usb'/></os></domain>",
      "<domain><os><boot dev>: 'usb' is not one of hd, cdrom, network, fd",
    ],
    [
      "<domain type='kvm'><name>x</name><memory>1</memory><os><type>hvm</type></os><devices><disk type='file'><source file='a'/></disk></devices></domain>",
      "<domain><devices><disk>: <target dev=...> is missing",
    ],
    [
      "<domain type='kvm'><name>x</name><memory>1</memory><os><type>hvm</type></os><devices><disk/><disk><target/></disk></devices></domain>",
      /<domain><devices><disk>: <target dev=\.\.\.> is missing/,
    ],
    [
      "<domain type='kvm'><name>x</name><memory>1</memory><os><type>hvm</type></os><devices><interface type='network'/></devices></domain>",
      "<domain><devices><interface>: <source network=...> is missing",
    ],
    [
      "<domain type='kvm'><name>x</name><memory>1</memory><os><type>hvm</type></os><devices><interface type='user'><mac address='zz'/></interface></devices></domain>",
      "<domain><devices><interface><mac>: address='zz' is not a MAC address",
    ],
    [
      "<domain type='kvm'><name>x</name><name>y</name><memory>1</memory><os><type>hvm</type></os></domain>",
      "<domain>: <name> given 2 times; give it once",
    ],
    [
      "<domain type='kvm'><name>x</name><memory>1</memory><os><type>hvm</type></os><metadata><x86lab:machine xmlns:x86lab='urn:x86lab:domain:1' mode='kvm'/></metadata></domain>",
      "<domain><metadata><x86lab:machine> mode: 'kvm' is not one of native, trap, bt, hvm, pv",
    ],
  ];
  it.each(bad)("refuses %s", (xml, message) => {
    let err: unknown;
    try {
      parseDomainXml(xml);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainXmlError);
    if (typeof message === "string") expect((err as Error).message).toBe(message);
    else expect((err as Error).message).toMatch(message);
  });
});
