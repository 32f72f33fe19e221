// What an engine does with the operations it finds open when it starts: the previous engine
// stopped in the middle of them. VM actions end (failed, with why): the VM's real state comes
// from its hosts' next reports, so a VM that was starting or migrating is Unknown until a host
// says it runs it (host-watch.ts reconcile), and Down if none does within the grace time.
// Maintenance and HA restarts are resumed: both are idempotent.

import { SYSTEM } from "./auth.js";
import type { Engine } from "./engine.js";
import { one, type VmRow } from "./inventory.js";
import { endOp, openOps } from "./operations.js";

export async function recoverOperations(e: Engine): Promise<void> {
  const ops = await openOps(e.db);
  const resume: (() => Promise<unknown>)[] = [];
  for (const op of ops) {
    const why = "the engine restarted during this operation";
    if (op.kind === "maintenance" && op.host_id) {
      const h = await e.host(op.host_id);
      // Waits for the hosts to reconnect before moving anything.
      resume.push(() => e.vms.evacuate(SYSTEM, h, op.id));
      continue;
    }
    await endOp(e.db, op.id, "failed", `${why}; the VM's state is taken from its hosts`);
    const v = op.vm_id ? await one<VmRow>(e.db, "SELECT * FROM vms WHERE id = $1", [op.vm_id]) : undefined;
    if (v && ["wait_for_launch", "powering_up", "powering_down", "migrating"].includes(v.status)) {
      await e.setVm(v.id, { status: "unknown", status_detail: `${why} (${op.kind}); waiting for its hosts to report` });
    }
    if (v && op.kind === "ha_restart" && v.status === "down")
      resume.push(() => e.vms.start(SYSTEM, v.id, { reason: "ha_restart" }));
    await e.event({
      severity: "warning",
      code: "OPERATION_INTERRUPTED",
      description: `${op.kind}${v ? ` of VM ${v.name}` : ""}: ${why}`,
      vmId: v?.id,
    });
  }
  if (resume.length) {
    // After one heartbeat period hosts have said hello again.
    setTimeout(() => {
      void (async () => {
        for (const r of resume) await r().catch((err: Error) => e.opts.log(`resumed operation: ${err.message}`));
      })();
    }, e.opts.heartbeatMs * 2);
  }
}
