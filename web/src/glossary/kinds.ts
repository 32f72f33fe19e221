// Glossary entries for the counter kinds and the reasons of every kind but exits (exits.ts).

import type { KindName } from "../../../vmm/stats/events.js";
import type { Localized } from "../i18n/index.js";
import {
  ADAMS_AGESEN,
  BHARGAVA,
  BUGNION,
  KVM_HYPERCALLS,
  PROJECT_HYPERCALLS,
  PROJECT_STATS,
  SDM_EPT,
  SDM_EXIT_REASONS,
  SDM_PAGING,
  XEN,
} from "./sources.js";

export interface KindEntry {
  name: Localized;
  text: Localized;
  source: string;
}

export const KIND_ENTRIES: Record<KindName, KindEntry> = {
  exit: {
    name: { en: "VM exit", ko: "VM 엑시트 (exit)" },
    text: {
      en: "Under hvm and pv the guest runs in VMX non-root mode; some events make the CPU leave the guest (an exit), save its state and run the VMM, which handles the event and re-enters the guest. One exit here is that whole round trip. The reason is the SDM's basic exit reason.",
      ko: "hvm과 pv에서 게스트는 VMX non-root 모드로 실행됩니다. 어떤 이벤트가 생기면 CPU가 게스트를 떠나(exit) 상태를 저장하고 VMM을 실행하며, VMM이 처리한 뒤 게스트로 다시 들어갑니다. 여기서 exit 하나는 그 왕복 전체입니다. 이유 번호는 SDM의 기본 exit 이유입니다.",
    },
    source: SDM_EXIT_REASONS,
  },
  callout: {
    name: { en: "BT callout", ko: "BT 콜아웃" },
    text: {
      en: "Under bt the guest kernel runs from a translation cache: harmless instructions are copied, sensitive ones are rewritten into a call to a VMM routine (a callout) that emulates them on the virtual CPU. The indirect-branch lookup (a guest address mapped to translated code) is counted as a callout too.",
      ko: "bt에서 게스트 커널은 번역 캐시에서 실행됩니다. 무해한 명령어는 그대로 복사하고, 민감한 명령어는 가상 CPU에서 흉내 내는 VMM 루틴 호출(콜아웃)로 바꿉니다. 간접 분기 조회(게스트 주소를 번역된 코드로 찾기)도 콜아웃으로 셉니다.",
    },
    source: `${ADAMS_AGESEN}; ${BUGNION}`,
  },
  hypercall: {
    name: { en: "Hypercall", ko: "하이퍼콜" },
    text: {
      en: "A para-virtualized guest knows it runs on a hypervisor and asks it for a service directly with VMCALL (EAX = the number), like a system call to the hypervisor, instead of doing something privileged that would trap.",
      ko: "반가상화 게스트는 자신이 하이퍼바이저 위에서 돈다는 것을 알고, 트랩될 특권 동작 대신 VMCALL(EAX = 번호)로 하이퍼바이저에 직접 서비스를 요청합니다. 하이퍼바이저에 대한 시스템 콜과 같습니다.",
    },
    source: `${XEN}; ${KVM_HYPERCALLS}; ${PROJECT_HYPERCALLS}`,
  },
  shadowFault: {
    name: { en: "Shadow page fault", ko: "섀도 페이지 폴트" },
    text: {
      en: "With shadow paging the CPU walks the VMM's shadow page table (guest-virtual to host-physical), built from the guest's own tables. A fault there is hidden (the shadow entry was not filled yet: the VMM fills it, the guest never knows), true (the guest's own table says not present: reflected to the guest), or a write to a guest page-table page the VMM write-protects to keep the shadow coherent.",
      ko: "섀도 페이징에서 CPU는 게스트 테이블로부터 만든 VMM의 섀도 페이지 테이블(게스트 가상 → 호스트 물리)을 걷습니다. 여기서 난 폴트는 숨은 폴트(섀도 항목이 아직 없음: VMM이 채우고 게스트는 모름), 진짜 폴트(게스트 테이블에도 없음: 게스트에 전달), 또는 섀도를 맞게 유지하려고 쓰기 보호한 게스트 페이지 테이블 페이지에 대한 쓰기입니다.",
    },
    source: `${BUGNION}, section on shadow page tables and traces; ${ADAMS_AGESEN}`,
  },
  eptViolation: {
    name: { en: "EPT violation", ko: "EPT 위반" },
    text: {
      en: "With EPT the CPU translates guest-physical to host-physical addresses through a second page table the VMM owns. A guest access to a page that table does not map (yet) is an EPT violation: the VMM maps the page and resumes. The exit that delivered it (reason 48) is counted as an exit too.",
      ko: "EPT에서 CPU는 VMM이 소유한 두 번째 페이지 테이블로 게스트 물리 주소를 호스트 물리 주소로 바꿉니다. 그 테이블이 (아직) 매핑하지 않은 페이지에 게스트가 접근하면 EPT 위반이고, VMM이 매핑한 뒤 재개합니다. 이를 전달한 exit(이유 48)도 exit로 셉니다.",
    },
    source: SDM_EPT,
  },
  walkRef: {
    name: { en: "Page-walk memory reference", ko: "페이지 워크 메모리 참조" },
    text: {
      en: "On a TLB miss the CPU reads page-table entries from memory. 32-bit paging reads 2 (directory, table). Under EPT each of those guest-physical addresses, and the final one, must itself be translated through the EPT: up to (2+1)(m+1)-1 references with an m-level EPT, 14 with m = 4, against 2 natively or with shadow tables.",
      ko: "TLB 미스가 나면 CPU가 메모리에서 페이지 테이블 항목을 읽습니다. 32비트 페이징은 2번(디렉터리, 테이블) 읽습니다. EPT에서는 그 게스트 물리 주소들과 마지막 주소가 각각 다시 EPT로 변환되어야 하므로 m단계 EPT에서 최대 (2+1)(m+1)-1번, m = 4이면 14번 참조합니다. 네이티브나 섀도 테이블에서는 2번입니다.",
    },
    source: `${SDM_PAGING}; ${BHARGAVA}`,
  },
  translation: {
    name: { en: "Translated instruction", ko: "번역된 명령어" },
    text: {
      en: "Guest kernel instructions the binary translator put into its translation cache: IDENT ones are copied as they are, non-IDENT ones are rewritten (sensitive instructions, branches).",
      ko: "바이너리 번역기가 번역 캐시에 넣은 게스트 커널 명령어입니다. IDENT는 그대로 복사하고, non-IDENT는 다시 씁니다(민감한 명령어, 분기).",
    },
    source: ADAMS_AGESEN,
  },
  guestInstr: {
    name: { en: "Guest instructions executed", ko: "실행된 게스트 명령어" },
    text: {
      en: "Guest instructions by how they ran: directly, from the translation cache, or interpreted.",
      ko: "게스트 명령어를 실행 방식별로 셉니다: 직접 실행, 번역 캐시에서 실행, 인터프리트.",
    },
    source: PROJECT_STATS,
  },
  io: {
    name: { en: "Port I/O access", ko: "포트 I/O 접근" },
    text: {
      en: "An IN or OUT the device models answered, by port. It reached the VMM through an exit, a callout or a trap, which is where it is priced.",
      ko: "장치 모델이 응답한 IN 또는 OUT을 포트별로 셉니다. exit, 콜아웃, 트랩 중 하나로 VMM에 도달했고 비용은 그쪽에 매깁니다.",
    },
    source: PROJECT_STATS,
  },
  mmio: {
    name: { en: "Memory-mapped I/O access", ko: "메모리 매핑 I/O 접근" },
    text: {
      en: "A load or store to device memory (for example the VGA's text buffer), by region.",
      ko: "장치 메모리(예: VGA 텍스트 버퍼)에 대한 읽기·쓰기를 영역별로 셉니다.",
    },
    source: PROJECT_STATS,
  },
  trap: {
    name: { en: "Trap to the VMM", ko: "VMM으로의 트랩" },
    text: {
      en: "Under trap the guest kernel runs deprivileged (ring 1). A privileged instruction faults (#GP) and the VMM emulates it; a page fault goes to the shadow MMU; interrupts go to the VMM first. Sensitive instructions that do not fault at ring 1 escape it: that is what the Popek-Goldberg lab shows.",
      ko: "trap 모드에서 게스트 커널은 특권을 낮춰(ring 1) 실행됩니다. 특권 명령어는 폴트(#GP)를 내고 VMM이 흉내 냅니다. 페이지 폴트는 섀도 MMU로, 인터럽트는 먼저 VMM으로 갑니다. ring 1에서 폴트를 내지 않는 민감한 명령어는 VMM을 빠져나갑니다. 포펙-골드버그 실습이 보여 주는 것이 이것입니다.",
    },
    source: `${ADAMS_AGESEN}, section 2 (classical virtualization)`,
  },
};

