// Save and restore a whole VM: the machine's description (checked against the receiving VM
// before anything changes), the CPU and the hypervisor's state, guest RAM, every device, the
// disks' copy-on-write overlays and the virtual clock, in the container of container.ts.
//
// The receiving VM is built from the same configuration (RAM size, mode, devices, drives over the
// same images, firmware); restore then overwrites its state. `stateBytes`/`restoreStateBytes`
// are the seam for other holders of the same bytes (a file, IndexedDB, and later a qcow2 image's
// internal snapshot, as QEMU keeps savevm's state).

import type { PcDevices } from "../../devices/pc.js";
import type { PciFunction } from "../../devices/pci/pci.js";
import { decodeState, encodeState, registerStateClasses, type StateValue } from "../../devices/state/capture.js";
import { applyState, captureState } from "../../devices/state/registry.js";
import type { BlockDevice } from "../../devices/storage/block.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import {
  MMU_DIRECT,
  MMU_EPT,
  MMU_SHADOW,
  VIRT_BT,
  VIRT_HVM,
  VIRT_NATIVE,
  VIRT_PV,
  VIRT_TRAP,
} from "../generated/layout.js";
import { PvTimer } from "../virt/pv-host.js";
import type { Vm } from "../vm.js";
import { readContainer, VmStateError, writeContainer } from "./container.js";
import { loadCpuState, packPages, saveCpuState, unpackPages } from "./core-state.js";

registerStateClasses(PvTimer);

const VIRT = { native: VIRT_NATIVE, trap: VIRT_TRAP, bt: VIRT_BT, hvm: VIRT_HVM, pv: VIRT_PV } as const;
const MMU = { direct: MMU_DIRECT, shadow: MMU_SHADOW, ept: MMU_EPT } as const;

/** What must be the same in the receiving VM: compared field by field before a restore. */
export interface MachineDescription {
  ramBytes: number;
  mode: string;
  mmu: string;
  clock: string;
  nsPerInstruction: number;
  vga: boolean;
  fwCfg: boolean;
  pv: boolean;
  /** "slot.fn name" of every PCI function. */
  pci: string[];
  /** "where: sectors" of every disk. */
  disks: string[];
}

export function pciFunctions(vm: Vm): [string, PciFunction][] {
  const out: [string, PciFunction][] = [];
  const bus = vm.devices.pci?.bus;
  if (!bus) return out;
  for (let dev = 0; dev < 32; dev++) {
    for (let fn = 0; fn < 8; fn++) {
      const f = bus.get(dev, fn);
      if (f) out.push([`${dev}.${fn}`, f]);
    }
  }
  return out;
}

/** Every disk of the VM by where it sits, CD-ROM media included. */
export function vmDisks(vm: Vm): [string, BlockDevice][] {
  const out: [string, BlockDevice][] = [];
  const ide = vm.devices.pci?.ide;
  if (ide) {
    for (const [name, ch] of [
      ["ide0", ide.primary],
      ["ide1", ide.secondary],
    ] as const) {
      ch.devices.forEach((d, i) => {
        const disk = d?.disk ?? d?.cdrom?.medium;
        if (disk) out.push([`${name}-${i}`, disk]);
      });
    }
  }
  for (const [where, f] of pciFunctions(vm)) {
    const dev = (f as { device?: unknown }).device;
    if (dev instanceof VirtioBlk) out.push([`virtio-blk@${where}`, dev.disk]);
  }
  return out;
}

/**
 * Waits until no disk request is in flight (devices/storage/request.ts): a request at a disk is
 * not part of a saved state, so the state is taken only once every one has completed into guest
 * memory. A completion can start more (virtio-blk takes what waited in its ring), hence the loop;
 * the caller captures right after, with nothing run in between.
 */
export async function drainDisks(vm: Vm): Promise<void> {
  for (;;) {
    const busy: Promise<void>[] = [];
    const ide = vm.devices.pci?.ide;
    for (const ch of ide ? [ide.primary, ide.secondary] : []) if (ch.inFlight > 0) busy.push(ch.drain());
    for (const [, f] of pciFunctions(vm)) {
      const dev = (f as { device?: unknown }).device;
      if (dev instanceof VirtioBlk && dev.inFlight > 0) busy.push(dev.drain());
    }
    if (busy.length === 0) return;
    await Promise.all(busy);
  }
}

