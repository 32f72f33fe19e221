// The browser lab: `npm run web:dev` serves it, `npm run web:build` writes build/web and
// `npm run web:preview` serves that production build.
// The guest files are not imported by the code: this plugin serves them in dev and copies them
// into the build, under fixed names the page hands to the Worker.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
import { FIRMWARE, GUESTS } from "./src/guests.js";

const project = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

/** Served name -> file on disk (read at request/build time, so a rebuilt core is picked up). */
const ASSETS: Record<string, () => string> = {
  "core.wasm": () => process.env.CORE_WASM ?? project("build/core.wasm"),
};
for (const f of Object.values(FIRMWARE)) ASSETS[f.served] = () => project(f.file);
for (const g of GUESTS) {
  ASSETS[g.kernel] = () => project(g.kernelFile);
  if (g.initrd && g.initrdFile) {
    const file = g.initrdFile;
    ASSETS[g.initrd] = () => project(file);
  }
}

function readAsset(name: string): Uint8Array {
  const file = ASSETS[name]!();
  try {
    return readFileSync(file);
  } catch {
    throw new Error(`${file} is missing${name === "core.wasm" ? ': run "npm run build"' : ""}`);
  }
}

function guestAssets(): Plugin {
  return {
    name: "x86lab-guest-assets",
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = (req.url ?? "").split("?")[0]!.replace(/^\//, "");
        if (!(name in ASSETS)) return next();
        try {
          const body = readAsset(name);
          res.setHeader("Content-Type", name.endsWith(".wasm") ? "application/wasm" : "application/octet-stream");
          res.end(body);
        } catch (e) {
          res.statusCode = 404;
          res.end(String(e));
        }
      });
    },
    generateBundle() {
      for (const name of Object.keys(ASSETS)) this.emitFile({ type: "asset", fileName: name, source: readAsset(name) });
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [guestAssets()],
  // Preact's JSX runtime for the .tsx views (tsconfig.json says the same to the type checker).
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  worker: { format: "es" },
  // admin.html?engine= talks to an engine server through this origin: ENGINE=http://HOST:PORT
  // npm run web:dev forwards /ovirt-engine to it (the engine's server sends no CORS headers).
  server: process.env.ENGINE ? { proxy: { "/ovirt-engine": process.env.ENGINE } } : undefined,
  // PGlite (the admin page's in-page database) finds its wasm and data files next to its module:
  // the dev server's dependency pre-bundling would move the module away from them.
  optimizeDeps: { exclude: ["@electric-sql/pglite"] },
  build: {
    outDir: project("build/web"),
    emptyOutDir: true,
    target: "es2022",
    // The lab, and bare.html: its Worker with no view (bench:web's baseline).
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL("index.html", import.meta.url)),
        bare: fileURLToPath(new URL("bare.html", import.meta.url)),
        // Several VMs (each in its Worker) on one network in the page.
        net: fileURLToPath(new URL("net.html", import.meta.url)),
        // The administration view and the datacenter in a tab (docs/datacenter-in-a-tab.md).
        admin: fileURLToPath(new URL("admin.html", import.meta.url)),
      },
    },
  },
});
