// The glossary view: every counter kind and reason in plain words with its source, searchable.

import { useMemo, useState } from "preact/hooks";
import { allTerms } from "../glossary/glossary.js";
import { useUi } from "./context.js";

export function Glossary() {
  const { t, lang } = useUi();
  const [q, setQ] = useState("");
  const terms = useMemo(() => allTerms(), []);
  const needle = q.trim().toLowerCase();
  const shown = needle
    ? terms.filter((e) => `${e.id} ${e.name[lang]} ${e.name.en} ${e.text[lang]}`.toLowerCase().includes(needle))
    : terms;
  return (
    <section aria-labelledby="glossary-title">
      <h3 id="glossary-title">{t("glossary.title")}</h3>
      <label>
        {t("glossary.filter")}
        <input id="glossary-filter" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      </label>
      <dl class="glossary" id="glossary">
        {shown.map((e) => (
          <div key={e.id} id={`term-${e.id.replace(":", "-")}`} class={e.reason === undefined ? "kind" : undefined}>
            <dt>
              {e.name[lang]} <span class="muted">({e.id})</span>
            </dt>
            <dd>
              {e.text[lang]}
              <br />
              <span class="source">{t("glossary.source", { source: e.source })}</span>
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
