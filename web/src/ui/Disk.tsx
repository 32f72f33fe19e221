// The qcow2 allocation panel: the guest's disk cluster by cluster (data, zero, unallocated), the
// tables that map it (L1, L2, refcounts) and how the image file grew as the guest wrote: thin
// provisioning made visible. Live while the guest runs (the Worker posts the allocation when the
// file changed). Shown for a machine with a qcow2 disk: the built-in guest with an overlay disk, or
// an uploaded qcow2 hard disk image.

import type { Machine } from "../machine.js";
import type { DiskMessage } from "../protocol.js";
import { CELL } from "../qcow2-view.js";
import { Chart } from "./Chart.js";
import { useUi } from "./context.js";

const CELL_CLASS = ["unallocated", "zero", "data", "compressed"] as const;

/** Bytes as KiB, MiB or GiB with one decimal (the panel's sizes span 64 KiB to gigabytes). */
function bytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB`;
}

const SERIES = [
  { key: "fileBytes", color: "#f2c14e" },
  { key: "dataBytes", color: "#4ea1f2" },
  { key: "guestBytes", color: "#9ad17b" },
] as const;

export function Disk({ machine }: { machine: Machine }) {
  const { t, nf } = useUi();
  const d: DiskMessage | undefined = machine.disk;
  if (!d) return <p id="disk-none">{t("disk.none")}</p>;
  const a = d.allocation;
  const h = machine.diskHistory;
  const pct = (n: number) => ((100 * n) / Math.max(1, a.guestClusters)).toFixed(1);
  const row = (id: string, label: string, value: string, n?: number) => (
    <tr data-disk={id} data-value={n}>
      <th scope="row">{label}</th>
      <td class="num">{value}</td>
    </tr>
  );
  const series = SERIES.map((s) => ({ label: t(`disk.series.${s.key}`), color: s.color }));
  return (
    <section aria-labelledby="disk-title" id="disk">
      <h3 id="disk-title">{t("disk.title", { name: a.name })}</h3>
      <p class="note" id="disk-summary">
        {t("disk.summary", {
          size: bytes(a.virtualSize),
          file: bytes(a.fileBytes),
          share: ((100 * a.fileBytes) / Math.max(1, a.virtualSize)).toFixed(1),
          written: bytes(d.guestBytesWritten),
          writes: nf.format(d.guestWrites),
        })}
      </p>
      <div class="side-by-side">
        <table class="counters" id="disk-guest">
          <caption>{t("disk.guest", { clusters: nf.format(a.guestClusters), size: bytes(a.clusterSize) })}</caption>
          <tbody>
            {row("data", t("disk.data"), `${nf.format(a.data)} (${pct(a.data)}%)`, a.data)}
            {row("zero", t("disk.zero"), `${nf.format(a.zero)} (${pct(a.zero)}%)`, a.zero)}
            {a.compressed > 0 &&
              row(
                "compressed",
                t("disk.compressed"),
                `${nf.format(a.compressed)} (${pct(a.compressed)}%)`,
                a.compressed,
              )}
            {row(
              "unallocated",
              a.backing ? t("disk.unallocatedBacking", { backing: a.backing }) : t("disk.unallocatedZero"),
              `${nf.format(a.unallocated)} (${pct(a.unallocated)}%)`,
              a.unallocated,
            )}
          </tbody>
        </table>
        <table class="counters" id="disk-meta">
          <caption>{t("disk.meta", { version: a.version })}</caption>
          <tbody>
            {row(
              "l1",
              t("disk.l1"),
              t("disk.l1Value", { used: nf.format(a.l2Tables), entries: nf.format(a.l1Entries) }),
              a.l1Entries,
            )}
            {row("l2", t("disk.l2", { maps: bytes(a.l2Maps) }), nf.format(a.l2Tables), a.l2Tables)}
            {row(
              "refcount",
              t("disk.refcount", { bits: a.refcountBits }),
              t("disk.refcountValue", {
                table: nf.format(a.refcountTableClusters),
                blocks: nf.format(a.refcountBlocks),
              }),
              a.refcountBlocks,
            )}
            {row(
              "host",
              t("disk.host"),
              t("disk.hostValue", {
                header: a.host.header,
                refcount: nf.format(a.host.refcountTable + a.host.refcountBlocks),
                l1: nf.format(a.host.l1),
                l2: nf.format(a.host.l2),
                data: nf.format(a.host.data),
                free: nf.format(a.host.free),
              }),
              a.host.data,
            )}
            {row("file", t("disk.file"), `${bytes(a.fileBytes)} (${nf.format(a.fileBytes)} B)`, a.fileBytes)}
            {a.snapshots > 0 && row("snapshots", t("disk.snapshots"), nf.format(a.snapshots), a.snapshots)}
          </tbody>
        </table>
      </div>
      <figure class="cluster-map">
        <figcaption>
          {t("disk.map", { per: nf.format(a.clustersPerCell), size: bytes(a.clustersPerCell * a.clusterSize) })}
        </figcaption>
        {/* One square per cell; the tables above carry the same counts for assistive technology. */}
        <div class="cells" aria-hidden="true">
          {Array.from(a.map, (c, i) => (
            <span key={i} class={`cell ${CELL_CLASS[c]}`} />
          ))}
        </div>
        <ul class="legend">
          <li>
            <span class={`cell ${CELL_CLASS[CELL.data]}`} /> {t("disk.data")}
          </li>
          <li>
            <span class={`cell ${CELL_CLASS[CELL.zero]}`} /> {t("disk.zero")}
          </li>
          <li>
            <span class={`cell ${CELL_CLASS[CELL.unallocated]}`} />{" "}
            {a.backing ? t("disk.unallocatedBacking", { backing: a.backing }) : t("disk.unallocatedZero")}
          </li>
        </ul>
      </figure>
      <Chart
        title={t("disk.growth")}
        series={series}
        data={[h.t, h.fileBytes, h.dataBytes, h.guestBytes]}
        log={false}
        yValues={bytes}
        height={180}
      />
      <ul class="legend">
        {series.map((s) => (
          <li key={s.label}>
            <span class="swatch" style={{ background: s.color }} /> {s.label}
          </li>
        ))}
      </ul>
      <p class="note">{t("disk.explain")}</p>
    </section>
  );
}
