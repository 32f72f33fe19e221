// Modes side by side: the same guest under two to five modes at once, each in its own Worker,
// on one time axis (crossings per second of host time), with a summary of where each mode paid
// (exits, callouts, hypercalls, shadow faults, traps), the measured host time against native,
// and the modeled crossing cycles under the selected profile (never mixed with the measured time).

import { useEffect, useState } from "preact/hooks";
import uPlot from "uplot";
import type { KindName } from "../../../vmm/stats/events.js";
import type { MmuMode, VirtMode } from "../../../vmm/virt/vmcs.js";
import { configFor, type Upload } from "../config.js";
import { GUESTS, guestById } from "../guests.js";
import type { MessageKey } from "../i18n/index.js";
import { Machine, newVmWorker, totalsByKind } from "../machine.js";
import { type Settings, UPLOAD_GUEST } from "../settings.js";
import { Chart } from "./Chart.js";
import { useUi } from "./context.js";

interface ModeChoice {
  id: string;
  mode: VirtMode;
  mmu: MmuMode;
  color: string;
}

export const COMPARE_MODES: readonly ModeChoice[] = [
  { id: "native", mode: "native", mmu: "direct", color: "#aaaaaa" },
  { id: "trap", mode: "trap", mmu: "shadow", color: "#ff85c0" },
  { id: "bt", mode: "bt", mmu: "shadow", color: "#67c23a" },
  { id: "hvm-shadow", mode: "hvm", mmu: "shadow", color: "#f56c6c" },
  { id: "hvm-ept", mode: "hvm", mmu: "ept", color: "#36cfc9" },
  { id: "pv", mode: "pv", mmu: "ept", color: "#b37feb" },
];

/** The kinds a mode pays for, in the summary's columns. */
const PAID: KindName[] = ["exit", "callout", "hypercall", "shadowFault", "trap"];

interface Run {
  choice: ModeChoice;
  machine: Machine;
}

