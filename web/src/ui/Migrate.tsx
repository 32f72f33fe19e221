// The live-migration panel: the running guest moves to a second Worker while it runs (pre-copy,
// Clark et al.), with the bandwidth limit and the downtime limit the student picks. Live: the
// round, pages sent per round (a chart), the dirty rate and the pages left, then the downtime and
// the total time, in QEMU's `info migrate` field names. Once the destination runs the guest, the
// console and every other view talk to it. A workload switch types a memory-dirtying loop (the
// one bench:migrate uses) or stops it, so idle and dirtying guests can be compared.

import { useState } from "preact/hooks";
import type { MigrationInfo } from "../../../vmm/state/outgoing.js";
import type { MessageKey } from "../i18n/index.js";
import type { Machine } from "../machine.js";
import { Chart } from "./Chart.js";
import { useUi } from "./context.js";

/** A 1 MiB file in the initramfs rewritten from /bin/busybox at a shifting offset, while /tmp/dirty exists. */
export const DIRTY_COMMAND =
  "touch /tmp/dirty; (i=0; while [ -e /tmp/dirty ]; do i=$((i+1)); dd if=/bin/busybox of=/tmp/d bs=4k count=256 skip=$((i%8)) conv=notrunc 2>/dev/null; done) & echo x86lab-dirtying-$((2*2))";
export const IDLE_COMMAND = "rm -f /tmp/dirty; echo x86lab-idle-$((3*3))";

const kb = (b: number) => `${Math.round(b / 1024)} kbytes`;

/** QEMU's `info migrate` lines (migration-info.ts prints the same names for the CLI's monitor). */
function infoRows(info: MigrationInfo): [string, string, MessageKey][] {
  const rows: [string, string, MessageKey][] = [
    ["Migration status", info.status, "migrate.f.status"],
    ["dirty sync count", String(info.iterations.length), "migrate.f.iterations"],
    ["total time", `${Math.round(info.totalTimeMs)} ms`, "migrate.f.total"],
  ];
  if (info.downtimeMs !== undefined) rows.push(["downtime", `${Math.round(info.downtimeMs)} ms`, "migrate.f.downtime"]);
  else if (info.expectedDowntimeMs !== undefined)
    rows.push(["expected downtime", `${Math.round(info.expectedDowntimeMs)} ms`, "migrate.f.expected"]);
  rows.push(
    ["setup", `${Math.round(info.setupTimeMs)} ms`, "migrate.f.setup"],
    ["transferred ram", kb(info.transferredBytes), "migrate.f.transferred"],
    ["throughput", `${info.mbps.toFixed(2)} mbps`, "migrate.f.throughput"],
    ["remaining ram", `${kb(info.remainingPages * 4096)} (${info.remainingPages} pages)`, "migrate.f.remaining"],
    ["total ram", kb(info.ramBytes), "migrate.f.totalRam"],
    ["duplicate", `${info.zeroPages} pages`, "migrate.f.duplicate"],
    ["normal", `${info.normalPages} pages`, "migrate.f.normal"],
    ["dirty pages rate", `${Math.round(info.dirtyPagesRate)} pages`, "migrate.f.dirtyRate"],
    ["dirty log", info.tracker || "-", "migrate.f.tracker"],
  );
  if (info.throttlePercent > 0)
    rows.push(["cpu throttle percentage", String(info.throttlePercent), "migrate.f.throttle"]);
  rows.push([
    "stop-and-copy pages",
    `${info.stopPages}${info.stopReason ? ` (pre-copy ended: ${info.stopReason})` : ""}`,
    "migrate.f.stop",
  ]);
  if (info.error) rows.push(["error description", info.error, "migrate.f.error"]);
  return rows;
}

/** A labelled number input of the parameters. */
function NumberField(p: { id: string; label: string; min: number; step: number; value: number; set(n: number): void }) {
  return (
    <label>
      {p.label}
      <input
        id={p.id}
        type="number"
        min={p.min}
        step={p.step}
        value={p.value}
        onInput={(e) => p.set(Number(e.currentTarget.value))}
      />
    </label>
  );
}

