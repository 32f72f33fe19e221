// Disk I/O, full vs para virtualization: the tiny Linux reads (and writes) a disk with dd through
// the emulated IDE controller (PIO, what ata_piix does with this model) and through virtio-blk,
// under each virtualization mode, and the VM counts what crossed: exits (hvm, pv), callouts (bt),
// the disk device's port and MMIO accesses, its interrupts, host time.
//
//   npm run bench:io [-- --modes native,hvm-ept] [--devices ide,virtio] [--mib 4] [--no-write]
//
// Writes bench/results/io-latest.txt and io-<stamp>.json unless --no-write.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EchoHostBackend } from "../devices/net/backend.js";
import { Ne2000 } from "../devices/net/ne2000.js";
import { bytesSource, CowDisk } from "../devices/storage/block.js";
import { VirtioBlk } from "../devices/virtio/blk.js";
import { VirtioNet } from "../devices/virtio/net.js";
import { VirtioRng } from "../devices/virtio/rng.js";
import { loadLinux } from "../vmm/boot/linux.js";
import { loadCoreModule } from "../vmm/node/load-core.js";
import { readCoreStats } from "../vmm/stats/core-stats.js";
import { Callout, ExitReason } from "../vmm/stats/events.js";
import type { MmuMode, VirtMode } from "../vmm/virt/vmcs.js";
import { Vm } from "../vmm/vm.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const guest = (name: string) => new Uint8Array(readFileSync(`${repoRoot}guests/linux/${name}`));

interface Profile {
  name: string;
  mode: VirtMode;
  mmu?: MmuMode;
}

const PROFILES: Profile[] = [
  { name: "native", mode: "native" },
  { name: "bt", mode: "bt" },
  { name: "hvm-shadow", mode: "hvm", mmu: "shadow" },
  { name: "hvm-ept", mode: "hvm", mmu: "ept" },
  { name: "pv", mode: "pv" },
];

type DeviceKind = "ide" | "virtio";

interface Phase {
  /** 4 KiB blocks moved. */
  blocks: number;
  /** Exits + callouts + hypercalls (every crossing to the hypervisor, timer and HLT included). */
  crossings: number;
  /**
   * The crossings I/O caused: I/O-instruction and EPT-misconfiguration (MMIO) exits, IN/OUT
   * callouts under bt. (MMIO under bt and hvm-shadow reaches the device model from the core
   * without a counted crossing: the device accesses column shows it.)
   */
  ioCrossings: number;
  /** Accesses the disk controller's ports and MMIO took. */
  deviceAccesses: number;
  /** Rising edges of the disk's interrupt line. */
  interrupts: number;
  /** Disk requests (virtio: chains completed; IDE: ATA commands). */
  requests: number;
  hostMs: number;
  guestInstructions: number;
}

interface Row {
  profile: string;
  device: DeviceKind;
  read: Phase;
  write: Phase;
  /** ping over the NIC (ne2k_pci beside the IDE disk, virtio-net beside virtio-blk). */
  ping?: {
    nic: string;
    packets: number;
    ioCrossings: number;
    deviceAccesses: number;
    interrupts: number;
    hostMs: number;
  };
}

function crossings(vm: Vm): { all: number; io: number } {
  const s = readCoreStats(vm.cpu);
  let io = 0;
  for (const c of s.counters) {
    const n = c.core + c.host;
    if (c.kind === "exit" && (c.reason === ExitReason.ioInstruction || c.reason === ExitReason.eptMisconfig)) io += n;
    if (c.kind === "callout" && (c.reason === Callout.in || c.reason === Callout.out)) io += n;
  }
  return { all: s.totals.exit + s.totals.callout + s.totals.hypercall, io };
}

