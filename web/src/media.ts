// Media the user has fetched: a kernel, disk or CD image picked from this computer once and kept
// in this browser (IndexedDB, through idb-keyval), so the page can list it among the guests after
// a reload without asking for the file again. The page cannot read the command line's cache
// (~/.cache/x86lab): a web page only sees files its user hands it. Nothing leaves the browser;
// "forget" deletes the copy. The bytes are kept as they were picked: a booted image is used
// copy-on-write, so the kept copy never changes.

import { createStore, del, getMany, keys, set, type UseStore } from "idb-keyval";
import type { Upload } from "./config.js";

export interface KeptMedium {
  id: string;
  name: string;
  kind: Upload["kind"];
  bytes: number;
  /** When it was kept (ms since the epoch). */
  kept: number;
}

/** The page's store, or undefined where the browser offers no IndexedDB (then nothing is kept). */
function store(): UseStore | undefined {
  if (typeof indexedDB === "undefined") return undefined;
  return createStore("x86lab-media", "media");
}

const META = "meta:";
const DATA = "data:";

/** The id of a medium: its kind and name (keeping the same file again replaces it). */
export function mediumId(u: Pick<Upload, "name" | "kind">): string {
  return `${u.kind}:${u.name}`;
}

export async function keepMedium(u: Upload): Promise<KeptMedium> {
  const s = store();
  if (!s) throw new Error("this browser offers no IndexedDB: the file cannot be kept");
  const meta: KeptMedium = { id: mediumId(u), name: u.name, kind: u.kind, bytes: u.bytes.length, kept: Date.now() };
  // The bytes first: a listed medium always has its data.
  await set(DATA + meta.id, new Blob([u.bytes.slice()]), s);
  await set(META + meta.id, meta, s);
  return meta;
}

/** Every kept medium, newest first. */
export async function listMedia(): Promise<KeptMedium[]> {
  const s = store();
  if (!s) return [];
  const ids = (await keys(s)).filter((k): k is string => typeof k === "string" && k.startsWith(META));
  const metas = (await getMany<KeptMedium | undefined>(ids, s)).filter((m): m is KeptMedium => m !== undefined);
  return metas.sort((a, b) => b.kept - a.kept);
}

export async function loadMedium(id: string): Promise<Upload> {
  const s = store();
  const [meta, blob] = s ? await getMany<unknown>([META + id, DATA + id], s) : [undefined, undefined];
  if (!meta || !(blob instanceof Blob)) throw new Error(`the kept medium ${id} is gone from this browser`);
  const m = meta as KeptMedium;
  return { name: m.name, kind: m.kind, bytes: new Uint8Array(await blob.arrayBuffer()), kept: m.id };
}

export async function forgetMedium(id: string): Promise<void> {
  const s = store();
  if (!s) return;
  await del(META + id, s);
  await del(DATA + id, s);
}