export function Compare(p: { settings: Settings; upload: Upload | undefined }) {
  const { t, nf } = useUi();
  const [guest, setGuest] = useState(p.settings.guest === UPLOAD_GUEST ? "sensitive" : p.settings.guest);
  const [picked, setPicked] = useState<string[]>(["native", "hvm-shadow", "hvm-ept"]);
  const [runs, setRuns] = useState<Run[]>([]);
  const [, setTick] = useState(0);
  const g = guestById(guest);
  const allowed = COMPARE_MODES.filter((c) => !g || g.modes.includes(c.mode));
  const chosen = allowed.filter((c) => picked.includes(c.id));

  // Re-render when any of the compared machines reports; end their Workers when leaving.
  useEffect(() => {
    let queued = false;
    const unsubs = runs.map((r) =>
      r.machine.subscribe(() => {
        if (queued) return;
        queued = true;
        requestAnimationFrame(() => {
          queued = false;
          setTick((x) => x + 1);
        });
      }),
    );
    return () => {
      for (const u of unsubs) u();
    };
  }, [runs]);
  useEffect(
    () => () => {
      for (const r of runs) r.machine.dispose();
    },
    [runs],
  );

  const start = () => {
    const next = chosen.map((choice) => {
      const machine = new Machine(newVmWorker());
      const s: Settings = {
        ...p.settings,
        guest,
        mode: choice.mode,
        mmu: choice.mmu,
        memMiB: guest === UPLOAD_GUEST ? p.settings.memMiB : (g?.memMiB ?? 64),
      };
      machine.boot(configFor(s, p.upload));
      return { choice, machine };
    });
    setRuns(next);
  };

  const modeName = (c: ModeChoice) =>
    `${t(`mode.${c.mode}` as MessageKey)}${c.mode === "hvm" ? `, ${t(`mmu.${c.mmu}` as MessageKey)}` : ""}`;
  const native = runs.find((r) => r.choice.id === "native");
  const nativeMs = native?.machine.stats?.hostMs;
  const paid = (r: Run) => {
    const totals = totalsByKind(r.machine.stats);
    return PAID.reduce((a, k) => a + totals[k], 0);
  };
  // One time axis: each run's rate of paid crossings, joined on the runs' own sample times.
  const tables = runs.map((r) => {
    const h = r.machine.history;
    const y = h.t.map((_, i) => PAID.reduce((a, k) => a + (h.rate[k][i] ?? 0), 0) || null);
    return [h.t, y] as uPlot.AlignedData;
  });
  const data = runs.length && tables.every((tb) => tb[0].length > 0) ? uPlot.join(tables) : [[]];
  const running = runs.some((r) => ["loading", "running", "paused"].includes(r.machine.status.state));

  return (
    <section aria-labelledby="compare-title" class="compare">
      <h3 id="compare-title">{t("compare.title")}</h3>
      <p class="muted">{t("compare.hint")}</p>
      <div class="filters">
        <label>
          {t("setup.guest")}
          <select id="compare-guest" value={guest} onChange={(e) => setGuest(e.currentTarget.value)}>
            {GUESTS.map((x) => (
              <option value={x.id}>{t(`guest.${x.id}` as MessageKey)}</option>
            ))}
            {p.upload && <option value={UPLOAD_GUEST}>{t("setup.uploaded", { name: p.upload.name })}</option>}
          </select>
        </label>
      </div>
      <fieldset class="kinds" id="compare-modes">
        <legend>{t("compare.modes")}</legend>
        {allowed.map((c) => (
          <label key={c.id} style={{ borderColor: c.color }}>
            <input
              type="checkbox"
              value={c.id}
              checked={picked.includes(c.id)}
              onChange={(e) =>
                setPicked(e.currentTarget.checked ? [...picked, c.id] : picked.filter((x) => x !== c.id))
              }
            />
            {modeName(c)}
          </label>
        ))}
      </fieldset>
      <div class="buttons">
        <button
          type="button"
          id="compare-run"
          class="primary"
          disabled={chosen.length < 2 || chosen.length > 5}
          onClick={start}
        >
          {t("compare.run")}
        </button>
        <button
          type="button"
          id="compare-stop"
          disabled={!running}
          onClick={() => {
            for (const r of runs) r.machine.powerOff();
          }}
        >
          {t("compare.stop")}
        </button>
      </div>
      {(chosen.length < 2 || chosen.length > 5) && <p class="muted">{t("compare.needTwo")}</p>}
      {runs.length > 0 && (
        <>
          <Chart
            title={t("compare.chart")}
            series={runs.map((r) => ({ label: modeName(r.choice), color: r.choice.color }))}
            data={data as (number | null)[][]}
          />
          <ul class="legend">
            {runs.map((r) => (
              <li key={r.choice.id}>
                <span class="swatch" style={{ background: r.choice.color }} />
                {modeName(r.choice)}
              </li>
            ))}
          </ul>
          <table class="counters" id="compare-summary">
            <caption>{t("compare.summary")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("setup.mode")}</th>
                <th scope="col">{t("compare.state")}</th>
                <th scope="col" class="num">
                  {t("costs.insns")}
                </th>
                <th scope="col" class="num">
                  {t("compare.hostMs")}
                </th>
                <th scope="col" class="num">
                  {t("compare.vsNative")}
                </th>
                <th scope="col" class="num">
                  {t("compare.paid")}
                </th>
                <th scope="col" class="num">
                  {t("compare.modeled", { profile: p.settings.profile })}
                </th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => {
                const s = r.machine.stats;
                const totals = totalsByKind(s);
                const where = PAID.filter((k) => totals[k] > 0)
                  .map((k) => `${t(`kind.${k}` as MessageKey)} ${nf.format(totals[k])}`)
                  .join(", ");
                const modeled = s?.modeled.find((m) => m.profile === p.settings.profile)?.cycles ?? 0;
                return (
                  <tr key={r.choice.id} data-mode={r.choice.id} data-paid={paid(r)}>
                    <th scope="row">{modeName(r.choice)}</th>
                    <td>{t(`state.${r.machine.status.state}` as MessageKey)}</td>
                    <td class="num">{nf.format(s?.instructions ?? 0)}</td>
                    <td class="num">{nf.format(s?.hostMs ?? 0)}</td>
                    <td class="num">
                      {nativeMs && s && r.choice.id !== "native" ? `${(s.hostMs / nativeMs).toFixed(2)}×` : "–"}
                    </td>
                    <td>{where || "–"}</td>
                    <td class="num">{nf.format(Math.round(modeled))}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <p class="note">{t("compare.note")}</p>
        </>
      )}
    </section>
  );
}