async function run(profile: Profile, device: DeviceKind, mib: number): Promise<Row> {
  let out = "";
  const echo = new EchoHostBackend("10.0.2.2");
  const image = new Uint8Array(mib << 20);
  for (let i = 0; i < image.length; i += 512) image[i] = (i >> 9) & 0xff;
  const disk = new CowDisk(bytesSource(image));
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 64 << 20,
    mode: profile.mode,
    mmu: profile.mmu,
    onSerial: (com, b) => {
      if (com === 1) out += String.fromCharCode(b);
    },
    pci:
      device === "ide"
        ? { hda: { kind: "disk", disk }, virtio: [new VirtioRng(() => {})], functions: [new Ne2000(echo)] }
        : { virtio: [new VirtioBlk({ disk }), new VirtioRng(() => {}), new VirtioNet(echo)] },
  });
  // Rising edges of the disk's interrupt line, seen at the PIC's inputs.
  // Rising edges per PIC input.
  const edges = new Array(16).fill(0);
  const levels = new Array(16).fill(false);
  const pic = vm.devices.pic;
  const setIrq = pic.setIrq.bind(pic);
  pic.setIrq = (line: number, level: boolean) => {
    if (level && !levels[line]) edges[line]++;
    levels[line] = level;
    setIrq(line, level);
  };
  let diskIrq = device === "ide" ? 14 : -1;
  const irq = {
    get n() {
      return edges[diskIrq] ?? 0;
    },
  };
  loadLinux(vm.cpu, { kernel: guest("bzImage"), initrd: guest("initramfs.cpio.gz"), cmdline: "console=ttyS0" });
  const until = (text: string, from: number) => {
    const limit = Number(vm.cpu.instructions) + 3_000_000_000;
    while (!out.includes(text, from)) {
      if (Number(vm.cpu.instructions) > limit)
        throw new Error(`${profile.name}/${device}: no '${text}'\n${out.slice(-500)}`);
      const stop = vm.run(5_000_000);
      if (stop.kind !== "limit")
        throw new Error(`${profile.name}/${device}: ${JSON.stringify(stop)}\n${out.slice(-500)}`);
    }
  };
  until("~ # ", 0);
  if (device === "virtio") diskIrq = vm.devices.pci!.bus.get(2, 0)!.config[0x3c]!;
  const owners = (o: string) =>
    device === "ide" ? o.startsWith("IDE ") || o.startsWith("PIIX3 IDE") : o.startsWith("virtio-blk");
  const accesses = () => {
    let n = 0;
    for (const [o, c] of vm.devices.ports.accessCounts()) if (owners(o)) n += c;
    for (const [o, c] of vm.devices.mmio.accessCounts()) if (owners(o)) n += c;
    return n;
  };
  const requests = () => (device === "virtio" ? (vm.virtio[0]!.counters.completed[0] ?? 0) : ideCommands.n);
  // ATA commands: writes of the command register (0x1F7).
  const ideCommands = { n: 0 };
  const ports = vm.devices.ports;
  const write = ports.write.bind(ports);
  ports.write = (port, size, value) => {
    if (port === 0x1f7) ideCommands.n++;
    write(port, size, value);
  };
  const dev = device === "ide" ? "/dev/sda" : "/dev/vda";
  const blocks = (mib << 20) / 4096;
  const phase = (cmd: string): Phase => {
    const before = { x: crossings(vm), a: accesses(), i: irq.n, r: requests(), insn: vm.cpu.instructions };
    const from = out.length;
    const t0 = performance.now();
    vm.devices.com1.receive(`${cmd}; echo @@; echo done\r`);
    until("@@\r\ndone", from);
    until("~ # ", out.indexOf("@@\r\ndone", from));
    return {
      blocks,
      crossings: crossings(vm).all - before.x.all,
      ioCrossings: crossings(vm).io - before.x.io,
      deviceAccesses: accesses() - before.a,
      interrupts: irq.n - before.i,
      requests: requests() - before.r,
      hostMs: performance.now() - t0,
      guestInstructions: Number(vm.cpu.instructions - before.insn),
    };
  };
  const read = phase(`dd if=${dev} of=/dev/null bs=4096 count=${blocks} 2>/dev/null`);
  const wrote = phase(`dd if=/dev/zero of=${dev} bs=4096 count=${blocks} conv=fsync 2>/dev/null`);
  const row: Row = { profile: profile.name, device, read, write: wrote };
  // Packets: ping over the machine's NIC (ne2k_pci with the IDE disk, virtio-net with virtio).
  phase("ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ping -c 1 10.0.2.2 >/dev/null");
  const nicOwner = device === "ide" ? "ne2k_pci" : "virtio-net";
  const nicFn = vm.devices.pci!.bus.list().find((x) => x.f.name.startsWith(nicOwner))!;
  const nicIrq = nicFn.f.config[0x3c]!;
  const nicAccesses = () => {
    let n = 0;
    for (const [o, c] of vm.devices.ports.accessCounts()) if (o.startsWith(nicOwner)) n += c;
    for (const [o, c] of vm.devices.mmio.accessCounts()) if (o.startsWith(nicOwner)) n += c;
    return n;
  };
  const x0 = crossings(vm).io;
  const a0 = nicAccesses();
  const i0 = edges[nicIrq];
  const e0 = echo.counts.echoReplies;
  const t0 = performance.now();
  phase("ping -c 20 -i 0.1 10.0.2.2 >/dev/null");
  row.ping = {
    nic: device === "ide" ? "ne2k_pci" : "virtio-net",
    packets: 2 * (echo.counts.echoReplies - e0),
    ioCrossings: crossings(vm).io - x0,
    deviceAccesses: nicAccesses() - a0,
    interrupts: edges[nicIrq] - i0,
    hostMs: performance.now() - t0,
  };
  return row;
}

