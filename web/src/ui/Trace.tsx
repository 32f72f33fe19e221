// The trace ring as a live table: the newest crossings with their reason in plain words, the exit
// qualification decoded, guest EIP, guest-physical address and virtual time; filterable by kind
// and by text.

import { useState } from "preact/hooks";
import { KIND_NAMES } from "../../../vmm/stats/events.js";
import { kindTerm, termFor } from "../glossary/glossary.js";
import type { Machine } from "../machine.js";
import { decodeQualification, hex } from "../qualification.js";
import { useUi } from "./context.js";

const SHOW = 200;

export function Trace({ machine }: { machine: Machine }) {
  const { t, lang, nf } = useUi();
  const [text, setText] = useState("");
  const [kind, setKind] = useState("");
  const needle = text.trim().toLowerCase();
  const rows = machine.trace
    .map((e) => ({ e, name: termFor(e.kind, e.reason).name[lang], qual: decodeQualification(e) }))
    .filter(({ e, name, qual }) => {
      if (kind && e.kind !== kind) return false;
      if (!needle) return true;
      const hay = `${e.kind} ${kindTerm(e.kind).name[lang]} ${e.reason} ${name} ${qual} ${hex(e.eip)} ${hex(e.gpa)}`;
      return hay.toLowerCase().includes(needle);
    });
  const shown = rows.slice(-SHOW).reverse();
  return (
    <section aria-labelledby="trace-title">
      <h3 id="trace-title">{t("trace.title")}</h3>
      <div class="filters">
        <label>
          {t("trace.filter")}
          <input
            id="trace-filter"
            type="search"
            placeholder={t("trace.filterHint")}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <label>
          {t("trace.kind")}
          <select id="trace-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            <option value="">{t("trace.kindAll")}</option>
            {KIND_NAMES.map((k) => (
              <option value={k}>{kindTerm(k).name[lang]}</option>
            ))}
          </select>
        </label>
      </div>
      <p class="muted" id="trace-count">
        {t("trace.count", {
          shown: nf.format(shown.length),
          kept: nf.format(machine.trace.length),
          recorded: nf.format(machine.stats?.traceRecorded ?? 0),
        })}
      </p>

      <table class="trace" id="trace">
        <thead>
          <tr>
            <th scope="col" class="num">
              {t("trace.seq")}
            </th>
            <th scope="col">{t("trace.kind")}</th>
            <th scope="col">{t("trace.reason")}</th>
            <th scope="col">{t("trace.qual")}</th>
            <th scope="col">{t("trace.where")}</th>
            <th scope="col">{t("trace.eip")}</th>
            <th scope="col">{t("trace.gpa")}</th>
            <th scope="col" class="num">
              {t("trace.vtime")}
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map(({ e, name, qual }) => (
            <tr key={e.seq}>
              <td class="num">{e.seq}</td>
              <td>{kindTerm(e.kind).name[lang]}</td>
              <td>{name}</td>
              <td class="mono">{qual}</td>
              <td>{t(e.where === "core" ? "where.core" : "where.host")}</td>
              <td class="mono">{hex(e.eip)}</td>
              <td class="mono">{hex(e.gpa)}</td>
              <td class="num">{nf.format(e.vtime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
