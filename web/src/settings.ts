// What the page remembers across reloads (localStorage): the chosen machine, the language and
// the layout. A stored value that is missing, malformed or out of range falls back to the default
// for that field alone, so a stale or hand-edited entry never keeps the page from starting.

import { MMU_MODES, type MmuMode, VIRT_MODES, type VirtMode } from "../../vmm/virt/vmcs.js";
import { GUESTS, guestById, MEMORY_CHOICES, mmusFor } from "./guests.js";
import { LANGS, type Lang } from "./i18n/index.js";

export const TABS = ["crossings", "trace", "costs", "walk", "disk", "migrate", "compare", "labs", "glossary"] as const;
export type Tab = (typeof TABS)[number];

export interface Settings {
  guest: string;
  mode: VirtMode;
  mmu: MmuMode;
  memMiB: number;
  profile: string;
  lang: Lang;
  tab: Tab;
  /** The kinds plotted on the crossings chart. */
  chartKinds: string[];
  /** Hot guest code compiled to WebAssembly (the JIT), or the interpreter alone. */
  jit: boolean;
  /** With guest "upload": the medium kept in this browser (media.ts) it came from, or "". */
  kept: string;
}

const KEY = "x86lab.settings.v1";
/**
 * The guest id of an uploaded kernel or image. Restored after a reload only when the file was kept
 * in this browser (`kept`): otherwise the bytes are gone and the default guest is chosen.
 */
export const UPLOAD_GUEST = "upload";

export function defaultSettings(): Settings {
  const lang: Lang = typeof navigator !== "undefined" && navigator.language?.startsWith("ko") ? "ko" : "en";
  return {
    guest: "linux",
    mode: "native",
    mmu: "direct",
    memMiB: 64,
    profile: "pentium4-2006",
    lang,
    tab: "crossings",
    chartKinds: ["exit", "callout", "hypercall", "shadowFault", "eptViolation", "trap"],
    jit: true,
    kept: "",
  };
}

/** Makes a settings object consistent: a mode the guest runs under, an MMU the mode has. */
export function normalize(s: Settings): Settings {
  if (s.guest === UPLOAD_GUEST) {
    // A kernel from this computer: any mode (the boot says if it cannot run).
    const mmus = mmusFor(s.mode);
    return { ...s, mmu: mmus.includes(s.mmu) ? s.mmu : mmus[0]! };
  }
  if (s.kept !== "") s = { ...s, kept: "" };
  const guest = guestById(s.guest) ?? GUESTS[0]!;
  const mode = guest.modes.includes(s.mode) ? s.mode : guest.modes[0]!;
  const mmus = mmusFor(mode);
  const mmu = mmus.includes(s.mmu) ? s.mmu : mmus[0]!;
  const memMiB = Math.max(guest.memMiB, s.memMiB);
  return { ...s, guest: guest.id, mode, mmu, memMiB };
}

export function loadSettings(storage: Pick<Storage, "getItem"> | undefined = globalThis.localStorage): Settings {
  const d = defaultSettings();
  let raw: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(KEY) ?? "{}");
    if (parsed && typeof parsed === "object") raw = parsed as Record<string, unknown>;
  } catch {
    // A malformed entry: every field takes its default.
  }
  const pick = <T>(v: unknown, ok: (x: unknown) => x is T, fallback: T): T => (ok(v) ? v : fallback);
  const isStr = (x: unknown): x is string => typeof x === "string";
  return normalize({
    // An upload comes back only as a kept medium, whose bytes this browser still has.
    guest:
      raw.guest === UPLOAD_GUEST && isStr(raw.kept) && raw.kept !== ""
        ? UPLOAD_GUEST
        : pick(raw.guest, (x): x is string => isStr(x) && guestById(x) !== undefined, d.guest),
    kept: raw.guest === UPLOAD_GUEST ? pick(raw.kept, isStr, d.kept) : d.kept,
    mode: pick(raw.mode, (x): x is VirtMode => VIRT_MODES.includes(x as VirtMode), d.mode),
    mmu: pick(raw.mmu, (x): x is MmuMode => MMU_MODES.includes(x as MmuMode), d.mmu),
    memMiB: pick(raw.memMiB, (x): x is number => (MEMORY_CHOICES as readonly unknown[]).includes(x), d.memMiB),
    profile: pick(raw.profile, isStr, d.profile),
    lang: pick(raw.lang, (x): x is Lang => LANGS.includes(x as Lang), d.lang),
    tab: pick(raw.tab, (x): x is Tab => TABS.includes(x as Tab), d.tab),
    chartKinds: pick(raw.chartKinds, (x): x is string[] => Array.isArray(x) && x.every(isStr), d.chartKinds),
    jit: pick(raw.jit, (x): x is boolean => typeof x === "boolean", d.jit),
  });
}

/**
 * Settings named in the address (?guest=sensitive&mode=trap&mmu=shadow&lang=ko&jit=off) override the
 * remembered ones, so a teacher can hand out a link that opens a given machine.
 */
export function withQuery(s: Settings, search: string): Settings {
  const q = new URLSearchParams(search);
  const next = { ...s };
  const guest = q.get("guest");
  if (guest && guestById(guest)) next.guest = guest;
  const mode = q.get("mode") as VirtMode | null;
  if (mode && VIRT_MODES.includes(mode)) {
    next.mode = mode;
    next.mmu = mmusFor(mode)[0]!;
  }
  const mmu = q.get("mmu") as MmuMode | null;
  if (mmu && MMU_MODES.includes(mmu)) next.mmu = mmu;
  const lang = q.get("lang") as Lang | null;
  if (lang && LANGS.includes(lang)) next.lang = lang;
  const jit = q.get("jit");
  if (jit === "on" || jit === "off") next.jit = jit === "on";
  return normalize(next);
}

export function saveSettings(
  s: Settings,
  storage: Pick<Storage, "setItem"> | undefined = globalThis.localStorage,
): void {
  try {
    storage?.setItem(KEY, JSON.stringify(s));
  } catch {
    // Storage full or disabled (private mode): the page works, it just forgets.
  }
}
