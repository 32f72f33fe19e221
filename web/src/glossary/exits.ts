// Glossary entries for the VMX basic exit reasons: every reason the SDM defines gets a plain
// name in both languages; the ones this emulator's VMX model produces also say when and why.

import type { Localized } from "../i18n/index.js";

/** Korean names of the SDM's basic exit reasons (the English names are vmm/stats/events.ts's). */
export const EXIT_NAMES_KO: Readonly<Record<number, string>> = {
  0: "예외 또는 NMI",
  1: "외부 인터럽트",
  2: "트리플 폴트",
  3: "INIT 신호",
  4: "시작 IPI (SIPI)",
  5: "I/O SMI",
  6: "기타 SMI",
  7: "인터럽트 창",
  8: "NMI 창",
  9: "태스크 전환",
  10: "CPUID",
  11: "GETSEC",
  12: "HLT",
  13: "INVD",
  14: "INVLPG",
  15: "RDPMC",
  16: "RDTSC",
  17: "RSM",
  18: "VMCALL",
  19: "VMCLEAR",
  20: "VMLAUNCH",
  21: "VMPTRLD",
  22: "VMPTRST",
  23: "VMREAD",
  24: "VMRESUME",
  25: "VMWRITE",
  26: "VMXOFF",
  27: "VMXON",
  28: "제어 레지스터 접근",
  29: "MOV DR (디버그 레지스터)",
  30: "I/O 명령어",
  31: "RDMSR",
  32: "WRMSR",
  33: "VM 진입 실패: 잘못된 게스트 상태",
  34: "VM 진입 실패: MSR 적재",
  36: "MWAIT",
  37: "모니터 트랩 플래그",
  39: "MONITOR",
  40: "PAUSE",
  41: "VM 진입 실패: 머신 체크",
  43: "TPR 임계값 미만",
  44: "APIC 접근",
  45: "가상화된 EOI",
  46: "GDTR 또는 IDTR 접근",
  47: "LDTR 또는 TR 접근",
  48: "EPT 위반",
  49: "EPT 설정 오류",
  50: "INVEPT",
  51: "RDTSCP",
  52: "VMX 선점 타이머 만료",
  53: "INVVPID",
  54: "WBINVD / WBNOINVD",
  55: "XSETBV",
  56: "APIC 쓰기",
  57: "RDRAND",
  58: "INVPCID",
  59: "VMFUNC",
  60: "ENCLS",
  61: "RDSEED",
  62: "페이지 수정 로그 가득 참",
  63: "XSAVES",
  64: "XRSTORS",
  65: "PCONFIG",
  66: "SPP 관련 이벤트",
  67: "UMWAIT",
  68: "TPAUSE",
  69: "LOADIWKEY",
  70: "ENCLV",
  71: "SGX 충돌",
  72: "ENQCMD PASID 변환 실패",
  73: "ENQCMDS PASID 변환 실패",
  74: "버스 락",
  75: "명령어 시간 초과",
  76: "SEAMCALL",
  77: "TDCALL",
};

