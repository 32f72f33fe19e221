// Processor control that needs no privilege: NOP, HLT, flag instructions, prefixes-as-opcodes.

import { exitIf, procControl } from "../../virt/vmx";
import { S_HALTED } from "../../generated/layout";
import { effectiveAddress, modrmIsReg } from "../decode";
import { gp } from "../fault";
import { getCF, setFlagBits } from "../flags";
import { cpl, FLAG_CF, FLAG_DF } from "../state";
import { EXIT_HLT, PROC_HLT_EXITING } from "../../generated/abi";

export function NOP(): void {}

/** 0F 18-1F: hint NOPs; the ModRM operand is decoded but not accessed. */
export function NOP_Ev_16(): void {
  if (!modrmIsReg()) effectiveAddress();
}
export function NOP_Ev_32(): void {
  if (!modrmIsReg()) effectiveAddress();
}

export function HLT(): void {
  if (cpl() != 0) {
    gp(0);
    return;
  }
  if (exitIf(procControl(PROC_HLT_EXITING), EXIT_HLT, 0)) return;
  store<u32>(S_HALTED, 1);
}

export function CLC(): void {
  setFlagBits(FLAG_CF, 0);
}
export function STC(): void {
  setFlagBits(FLAG_CF, FLAG_CF);
}
export function CMC(): void {
  setFlagBits(FLAG_CF, getCF() ? 0 : FLAG_CF);
}
export function CLD(): void {
  setFlagBits(FLAG_DF, 0);
}
export function STD(): void {
  setFlagBits(FLAG_DF, FLAG_DF);
}
