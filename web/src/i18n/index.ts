// The message catalogues: one per language, the same keys in each (ko.ts is typed against en.ts,
// and test/web/i18n.test.ts checks the keys and placeholders at run time as well). A message may
// hold {name} placeholders, filled by t()'s second argument.

import { en } from "./en.js";
import { ko } from "./ko.js";

export const LANGS = ["en", "ko"] as const;
export type Lang = (typeof LANGS)[number];
export type MessageKey = keyof typeof en;
export type Catalogue = Record<MessageKey, string>;

export const CATALOGUES: Record<Lang, Catalogue> = { en, ko };

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  const cat = CATALOGUES[lang];
  return (key, params) => {
    const text = cat[key] ?? en[key] ?? key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
  };
}

/** A number in the language's format (grouping digits). */
export function numberFormat(lang: Lang): Intl.NumberFormat {
  return new Intl.NumberFormat(lang === "ko" ? "ko-KR" : "en-US", { maximumFractionDigits: 1 });
}

/** Text given in both languages (labs, glossary entries). */
export type Localized = Record<Lang, string>;