export function describeMachine(vm: Vm): MachineDescription {
  return {
    ramBytes: vm.cpu.ramBytes,
    mode: vm.mode,
    mmu: vm.mmu,
    clock: vm.clockMode,
    nsPerInstruction: vm.nowNsPerInstruction,
    vga: vm.vga !== undefined,
    fwCfg: vm.fwCfg !== undefined,
    pv: vm.pvHost !== undefined,
    pci: pciFunctions(vm).map(([where, f]) => `${where} ${f.name}`),
    disks: vmDisks(vm).map(([where, d]) => `${where}: ${d.sectors} sectors${d.readOnly ? " read-only" : ""}`),
  };
}

/** The differences between a saved machine and this one, one line each ([] when they fit). */
export function machineDifferences(saved: MachineDescription, live: MachineDescription): string[] {
  const out: string[] = [];
  for (const key of Object.keys(live) as (keyof MachineDescription)[]) {
    const a = JSON.stringify(saved[key]);
    const b = JSON.stringify(live[key]);
    if (a !== b) out.push(`${key}: saved ${a}, this VM ${b}`);
  }
  return out;
}

/** The VM's devices as named top-level objects, each saved on its own. */
function deviceTable(vm: Vm): [string, object][] {
  const d: PcDevices = vm.devices;
  const table: [string, object][] = [
    ["pc", d],
    ["pic", d.pic],
    ["pit", d.pit],
    ["rtc", d.rtc],
    ["com1", d.com1],
    ["com2", d.com2],
    ["i8042", d.i8042],
    ["port92", d.portA],
    ["post", d.post],
    ["fpu-error", d.fpuError],
  ];
  if (d.pci) table.push(["pci-bus", d.pci.bus]);
  for (const [where, f] of pciFunctions(vm)) table.push([`pci ${where}`, f]);
  if (vm.vga) table.push(["vga", vm.vga]);
  if (vm.fwCfg) table.push(["fw-cfg", vm.fwCfg]);
  if (vm.pvHost) table.push(["pv-host", vm.pvHost]);
  return table;
}

/**
 * The whole VM as the bytes of one saved-state file. Call between run() calls. `ram: false`
 * leaves RAM out (live migration sends it page by page before the rest).
 */
export interface StateOptions {
  /** false: without RAM (a migration sends it before). */
  ram?: boolean;
  /** Disks whose contents another holder keeps (a qcow2 image's internal snapshot): not in the file. */
  disksHeld?: ReadonlySet<BlockDevice>;
}

export async function stateBytes(vm: Vm, opts: StateOptions = {}): Promise<Uint8Array> {
  await drainDisks(vm);
  const sections = new Map<string, Uint8Array>();
  const enc = new TextEncoder();
  sections.set("machine", enc.encode(JSON.stringify(describeMachine(vm))));
  sections.set("cpu", saveCpuState(vm.cpu));
  if (opts.ram !== false) sections.set("ram", packPages(vm.cpu.ram));
  const devices: { [name: string]: StateValue } = {};
  for (const [name, obj] of deviceTable(vm)) {
    try {
      devices[name] = captureState(obj);
    } catch (e) {
      // A device in the middle of something it cannot save (an IDE PIO block) says so.
      throw new VmStateError(`device ${name}: ${(e as Error).message}`);
    }
  }
  sections.set("devices", encodeState(devices));
  const diskState: { [where: string]: StateValue } = {};
  for (const [where, disk] of vmDisks(vm)) {
    if (disk.readOnly || opts.disksHeld?.has(disk)) continue;
    const overlay = disk.saveOverlay?.();
    if (!overlay) {
      throw new VmStateError(
        `disk ${where} writes to its image directly (snapshot=off, or a format without overlays): its contents cannot be saved with the VM`,
      );
    }
    diskState[where] = overlay;
  }
  sections.set("disks", encodeState(diskState));
  sections.set("vm", enc.encode(JSON.stringify(vm.runState())));
  return writeContainer(sections);
}

