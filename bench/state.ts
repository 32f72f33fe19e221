// Save/restore benchmark: the tiny Linux booted to its shell prompt (icount, each mode), then
// saved and restored into a fresh VM; prints the state file's size (and its parts before
// compression), the save and the restore time (host wall time, median of N), and checks that
// the restored guest answers a shell command. Writes bench/results/state-*.{json,txt}.
//
//   npm run bench:state [-- --runs N] [--modes native,bt,hvm,pv] [--mem MiB] [--no-write]

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadLinux } from "../vmm/boot/linux.js";
import { loadCoreModule } from "../vmm/node/load-core.js";
import { readContainer } from "../vmm/state/container.js";
import type { VirtMode } from "../vmm/virt/vmcs.js";
import { Vm } from "../vmm/vm.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const guest = (n: string) => new Uint8Array(readFileSync(`${repoRoot}guests/linux/${n}`));

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    modes: { type: "string", default: "native,bt,hvm,pv" },
    mem: { type: "string", default: "64" },
    "no-write": { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const memMiB = Number(values.mem);
const module = loadCoreModule();
const kernel = guest("bzImage");
const initrd = guest("initramfs.cpio.gz");

async function linux(mode: VirtMode, out: { text: string }): Promise<Vm> {
  const vm = await Vm.create({
    module,
    ramBytes: memMiB << 20,
    mode,
    onSerial: (c, b) => {
      if (c === 1) out.text += String.fromCharCode(b);
    },
  });
  loadLinux(vm.cpu, { kernel, initrd, cmdline: "console=ttyS0" });
  return vm;
}

function until(vm: Vm, out: { text: string }, text: string, from = 0): void {
  const start = vm.progress;
  while (!out.text.includes(text, from)) {
    if (vm.progress - start > 3e9) throw new Error(`no '${text}'`);
    vm.run(5_000_000);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  mode: VirtMode;
  fileBytes: number;
  sections: Record<string, number>;
  ramPagesSaved: number;
  saveMs: number;
  restoreMs: number;
  answered: boolean;
}

const rows: Row[] = [];
for (const mode of values.modes.split(",") as VirtMode[]) {
  const out = { text: "" };
  const vm = await linux(mode, out);
  until(vm, out, "~ # ");
  const saves: number[] = [];
  let file: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    file = await vm.save();
    saves.push(performance.now() - t);
  }
  const sections = Object.fromEntries([...(await readContainer(file))].map(([n, b]) => [n, b.length]));
  const ram = (await readContainer(file)).get("ram")!;
  const ramPagesSaved = (ram.length - 4 - Math.ceil(vm.cpu.ramBytes / 4096 / 8)) / 4096;
  const restores: number[] = [];
  let answered = false;
  for (let i = 0; i < runs; i++) {
    const outB = { text: "" };
    const b = await linux(mode, outB);
    const t = performance.now();
    await b.restore(file);
    restores.push(performance.now() - t);
    if (i === 0) {
      b.devices.com1.receive("echo restored-$((6*7))\r");
      until(b, outB, "restored-42\r\n");
      answered = true;
    }
  }
  const row = {
    mode,
    fileBytes: file.length,
    sections,
    ramPagesSaved,
    saveMs: median(saves),
    restoreMs: median(restores),
    answered,
  };
  rows.push(row);
  console.log(
    `${mode.padEnd(7)} file ${(file.length / 2 ** 20).toFixed(2)} MiB (RAM ${memMiB} MiB, ${ramPagesSaved} non-zero pages), save ${row.saveMs.toFixed(0)} ms, restore ${row.restoreMs.toFixed(0)} ms, shell answers after restore: ${answered}`,
  );
}

if (!values["no-write"]) {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const meta = { date: new Date().toISOString(), host: os.cpus()[0]?.model, load: os.loadavg(), runs, memMiB };
  const text = [
    `bench:state ${meta.date} (median of ${runs}; load ${meta.load.map((l) => l.toFixed(1)).join(" ")}; ${meta.host})`,
    "the tiny Linux at its shell prompt, saved, then restored into a fresh VM",
    "",
    "| mode | file (bytes) | RAM pages saved | save (ms) | restore (ms) | shell answers after restore |",
    "| ---- | -----------: | --------------: | --------: | -----------: | --------------------------- |",
    ...rows.map(
      (r) =>
        `| ${r.mode} | ${r.fileBytes} | ${r.ramPagesSaved} of ${(memMiB << 20) / 4096} | ${r.saveMs.toFixed(0)} | ${r.restoreMs.toFixed(0)} | ${r.answered ? "yes" : "no"} |`,
    ),
    "",
    "sections before compression (bytes):",
    ...rows.map(
      (r) =>
        `  ${r.mode}: ${Object.entries(r.sections)
          .map(([n, b]) => `${n} ${b}`)
          .join(", ")}`,
    ),
    "",
  ].join("\n");
  mkdirSync(`${repoRoot}bench/results`, { recursive: true });
  for (const name of [`state-${stamp}`, "state-latest"]) {
    writeFileSync(`${repoRoot}bench/results/${name}.json`, `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
    writeFileSync(`${repoRoot}bench/results/${name}.txt`, text);
  }
  console.log(`\n${text}`);
}
