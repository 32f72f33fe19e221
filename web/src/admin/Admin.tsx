// The administration view: the engine's inventory as oVirt's administration portal lists it
// (data centers, clusters, hosts, storage domains, networks, VMs, the event log), the states
// refreshed every second, the actions that change them, and a VM's console. It talks to the
// engine only through EngineClient, so the same view serves a remote engine and the datacenter
// in a tab.

import { useCallback, useEffect, useState } from "preact/hooks";
import { type ApiObject, COLLECTIONS, type Collection, type EngineClient } from "./client.js";
import { NewVm } from "./NewVm.js";
import { field, refName, State, size, Table } from "./Table.js";
import { VmConsole } from "./VmConsole.js";

type Inventory = Record<Collection, ApiObject[]>;

const EMPTY = Object.fromEntries(Object.keys(COLLECTIONS).map((k) => [k, []])) as unknown as Inventory;
const REFRESH_MS = 1000;

/** The last inventory read, for the browser test (window.__x86admin.inventory). */
export let lastInventory: Inventory = EMPTY;

export function Admin({ client }: { client: EngineClient }) {
  const [inv, setInv] = useState<Inventory>(EMPTY);
  const [error, setError] = useState<string | undefined>();
  const [consoleVm, setConsoleVm] = useState<string | undefined>();
  const [migrateTo, setMigrateTo] = useState<Record<string, string>>({});

  const refresh = useCallback(async () => {
    try {
      const lists = await Promise.all((Object.keys(COLLECTIONS) as Collection[]).map((c) => client.list(c)));
      const next = Object.fromEntries(lists.map((l, i) => [Object.keys(COLLECTIONS)[i], l])) as unknown as Inventory;
      lastInventory = next;
      setInv(next);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [client]);

  useEffect(() => {
    refresh();
    const t = setInterval(refresh, REFRESH_MS);
    return () => clearInterval(t);
  }, [refresh]);

  /** Runs an action; its error (oVirt's fault reason and detail) is shown until the next one. */
  const act = (what: () => Promise<unknown>) => async () => {
    setError(undefined);
    try {
      await what();
    } catch (e) {
      setError((e as Error).message);
    }
    refresh();
  };

  const hostsUp = inv.hosts.filter((h) => h.status === "up");
  const consoleOf = inv.vms.find((v) => v.id === consoleVm);
  return (
    <main>
      <header>
        <h1>Administration</h1>
        <span class="where">engine: {client.transport.where}</span>
      </header>
      {error && (
        <p role="alert" class="error" id="admin-error">
          {error}
        </p>
      )}
      <div class="grid">
        <Table
          id="datacenters"
          caption="Data centers"
          rows={inv.datacenters}
          columns={[{ title: "Description", cell: (o) => String(o.description ?? "") }]}
        />
        <Table
          id="clusters"
          caption="Clusters"
          rows={inv.clusters}
          columns={[
            { title: "Data center", cell: (o) => refName(o.data_center, inv.datacenters) },
            { title: "CPU type", cell: (o) => field(o, "cpu", "type") },
            { title: "Migration policy", cell: (o) => field(o, "migration", "policy", "id") },
          ]}
        />
      </div>
      <Table
        id="hosts"
        caption="Hosts"
        rows={inv.hosts}
        columns={[
          { title: "State", cell: (o) => <State value={o.status} detail={o.status_detail} /> },
          { title: "Cluster", cell: (o) => refName(o.cluster, inv.clusters) },
          { title: "Memory", cell: (o) => size(o.memory) },
          { title: "VMs", cell: (o) => inv.vms.filter((v) => (v.host as { id?: string })?.id === o.id).length },
        ]}
        actions={(o) =>
          o.status === "maintenance" ? (
            <button type="button" onClick={act(() => client.action("hosts", o.id, "activate"))}>
              Activate
            </button>
          ) : (
            <button type="button" onClick={act(() => client.action("hosts", o.id, "deactivate"))}>
              Maintenance
            </button>
          )
        }
      />
      <div class="grid">
        <Table
          id="storagedomains"
          caption="Storage domains"
          rows={inv.storagedomains}
          columns={[
            { title: "Type", cell: (o) => field(o, "type") },
            { title: "State", cell: (o) => <State value={o.status} detail={o.status_detail} /> },
            { title: "Path", cell: (o) => field(o, "storage", "path") },
          ]}
        />
        <Table
          id="networks"
          caption="Networks"
          rows={inv.networks}
          columns={[
            { title: "Data center", cell: (o) => refName(o.data_center, inv.datacenters) },
            { title: "Kind", cell: (o) => field(o, "kind") },
          ]}
        />
      </div>
      <NewVm client={client} clusters={inv.clusters} onDone={(e) => (e ? setError(e.message) : refresh())} />
      <Table
        id="vms"
        caption="Virtual machines"
        rows={inv.vms}
        columns={[
          { title: "State", cell: (o) => <State value={o.status} detail={o.status_detail} /> },
          { title: "Host", cell: (o) => refName(o.host, inv.hosts) },
          { title: "Memory", cell: (o) => size(o.memory) },
        ]}
        actions={(o) => {
          const others = hostsUp.filter((h) => h.id !== (o.host as { id?: string })?.id);
          const to = migrateTo[o.id] ?? "";
          return (
            <>
              <button type="button" class="vm-start" onClick={act(() => client.action("vms", o.id, "start"))}>
                Start
              </button>
              <button type="button" class="vm-stop" onClick={act(() => client.action("vms", o.id, "stop"))}>
                Stop
              </button>
              <select
                aria-label={`migrate ${o.name} to`}
                class="vm-migrate-to"
                value={to}
                onChange={(e) => setMigrateTo({ ...migrateTo, [o.id]: e.currentTarget.value })}
              >
                <option value="">any host</option>
                {others.map((h) => (
                  <option key={h.id} value={h.id}>
                    {h.name}
                  </option>
                ))}
              </select>
              <button
                type="button"
                class="vm-migrate"
                onClick={act(() => client.action("vms", o.id, "migrate", to ? { host: { id: to } } : {}))}
              >
                Migrate
              </button>
              <button type="button" class="vm-console" onClick={() => setConsoleVm(o.id)}>
                Console
              </button>
            </>
          );
        }}
      />
      {consoleOf && <VmConsole client={client} vm={consoleOf} onClose={() => setConsoleVm(undefined)} />}
      <Table
        id="events"
        caption="Events"
        rows={[...inv.events]
          .sort((a, b) => new Date(String(b.time)).getTime() - new Date(String(a.time)).getTime())
          .slice(0, 50)}
        columns={[
          { title: "Time", cell: (o) => time(o.time) },
          { title: "Severity", cell: (o) => String(o.severity ?? "") },
          { title: "Description", cell: (o) => String(o.description ?? "") },
        ]}
      />
    </main>
  );
}

function time(v: unknown): string {
  const d = typeof v === "number" || typeof v === "string" ? new Date(v) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toLocaleTimeString() : "";
}
