// virsh's verbs over this project's connection (manage/libvirt/connection.ts): arguments and
// output follow virsh's; an error is "error: ..." on stderr with status 1, as virsh prints it.
// manage/cli/virsh.ts runs virsh() on the command line; tests call it directly.

import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { parseArgs } from "node:util";
import { Connection, LibvirtError } from "../libvirt/connection.js";
import {
  attachDisk,
  detachDisk,
  domainStats,
  migrateDomain,
  restoreDomain,
  saveDomain,
  snapshotCreateAs,
  snapshotDelete,
  snapshotList,
  snapshotRevert,
} from "../libvirt/domain-ops.js";
import { DomainXmlError } from "../libvirt/domain-xml.js";
import { fields, prettyCapacity, snapshotTime, table } from "./virsh-format.js";

type Values = Record<string, string | boolean | undefined>;
type Out = (text: string) => void;

interface Verb {
  help: string;
  /** Positional argument names (a trailing ? is optional). */
  args: string[];
  options?: Record<string, { type: "string" | "boolean" }>;
  run(conn: Connection, a: string[], v: Values, out: Out): Promise<void> | void;
}

const stateText = (s: { state: string; reason: string }, reason: boolean) =>
  reason ? `${s.state} (${s.reason})` : s.state;

const VERBS: Record<string, Verb> = {
  define: {
    help: "define a domain from an XML file",
    args: ["file"],
    run: (c, [file], _v, out) => {
      let def: ReturnType<Connection["defineXML"]>;
      try {
        def = c.defineXML(readFileSync(file!, "utf8"));
      } catch (e) {
        if (e instanceof DomainXmlError)
          throw new LibvirtError(`Failed to define domain from ${file}\nerror: XML error: ${e.message}`);
        throw e;
      }
      out(`Domain '${def.name}' defined from ${file}\n`);
    },
  },
  undefine: {
    help: "undefine a domain",
    args: ["domain"],
    options: { "snapshots-metadata": { type: "boolean" } },
    run: (c, [d], v, out) => {
      const name = c.resolveName(d!);
      c.undefine(name, { snapshotsMetadata: v["snapshots-metadata"] === true });
      out(`Domain '${name}' has been undefined\n`);
    },
  },
  start: {
    help: "start a (previously defined) inactive domain",
    args: ["domain"],
    options: { paused: { type: "boolean" }, console: { type: "boolean" } },
    run: async (c, [d], v, out) => {
      const name = c.resolveName(d!);
      await c.start(name, { paused: v["paused"] === true });
      out(`Domain '${name}' started\n`);
      if (v["console"]) await consoleSession(c, name, out);
    },
  },
  shutdown: {
    help: "power the domain off (no ACPI here: QMP's system_powerdown, the guest is not asked)",
    args: ["domain"],
    run: async (c, [d], _v, out) => {
      const name = c.resolveName(d!);
      await c.shutdown(name);
      out(`Domain '${name}' is being shutdown\n`);
    },
  },
  reboot: {
    help: "reboot a domain (QMP's system_reset)",
    args: ["domain"],
    run: async (c, [d], _v, out) => {
      const name = c.resolveName(d!);
      await c.reboot(name);
      out(`Domain '${name}' is being rebooted\n`);
    },
  },
  destroy: {
    help: "destroy (stop) a domain",
    args: ["domain"],
    run: async (c, [d], _v, out) => {
      const name = c.resolveName(d!);
      await c.destroy(name);
      out(`Domain '${name}' destroyed\n`);
    },
  },
  suspend: {
    help: "suspend a domain",
    args: ["domain"],
    run: async (c, [d], _v, out) => {
      const name = c.resolveName(d!);
      await c.suspend(name);
      out(`Domain '${name}' suspended\n`);
    },
  },
  resume: {
    help: "resume a domain",
    args: ["domain"],
    run: async (c, [d], _v, out) => {
      const name = c.resolveName(d!);
      await c.resume(name);
      out(`Domain '${name}' resumed\n`);
    },
  },
  list: {
    help: "list domains",
    args: [],
    options: { all: { type: "boolean" }, inactive: { type: "boolean" }, name: { type: "boolean" } },
    run: async (c, _a, v, out) => {
      let doms = await c.list(v["all"] === true || v["inactive"] === true);
      if (v["inactive"]) doms = doms.filter((d) => d.state === "shut off");
      if (v["name"]) {
        out(doms.map((d) => `${d.name}\n`).join(""));
        return;
      }
      out(
        table(
          ["Id", "Name", "State"],
          doms.map((d) => [d.id === undefined ? "-" : String(d.id), d.name, d.state]),
        ),
      );
    },
  },
  dominfo: {
    help: "domain information",
    args: ["domain"],
    run: async (c, [d], _v, out) => {
      const s = await c.status(d!);
      const def = c.domainDef(s.name);
      out(
        fields([
          ["Id", s.id === undefined ? "-" : s.id],
          ["Name", s.name],
          ["UUID", s.uuid],
          ["OS Type", def.os.type],
          ["State", s.state],
          ["CPU(s)", def.vcpu],
          ...(s.pid !== undefined ? ([["CPU time", `${c.cpuSeconds(s.pid).toFixed(1)}s`]] as [string, string][]) : []),
          ["Max memory", `${def.memoryKiB} KiB`],
          ["Used memory", `${def.currentMemoryKiB ?? def.memoryKiB} KiB`],
          ["Persistent", s.persistent ? "yes" : "no"],
          ["Autostart", "disable"],
          ["Managed save", "no"],
          ["Security model", "none"],
          ["Security DOI", "0"],
        ]),
      );
    },
  },
  domstate: {
    help: "domain state",
    args: ["domain"],
    options: { reason: { type: "boolean" } },
    run: async (c, [d], v, out) => {
      out(`${stateText(await c.status(d!), v["reason"] === true)}\n\n`);
    },
  },
  dumpxml: {
    help: "domain information in XML",
    args: ["domain"],
    options: { inactive: { type: "boolean" } },
    run: (c, [d], v, out) => out(c.dumpXML(d!, { inactive: v["inactive"] === true })),
  },
  console: {
    help: "connect to the guest console (Ctrl+] leaves)",
    args: ["domain"],
    options: { force: { type: "boolean" } },
    run: (c, [d], _v, out) => consoleSession(c, c.resolveName(d!), out),
  },
  domstats: {
    help: "get statistics about one or multiple domains",
    args: ["domain?"],
    run: async (c, [d], _v, out) => {
      const names = d ? [c.resolveName(d)] : (await c.list(false)).map((s) => s.name);
      for (const n of names) {
        const stats = await domainStats(c, n);
        out(`Domain: '${n}'\n${stats.map(([k, v]) => `  ${k}=${v}\n`).join("")}\n`);
      }
    },
  },
  save: {
    help: "save a domain state to a file",
    args: ["domain", "file"],
    run: async (c, [d, file], _v, out) => {
      const name = c.resolveName(d!);
      await saveDomain(c, name, file!);
      out(`\nDomain '${name}' saved to ${file}\n`);
    },
  },
  restore: {
    help: "restore a domain from a saved state in a file",
    args: ["file"],
    run: async (c, [file], _v, out) => {
      await restoreDomain(c, file!);
      out(`Domain restored from ${file}\n`);
    },
  },
  "snapshot-create-as": {
    help: "create a snapshot (the monitor's savevm)",
    args: ["domain", "name?", "description?"],
    options: { name: { type: "string" }, description: { type: "string" } },
    run: async (c, [d, n, desc], v, out) => {
      const snap = await snapshotCreateAs(
        c,
        d!,
        (v["name"] as string | undefined) ?? n,
        (v["description"] as string | undefined) ?? desc,
      );
      out(`Domain snapshot ${snap} created\n`);
    },
  },
  "snapshot-list": {
    help: "list snapshots for a domain",
    args: ["domain"],
    run: (c, [d], _v, out) => {
      const list = snapshotList(c, d!);
      out(
        table(
          ["Name", "Creation Time", "State"],
          list.map((s) => [s.name, snapshotTime(s.creationTime), s.state]),
        ),
      );
    },
  },
  "snapshot-revert": {
    help: "revert a domain to a snapshot",
    args: ["domain", "snapshotname?"],
    options: { snapshotname: { type: "string" } },
    run: (c, [d, n], v) => snapshotRevert(c, d!, need((v["snapshotname"] as string | undefined) ?? n, "snapshotname")),
  },
  "snapshot-delete": {
    help: "delete a domain snapshot",
    args: ["domain", "snapshotname?"],
    options: { snapshotname: { type: "string" } },
    run: async (c, [d, n], v, out) => {
      const snap = need((v["snapshotname"] as string | undefined) ?? n, "snapshotname");
      await snapshotDelete(c, d!, snap);
      out(`Domain snapshot ${snap} deleted\n`);
    },
  },
  migrate: {
    help: "migrate a domain to another connection: migrate [--live] DOMAIN x86lab:///STATE-DIR",
    args: ["domain", "desturi"],
    options: {
      live: { type: "boolean" },
      persistent: { type: "boolean" },
      undefinesource: { type: "boolean" },
      verbose: { type: "boolean" },
    },
    run: async (c, [d, uri], v, out) => {
      const dest = new Connection({ uri: uri! });
      await migrateDomain(c, d!, dest, {
        live: v["live"] === true,
        persistent: v["persistent"] === true,
        undefineSource: v["undefinesource"] === true,
      });
      if (v["verbose"]) out("Migration: [100 %]\n");
    },
  },
  "attach-disk": {
    help: "attach a disk to the definition (--config; no hot-plug here)",
    args: ["domain", "source", "target"],
    options: {
      targetbus: { type: "string" },
      subdriver: { type: "string" },
      driver: { type: "string" },
      type: { type: "string" },
      mode: { type: "string" },
      config: { type: "boolean" },
      persistent: { type: "boolean" },
      live: { type: "boolean" },
    },
    run: (c, [d, source, target], v, out) => {
      attachDisk(c, d!, source!, target!, {
        targetBus: v["targetbus"] as string | undefined,
        format: v["subdriver"] as string | undefined,
        device: v["type"] as string | undefined,
        readonly: v["mode"] === "readonly",
        config: v["config"] === true || v["persistent"] === true,
        live: v["live"] === true,
      });
      out("Disk attached successfully\n\n");
    },
  },
  "detach-disk": {
    help: "detach a disk from the definition (--config)",
    args: ["domain", "target"],
    options: { config: { type: "boolean" }, persistent: { type: "boolean" }, live: { type: "boolean" } },
    run: (c, [d, target], v, out) => {
      detachDisk(c, d!, target!, {
        config: v["config"] === true || v["persistent"] === true,
        live: v["live"] === true,
      });
      out("Disk detached successfully\n\n");
    },
  },
  "net-list": {
    help: "list networks",
    args: [],
    options: { all: { type: "boolean" }, inactive: { type: "boolean" } },
    run: (c, _a, v, out) => {
      let nets = c.networks.list(v["all"] === true || v["inactive"] === true);
      if (v["inactive"]) nets = nets.filter((n) => !n.active);
      const yn = (b: boolean) => (b ? "yes" : "no");
      out(
        table(
          ["Name", "State", "Autostart", "Persistent"],
          nets.map((n) => [n.name, n.active ? "active" : "inactive", yn(n.autostart), yn(n.persistent)]),
        ),
      );
    },
  },
  "net-define": {
    help: "define an inactive persistent virtual network from an XML file",
    args: ["file"],
    run: (c, [file], _v, out) =>
      out(`Network ${c.networks.define(readFileSync(file!, "utf8"))} defined from ${file}\n`),
  },
  "net-start": {
    help: "start a (previously defined) inactive network",
    args: ["network"],
    run: async (c, [n], _v, out) => {
      await c.networks.start(n!);
      out(`Network ${n} started\n`);
    },
  },
  "net-destroy": {
    help: "stop a network",
    args: ["network"],
    run: async (c, [n], _v, out) => {
      await c.networks.destroy(n!);
      out(`Network ${n} destroyed\n`);
    },
  },
  "net-undefine": {
    help: "undefine a persistent network",
    args: ["network"],
    run: (c, [n], _v, out) => {
      c.networks.undefine(n!);
      out(`Network ${n} has been undefined\n`);
    },
  },
  "net-dumpxml": {
    help: "network information in XML",
    args: ["network"],
    run: (c, [n], _v, out) => out(c.networks.xml(n!)),
  },
  "net-dhcp-leases": {
    help: "print lease info for a given network",
    args: ["network"],
    run: (c, [n], _v, out) => {
      const rows = c.networks.leases(n!).map((l) => [l.expiry, l.mac, l.protocol, l.address, l.hostname, l.clientId]);
      out(table(["Expiry Time", "MAC address", "Protocol", "IP address", "Hostname", "Client ID or DUID"], rows));
    },
  },
  "pool-list": {
    help: "list pools",
    args: [],
    options: { all: { type: "boolean" }, inactive: { type: "boolean" } },
    run: (c, _a, v, out) => {
      let pools = c.pools.list(v["all"] === true || v["inactive"] === true);
      if (v["inactive"]) pools = pools.filter((p) => !p.active);
      out(
        table(
          ["Name", "State", "Autostart"],
          pools.map((p) => [p.name, p.active ? "active" : "inactive", p.autostart ? "yes" : "no"]),
        ),
      );
    },
  },
  "pool-define": {
    help: "define a pool from an XML file",
    args: ["file"],
    run: (c, [file], _v, out) => out(`Pool ${c.pools.define(readFileSync(file!, "utf8"))} defined from ${file}\n`),
  },
  "pool-dumpxml": {
    help: "pool information in XML",
    args: ["pool"],
    run: (c, [p], _v, out) => out(c.pools.xml(p!)),
  },
  "vol-create-as": {
    help: "create a volume: vol-create-as POOL NAME CAPACITY [--format raw|qcow2]",
    args: ["pool", "name", "capacity"],
    options: { format: { type: "string" }, allocation: { type: "string" } },
    run: (c, [p, n, cap], v, out) => {
      c.pools.createAs(p!, n!, cap!, v["format"] as string | undefined);
      out(`Vol ${n} created\n\n`);
    },
  },
  "vol-create": {
    help: "create a volume from an XML file",
    args: ["pool", "file"],
    run: (c, [p, file], _v, out) => {
      const v = c.pools.createXML(p!, readFileSync(file!, "utf8"));
      out(`Vol ${v.name} created from ${file}\n\n`);
    },
  },
  "vol-list": {
    help: "list volumes",
    args: ["pool"],
    run: (c, [p], _v, out) =>
      out(
        table(
          ["Name", "Path"],
          c.pools.volumes(p!).map((v) => [v.name, v.path]),
        ),
      ),
  },
  "vol-info": {
    help: "storage volume information: vol-info VOL --pool POOL",
    args: ["vol"],
    options: { pool: { type: "string" } },
    run: (c, [vol], v, out) => {
      const i = c.pools.info(need(v["pool"] as string | undefined, "pool"), vol!);
      out(
        fields([
          ["Name", i.name],
          ["Type", i.type],
          ["Capacity", prettyCapacity(i.capacity)],
          ["Allocation", prettyCapacity(i.allocation)],
        ]) + "\n",
      );
    },
  },
  "vol-dumpxml": {
    help: "volume information in XML",
    args: ["vol"],
    options: { pool: { type: "string" } },
    run: (c, [vol], v, out) => out(c.pools.volumeXml(need(v["pool"] as string | undefined, "pool"), vol!)),
  },
  "vol-delete": {
    help: "delete a volume",
    args: ["vol"],
    options: { pool: { type: "string" } },
    run: (c, [vol], v, out) => {
      c.pools.deleteVolume(need(v["pool"] as string | undefined, "pool"), vol!);
      out(`Vol ${vol} deleted\n\n`);
    },
  },
};

