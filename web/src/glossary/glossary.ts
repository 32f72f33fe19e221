// The glossary: every counter kind and reason in plain words, in both languages, with the source
// each fact comes from. The counters table, the trace table and the glossary view all name things
// through termFor(), so a counter never appears under a bare number.

import {
  CALLOUT_NAMES,
  EXIT_REASON_NAMES,
  HYPERCALL_NAMES,
  KIND_NAMES,
  type KindName,
} from "../../../vmm/stats/events.js";
import type { Lang, Localized } from "../i18n/index.js";
import { CALLOUT_NAMES_KO, CALLOUT_TEXT, HYPERCALL_TEXT } from "./callouts.js";
import { EXIT_NAMES_KO, EXIT_TEXT, EXIT_UNUSED } from "./exits.js";
import { KIND_ENTRIES, PORT_NAMES, REASON_NAMES } from "./kinds.js";
import { ADAMS_AGESEN, KVM_HYPERCALLS, PROJECT_HYPERCALLS, SDM_EXIT_REASONS } from "./sources.js";

export interface Term {
  /** "exit:30", "callout:29", "kind:exit", ... (stable, used as the glossary's anchor). */
  id: string;
  kind: KindName;
  reason?: number;
  name: Localized;
  text: Localized;
  source: string;
}

const same = (s: string): Localized => ({ en: s, ko: s });
const hex = (n: number, w: number) => "0x" + n.toString(16).padStart(w, "0");

export function kindTerm(kind: KindName): Term {
  const e = KIND_ENTRIES[kind];
  return { id: `kind:${kind}`, kind, ...e };
}

export function termFor(kind: KindName, reason: number): Term {
  const base = KIND_ENTRIES[kind];
  const id = `${kind}:${reason}`;
  switch (kind) {
    case "exit": {
      const en = EXIT_REASON_NAMES[reason] ?? `exit reason ${reason}`;
      const ko = EXIT_NAMES_KO[reason] ?? `exit 이유 ${reason}`;
      return {
        id,
        kind,
        reason,
        name: { en, ko },
        text: EXIT_TEXT[reason] ?? EXIT_UNUSED,
        source: SDM_EXIT_REASONS,
      };
    }
    case "callout": {
      const text = CALLOUT_TEXT[reason] ?? same(`callout ${reason}`);
      const name = {
        en: CALLOUT_NAMES[reason] ?? `callout ${reason}`,
        ko: CALLOUT_NAMES_KO[reason] ?? `콜아웃 ${reason}`,
      };
      return { id, kind, reason, name, text, source: ADAMS_AGESEN };
    }
    case "hypercall": {
      const name = HYPERCALL_NAMES[reason] ?? `hypercall ${reason}`;
      const text = HYPERCALL_TEXT[reason] ?? { en: "An unknown hypercall number", ko: "알 수 없는 하이퍼콜 번호" };
      return {
        id,
        kind,
        reason,
        name: { en: name, ko: `하이퍼콜 ${name}` },
        text,
        source: reason >= 64 ? PROJECT_HYPERCALLS : KVM_HYPERCALLS,
      };
    }
    case "io": {
      const port = PORT_NAMES.find(([lo, hi]) => reason >= lo && reason <= hi);
      const p = hex(reason, 4);
      const name = port ? { en: `${p} ${port[2].en}`, ko: `${p} ${port[2].ko}` } : { en: `port ${p}`, ko: `포트 ${p}` };
      return { id, kind, reason, name, text: base.text, source: base.source };
    }
    case "mmio": {
      const r = hex(reason, 5);
      return { id, kind, reason, name: { en: `MMIO region ${r}`, ko: `MMIO 영역 ${r}` }, ...pick(base) };
    }
    default: {
      const name = REASON_NAMES[kind]?.[reason] ?? same(`${kind} ${reason}`);
      return { id, kind, reason, name, ...pick(base) };
    }
  }
}

function pick(e: { text: Localized; source: string }) {
  return { text: e.text, source: e.source };
}

/** Every entry the glossary view lists: the kinds, then every named reason of each kind. */
export function allTerms(): Term[] {
  const out: Term[] = [];
  for (const kind of KIND_NAMES) {
    out.push(kindTerm(kind));
    const reasons: number[] =
      kind === "exit"
        ? Object.keys(EXIT_REASON_NAMES).map(Number)
        : kind === "callout"
          ? CALLOUT_NAMES.map((_, i) => i)
          : kind === "hypercall"
            ? Object.keys(HYPERCALL_NAMES).map(Number)
            : kind === "io"
              ? PORT_NAMES.map(([lo]) => lo)
              : Object.keys(REASON_NAMES[kind] ?? {}).map(Number);
    for (const r of reasons) out.push(termFor(kind, r));
  }
  return out;
}

export function localName(term: Term, lang: Lang): string {
  return term.name[lang];
}