/** Reason names (both languages) for the kinds with a fixed list of reasons. */
export const REASON_NAMES: Partial<Record<KindName, Readonly<Record<number, Localized>>>> = {
  shadowFault: {
    0: {
      en: "hidden fault (shadow entry filled, guest never sees it)",
      ko: "숨은 폴트 (섀도 항목을 채움, 게스트는 모름)",
    },
    1: { en: "true fault (reflected to the guest)", ko: "진짜 폴트 (게스트에 전달)" },
    2: { en: "write to a guest page-table page", ko: "게스트 페이지 테이블 페이지에 쓰기" },
  },
  eptViolation: {
    0: { en: "data read", ko: "데이터 읽기" },
    1: { en: "data write", ko: "데이터 쓰기" },
    2: { en: "instruction fetch", ko: "명령어 인출" },
  },
  walkRef: {
    0: { en: "guest page-table reference", ko: "게스트 페이지 테이블 참조" },
    1: { en: "nested (EPT) table reference", ko: "중첩(EPT) 테이블 참조" },
  },
  translation: {
    0: { en: "IDENT (copied)", ko: "IDENT (그대로 복사)" },
    1: { en: "non-IDENT (rewritten)", ko: "non-IDENT (다시 씀)" },
  },
  guestInstr: {
    0: { en: "direct", ko: "직접 실행" },
    1: { en: "from the translation cache", ko: "번역 캐시에서" },
    2: { en: "interpreted", ko: "인터프리트" },
  },
  trap: {
    0: { en: "#DE divide error", ko: "#DE 나눗셈 오류" },
    1: { en: "#DB debug", ko: "#DB 디버그" },
    3: { en: "#BP breakpoint", ko: "#BP 중단점" },
    6: { en: "#UD invalid opcode", ko: "#UD 잘못된 명령 코드" },
    13: { en: "#GP general protection (privileged instruction)", ko: "#GP 일반 보호 (특권 명령어)" },
    14: { en: "#PF page fault", ko: "#PF 페이지 폴트" },
    32: { en: "external interrupt", ko: "외부 인터럽트" },
    33: { en: "software interrupt (INT n)", ko: "소프트웨어 인터럽트 (INT n)" },
  },
};

