/**
 * Admin-side helpers that provoke faults on the real servers, shared by
 * tests/clients_db_test.ts, tests/clients_bun_test.ts and
 * scripts/capture_db_errors.ts: terminate a postgres backend from another
 * connection, find the backend running a query, kill a Redis client
 * (`CLIENT KILL`), add a Redis ACL user. Loopback only.
 */
import * as net from "node:net";

/**
 * `import("pg")`: pg ships no types and @types/pg is not installed, so the
 * module is `any` (the specifier is typed as a plain string to say so).
 */
// deno-lint-ignore no-explicit-any
export function importPg(): Promise<{ default: any }> {
  return import("pg" as string);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `f` with a fresh pg connection as the superuser, then closes it. */
export async function pgAdmin<T>(
  port: number,
  f: (query: (sql: string) => Promise<{ rows: Record<string, unknown>[] }>) => Promise<T>,
): Promise<T> {
  const { default: pg } = await importPg();
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" });
  c.on("error", () => {});
  await c.connect();
  try {
    return await f((sql) => c.query(sql));
  } finally {
    await c.end().catch(() => {});
  }
}

/** The pid of the backend running a query that starts with `like`, polled until it shows up. */
export async function backendRunning(port: number, like: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const pid = await pgAdmin(port, async (q) => {
      const r = await q(`select pid from pg_stat_activity
         where query like '${like}%' and pid <> pg_backend_pid() and state = 'active'`);
      return r.rows[0]?.pid as number | undefined;
    });
    if (pid) return pid;
    await sleep(30);
  }
  throw new Error(`no backend is running ${like}`);
}

/** `pg_terminate_backend` (57P01) on the backend running `like`, from another connection. */
export async function terminateBackend(port: number, like: string): Promise<void> {
  const pid = await backendRunning(port, like);
  await pgAdmin(port, (q) => q(`select pg_terminate_backend(${Number(pid)})`));
}

/** Polls until postgres answers again (after a crash it restarts every backend). */
export async function pgReady(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await pgAdmin(port, (q) => q("select 1"));
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(100);
    }
  }
}

/** Ensures the login role `faultline_pw` (password "right"), which pg_hba makes give a password. */
export async function ensurePasswordRole(port: number): Promise<void> {
  await pgAdmin(port, (q) =>
    q(`do $$ begin
         if not exists (select from pg_roles where rolname = 'faultline_pw') then
           create role faultline_pw login password 'right';
         end if; end $$`));
}

const utf8 = new TextEncoder();

function encode(args: readonly string[]): string {
  return `*${args.length}\r\n` +
    args.map((a) => `$${utf8.encode(a).length}\r\n${a}\r\n`).join("");
}

/**
 * Sends one command to redis on its own connection and resolves with the raw
 * first reply line (`+OK`, `:1`, `-ERR …`). Enough for admin commands.
 */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    s.setEncoding("utf8");
    s.once("error", reject);
    s.on("data", (d) => {
      buf += d;
      const nl = buf.indexOf("\r\n");
      if (nl === -1) return;
      s.destroy();
      const line = buf.slice(0, nl);
      if (line.startsWith("-")) reject(new Error(line.slice(1)));
      else resolve(line);
    });
    s.write(encode(args));
  });
}

/** `CLIENT KILL ID <id>` from another connection. */
export async function redisClientKill(port: number, id: number | string): Promise<void> {
  await redisCommand(port, "CLIENT", "KILL", "ID", String(id));
}

/** The Redis ACL user `faultline` with password "right", for a wrong-password case. */
export async function ensureRedisUser(port: number): Promise<void> {
  await redisCommand(port, "ACL", "SETUSER", "faultline", "on", ">right", "~*", "+@all");
}
