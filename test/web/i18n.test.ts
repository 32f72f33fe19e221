// The message catalogues and the glossary: every key in both languages with the same
// placeholders, no empty text, and every counter kind and reason named in both languages with a
// source.

import { describe, expect, it } from "vitest";
import { CALLOUT_NAMES, EXIT_REASON_NAMES, HYPERCALL_NAMES, KIND_NAMES } from "../../vmm/stats/events.js";
import { allTerms, kindTerm, termFor } from "../../web/src/glossary/glossary.js";
import { GUESTS } from "../../web/src/guests.js";
import { CATALOGUES, LANGS, translator } from "../../web/src/i18n/index.js";
import { TABS } from "../../web/src/settings.js";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("message catalogues", () => {
  it("have the same keys in every language, none empty, with the same placeholders", () => {
    const keys = Object.keys(CATALOGUES.en).sort();
    expect(keys.length).toBeGreaterThan(100);
    for (const lang of LANGS) {
      const cat = CATALOGUES[lang] as Record<string, string>;
      expect(Object.keys(cat).sort(), lang).toEqual(keys);
      for (const k of keys) {
        expect(cat[k]!.trim(), `${lang} ${k}`).not.toBe("");
        expect(placeholders(cat[k]!), `${lang} ${k}`).toEqual(
          placeholders(CATALOGUES.en[k as keyof typeof CATALOGUES.en]),
        );
      }
    }
  });

  it("name every built-in guest and every tab in each language (the page shows the key otherwise)", () => {
    const keys = [...GUESTS.map((g) => `guest.${g.id}`), ...TABS.map((t) => `tab.${t}`)];
    for (const lang of LANGS) for (const k of keys) expect(Object.keys(CATALOGUES[lang]), lang).toContain(k);
  });

  it("differ between English and Korean wherever the text has words", () => {
    const same = Object.keys(CATALOGUES.en).filter((k) => {
      const en = CATALOGUES.en[k as keyof typeof CATALOGUES.en];
      return /[a-z]{3}/.test(en) && en === CATALOGUES.ko[k as keyof typeof CATALOGUES.ko];
    });
    expect(same).toEqual([]);
  });

  it("fill placeholders and leave unknown ones visible", () => {
    const t = translator("en");
    expect(t("status.paused", { insns: "1,234" })).toBe("paused · 1,234 instructions retired");
    expect(t("status.paused")).toBe("paused · {insns} instructions retired");
    expect(translator("ko")("labs.step", { n: 2, title: "EPT" })).toBe("2단계: EPT");
  });
});

describe("glossary", () => {
  it("names every kind, exit reason, callout and hypercall in both languages, with a source", () => {
    const terms = [
      ...KIND_NAMES.map((k) => kindTerm(k)),
      ...Object.keys(EXIT_REASON_NAMES).map((r) => termFor("exit", Number(r))),
      ...CALLOUT_NAMES.map((_, r) => termFor("callout", r)),
      ...Object.keys(HYPERCALL_NAMES).map((r) => termFor("hypercall", Number(r))),
    ];
    expect(terms.length).toBe(KIND_NAMES.length + Object.keys(EXIT_REASON_NAMES).length + CALLOUT_NAMES.length + 17);
    for (const term of terms) {
      for (const lang of LANGS) {
        expect(term.name[lang], `${term.id} ${lang}`).toMatch(/\S/);
        expect(term.text[lang], `${term.id} ${lang}`).toMatch(/\S{2}/);
      }
      expect(term.source, term.id).toMatch(/\S{4}/);
    }
    // The exit reasons cite the SDM's appendix; names follow it.
    expect(termFor("exit", 30).source).toMatch(/Appendix C/);
    expect(termFor("exit", 30).name).toEqual({ en: "I/O instruction", ko: "I/O 명령어" });
    // Unknown numbers are named by number, never dropped.
    expect(termFor("exit", 999).name.en).toBe("exit reason 999");
    expect(termFor("io", 0x3f8).name.en).toBe("0x03f8 COM1 serial port (16550A)");
  });

  it("lists one entry per term, with unique ids", () => {
    const ids = allTerms().map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain("kind:exit");
    expect(ids).toContain("exit:48");
    expect(ids).toContain("callout:29");
    expect(ids).toContain("hypercall:65");
  });
});