const f1 = (n: number) => n.toFixed(1);
const int = (n: number) => Math.round(n).toLocaleString("en-US");

function table(rows: Row[]): string {
  const head =
    "profile     device  op     io-crossings/4K  crossings/4K  accesses/4K  irqs/4K  requests  io-crossings/req  MiB/s(host)  host ms";
  const lines = [head, "-".repeat(head.length)];
  for (const r of rows) {
    for (const [op, p] of [
      ["read", r.read],
      ["write", r.write],
    ] as const) {
      const mib = (p.blocks * 4096) / 2 ** 20;
      lines.push(
        [
          r.profile.padEnd(11),
          r.device.padEnd(7),
          op.padEnd(6),
          f1(p.ioCrossings / p.blocks).padStart(15),
          f1(p.crossings / p.blocks).padStart(12),
          f1(p.deviceAccesses / p.blocks).padStart(12),
          (p.interrupts / p.blocks).toFixed(2).padStart(8),
          int(p.requests).padStart(9),
          (p.requests ? f1(p.ioCrossings / p.requests) : "-").padStart(16),
          f1(mib / (p.hostMs / 1000)).padStart(12),
          int(p.hostMs).padStart(8),
        ].join(" "),
      );
    }
  }
  return lines.join("\n");
}

function pingTable(rows: Row[]): string {
  const head = "profile     NIC         packets  io-crossings/packet  NIC accesses/packet  NIC irqs/packet  host ms";
  const lines = [head, "-".repeat(head.length)];
  for (const r of rows) {
    const p = r.ping;
    if (!p || p.packets === 0) continue;
    lines.push(
      [
        r.profile.padEnd(11),
        p.nic.padEnd(11),
        int(p.packets).padStart(7),
        f1(p.ioCrossings / p.packets).padStart(20),
        f1(p.deviceAccesses / p.packets).padStart(20),
        (p.interrupts / p.packets).toFixed(2).padStart(16),
        int(p.hostMs).padStart(8),
      ].join(" "),
    );
  }
  return lines.join("\n");
}

/** Claim lines: virtio crosses far less than the emulated disk in each hypervisor mode. */
function claims(rows: Row[]): string[] {
  const out: string[] = [];
  for (const p of PROFILES) {
    const ide = rows.find((r) => r.profile === p.name && r.device === "ide");
    const vio = rows.find((r) => r.profile === p.name && r.device === "virtio");
    if (!ide || !vio || p.mode === "native") continue;
    for (const op of ["read", "write"] as const) {
      const a = ide[op].ioCrossings / ide[op].blocks;
      const b = vio[op].ioCrossings / vio[op].blocks;
      const ratio = b > 0 ? a / b : Number.POSITIVE_INFINITY;
      const holds = ratio >= 10;
      out.push(
        `${holds ? "HOLDS" : "FAILS"}  ${p.name} ${op}: IDE ${f1(a)} I/O crossings per 4 KiB vs virtio ${f1(b)} (${f1(ratio)}x; claim: at least 10x fewer with virtio)`,
      );
    }
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = arg("--modes")?.split(",");
  const devices = (arg("--devices")?.split(",") ?? ["ide", "virtio"]) as DeviceKind[];
  const mib = Number(arg("--mib") ?? 4);
  const profiles = only ? PROFILES.filter((p) => only.includes(p.name)) : PROFILES;
  const rows: Row[] = [];
  for (const p of profiles) {
    for (const d of devices) {
      rows.push(await run(p, d, mib));
      console.error(`done: ${p.name} ${d}`);
    }
  }
  const text = [
    `npm run bench:io -- ${argv.join(" ")}`.trim(),
    `dd of ${mib} MiB with bs=4096 from a fresh boot (read: uncached device; write: conv=fsync); per 4 KiB block`,
    "",
    table(rows),
    "",
    ...claims(rows),
    "",
    "ping -c 20 -i 0.1 to the host endpoint (20 requests out, 20 replies in) through ne2k_pci (with the IDE",
    "machine) and virtio-net (with the virtio machine). io-crossings count every device's I/O exits in the",
    "window (timer and PIC traffic of 2 s of guest time included); NIC accesses are the NIC's own",
    "(under hvm and pv one access is one exit, port I/O or EPT misconfiguration, but a REP INS/OUTS is one exit for all its elements).",
    pingTable(rows),
    "",
  ].join("\n");
  console.log(text);
  if (!argv.includes("--no-write")) {
    const dir = `${repoRoot}bench/results`;
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
    writeFileSync(`${dir}/io-latest.txt`, text);
    writeFileSync(`${dir}/io-${stamp}.json`, `${JSON.stringify({ mib, rows }, null, 2)}\n`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
