// Chooses how this VM is virtualized and resets the hypervisor's structures. The VMCS controls
// themselves are written by the VMM (vmm/virt/vmcs.ts), as a hypervisor programs its VMCS.

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
} from "../generated/layout";
import { btReset } from "../bt/invalidate";
import { eptReset } from "../mmu/ept";
import { shadowReset } from "../mmu/shadow";
import { tlbFlush } from "../mmu/tlb";

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
  eptReset(mmu == MMU_EPT);
  shadowReset();
  btReset();
  tlbFlush(false);
}
