// Seeing the hypervisor: crossings per second by kind (a uPlot chart, kinds selectable), the
// totals by kind, every (kind, reason) counter in plain words with its glossary entry one click
// away, and "measure this", which shows only what happened between start and stop.

import { useState } from "preact/hooks";
import { KIND_NAMES, type KindName } from "../../../vmm/stats/events.js";
import type { CounterRow } from "../../../vmm/stats/stats.js";
import { kindTerm, type Term, termFor } from "../glossary/glossary.js";
import { type Machine, totalsByKind } from "../machine.js";
import { Chart } from "./Chart.js";
import { useUi } from "./context.js";

export const KIND_COLORS: Record<KindName, string> = {
  exit: "#e6a23c",
  callout: "#67c23a",
  hypercall: "#b37feb",
  shadowFault: "#f56c6c",
  eptViolation: "#36cfc9",
  walkRef: "#909399",
  translation: "#95de64",
  guestInstr: "#597ef7",
  io: "#ffd666",
  mmio: "#ff9c6e",
  trap: "#ff85c0",
};

/** Kinds that make sense on the chart (guest instructions dwarf everything and are in the status line). */
const CHART_KINDS = KIND_NAMES.filter((k) => k !== "guestInstr");

function TermButton({ term, onExplain }: { term: Term; onExplain(t: Term): void }) {
  const { lang, t } = useUi();
  return (
    <button
      type="button"
      class="term"
      title={t("crossings.explain", { name: term.name[lang] })}
      onClick={() => onExplain(term)}
    >
      {term.name[lang]}
    </button>
  );
}

export function Explanation({ term }: { term: Term | undefined }) {
  const { lang, t } = useUi();
  if (!term) return null;
  return (
    <aside class="explain" aria-live="polite">
      <strong>{term.name[lang]}</strong> <span class="muted">({term.id})</span>
      <p>{term.text[lang]}</p>
      <p class="source">{t("glossary.source", { source: term.source })}</p>
    </aside>
  );
}

