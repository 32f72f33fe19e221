// Users, passwords and what each may see. An administrator sees and does everything; a user sees
// only the VMs granted to them (oVirt's UserRole on a VM) and gets 404 for any other, as oVirt's
// filtered API does. Hashing is passed in (node:crypto's scrypt in Node, auth-node.ts), so this
// file runs in a page too.

import type { Db } from "./db.js";
import { badRequest, conflict, EngineError, notFound } from "./errors.js";
import { newId, one, type UserRow } from "./inventory.js";

export interface Principal {
  userId: string;
  name: string;
  admin: boolean;
}

/** The engine itself (recovery, HA restarts): everything, never from outside. */
export const SYSTEM: Principal = { userId: "", name: "engine", admin: true };

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
}

export class Auth {
  constructor(
    private readonly db: Db,
    private readonly hasher?: PasswordHasher,
  ) {}

  private need(): PasswordHasher {
    if (!this.hasher) throw new EngineError(500, "the engine was started without a password hasher");
    return this.hasher;
  }

  async ensureAdmin(name: string, password: string): Promise<void> {
    const u = await one<UserRow>(this.db, "SELECT * FROM users WHERE name = $1", [name]);
    if (!u) await this.addUser(name, password, "admin");
  }

  async addUser(name: string, password: string, role: "admin" | "user"): Promise<string> {
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name))
      throw badRequest(`user name '${name}' is not valid (letters, digits, _ . @ -)`);
    if (password.length < 4) throw badRequest("the password is shorter than 4 characters");
    if (await one(this.db, "SELECT id FROM users WHERE name = $1", [name])) throw conflict(`user ${name} exists`);
    const id = newId();
    await this.db.query("INSERT INTO users (id, name, password_hash, role) VALUES ($1, $2, $3, $4)", [
      id,
      name,
      await this.need().hash(password),
      role,
    ]);
    return id;
  }

  /** The principal for a name and password, or undefined (the caller answers 401). */
  async authenticate(name: string, password: string): Promise<Principal | undefined> {
    const u = await one<UserRow>(this.db, "SELECT * FROM users WHERE name = $1", [name]);
    if (!u || !(await this.need().verify(password, u.password_hash))) return undefined;
    return { userId: u.id, name: u.name, admin: u.role === "admin" };
  }

  async maySee(p: Principal, vmId: string): Promise<boolean> {
    if (p.admin) return true;
    return !!(await one(this.db, "SELECT 1 FROM permissions WHERE user_id = $1 AND vm_id = $2", [p.userId, vmId]));
  }

  async grant(vmId: string, userName: string): Promise<void> {
    const u = await one<UserRow>(this.db, "SELECT * FROM users WHERE name = $1", [userName]);
    if (!u) throw notFound("user", userName);
    await this.db.query(
      "INSERT INTO permissions (user_id, vm_id) VALUES ($1, $2) ON CONFLICT (user_id, vm_id) DO NOTHING",
      [u.id, vmId],
    );
  }
}
