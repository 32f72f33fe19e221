// The labs the page offers: every JSON file in web/labs/, bundled at build time (Vite's glob
// import), each checked by parseLab(). A file that does not parse is reported, not skipped silently.

import { type Lab, parseLab } from "./format.js";

const files = import.meta.glob<unknown>("../../labs/*.json", { eager: true, import: "default" });

export interface Catalogue {
  labs: Lab[];
  errors: string[];
}

export function loadCatalogue(): Catalogue {
  const labs: Lab[] = [];
  const errors: string[] = [];
  for (const [path, json] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    try {
      labs.push(parseLab(json, path.replace(/^.*\//, "")));
    } catch (e) {
      errors.push(e instanceof Error ? e.message : String(e));
    }
  }
  return { labs, errors };
}
