import { PGlite } from "@electric-sql/pglite";

const db = new PGlite("idb://x86lab-smoke");
await db.exec("create table if not exists t (n int)");
await db.exec("insert into t values (1)");
const r = await db.query<{ c: number }>("select count(*)::int as c from t");
document.getElementById("admin")!.textContent = `rows ${r.rows[0]!.c}`;