/** What the exits this emulator produces mean here. */
export const EXIT_TEXT: Readonly<Record<number, Localized>> = {
  0: {
    en: "The guest raised an exception the VMM asked to see (the exception bitmap). Under shadow paging every guest page fault exits here so the VMM can fill its shadow table (a hidden fault) or reflect it (a true fault). The qualification of a #PF exit is the faulting linear address.",
    ko: "게스트가 VMM이 보겠다고 한 예외(예외 비트맵)를 일으켰습니다. 섀도 페이징에서는 게스트의 모든 페이지 폴트가 여기서 exit하며, VMM이 섀도 테이블을 채우거나(숨은 폴트) 게스트에 되돌려 줍니다(진짜 폴트). #PF exit의 qualification은 폴트가 난 선형 주소입니다.",
  },
  1: {
    en: "A device raised an interrupt while the guest ran: the CPU leaves the guest so the VMM can inject it.",
    ko: "게스트 실행 중 장치가 인터럽트를 올렸습니다. VMM이 주입할 수 있도록 CPU가 게스트에서 나옵니다.",
  },
  2: {
    en: "The guest took an exception while delivering a double fault: a real CPU would shut down.",
    ko: "게스트가 더블 폴트를 전달하는 중에 또 예외가 났습니다. 실제 CPU라면 종료(셧다운)됩니다.",
  },
  7: {
    en: "The guest just became able to take an interrupt (IF=1, no blocking): the VMM injects the interrupt it was holding.",
    ko: "게스트가 막 인터럽트를 받을 수 있게 되었습니다(IF=1, 차단 없음). VMM이 보류하던 인터럽트를 주입합니다.",
  },
  10: {
    en: "CPUID always exits under VMX: the VMM decides what CPU the guest sees (here also KVM's signature, so Linux uses kvm-clock).",
    ko: "VMX에서 CPUID는 항상 exit합니다. 게스트가 어떤 CPU를 보는지 VMM이 정합니다(여기서는 KVM 서명도 보여 Linux가 kvm-clock을 씁니다).",
  },
  12: {
    en: "The guest executed HLT (nothing to do): the VMM lets virtual time jump to the next timer.",
    ko: "게스트가 HLT를 실행했습니다(할 일 없음). VMM은 가상 시간을 다음 타이머까지 건너뜁니다.",
  },
  13: { en: "The guest executed INVD (invalidate caches).", ko: "게스트가 INVD(캐시 무효화)를 실행했습니다." },
  14: {
    en: "The guest flushed one TLB entry with INVLPG. Under shadow paging the VMM must drop the matching shadow entry, so INVLPG exits; under EPT it does not.",
    ko: "게스트가 INVLPG로 TLB 항목 하나를 비웠습니다. 섀도 페이징에서는 VMM이 해당 섀도 항목을 지워야 하므로 exit하고, EPT에서는 exit하지 않습니다.",
  },
  15: { en: "The guest read a performance counter with RDPMC.", ko: "게스트가 RDPMC로 성능 카운터를 읽었습니다." },
  16: {
    en: "The guest read the time-stamp counter with RDTSC while RDTSC exiting was on.",
    ko: "RDTSC exit가 켜진 상태에서 게스트가 RDTSC로 타임스탬프 카운터를 읽었습니다.",
  },
  18: {
    en: "The guest executed VMCALL. Under pv this is a hypercall and is counted as a hypercall instead (priced once).",
    ko: "게스트가 VMCALL을 실행했습니다. pv에서는 하이퍼콜이며 하이퍼콜로만 셉니다(비용은 한 번만).",
  },
  28: {
    en: "The guest moved to or from a control register the VMM owns (CR0 bits in the guest/host mask, CR3 under shadow paging, CR4). The qualification says which CR, the direction (MOV to, MOV from, CLTS, LMSW) and the general register.",
    ko: "게스트가 VMM이 소유한 제어 레지스터(게스트/호스트 마스크의 CR0 비트, 섀도 페이징의 CR3, CR4)를 읽거나 썼습니다. qualification은 어느 CR인지, 방향(MOV to, MOV from, CLTS, LMSW), 범용 레지스터를 알려 줍니다.",
  },
  29: { en: "The guest accessed a debug register (MOV DR).", ko: "게스트가 디버그 레지스터에 접근했습니다(MOV DR)." },
  30: {
    en: "The guest executed IN or OUT on a port the VMM emulates (the serial port, the timer, the PIC...): one round trip to the device model per access. The qualification holds the port, the size, the direction and whether it was a string (INS/OUTS) or REP instruction.",
    ko: "게스트가 VMM이 에뮬레이션하는 포트(직렬 포트, 타이머, PIC 등)에 IN 또는 OUT을 실행했습니다. 접근마다 장치 모델까지 한 번 왕복합니다. qualification에는 포트, 크기, 방향, 문자열(INS/OUTS)·REP 여부가 들어 있습니다.",
  },
  31: {
    en: "The guest read a model-specific register the VMM does not pass through.",
    ko: "게스트가 VMM이 통과시키지 않는 MSR을 읽었습니다.",
  },
  32: {
    en: "The guest wrote a model-specific register the VMM does not pass through (e.g. kvm-clock's setup MSRs).",
    ko: "게스트가 VMM이 통과시키지 않는 MSR에 썼습니다(예: kvm-clock 설정 MSR).",
  },
  46: {
    en: "The guest executed LGDT, LIDT, SGDT or SIDT with descriptor-table exiting on.",
    ko: "디스크립터 테이블 exit가 켜진 상태에서 게스트가 LGDT, LIDT, SGDT, SIDT를 실행했습니다.",
  },
  47: {
    en: "The guest executed LLDT, LTR, SLDT or STR with descriptor-table exiting on.",
    ko: "디스크립터 테이블 exit가 켜진 상태에서 게스트가 LLDT, LTR, SLDT, STR을 실행했습니다.",
  },
  48: {
    en: "Under EPT the guest touched a guest-physical page the VMM has not mapped yet (or mapped without the needed permission): the VMM maps it and resumes. The qualification's bits 0-2 say read, write or instruction fetch.",
    ko: "EPT에서 게스트가 VMM이 아직 매핑하지 않은(또는 권한이 없는) 게스트 물리 페이지를 건드렸습니다. VMM이 매핑하고 재개합니다. qualification의 0-2번 비트가 읽기, 쓰기, 명령어 인출을 나타냅니다.",
  },
  49: {
    en: "An EPT entry was malformed (e.g. write without read): a VMM bug, or a deliberate trap for MMIO.",
    ko: "EPT 항목이 잘못되었습니다(예: 읽기 없는 쓰기). VMM의 버그이거나 MMIO를 위한 의도적 트랩입니다.",
  },
  54: {
    en: "The guest executed WBINVD (write back and invalidate caches).",
    ko: "게스트가 WBINVD(캐시 기록 후 무효화)를 실행했습니다.",
  },
};

export const EXIT_UNUSED: Localized = {
  en: "Defined by the SDM; the VMX model of this emulator (an i686 guest without these features) never produces it.",
  ko: "SDM이 정의한 이유입니다. 이 에뮬레이터의 VMX 모델(해당 기능이 없는 i686 게스트)은 이 exit를 만들지 않습니다.",
};