class UsageError extends Error {}

function need(v: string | undefined, what: string): string {
  if (v === undefined) throw new UsageError(`command requires <${what}> option`);
  return v;
}

/**
 * virsh console: the domain's COM1 on this terminal until Ctrl+] (0x1d). With input that is not
 * a terminal, the session also ends two seconds after the input ends and the console is quiet.
 */
export function consoleSession(c: Connection, name: string, out: Out): Promise<void> {
  const path = c.consolePath(name);
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const stdin = process.stdin;
    const tty = stdin.isTTY === true;
    let quiet: NodeJS.Timeout | undefined;
    let inputEnded = false;
    const done = () => {
      stdin.off("data", onKey);
      stdin.off("end", onEnd);
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      clearTimeout(quiet);
      sock.destroy();
      out("\n");
      resolve();
    };
    const armQuiet = () => {
      if (!inputEnded) return;
      clearTimeout(quiet);
      quiet = setTimeout(done, 2000);
    };
    const onKey = (d: Buffer) => {
      const esc = d.indexOf(0x1d);
      if (esc >= 0) {
        if (esc > 0) sock.write(d.subarray(0, esc));
        done();
        return;
      }
      sock.write(d);
    };
    const onEnd = () => {
      inputEnded = true;
      armQuiet();
    };
    sock.on("connect", () => {
      out(`Connected to domain '${name}'\nEscape character is ^] (Ctrl + ])\n`);
      if (tty) stdin.setRawMode(true);
      stdin.on("data", onKey);
      stdin.on("end", onEnd);
      stdin.resume();
    });
    sock.on("data", (d) => {
      process.stdout.write(d);
      armQuiet();
    });
    sock.on("error", (e) => reject(new LibvirtError(`internal error: console: ${e.message}`)));
    sock.on("close", () => done());
  });
}