/** The PC's ports by range, for the io kind's reasons. */
export const PORT_NAMES: readonly [number, number, Localized][] = [
  [0x20, 0x21, { en: "master PIC (i8259)", ko: "마스터 PIC (i8259)" }],
  [0x40, 0x43, { en: "timer (i8254 PIT)", ko: "타이머 (i8254 PIT)" }],
  [0x60, 0x60, { en: "keyboard controller data (i8042)", ko: "키보드 컨트롤러 데이터 (i8042)" }],
  [0x61, 0x61, { en: "port B (speaker, timer gate)", ko: "포트 B (스피커, 타이머 게이트)" }],
  [0x64, 0x64, { en: "keyboard controller status (i8042)", ko: "키보드 컨트롤러 상태 (i8042)" }],
  [0x70, 0x71, { en: "RTC and CMOS (MC146818)", ko: "RTC와 CMOS (MC146818)" }],
  [0x80, 0x80, { en: "POST diagnostic port", ko: "POST 진단 포트" }],
  [0x92, 0x92, { en: "port 0x92 (fast A20)", ko: "포트 0x92 (빠른 A20)" }],
  [0xa0, 0xa1, { en: "slave PIC (i8259)", ko: "슬레이브 PIC (i8259)" }],
  [0xf4, 0xf4, { en: "isa-debug-exit", ko: "isa-debug-exit 장치" }],
  [0x1f0, 0x1f7, { en: "IDE primary channel", ko: "IDE 기본 채널" }],
  [0x2f8, 0x2ff, { en: "COM2 serial port (16550A)", ko: "COM2 직렬 포트 (16550A)" }],
  [0x3c0, 0x3df, { en: "VGA registers", ko: "VGA 레지스터" }],
  [0x3f6, 0x3f6, { en: "IDE primary control", ko: "IDE 기본 제어" }],
  [0x3f8, 0x3ff, { en: "COM1 serial port (16550A)", ko: "COM1 직렬 포트 (16550A)" }],
  [0x510, 0x511, { en: "QEMU fw_cfg", ko: "QEMU fw_cfg 장치" }],
  [0xcf8, 0xcff, { en: "PCI configuration (mechanism #1)", ko: "PCI 설정 (메커니즘 #1)" }],
];
