// IN and OUT: synchronous calls to the host's port bus after the I/O permission check.

import { hostIoRead, hostIoWrite } from "../../host";
import { fetch8 } from "../decode";
import { faulted, gp } from "../fault";
import { ioPermitted } from "../protected/io-permission";
import { EAX, EDX, reg16, reg32, reg8, setReg16, setReg32, setReg8 } from "../state";
import { ioExits, ioQualification, vmExit } from "../../virt/vmx";
import { EXIT_IO_INSTRUCTION } from "../../generated/abi";

@inline function portIn(port: u32, size: u32, imm: bool): void {
  if (!ioPermitted(port, size)) {
    gp(0);
    return;
  }
  if (ioExits(port, size)) {
    vmExit(EXIT_IO_INSTRUCTION, ioQualification(port, size, true, false, false, imm));
    return;
  }
  const v = hostIoRead(port, size);
  if (size == 1) setReg8(EAX, v);
  else if (size == 2) setReg16(EAX, v);
  else setReg32(EAX, v);
}
@inline function portOut(port: u32, size: u32, imm: bool): void {
  if (!ioPermitted(port, size)) {
    gp(0);
    return;
  }
  if (ioExits(port, size)) {
    vmExit(EXIT_IO_INSTRUCTION, ioQualification(port, size, false, false, false, imm));
    return;
  }
  hostIoWrite(port, size, size == 1 ? reg8(EAX) : size == 2 ? reg16(EAX) : reg32(EAX));
}

export function IN_ALIb(): void {
  const p = fetch8();
  if (!faulted) portIn(p, 1, true);
}
export function IN_AXIb_16(): void {
  const p = fetch8();
  if (!faulted) portIn(p, 2, true);
}
export function IN_AXIb_32(): void {
  const p = fetch8();
  if (!faulted) portIn(p, 4, true);
}
export function OUT_IbAL(): void {
  const p = fetch8();
  if (!faulted) portOut(p, 1, true);
}
export function OUT_IbAX_16(): void {
  const p = fetch8();
  if (!faulted) portOut(p, 2, true);
}
export function OUT_IbAX_32(): void {
  const p = fetch8();
  if (!faulted) portOut(p, 4, true);
}
export function IN_ALDX(): void {
  portIn(reg16(EDX), 1, false);
}
export function IN_AXDX_16(): void {
  portIn(reg16(EDX), 2, false);
}
export function IN_AXDX_32(): void {
  portIn(reg16(EDX), 4, false);
}
export function OUT_DXAL(): void {
  portOut(reg16(EDX), 1, false);
}
export function OUT_DXAX_16(): void {
  portOut(reg16(EDX), 2, false);
}
export function OUT_DXAX_32(): void {
  portOut(reg16(EDX), 4, false);
}
