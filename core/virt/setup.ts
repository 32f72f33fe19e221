// Chooses how this VM is virtualized and resets the hypervisor's structures. The VMCS controls
// themselves are written by the VMM (vmm/virt/vmcs.ts), as a hypervisor programs its VMCS.
// The top floor with core/index.ts (docs/architecture.md): it resets every structure and
// installs the mode's hooks in the floors below.

import {
  MMU_EPT,
  S_BT_ACTIVE,
  S_KVM_PARAVIRT,
  S_MMU_MODE,
  S_PV_SHARED_PAGE,
  S_SHADOW_CR3,
  S_VIRT_MODE,
  S_VMX_NONROOT,
  S_VMX_PENDING_VECTOR,
  VIRT_BT,
  VIRT_HVM,
  VIRT_PV,
  VIRT_TRAP,
} from "../generated/layout";
import { noCr0Hook, onCr0Written } from "../cpu/control";
import { btReset } from "../bt/invalidate";
import { eptReset } from "../mmu/ept";
import { shadowReset } from "../mmu/shadow";
import { tlbFlush } from "../mmu/tlb";
import { trapCr0Written } from "./trap";

export function setVirtualization(mode: u32, mmu: u32): void {
  store<u32>(S_VIRT_MODE, mode);
  store<u32>(S_MMU_MODE, mmu);
  const vmx = mode == VIRT_HVM || mode == VIRT_PV;
  store<u32>(S_VMX_NONROOT, vmx ? 1 : 0);
  store<u32>(S_KVM_PARAVIRT, vmx ? 1 : 0);
  store<u32>(S_BT_ACTIVE, mode == VIRT_BT ? 1 : 0);
  store<u32>(S_VMX_PENDING_VECTOR, 0);
  store<u32>(S_SHADOW_CR3, 0);
  store<u32>(S_PV_SHARED_PAGE, 0);
  // The trap VMM takes over when the guest enters protected mode and gives back when it leaves.
  onCr0Written(mode == VIRT_TRAP ? trapCr0Written : noCr0Hook);
  eptReset(mmu == MMU_EPT);
  shadowReset();
  btReset();
  tlbFlush(false);
}