function CounterTable({ rows, onExplain, caption }: { rows: CounterRow[]; onExplain(t: Term): void; caption: string }) {
  const { t, nf } = useUi();
  return (
    <table class="counters">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t("crossings.kind")}</th>
          <th scope="col">{t("crossings.reason")}</th>
          <th scope="col" class="num">
            {t("crossings.total")}
          </th>
          <th scope="col" class="num">
            {t("crossings.core")}
          </th>
          <th scope="col" class="num">
            {t("crossings.host")}
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.kind}:${r.reason}`} data-counter={`${r.kind}:${r.reason}`}>
            <td>
              <TermButton term={kindTerm(r.kind)} onExplain={onExplain} />
            </td>
            <td>
              <TermButton term={termFor(r.kind, r.reason)} onExplain={onExplain} />
            </td>
            <td class="num">{nf.format(r.core + r.host)}</td>
            <td class="num">{nf.format(r.core)}</td>
            <td class="num">{nf.format(r.host)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Measure({ machine, onExplain }: { machine: Machine; onExplain(t: Term): void }) {
  const { t, nf } = useUi();
  const [command, setCommand] = useState("");
  const m = machine.measured;
  const live = machine.status.state === "running" || machine.status.state === "paused";
  return (
    <section class="measure" aria-labelledby="measure-title">
      <h3 id="measure-title">{t("measure.title")}</h3>
      <p class="muted">{t("measure.hint")}</p>
      <button
        type="button"
        id="measure"
        aria-pressed={machine.measuring}
        disabled={!live && !machine.measuring}
        onClick={() => machine.measure(machine.measuring ? "stop" : "start")}
      >
        {machine.measuring ? t("measure.stop") : t("measure.start")}
      </button>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (command.trim()) machine.measureCommand(command.trim());
        }}
      >
        <label>
          {t("measure.command")}
          <input
            id="measure-command"
            value={command}
            placeholder="ls /proc"
            onInput={(e) => setCommand(e.currentTarget.value)}
          />
        </label>
        <button type="submit" id="measure-run" disabled={!live || machine.measuring}>
          {t("measure.runCommand")}
        </button>
      </form>
      {machine.measuring && <p role="status">{t("measure.running")}</p>}
      {m && (
        <div id="measured">
          <p>{t("measure.result", { insns: nf.format(m.instructions), ms: m.hostMs.toFixed(1) })}</p>
          {m.counters.length === 0 ? (
            <p>{t("measure.nothing")}</p>
          ) : (
            <CounterTable rows={m.counters} onExplain={onExplain} caption={t("measure.title")} />
          )}
        </div>
      )}
    </section>
  );
}

/** Colours for the reasons of one kind (most frequent first). */
const REASON_COLORS = ["#e6a23c", "#67c23a", "#597ef7", "#f56c6c", "#36cfc9", "#b37feb", "#ffd666", "#ff85c0"];

export function Crossings(p: { machine: Machine; kinds: string[]; onKinds(k: string[]): void }) {
  const { t, lang, nf } = useUi();
  const [term, setTerm] = useState<Term>();
  const [breakdown, setBreakdown] = useState<"" | KindName>("");
  const { machine } = p;
  const stats = machine.stats;
  const h = machine.history;
  const shown = CHART_KINDS.filter((k) => p.kinds.includes(k));
  const totals = totalsByKind(stats);
  const last = (k: KindName) => h.rate[k].at(-1) ?? 0;
  // "By reason": the kind's most frequent reasons, one series each.
  const reasons = breakdown
    ? (stats?.counters ?? [])
        .filter((r) => r.kind === breakdown)
        .sort((a, b) => b.core + b.host - (a.core + a.host))
        .slice(0, REASON_COLORS.length)
    : [];
  const chart = breakdown ? (
    <Chart
      title={t("crossings.chartReasons", { kind: kindTerm(breakdown).name[lang] })}
      series={reasons.map((r, i) => ({ label: termFor(r.kind, r.reason).name[lang], color: REASON_COLORS[i]! }))}
      data={[h.t, ...reasons.map((r) => h.byReason.get(`${r.kind}:${r.reason}`) ?? [])]}
    />
  ) : (
    <Chart
      title={t("crossings.chart")}
      series={shown.map((k) => ({ label: kindTerm(k).name[lang], color: KIND_COLORS[k] }))}
      data={[h.t, ...shown.map((k) => h.rate[k])]}
    />
  );
  const plotted = breakdown ? reasons.map((r) => `${r.kind}:${r.reason}`) : shown;
  const empty = !plotted.some((k) =>
    (breakdown ? (h.byReason.get(k) ?? []) : h.rate[k as KindName]).some((v) => v !== null),
  );
  return (
    <div class="crossings">
      {chart}
      {stats && empty && <p class="muted">{t("crossings.chartEmpty")}</p>}
      {breakdown && (
        <ul class="legend">
          {reasons.map((r, i) => (
            <li key={r.reason}>
              <span class="swatch" style={{ background: REASON_COLORS[i] }} />
              {termFor(r.kind, r.reason).name[lang]}
            </li>
          ))}
        </ul>
      )}
      <label class="breakdown">
        {t("crossings.breakdown")}
        <select id="breakdown" value={breakdown} onChange={(e) => setBreakdown(e.currentTarget.value as KindName | "")}>
          <option value="">{t("crossings.byKindChart")}</option>
          {CHART_KINDS.filter((k) => totals[k] > 0).map((k) => (
            <option value={k}>{t("crossings.reasonsOf", { kind: kindTerm(k).name[lang] })}</option>
          ))}
        </select>
      </label>
      <fieldset class="kinds" disabled={breakdown !== ""}>
        <legend>{t("crossings.kinds")}</legend>
        {CHART_KINDS.map((k) => (
          <label key={k} style={{ borderColor: KIND_COLORS[k] }}>
            <input
              type="checkbox"
              checked={p.kinds.includes(k)}
              onChange={(e) => p.onKinds(e.currentTarget.checked ? [...p.kinds, k] : p.kinds.filter((x) => x !== k))}
            />
            {kindTerm(k).name[lang]}
          </label>
        ))}
      </fieldset>
      {!stats ? (
        <p>{t("crossings.none")}</p>
      ) : (
        <>
          <table class="counters" id="by-kind">
            <caption>{t("crossings.byKind")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("crossings.kind")}</th>
                <th scope="col" class="num">
                  {t("crossings.rate")}
                </th>
                <th scope="col" class="num">
                  {t("crossings.total")}
                </th>
              </tr>
            </thead>
            <tbody>
              {KIND_NAMES.filter((k) => totals[k] > 0).map((k) => (
                <tr key={k}>
                  <td>
                    <span class="swatch" style={{ background: KIND_COLORS[k] }} />
                    <TermButton term={kindTerm(k)} onExplain={setTerm} />
                  </td>
                  <td class="num">{nf.format(Math.round(last(k)))}</td>
                  <td class="num">{nf.format(totals[k])}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">
            {t("crossings.walk", {
              misses: nf.format(stats.walk.tlbMisses),
              refs: stats.walk.refsPerMiss.toFixed(2),
            })}
          </p>
          <Explanation term={term} />
          <Measure machine={machine} onExplain={setTerm} />
          <div id="stats">
            <CounterTable rows={stats.counters} onExplain={setTerm} caption={t("crossings.byReason")} />
          </div>
        </>
      )}
    </div>
  );
}
