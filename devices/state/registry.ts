// Which classes, met inside a device, are part of its state, and which fields are wiring or
// derived. Everything not named here as state is wiring (buses, disks, guest memory, network
// backends, clocks) and is left as the receiving machine wired it. Import this module (it
// registers on load) before capturing or applying device state.

import { IrqLine, SharedIrq } from "../bus/irq.js";
import { FwCfg } from "../fw-cfg/fw-cfg.js";
import { AtapiCdrom } from "../ide/atapi.js";
import { BusMaster } from "../ide/bus-master.js";
import { IdeChannel, IdeDevice, TaskFile } from "../ide/channel.js";
import { Piix3IsaBridge } from "../pci/i440fx.js";
import { Msix, UndeliveredMsi } from "../pci/msix.js";
import { PciFunction } from "../pci/pci.js";
import { I8259 } from "../pic.js";
import { Channel } from "../pit.js";
import { Ps2Keyboard } from "../ps2-keyboard.js";
import { VirtioBalloon } from "../virtio/balloon.js";
import { VirtioBlk } from "../virtio/blk.js";
import { VirtioConsole } from "../virtio/console.js";
import { VirtioNet } from "../virtio/net.js";
import { VirtioRng } from "../virtio/rng.js";
import { VirtioPci } from "../virtio/virtio-pci.js";
import { Virtqueue } from "../virtio/virtqueue.js";
import { registerBusyCheck, registerStateClasses, registerTransient } from "./capture.js";

// Top-level devices (the PIC, the UARTs, each PCI function) are captured one by one, never as
// a part of another.
registerStateClasses(
  IrqLine,
  SharedIrq,
  I8259,
  Channel,
  Ps2Keyboard,
  IdeDevice,
  TaskFile,
  IdeChannel,
  BusMaster,
  AtapiCdrom,
  Msix,
  UndeliveredMsi,
  Virtqueue,
  VirtioBlk,
  VirtioNet,
  VirtioConsole,
  VirtioRng,
  VirtioBalloon,
);
// BAR decoding (where each BAR sits on the port and MMIO buses) follows from the restored
// configuration space: PciFunction.stateLoaded decodes again.
registerTransient(PciFunction, ["mapped", "handles"]);
// Which wires hold each PIRQ high follows from the functions' INTx levels, driven again on load.
registerTransient(Piix3IsaBridge, ["sources", "driven"]);
// Items are the machine's configuration (the firmware's files); the selected one follows from its key.
registerTransient(FwCfg, ["items", "fileList", "current"]);
// Queues being signalled exist only inside one notification.
registerTransient(VirtioPci, ["toSignal"]);

export { applyState, captureState } from "./capture.js";

// An IDE PIO block in flight continues through a closure (what to do when the buffer is done),
// which is code, not data: such a channel is refused until the block completes.
registerBusyCheck(IdeChannel, (c) =>
  (c as unknown as { onBufferDone?: unknown }).onBufferDone
    ? "an IDE PIO transfer is in progress"
    : (c as IdeChannel).inFlight > 0
      ? "a disk request is in flight"
      : undefined,
);

// A request at a disk (storage/request.ts; checked for IDE above) lives in the block queue, not
// in the device's fields: a state is taken only once none is in flight (vmm/state drains first).
registerBusyCheck(VirtioBlk, (d) => ((d as VirtioBlk).inFlight > 0 ? "a disk request is in flight" : undefined));
