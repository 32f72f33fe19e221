// The ALU routines named by the instruction table (opcodes 00-3F, 80-83, 84-85, A8-A9, F6/F7 /0).
// Each is one line over the shapes in alu-core.ts.

import { ALU_ADC, ALU_ADD, ALU_AND, ALU_CMP, ALU_OR, ALU_SBB, ALU_SUB, ALU_TEST, ALU_XOR, aluAL, aluAX, aluEAX, aluEbGb, aluEbIb, aluEdGd, aluEdImm, aluEwGw, aluEwImm, aluGbEb, aluGdEd, aluGwEw } from "./alu-core";

export function ADD_EbGb(): void {
  aluEbGb(ALU_ADD);
}
export function ADD_EvGv_16(): void {
  aluEwGw(ALU_ADD);
}
export function ADD_EvGv_32(): void {
  aluEdGd(ALU_ADD);
}
export function ADD_GbEb(): void {
  aluGbEb(ALU_ADD);
}
export function ADD_GvEv_16(): void {
  aluGwEw(ALU_ADD);
}
export function ADD_GvEv_32(): void {
  aluGdEd(ALU_ADD);
}
export function ADD_ALIb(): void {
  aluAL(ALU_ADD);
}
export function ADD_AXIz_16(): void {
  aluAX(ALU_ADD);
}
export function ADD_AXIz_32(): void {
  aluEAX(ALU_ADD);
}
export function ADD_EbIb(): void {
  aluEbIb(ALU_ADD);
}
export function ADD_EvIz_16(): void {
  aluEwImm(ALU_ADD, false);
}
export function ADD_EvIz_32(): void {
  aluEdImm(ALU_ADD, false);
}
export function ADD_EvIbs_16(): void {
  aluEwImm(ALU_ADD, true);
}
export function ADD_EvIbs_32(): void {
  aluEdImm(ALU_ADD, true);
}
export function OR_EbGb(): void {
  aluEbGb(ALU_OR);
}
export function OR_EvGv_16(): void {
  aluEwGw(ALU_OR);
}
export function OR_EvGv_32(): void {
  aluEdGd(ALU_OR);
}
export function OR_GbEb(): void {
  aluGbEb(ALU_OR);
}
export function OR_GvEv_16(): void {
  aluGwEw(ALU_OR);
}
export function OR_GvEv_32(): void {
  aluGdEd(ALU_OR);
}
export function OR_ALIb(): void {
  aluAL(ALU_OR);
}
export function OR_AXIz_16(): void {
  aluAX(ALU_OR);
}
export function OR_AXIz_32(): void {
  aluEAX(ALU_OR);
}
export function OR_EbIb(): void {
  aluEbIb(ALU_OR);
}
export function OR_EvIz_16(): void {
  aluEwImm(ALU_OR, false);
}
export function OR_EvIz_32(): void {
  aluEdImm(ALU_OR, false);
}
export function OR_EvIbs_16(): void {
  aluEwImm(ALU_OR, true);
}
export function OR_EvIbs_32(): void {
  aluEdImm(ALU_OR, true);
}
export function ADC_EbGb(): void {
  aluEbGb(ALU_ADC);
}
export function ADC_EvGv_16(): void {
  aluEwGw(ALU_ADC);
}
export function ADC_EvGv_32(): void {
  aluEdGd(ALU_ADC);
}
export function ADC_GbEb(): void {
  aluGbEb(ALU_ADC);
}
export function ADC_GvEv_16(): void {
  aluGwEw(ALU_ADC);
}
export function ADC_GvEv_32(): void {
  aluGdEd(ALU_ADC);
}
export function ADC_ALIb(): void {
  aluAL(ALU_ADC);
}
export function ADC_AXIz_16(): void {
  aluAX(ALU_ADC);
}
export function ADC_AXIz_32(): void {
  aluEAX(ALU_ADC);
}
export function ADC_EbIb(): void {
  aluEbIb(ALU_ADC);
}
export function ADC_EvIz_16(): void {
  aluEwImm(ALU_ADC, false);
}
export function ADC_EvIz_32(): void {
  aluEdImm(ALU_ADC, false);
}
export function ADC_EvIbs_16(): void {
  aluEwImm(ALU_ADC, true);
}
export function ADC_EvIbs_32(): void {
  aluEdImm(ALU_ADC, true);
}
export function SBB_EbGb(): void {
  aluEbGb(ALU_SBB);
}
export function SBB_EvGv_16(): void {
  aluEwGw(ALU_SBB);
}
export function SBB_EvGv_32(): void {
  aluEdGd(ALU_SBB);
}
export function SBB_GbEb(): void {
  aluGbEb(ALU_SBB);
}
export function SBB_GvEv_16(): void {
  aluGwEw(ALU_SBB);
}
export function SBB_GvEv_32(): void {
  aluGdEd(ALU_SBB);
}
export function SBB_ALIb(): void {
  aluAL(ALU_SBB);
}
export function SBB_AXIz_16(): void {
  aluAX(ALU_SBB);
}
export function SBB_AXIz_32(): void {
  aluEAX(ALU_SBB);
}
export function SBB_EbIb(): void {
  aluEbIb(ALU_SBB);
}
export function SBB_EvIz_16(): void {
  aluEwImm(ALU_SBB, false);
}
export function SBB_EvIz_32(): void {
  aluEdImm(ALU_SBB, false);
}
export function SBB_EvIbs_16(): void {
  aluEwImm(ALU_SBB, true);
}
export function SBB_EvIbs_32(): void {
  aluEdImm(ALU_SBB, true);
}
export function AND_EbGb(): void {
  aluEbGb(ALU_AND);
}
export function AND_EvGv_16(): void {
  aluEwGw(ALU_AND);
}
export function AND_EvGv_32(): void {
  aluEdGd(ALU_AND);
}
export function AND_GbEb(): void {
  aluGbEb(ALU_AND);
}
export function AND_GvEv_16(): void {
  aluGwEw(ALU_AND);
}
export function AND_GvEv_32(): void {
  aluGdEd(ALU_AND);
}
export function AND_ALIb(): void {
  aluAL(ALU_AND);
}
export function AND_AXIz_16(): void {
  aluAX(ALU_AND);
}
export function AND_AXIz_32(): void {
  aluEAX(ALU_AND);
}
export function AND_EbIb(): void {
  aluEbIb(ALU_AND);
}
export function AND_EvIz_16(): void {
  aluEwImm(ALU_AND, false);
}
export function AND_EvIz_32(): void {
  aluEdImm(ALU_AND, false);
}
export function AND_EvIbs_16(): void {
  aluEwImm(ALU_AND, true);
}
export function AND_EvIbs_32(): void {
  aluEdImm(ALU_AND, true);
}
export function SUB_EbGb(): void {
  aluEbGb(ALU_SUB);
}
export function SUB_EvGv_16(): void {
  aluEwGw(ALU_SUB);
}
export function SUB_EvGv_32(): void {
  aluEdGd(ALU_SUB);
}
export function SUB_GbEb(): void {
  aluGbEb(ALU_SUB);
}
export function SUB_GvEv_16(): void {
  aluGwEw(ALU_SUB);
}
export function SUB_GvEv_32(): void {
  aluGdEd(ALU_SUB);
}
export function SUB_ALIb(): void {
  aluAL(ALU_SUB);
}
export function SUB_AXIz_16(): void {
  aluAX(ALU_SUB);
}
export function SUB_AXIz_32(): void {
  aluEAX(ALU_SUB);
}
export function SUB_EbIb(): void {
  aluEbIb(ALU_SUB);
}
export function SUB_EvIz_16(): void {
  aluEwImm(ALU_SUB, false);
}
export function SUB_EvIz_32(): void {
  aluEdImm(ALU_SUB, false);
}
export function SUB_EvIbs_16(): void {
  aluEwImm(ALU_SUB, true);
}
export function SUB_EvIbs_32(): void {
  aluEdImm(ALU_SUB, true);
}
export function XOR_EbGb(): void {
  aluEbGb(ALU_XOR);
}
export function XOR_EvGv_16(): void {
  aluEwGw(ALU_XOR);
}
export function XOR_EvGv_32(): void {
  aluEdGd(ALU_XOR);
}
export function XOR_GbEb(): void {
  aluGbEb(ALU_XOR);
}
export function XOR_GvEv_16(): void {
  aluGwEw(ALU_XOR);
}
export function XOR_GvEv_32(): void {
  aluGdEd(ALU_XOR);
}
export function XOR_ALIb(): void {
  aluAL(ALU_XOR);
}
export function XOR_AXIz_16(): void {
  aluAX(ALU_XOR);
}
export function XOR_AXIz_32(): void {
  aluEAX(ALU_XOR);
}
export function XOR_EbIb(): void {
  aluEbIb(ALU_XOR);
}
export function XOR_EvIz_16(): void {
  aluEwImm(ALU_XOR, false);
}
export function XOR_EvIz_32(): void {
  aluEdImm(ALU_XOR, false);
}
export function XOR_EvIbs_16(): void {
  aluEwImm(ALU_XOR, true);
}
export function XOR_EvIbs_32(): void {
  aluEdImm(ALU_XOR, true);
}
export function CMP_EbGb(): void {
  aluEbGb(ALU_CMP);
}
export function CMP_EvGv_16(): void {
  aluEwGw(ALU_CMP);
}
export function CMP_EvGv_32(): void {
  aluEdGd(ALU_CMP);
}
export function CMP_GbEb(): void {
  aluGbEb(ALU_CMP);
}
export function CMP_GvEv_16(): void {
  aluGwEw(ALU_CMP);
}
export function CMP_GvEv_32(): void {
  aluGdEd(ALU_CMP);
}
export function CMP_ALIb(): void {
  aluAL(ALU_CMP);
}
export function CMP_AXIz_16(): void {
  aluAX(ALU_CMP);
}
export function CMP_AXIz_32(): void {
  aluEAX(ALU_CMP);
}
export function CMP_EbIb(): void {
  aluEbIb(ALU_CMP);
}
export function CMP_EvIz_16(): void {
  aluEwImm(ALU_CMP, false);
}
export function CMP_EvIz_32(): void {
  aluEdImm(ALU_CMP, false);
}
export function CMP_EvIbs_16(): void {
  aluEwImm(ALU_CMP, true);
}
export function CMP_EvIbs_32(): void {
  aluEdImm(ALU_CMP, true);
}
export function TEST_EbGb(): void {
  aluEbGb(ALU_TEST);
}
export function TEST_EvGv_16(): void {
  aluEwGw(ALU_TEST);
}
export function TEST_EvGv_32(): void {
  aluEdGd(ALU_TEST);
}
export function TEST_ALIb(): void {
  aluAL(ALU_TEST);
}
export function TEST_AXIz_16(): void {
  aluAX(ALU_TEST);
}
export function TEST_AXIz_32(): void {
  aluEAX(ALU_TEST);
}
export function TEST_EbIb(): void {
  aluEbIb(ALU_TEST);
}
export function TEST_EvIz_16(): void {
  aluEwImm(ALU_TEST, false);
}
export function TEST_EvIz_32(): void {
  aluEdImm(ALU_TEST, false);
}
