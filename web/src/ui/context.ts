// What every view needs: the translator and the language, passed down by context.

import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import { type Lang, numberFormat, type Translate, translator } from "../i18n/index.js";
import type { Machine } from "../machine.js";

export interface Ui {
  lang: Lang;
  t: Translate;
  nf: Intl.NumberFormat;
}

export const UiContext = createContext<Ui>({ lang: "en", t: translator("en"), nf: numberFormat("en") });

export function useUi(): Ui {
  return useContext(UiContext);
}

/** Re-renders the caller when the machine reports something (at most once per animation frame). */
export function useMachine(machine: Machine): number {
  const [n, setN] = useState(0);
  useEffect(() => {
    let queued = false;
    return machine.subscribe(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        setN((x) => x + 1);
      });
    });
  }, [machine]);
  return n;
}