export function Migrate({ machine }: { machine: Machine }) {
  const { t, nf } = useUi();
  const [bandwidth, setBandwidth] = useState(1);
  const [downtime, setDowntime] = useState(300);
  const [iterations, setIterations] = useState(30);
  const [autoConverge, setAutoConverge] = useState(false);
  const [problem, setProblem] = useState<string>();
  const mig = machine.migration;
  const info = mig?.info;
  const active = !!mig && !mig.finished;
  const running = machine.status.state === "running";
  const type = (command: string) => machine.input(new TextEncoder().encode(`${command}\r`));
  const valid = bandwidth > 0 && downtime > 0 && Number.isInteger(iterations) && iterations > 0;
  const start = () => {
    setProblem(undefined);
    if (!valid) return setProblem(t("migrate.badParams"));
    try {
      machine.migrate({
        "max-bandwidth": Math.round(bandwidth * 2 ** 20),
        "downtime-limit": downtime,
        "max-iterations": iterations,
        "auto-converge": autoConverge,
      });
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  const its = info?.iterations ?? [];
  const failed = info && (info.status === "failed" || info.status === "cancelled");
  const sourceState = !mig
    ? "running"
    : mig.switched
      ? "postmigrate"
      : info?.status === "device"
        ? "stopped"
        : "running";
  return (
    <section aria-labelledby="migrate-title" id="migrate">
      <h3 id="migrate-title">{t("migrate.title")}</h3>
      <p class="note">{t("migrate.intro")}</p>
      <fieldset class="workload">
        <legend>{t("migrate.workload")}</legend>
        <button type="button" id="migrate-dirty" onClick={() => type(DIRTY_COMMAND)} disabled={!running}>
          {t("migrate.dirty")}
        </button>
        <button type="button" id="migrate-idle" onClick={() => type(IDLE_COMMAND)} disabled={!running}>
          {t("migrate.idle")}
        </button>
      </fieldset>
      <fieldset class="migrate-params">
        <legend>{t("migrate.params")}</legend>
        {(
          [
            ["migrate-bandwidth", "migrate.bandwidth", 0.1, bandwidth, setBandwidth],
            ["migrate-downtime", "migrate.downtime", 1, downtime, setDowntime],
            ["migrate-iterations", "migrate.maxIterations", 1, iterations, setIterations],
          ] as const
        ).map(([id, label, min, value, set]) => (
          <NumberField key={id} id={id} label={t(label)} min={min} step={min} value={value} set={set} />
        ))}
        <label>
          <input
            id="migrate-autoconverge"
            type="checkbox"
            checked={autoConverge}
            onChange={(e) => setAutoConverge(e.currentTarget.checked)}
          />
          {t("migrate.autoConverge")}
        </label>
        <button type="button" class="primary" id="migrate-start" onClick={start} disabled={!running || active}>
          {t("migrate.start")}
        </button>
        <button type="button" id="migrate-cancel" onClick={() => machine.cancelMigration()} disabled={!active}>
          {t("migrate.cancel")}
        </button>
      </fieldset>
      {problem && (
        <p role="alert" class="error" id="migrate-problem">
          {t("status.error", { message: problem })}
        </p>
      )}
      {mig && (
        <>
          <table class="counters" id="migrate-workers">
            <caption>{t("migrate.workers")}</caption>
            <tbody>
              <tr data-worker="source">
                <th scope="row">{t("migrate.source")}</th>
                <td>{t(`migrate.src.${sourceState}` as MessageKey)}</td>
              </tr>
              <tr data-worker="destination" data-state={mig.destination}>
                <th scope="row">{t("migrate.destination")}</th>
                <td>{t(`migrate.dst.${mig.destination}` as MessageKey)}</td>
              </tr>
              <tr>
                <th scope="row">{t("migrate.console")}</th>
                <td id="migrate-console">{t(mig.switched ? "migrate.onDestination" : "migrate.onSource")}</td>
              </tr>
            </tbody>
          </table>
          {failed && (
            <p role="alert" class="error" id="migrate-failed">
              {t("migrate.failed", { message: info.error ?? info.status })}
            </p>
          )}
          {mig.destinationError && !failed && (
            <p role="alert" class="error">
              {t("migrate.failed", { message: mig.destinationError })}
            </p>
          )}
          {info && (
            <div class="side-by-side">
              <table class="counters" id="migrate-info" data-status={info.status} data-iterations={its.length}>
                <caption>{t("migrate.info")}</caption>
                <tbody>
                  {infoRows(info).map(([name, value, help]) => (
                    <tr key={name} title={t(help)}>
                      <th scope="row">
                        <code>{name}</code>
                      </th>
                      <td class="num">{value}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <div>
                <Chart
                  title={t("migrate.chart")}
                  series={[
                    { label: t("migrate.series.sent"), color: "#4ea1f2" },
                    { label: t("migrate.series.dirtied"), color: "#f2c14e" },
                  ]}
                  data={[its.map((i) => i.iteration), its.map((i) => i.pages), its.map((i) => i.dirtied)]}
                  log={false}
                  height={180}
                />
                <ul class="legend">
                  <li>
                    <span class="swatch" style={{ background: "#4ea1f2" }} /> {t("migrate.series.sent")}
                  </li>
                  <li>
                    <span class="swatch" style={{ background: "#f2c14e" }} /> {t("migrate.series.dirtied")}
                  </li>
                </ul>
              </div>
            </div>
          )}
          {its.length > 0 && (
            <table class="counters" id="migrate-rounds">
              <caption>{t("migrate.rounds")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("migrate.col.round")}</th>
                  <th scope="col">{t("migrate.col.pages")}</th>
                  <th scope="col">{t("migrate.col.zero")}</th>
                  <th scope="col">{t("migrate.col.ms")}</th>
                  <th scope="col">{t("migrate.col.dirtied")}</th>
                  <th scope="col">{t("migrate.col.throttle")}</th>
                </tr>
              </thead>
              <tbody>
                {its.map((i) => (
                  <tr key={i.iteration} data-round={i.iteration} data-pages={i.pages}>
                    <td class="num">{i.iteration}</td>
                    <td class="num">{nf.format(i.pages)}</td>
                    <td class="num">{nf.format(i.zeroPages)}</td>
                    <td class="num">{nf.format(Math.round(i.ms))}</td>
                    <td class="num">{nf.format(i.dirtied)}</td>
                    <td class="num">{i.throttle}%</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      <p class="note">{t("migrate.explain")}</p>
    </section>
  );
}