/**
 * Restores a saved VM into `vm`, built with the same configuration. Everything is read and
 * checked first (format, checksums, the machine's description, every device's fields); a file
 * that does not fit leaves `vm` as it was.
 */
export async function restoreStateBytes(vm: Vm, file: Uint8Array, opts: StateOptions = {}): Promise<void> {
  (await prepareRestore(vm, file, { ...opts, tryDevices: false }))();
}

/**
 * Reads and checks a saved VM against `vm` without changing it (devices are tried and put back);
 * the function returned applies it and cannot fail. Between the two a holder can change what it
 * keeps (a qcow2 disk goes back to the snapshot) knowing the state will load.
 */
export async function prepareRestore(
  vm: Vm,
  file: Uint8Array,
  opts: StateOptions & { tryDevices?: boolean } = {},
): Promise<() => void> {
  // A request still at a disk would complete into the restored rings and memory: let it finish.
  await drainDisks(vm);
  const sections = await readContainer(file);
  const need = (name: string): Uint8Array => {
    const s = sections.get(name);
    if (!s) throw new VmStateError(`saved VM has no "${name}" section`);
    return s;
  };
  const dec = new TextDecoder();
  let saved: MachineDescription;
  let run: { idleNs: number; pciSetupPending: boolean; nowNs: number };
  try {
    saved = JSON.parse(dec.decode(need("machine")));
    run = JSON.parse(dec.decode(need("vm")));
  } catch (e) {
    if (e instanceof VmStateError) throw e;
    throw new VmStateError("saved VM: malformed machine description");
  }
  const diff = machineDifferences(saved, describeMachine(vm));
  if (diff.length > 0) {
    throw new VmStateError(`saved VM is from a different machine configuration:\n  ${diff.join("\n  ")}`);
  }
  const devices = decodeState(need("devices")) as { [name: string]: { [key: string]: StateValue } };
  const diskState = decodeState(need("disks")) as { [where: string]: Uint8Array };
  const table = deviceTable(vm);
  for (const [name] of table) if (!devices[name]) throw new VmStateError(`saved VM has no state for device ${name}`);
  for (const name of Object.keys(devices)) {
    if (!table.some(([n]) => n === name)) throw new VmStateError(`saved VM has a device ${name} this VM lacks`);
  }
  // Without a RAM section (`ram: false`: a migration sent RAM before), the VM's RAM stays.
  let scratch: Uint8Array | undefined;
  if (opts.ram !== false) {
    scratch = new Uint8Array(vm.cpu.ramBytes);
    unpackPages(need("ram"), scratch, "RAM");
  }
  const cpu = need("cpu");
  const overlays = vmDisks(vm).filter(([, disk]) => !disk.readOnly && !opts.disksHeld?.has(disk));
  for (const [where, disk] of overlays) {
    if (!(diskState[where] instanceof Uint8Array && disk.loadOverlay)) {
      throw new VmStateError(`saved VM has no overlay for disk ${where}, or the disk cannot take one`);
    }
  }
  // A device whose saved fields do not fit is found only while applying: the devices' own state
  // is kept and put back on a failure, so the VM is left as it was. `tryDevices` (the default)
  // also tries them now and puts the kept state back, so that the step returned cannot fail;
  // restoreStateBytes applies them once, in that step (a migration's downtime).
  const before = table.map(([name, obj]) => [name, obj, captureState(obj)] as const);
  const applyDevices = (keep: boolean) => {
    try {
      for (const [name, obj] of table) applyState(obj, devices[name]!, name);
    } catch (e) {
      for (const [name, obj, state] of before) applyState(obj, state, name);
      throw new VmStateError(`saved VM does not fit this VM's devices: ${(e as Error).message}`);
    }
    if (!keep) for (const [name, obj, state] of before) applyState(obj, state, name);
  };
  if (opts.tryDevices !== false) applyDevices(false);
  return () => {
    applyDevices(true);
    for (const [where, disk] of overlays) disk.loadOverlay!(diskState[where]!);
    if (scratch) vm.cpu.ram.set(scratch);
    loadCpuState(vm.cpu, cpu, { mode: VIRT[vm.mode], mmu: MMU[vm.mmu] });
    vm.setRunState(run);
  };
}