const HELP = `usage: npm run virsh -- [-c URI] COMMAND [ARGS]

  -c, --connect URI   x86lab:///session (default: $X86LAB_LIBVIRT_DIR or ~/.local/share/x86lab/libvirt)
                      or x86lab:///STATE-DIR
Commands:
${Object.entries(VERBS)
  .map(([k, v]) => `  ${k.padEnd(20)} ${v.help}`)
  .join("\n")}
`;

export async function virsh(argv: string[], out: Out = (t) => process.stdout.write(t)): Promise<number> {
  let uri: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-c" || a === "--connect") uri = argv[++i];
    else if (a.startsWith("--connect=")) uri = a.slice(10);
    else if (a === "-h" || a === "--help" || a === "help") {
      out(HELP);
      return 0;
    } else break;
  }
  const name = argv[i];
  if (!name) {
    out(HELP);
    return 0;
  }
  const verb = VERBS[name];
  if (!verb) {
    process.stderr.write(`error: unknown command: '${name}'\n`);
    return 1;
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv.slice(i + 1),
      options: { ...(verb.options ?? {}), domain: { type: "string" }, help: { type: "boolean" } },
      allowPositionals: true,
      strict: true,
    });
    if (values["help"]) {
      out(`  ${name} ${verb.args.map((a) => `<${a}>`).join(" ")}\n  ${verb.help}\n`);
      return 0;
    }
    const pos = [...positionals];
    if (values["domain"] !== undefined) pos.unshift(values["domain"] as string);
    const required = verb.args.filter((a) => !a.endsWith("?"));
    if (pos.length < required.length)
      throw new UsageError(`command '${name}' requires <${required[pos.length]}> option`);
    if (pos.length > verb.args.length) throw new UsageError(`unexpected data '${pos[verb.args.length]}'`);
    const conn = new Connection({ uri });
    await verb.run(conn, pos, values as Values, out);
    return 0;
  } catch (e) {
    if (e instanceof LibvirtError || e instanceof UsageError || e instanceof DomainXmlError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (
      code === "ENOENT" ||
      code === "EACCES" ||
      code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ||
      code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE"
    ) {
      process.stderr.write(`error: ${(e as Error).message}\n`);
      return 1;
    }
    process.stderr.write(`error: internal error: ${(e as Error).message}\n`);
    if (process.env["X86LAB_DEBUG"]) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
