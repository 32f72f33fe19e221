// The engine's Node-only services: passwords hashed with node:crypto's scrypt, and the fence step
// for hosts on this machine.

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { hostname } from "node:os";
import type { PasswordHasher } from "./auth.js";
import type { Fencer, FenceTarget } from "./engine.js";

const scryptAsync = (pw: string, salt: Buffer, n: number): Promise<Buffer> =>
  new Promise((resolve, reject) => scrypt(pw, salt, 32, { N: n, r: 8, p: 1 }, (e, k) => (e ? reject(e) : resolve(k))));

/** Stored as scrypt$N$salt$key (base64), so N can grow without breaking old hashes. */
export const scryptHasher: PasswordHasher = {
  async hash(pw) {
    const salt = randomBytes(16);
    const n = 16384;
    return `scrypt$${n}$${salt.toString("base64")}$${(await scryptAsync(pw, salt, n)).toString("base64")}`;
  },
  async verify(pw, stored) {
    const [kind, n, salt, key] = stored.split("$");
    if (kind !== "scrypt" || !n || !salt || !key) return false;
    const want = Buffer.from(key, "base64");
    const got = await scryptAsync(pw, Buffer.from(salt, "base64"), Number(n));
    return got.length === want.length && timingSafeEqual(got, want);
  },
};

const gone = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
};

/**
 * Fencing a host on this machine: SIGKILL to its agent and to every VM process it reported, then
 * confirmation that each is gone (like a power-off by a fence agent followed by a status query).
 * A host elsewhere cannot be fenced from here: the answer says so, and an administrator confirms
 * it is down (POST /hosts/{id}/fence with fence_type manual).
 */
export const localProcessFencer: Fencer = {
  async fence(t: FenceTarget) {
    const local = ["127.0.0.1", "localhost", "::1", hostname()].includes(t.address);
    if (!local)
      return { ok: false, message: `host ${t.name} at ${t.address} is not on this machine: no fence agent reaches it` };
    const pids = [...(t.agentPid ? [t.agentPid] : []), ...t.vmPids];
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    const end = Date.now() + 5000;
    while (pids.some((p) => !gone(p))) {
      if (Date.now() > end)
        return { ok: false, message: `processes ${pids.filter((p) => !gone(p)).join(", ")} still run after SIGKILL` };
      await new Promise((r) => setTimeout(r, 20));
    }
    return {
      ok: true,
      message: `SIGKILL to ${pids.length ? `processes ${pids.join(", ")}` : "no process (none reported)"}; confirmed gone`,
    };
  },
};
