// A list of one collection's objects: a table with a caption, one row per object, its name and
// then the columns the caller names, and an optional cell of actions. Rows carry the object's name so that tests
// and screen readers find them.

import type { ComponentChildren } from "preact";
import type { ApiObject } from "./client.js";

export interface Column {
  title: string;
  cell(o: ApiObject): ComponentChildren;
}

export function Table(props: {
  id: string;
  caption: string;
  rows: ApiObject[];
  columns: Column[];
  actions?: (o: ApiObject) => ComponentChildren;
}) {
  const { id, caption, rows, columns, actions } = props;
  return (
    <table id={id}>
      <caption>
        {caption} ({rows.length})
      </caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          {columns.map((c) => (
            <th scope="col" key={c.title}>
              {c.title}
            </th>
          ))}
          {actions && <th scope="col">Actions</th>}
        </tr>
      </thead>
      <tbody>
        {rows.map((o) => (
          <tr key={o.id} data-name={o.name ?? o.id}>
            <th scope="row">{o.name ?? o.id}</th>
            {columns.map((c) => (
              <td key={c.title}>{c.cell(o)}</td>
            ))}
            {actions && <td class="actions">{actions(o)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A state as a badge coloured by what it means (oVirt's names: up, maintenance, down...), its detail as a tooltip. */
export function State({ value, detail }: { value: unknown; detail?: unknown }) {
  const s = typeof value === "string" ? value : "unknown";
  const tone = /^(up|active|operational)$/.test(s)
    ? "ok"
    : /^(down|non_responsive|non_operational|error|unknown|not_responding)$/.test(s)
      ? "err"
      : "warn";
  const why = typeof detail === "string" && detail ? detail : undefined;
  return (
    <span class={`state ${tone}`} title={why}>
      {s}
      {why && <span class="visually-hidden"> ({why})</span>}
    </span>
  );
}

/** A field that is a reference ({ id } or { id, name }) shown by the name of what it points to. */
export function refName(ref: unknown, among: ApiObject[]): string {
  if (!ref || typeof ref !== "object") return "";
  const r = ref as { id?: string; name?: string };
  return r.name ?? among.find((o) => o.id === r.id)?.name ?? r.id ?? "";
}

/** A nested field as text: field(o, "cpu", "type") is o.cpu.type, or "" where it is missing. */
export function field(o: ApiObject, ...path: string[]): string {
  let v: unknown = o;
  for (const k of path) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return v === undefined || v === null ? "" : String(v);
}

/** Bytes as MiB or GiB (oVirt gives memory and sizes in bytes). */
export function size(v: unknown): string {
  const n = typeof v === "string" ? Number(v) : typeof v === "number" ? v : Number.NaN;
  if (!Number.isFinite(n)) return "";
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${Math.round(n / 2 ** 20)} MiB`;
}
