// Measured host time and modeled cycles side by side, each under its own heading and never one
// as the other; and what the mode's own structures (translation cache, shadow tables, EPT, pv
// batches, trap emulation) did.

import { PROFILES } from "../../../vmm/stats/profiles.js";
import type { Machine } from "../machine.js";
import { useUi } from "./context.js";

export function Costs({ machine, profile }: { machine: Machine; profile: string }) {
  const { t, nf } = useUi();
  const s = machine.stats;
  if (!s) return <p>{t("costs.none")}</p>;
  const st = s.structures;
  const mips = s.hostMs > 0 ? s.instructions / s.hostMs / 1000 : 0;
  return (
    <section aria-labelledby="costs-title">
      <h3 id="costs-title">{t("costs.title")}</h3>
      <p class="note">{t("costs.note")}</p>
      <div class="side-by-side">
        <table class="counters" id="measured-time">
          <caption>{t("costs.measured")}</caption>
          <tbody>
            <tr>
              <th scope="row">{t("costs.hostMs")}</th>
              <td class="num">{nf.format(s.hostMs)} ms</td>
            </tr>
            <tr>
              <th scope="row">{t("costs.insns")}</th>
              <td class="num">{nf.format(s.instructions)}</td>
            </tr>
            <tr>
              <th scope="row">{t("costs.mips")}</th>
              <td class="num">{mips.toFixed(1)} MIPS</td>
            </tr>
          </tbody>
        </table>
        <table class="counters" id="modeled">
          <caption>{t("costs.modeled")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("costs.profile")}</th>
              <th scope="col" class="num">
                {t("costs.cycles")}
              </th>
              <th scope="col">{t("costs.unpriced")}</th>
            </tr>
          </thead>
          <tbody>
            {s.modeled.map((m) => (
              <tr key={m.profile} class={m.profile === profile ? "selected" : undefined}>
                <th scope="row" title={PROFILES.find((p) => p.id === m.profile)?.name}>
                  {m.profile} {m.profile === profile && t("costs.selected")}
                </th>
                <td class="num">{nf.format(Math.round(m.cycles))}</td>
                <td>{m.unpriced.join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>{t("costs.structures")}</h3>
      <ul class="structures">
        {s.mode === "bt" && (
          <li>
            {t("costs.bt", {
              blocks: nf.format(st.bt.blocks),
              chained: nf.format(st.bt.chained),
              invalidated: nf.format(st.bt.invalidated),
              flushes: nf.format(st.bt.flushes),
            })}
          </li>
        )}
        <li id="jit-stats">
          {s.jit.enabled
            ? t("costs.jit", {
                blocks: nf.format(s.jit.blocksCompiled),
                live: nf.format(s.jit.blocksLive),
                share: (s.jit.compiledShare * 100).toFixed(1),
                perBlock: s.jit.instructionsPerBlock.toFixed(1),
                kib: nf.format(Math.round(s.jit.wasmBytes / 1024)),
                ms: nf.format(Math.round(s.jit.compileMs)),
                invalidated: nf.format(s.jit.invalidated),
                evicted: nf.format(s.jit.evicted),
              })
            : t("costs.jitOff")}
        </li>
        {s.mmu === "shadow" && (
          <li>
            {t("costs.shadow", {
              hits: nf.format(st.shadow.rootHits),
              misses: nf.format(st.shadow.rootMisses),
              pages: nf.format(st.shadow.pagesInUse),
              flushes: nf.format(st.shadow.poolFlushes),
            })}
          </li>
        )}
        {s.mmu === "ept" && (
          <li>{t("costs.ept", { remaps: nf.format(st.ept.remaps), flushes: nf.format(st.ept.poolFlushes) })}</li>
        )}
        {s.mode === "pv" && (
          <li>{t("costs.pv", { updates: nf.format(st.pv.mmuUpdates), batches: nf.format(st.pv.mmuBatches) })}</li>
        )}
        {s.mode === "trap" && (
          <li>{t("costs.trap", { emulated: nf.format(st.trap.emulated), reflected: nf.format(st.trap.reflected) })}</li>
        )}
      </ul>
    </section>
  );
}
