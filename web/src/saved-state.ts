// The machine's saved state kept in this browser (IndexedDB through idb-keyval, as media.ts keeps
// media): one slot, keyed by nothing but "state", so a reload can boot the same guest and restore
// it. The bytes are the saved-VM file of docs/state.md, the same file `npm start -- -incoming
// file:PATH` takes; nothing leaves the browser.

import { createStore, del, get, set, type UseStore } from "idb-keyval";

function store(): UseStore | undefined {
  if (typeof indexedDB === "undefined") return undefined;
  return createStore("x86lab-state", "states");
}

const KEY = "state";

export async function keepState(bytes: Uint8Array): Promise<void> {
  const s = store();
  if (!s) throw new Error("this browser offers no IndexedDB: the state cannot be kept");
  await set(KEY, bytes, s);
}

export async function keptState(): Promise<Uint8Array | undefined> {
  const s = store();
  return s ? get<Uint8Array>(KEY, s) : undefined;
}

export async function forgetState(): Promise<void> {
  const s = store();
  if (s) await del(KEY, s);
}
