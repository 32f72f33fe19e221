// The sources the glossary cites. The facts are copied into the entries themselves (the page and
// the repository stand alone); these strings say where each came from.

export const SDM_EXIT_REASONS =
  "Intel 64 and IA-32 Architectures Software Developer's Manual, Vol. 3C, Appendix C (VMX Basic Exit Reasons)";
export const SDM_QUALIFICATION =
  "Intel SDM Vol. 3C, chapter 'VM Exits', section 'Basic VM-Exit Information' (exit qualification tables)";
export const SDM_PAGING = "Intel SDM Vol. 3A, chapter 'Paging' (32-bit paging)";
export const SDM_EPT = "Intel SDM Vol. 3C, chapter 'VMX Support for Address Translation' (EPT)";
export const ADAMS_AGESEN =
  "Adams & Agesen, 'A Comparison of Software and Hardware Techniques for x86 Virtualization', ASPLOS 2006, sections 3-4 and Figure 4";
export const BUGNION =
  "Bugnion, Devine, Rosenblum, Sugerman, Wang, 'Bringing Virtualization to the x86 Architecture with the Original VMware Workstation', ACM TOCS 30(4), 2012";
export const POPEK_GOLDBERG =
  "Popek & Goldberg, 'Formal Requirements for Virtualizable Third Generation Architectures', CACM 17(7), 1974";
export const ROBIN_IRVINE =
  "Robin & Irvine, 'Analysis of the Intel Pentium's Ability to Support a Secure Virtual Machine Monitor', USENIX Security 2000";
export const BHARGAVA =
  "Bhargava, Serebrin, Spadini, Manne, 'Accelerating Two-Dimensional Page Walks for Virtualized Systems', ASPLOS 2008";
export const KVM_HYPERCALLS = "Linux kernel documentation, Documentation/virt/kvm/x86/hypercalls.rst";
export const PROJECT_HYPERCALLS = "this project's docs/hypercalls.md (the pv mode's hypercall ABI)";
export const XEN = "Barham et al., 'Xen and the Art of Virtualization', SOSP 2003, sections 2-3 (Table 1, 3.3.3)";
export const PROJECT_STATS = "this project's vmm/stats/events.ts (what the counters count)";
