// What the monitor asks of a live-migration host (the CLI's, vmm/node/migration-control.ts), and
// `info migrate`'s text in QEMU's field names, with the pre-copy iterations under it.

import type { MigrationInfo, MigrationParameters } from "./outgoing.js";

export interface MigrationControl {
  /**
   * Connects to `uri` (tcp:HOST:PORT, unix:PATH) and starts migrating; resolves once connected
   * (a bad address or a refused connection rejects) with the job's end.
   */
  start(uri: string): Promise<{ done: Promise<MigrationInfo> }>;
  /** The current or last job's figures, if any. */
  info(): MigrationInfo | undefined;
  /** Cancels the running job; false when none runs. */
  cancel(): boolean;
  parameters: MigrationParameters;
}

/** migrate_set_parameter NAME VALUE (QEMU's units: max-bandwidth in MiB/s unless suffixed). */
export function setMigrationParameter(params: MigrationParameters, name: string, value: string): void {
  if (!(name in params)) throw new Error(`unknown parameter '${name}' (${Object.keys(params).join(", ")})`);
  const key = name as keyof MigrationParameters;
  if (key === "auto-converge") {
    if (value !== "on" && value !== "off") throw new Error("auto-converge: on or off");
    params[key] = value === "on";
    return;
  }
  let n: number;
  if (key === "max-bandwidth") {
    const m = /^(\d+(?:\.\d+)?)([bkmgt]?)$/i.exec(value);
    if (!m) throw new Error(`max-bandwidth '${value}': a size such as 32M (plain numbers are MiB/s)`);
    const unit = m[2]!.toLowerCase();
    const mult = unit === "b" ? 1 : unit === "k" ? 1024 : unit === "g" ? 2 ** 30 : unit === "t" ? 2 ** 40 : 2 ** 20;
    n = Math.round(Number(m[1]) * mult);
  } else n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || !/^[\d.]+[bkmgtBKMGT]?$/.test(value))
    throw new Error(`${name} '${value}': a positive number`);
  if (key.includes("throttle") && n > 99) throw new Error(`${name}: at most 99`);
  params[key] = n as never;
}

const kb = (b: number) => `${Math.round(b / 1024)} kbytes`;

export function formatMigrationInfo(info: MigrationInfo | undefined, params: MigrationParameters): string {
  const lines = [
    `capabilities: auto-converge: ${params["auto-converge"] ? "on" : "off"}`,
    `parameters: max-bandwidth: ${params["max-bandwidth"]} bytes/second downtime-limit: ${params["downtime-limit"]} ms max-iterations: ${params["max-iterations"]} cpu-throttle-initial: ${params["cpu-throttle-initial"]} cpu-throttle-increment: ${params["cpu-throttle-increment"]}`,
  ];
  if (!info) return `${lines.join("\n")}\n`;
  lines.push(`Migration status: ${info.status}`);
  if (info.error) lines.push(`error description: ${info.error}`);
  lines.push(`total time: ${Math.round(info.totalTimeMs)} ms`);
  if (info.downtimeMs !== undefined) lines.push(`downtime: ${Math.round(info.downtimeMs)} ms`);
  else if (info.expectedDowntimeMs !== undefined)
    lines.push(`expected downtime: ${Math.round(info.expectedDowntimeMs)} ms`);
  lines.push(
    `setup: ${Math.round(info.setupTimeMs)} ms`,
    `transferred ram: ${kb(info.transferredBytes)}`,
    `throughput: ${info.mbps.toFixed(2)} mbps`,
    `remaining ram: ${kb(info.remainingPages * 4096)}`,
    `total ram: ${kb(info.ramBytes)}`,
    `duplicate: ${info.zeroPages} pages`,
    `normal: ${info.normalPages} pages`,
    `normal bytes: ${kb(info.normalPages * 4096)}`,
    `dirty sync count: ${info.iterations.length}`,
    `dirty pages rate: ${Math.round(info.dirtyPagesRate)} pages`,
    `dirty log: ${info.tracker || "-"}`,
  );
  if (info.throttlePercent > 0) lines.push(`cpu throttle percentage: ${info.throttlePercent}`);
  lines.push(`stop-and-copy pages: ${info.stopPages}${info.stopReason ? ` (pre-copy ended: ${info.stopReason})` : ""}`);
  for (const it of info.iterations) {
    lines.push(
      `iteration ${it.iteration}: ${it.pages} pages (${it.zeroPages} zero) ${kb(it.bytes)} in ${Math.round(it.ms)} ms, ${it.dirtied} dirtied meanwhile${it.throttle ? `, throttle ${it.throttle}%` : ""}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** QMP's query-migrate reply (QEMU's MigrationInfo member names). */
export function queryMigrate(info: MigrationInfo | undefined): Record<string, unknown> {
  if (!info) return {};
  const out: Record<string, unknown> = {
    status: info.status,
    "total-time": Math.round(info.totalTimeMs),
    "setup-time": Math.round(info.setupTimeMs),
    ram: {
      transferred: info.transferredBytes,
      remaining: info.remainingPages * 4096,
      total: info.ramBytes,
      duplicate: info.zeroPages,
      normal: info.normalPages,
      "normal-bytes": info.normalPages * 4096,
      "dirty-sync-count": info.iterations.length,
      "dirty-pages-rate": Math.round(info.dirtyPagesRate),
      mbps: info.mbps,
      "page-size": 4096,
    },
  };
  if (info.downtimeMs !== undefined) out.downtime = Math.round(info.downtimeMs);
  else if (info.expectedDowntimeMs !== undefined) out["expected-downtime"] = Math.round(info.expectedDowntimeMs);
  if (info.throttlePercent > 0) out["cpu-throttle-percentage"] = info.throttlePercent;
  if (info.error) out["error-desc"] = info.error;
  return out;
}
