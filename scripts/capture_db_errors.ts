// deno-lint-ignore-file no-explicit-any
/**
 * Records what the database and Redis clients REALLY throw for connection
 * faults, against real servers, as fixtures for tests/client_fixtures_test.ts:
 * one file per client per runtime, tests/fixtures/clients/<client>.<runtime>.json.
 *
 *   node_modules/node24/bin/node scripts/capture_db_errors.ts
 *   node_modules/node22/bin/node scripts/capture_db_errors.ts
 *   node_modules/.bin/deno run -A scripts/capture_db_errors.ts
 *   node_modules/.bin/bun scripts/capture_db_errors.ts      (also Bun's SQL and RedisClient)
 *
 * CAPTURE_ONLY=pg,ioredis limits the run to those clients; CAPTURE_DRY=1 prints
 * without writing.
 *
 * Servers: a throwaway postgres (tests/support/postgres_server.ts), a
 * throwaway redis-server (tests/support/redis_server.ts), and a Node child
 * with raw TCP faults plus minimal MySQL and MongoDB servers
 * (tests/support/db_fault_server.ts): there is no MySQL or MongoDB server
 * here. Network: 127.0.0.1 only, plus the resolution of `-no-such-host.invalid`,
 * which the resolver refuses locally (see tests/support/faults.ts).
 *
 * Each case names the fault it provokes and the kind that fault must give;
 * a case that does not reject (or hangs past its guard) is printed and not
 * recorded. Only the error the caller sees (a rejection, or an `error` event
 * where that is the only place the client reports it) is recorded.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type PostgresServer, startPostgres } from "../tests/support/postgres_server.ts";
import { type RedisServer, startRedis } from "../tests/support/redis_server.ts";
import { type DbFaultPorts, startDbFaultServer } from "../tests/support/db_faults.ts";
import { closedPort, startBacklogFullListener } from "../tests/support/loopback_servers.ts";
import { UNRESOLVABLE_HOST } from "../tests/support/faults.ts";
import * as admin from "../tests/support/db_helpers.ts";
import { importPg } from "../tests/support/db_helpers.ts";
import { safe, serialize } from "../tests/support/serialize_error.ts";

const G = globalThis as any;
const RUNTIME: string = G.Deno
  ? "deno"
  : G.Bun
  ? "bun"
  : `node${process.versions.node.split(".")[0]}`;
const RUNTIME_VERSION: string = G.Deno
  ? G.Deno.version.deno
  : G.Bun
  ? G.Bun.version
  : process.versions.node;
const ONLY = process.env.CAPTURE_ONLY?.split(",");
const DRY = process.env.CAPTURE_DRY === "1";
const GUARD_MS = 8000;
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

interface Case {
  fault: string;
  expected: string;
  expectedSent?: boolean;
  note?: string;
  /**
   * Where a client reports one fault in two ways depending on timing: the
   * kind the error actually recorded supports (stated in `note`).
   */
  expectFor?: (error: unknown) => string;
  /** Provokes the fault; resolves with the error the caller saw (or rejects with it). */
  run(env: Env): Promise<unknown>;
}

interface Env {
  pg: PostgresServer;
  redis: RedisServer;
  faults: DbFaultPorts;
  closed: number;
  /** A 127.0.0.1 port whose accept queue is full: a connect hangs in SYN_SENT. */
  backlog: number;
}

interface Client {
  /** File stem: tests/fixtures/clients/<id>.<runtime>.json */
  id: string;
  /** The npm package (or Bun API) name, and how to read its version. */
  client: string;
  version(): Promise<string>;
  cases: Case[];
  /** Why this client does not run in this runtime, if it does not. */
  unavailable?: () => string | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `p`, at most `ms`, leaving no timer behind. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The rejection of `p`, or a marker when it resolved. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return NO_ERROR;
}
const NO_ERROR = Symbol("resolved without an error");

function pkgVersion(name: string): Promise<string> {
  const file = path.join(root, "node_modules", name, "package.json");
  return Promise.resolve(JSON.parse(fs.readFileSync(file, "utf8")).version);
}

/** Closes quietly and boundedly: a client on a dead socket may never settle its close. */
async function quietly(f: () => unknown): Promise<void> {
  try {
    await within(Promise.resolve().then(f).catch(() => {}), 2000);
  } catch {
    // ignore
  }
}

const SLEEP_SQL = "select pg_sleep(10)";

const pgReady = (env: Env) => admin.pgReady(env.pg.port);
const terminate = (env: Env, like: string) => admin.terminateBackend(env.pg.port, like);
const backendRunning = (env: Env, like: string) => admin.backendRunning(env.pg.port, like);

async function whileRunning(env: Env, like: string, act: () => Promise<void>): Promise<void> {
  await backendRunning(env, like);
  await act();
}

/**
 * Runs `connect` while postgres is in a smart shutdown (an open session keeps
 * it from exiting; new connections get 57P03), then restarts postgres.
 */
async function duringSmartShutdown(env: Env, connect: () => Promise<unknown>): Promise<unknown> {
  const { default: pg } = await importPg();
  const holder = new pg.Client({
    host: "127.0.0.1",
    port: env.pg.port,
    user: "postgres",
    database: "postgres",
  });
  holder.on("error", () => {});
  await holder.connect();
  try {
    env.pg.smartShutdown();
    await sleep(200);
    return await connect();
  } finally {
    await quietly(() => holder.end());
    await env.pg.restart();
  }
}

const killBackend = (env: Env, like: string) => async () => {
  const pid = await backendRunning(env, like);
  process.kill(pid, "SIGKILL");
};

// ---------------------------------------------------------------------------------------------
// pg (node-postgres), incl. pg.Pool
// ---------------------------------------------------------------------------------------------

async function pgClient(env: Env, opts: Record<string, unknown> = {}) {
  const { default: pg } = await importPg();
  const c = new pg.Client({
    host: "127.0.0.1",
    port: env.pg.port,
    user: "postgres",
    database: "postgres",
    ...opts,
  });
  c.on("error", () => {});
  return c;
}

/** A client connected to the real server, a query on it, and the fault applied meanwhile. */
async function pgMidQuery(
  env: Env,
  fault: () => Promise<void>,
  after?: (c: any) => Promise<unknown>,
) {
  const c = await pgClient(env);
  await c.connect();
  try {
    const q = rejection(c.query(SLEEP_SQL));
    await whileRunning(env, SLEEP_SQL, fault);
    const e = await q;
    return after ? { first: e, then: await rejection(after(c)) } : e;
  } finally {
    await quietly(() => c.end());
  }
}

const pgCases: Case[] = [
  {
    fault: "refused",
    expected: "refused",
    expectedSent: false,
    run: async (env) => rejection((await pgClient(env, { port: env.closed })).connect()),
  },
  {
    fault: "dns",
    expected: "dns",
    expectedSent: false,
    run: async (env) => rejection((await pgClient(env, { host: UNRESOLVABLE_HOST })).connect()),
  },
  {
    fault: "connect timeout (SYN unanswered, connectionTimeoutMillis 300)",
    expected: "timeout",
    expectedSent: false,
    run: async (env) => {
      const c = await pgClient(env, { port: env.backlog, connectionTimeoutMillis: 300 });
      return rejection(c.connect());
    },
  },
  {
    fault:
      "connect timeout (server accepts, never answers the startup, connectionTimeoutMillis 300)",
    expected: "timeout",
    expectedSent: false,
    run: async (env) => {
      const c = await pgClient(env, { port: env.faults.stall, connectionTimeoutMillis: 300 });
      return rejection(c.connect());
    },
  },
  {
    fault: "RST at accept",
    expected: "reset",
    run: async (env) => rejection((await pgClient(env, { port: env.faults.rst })).connect()),
  },
  {
    fault: "RST on the startup message",
    expected: "reset",
    run: async (env) => rejection((await pgClient(env, { port: env.faults.rstOnData })).connect()),
  },
  {
    fault: "FIN at accept",
    expected: "closed",
    run: async (env) => rejection((await pgClient(env, { port: env.faults.fin })).connect()),
  },
  {
    fault: "FIN on the startup message",
    expected: "closed",
    run: async (env) => rejection((await pgClient(env, { port: env.faults.finOnData })).connect()),
  },
  {
    fault: "query_timeout 300 ms (client-side)",
    expected: "timeout",
    run: async (env) => {
      const c = await pgClient(env, { query_timeout: 300 });
      await c.connect();
      try {
        return await rejection(c.query("select pg_sleep(2)"));
      } finally {
        await quietly(() => c.end());
      }
    },
  },
  {
    fault: "pg_terminate_backend mid-query (57P01)",
    expected: "closed",
    run: (env) => pgMidQuery(env, () => terminate(env, SLEEP_SQL)),
  },
  {
    fault: "query on the client after its backend was terminated",
    expected: "closed",
    expectedSent: false,
    run: async (env) =>
      (await pgMidQuery(env, () => terminate(env, SLEEP_SQL), async (c) => {
        await sleep(100); // let the client see the end of the stream
        return c.query("select 1");
      }) as any).then,
  },
  {
    fault: "idle_session_timeout ends an idle session (57P05, error event)",
    expected: "closed",
    run: async (env) => {
      const c = await pgClient(env, { options: "-c idle_session_timeout=200" });
      const event = new Promise((resolve) => c.on("error", resolve));
      await c.connect();
      try {
        return await within(event, 3000);
      } finally {
        await quietly(() => c.end());
      }
    },
  },
  {
    fault: "backend SIGKILLed mid-query",
    expected: "closed",
    run: async (env) => {
      try {
        return await pgMidQuery(env, killBackend(env, SLEEP_SQL));
      } finally {
        await pgReady(env);
      }
    },
  },
  {
    fault: "another backend was SIGKILLed: postgres ends this one mid-query too",
    expected: "closed",
    run: async (env) => {
      const victim = await pgClient(env);
      await victim.connect();
      try {
        const q = rejection(victim.query("select pg_sleep(10) as bystander"));
        await backendRunning(env, "select pg_sleep(10) as bystander");
        await pgMidQuery(env, killBackend(env, SLEEP_SQL));
        return await q;
      } finally {
        await quietly(() => victim.end());
        await pgReady(env);
      }
    },
  },
  {
    fault:
      "postgres stopped with an immediate shutdown mid-query (SIGQUIT = pg_ctl stop -m immediate)",
    expected: "closed",
    run: async (env) => {
      try {
        return await pgMidQuery(env, () => env.pg.kill());
      } finally {
        await env.pg.restart();
      }
    },
  },
  {
    fault: "connect while postgres shuts down (57P03 the database system is shutting down)",
    expected: "connect_failed",
    expectedSent: false,
    run: (env) => duringSmartShutdown(env, async () => rejection((await pgClient(env)).connect())),
  },
  {
    fault: "Pool: refused",
    expected: "refused",
    expectedSent: false,
    run: async (env) => {
      const { default: pg } = await importPg();
      const pool = new pg.Pool({ host: "127.0.0.1", port: env.closed, user: "postgres" });
      pool.on("error", () => {});
      try {
        return await rejection(pool.query("select 1"));
      } finally {
        await quietly(() => pool.end());
      }
    },
  },
  {
    fault: "Pool: connect timeout (connectionTimeoutMillis 300, server never answers)",
    expected: "timeout",
    expectedSent: false,
    run: async (env) => {
      const { default: pg } = await importPg();
      const pool = new pg.Pool({
        host: "127.0.0.1",
        port: env.faults.stall,
        user: "postgres",
        connectionTimeoutMillis: 300,
      });
      pool.on("error", () => {});
      try {
        return await rejection(pool.query("select 1"));
      } finally {
        await quietly(() => pool.end());
      }
    },
  },
  {
    fault: "Pool: no client free within connectionTimeoutMillis 300 (pool of 1, busy)",
    expected: "timeout",
    expectedSent: false,
    run: async (env) => {
      const { default: pg } = await importPg();
      const pool = new pg.Pool({
        host: "127.0.0.1",
        port: env.pg.port,
        user: "postgres",
        max: 1,
        connectionTimeoutMillis: 300,
      });
      pool.on("error", () => {});
      const held = await pool.connect();
      try {
        return await rejection(pool.query("select 1"));
      } finally {
        held.release();
        await quietly(() => pool.end());
      }
    },
  },
  {
    fault: "Pool: pg_terminate_backend mid-query (57P01)",
    expected: "closed",
    run: async (env) => {
      const { default: pg } = await importPg();
      const pool = new pg.Pool({ host: "127.0.0.1", port: env.pg.port, user: "postgres" });
      pool.on("error", () => {});
      try {
        const q = rejection(pool.query(SLEEP_SQL));
        await whileRunning(env, SLEEP_SQL, () => terminate(env, SLEEP_SQL));
        return await q;
      } finally {
        await quietly(() => pool.end());
      }
    },
  },
  ...sqlNegatives(async (env, sql, opts) => {
    const c = await pgClient(env, opts);
    try {
      await c.connect();
      for (const s of sql.slice(0, -1)) await c.query(s);
      await c.query(sql[sql.length - 1]);
      return NO_ERROR;
    } catch (e) {
      return e;
    } finally {
      await quietly(() => c.end());
    }
  }),
];

/** The status errors that must stay unknown, for any postgres client. */
function sqlNegatives(
  run: (env: Env, sql: string[], opts?: Record<string, unknown>) => Promise<unknown>,
  names: { user?: string; password?: string; database?: string } = {},
): Case[] {
  const user = names.user ?? "user", password = names.password ?? "password";
  const database = names.database ?? "database";
  return [
    {
      fault: "negative: SQL syntax error (42601)",
      expected: "unknown",
      run: (env) => run(env, ["selekt 1"]),
    },
    {
      fault: "negative: unique violation (23505)",
      expected: "unknown",
      run: (env) =>
        run(env, [
          "create temp table t (id int primary key)",
          "insert into t values (1)",
          "insert into t values (1)",
        ]),
    },
    {
      fault: "negative: statement_timeout (57014)",
      expected: "unknown",
      run: (env) => run(env, ["set statement_timeout = 100", "select pg_sleep(2)"]),
    },
    {
      fault: "negative: wrong password (28P01)",
      expected: "unknown",
      run: async (env) => {
        await admin.ensurePasswordRole(env.pg.port);
        return run(env, ["select 1"], { [user]: "faultline_pw", [password]: "wrong" });
      },
    },
    {
      fault: "negative: database does not exist (3D000)",
      expected: "unknown",
      run: (env) => run(env, ["select 1"], { [database]: "no_such_db" }),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// postgres (postgres.js)
// ---------------------------------------------------------------------------------------------

async function pgJs(env: Env, opts: Record<string, unknown> = {}) {
  const { default: postgres } = await import("postgres");
  return postgres({
    host: "127.0.0.1",
    port: env.pg.port,
    user: "postgres",
    database: "postgres",
    max: 1,
    onnotice: () => {},
    ...opts,
  } as any);
}

async function pgJsRun(env: Env, opts: Record<string, unknown>, f: (sql: any) => Promise<unknown>) {
  const sql = await pgJs(env, opts);
  try {
    return await rejection(f(sql));
  } finally {
    await quietly(() => sql.end({ timeout: 0 }));
  }
}

async function pgJsMidQuery(env: Env, fault: () => Promise<void>) {
  const sql = await pgJs(env);
  try {
    await sql`select 1`;
    const q = rejection(sql.unsafe(SLEEP_SQL));
    await whileRunning(env, SLEEP_SQL, fault);
    return await q;
  } finally {
    await quietly(() => sql.end({ timeout: 0 }));
  }
}

const postgresJsCases: Case[] = [
  {
    fault: "refused",
    expected: "refused",
    expectedSent: false,
    run: (env) => pgJsRun(env, { port: env.closed }, (sql) => sql`select 1`),
  },
  {
    fault: "dns",
    expected: "dns",
    expectedSent: false,
    run: (env) => pgJsRun(env, { host: UNRESOLVABLE_HOST }, (sql) => sql`select 1`),
  },
  {
    fault: "connect timeout (SYN unanswered, connect_timeout 0.3 s)",
    expected: "timeout",
    expectedSent: false,
    run: (env) => pgJsRun(env, { port: env.backlog, connect_timeout: 0.3 }, (sql) => sql`select 1`),
  },
  {
    fault: "connect timeout (server accepts, never answers the startup, connect_timeout 0.3 s)",
    expected: "timeout",
    expectedSent: false,
    run: (env) =>
      pgJsRun(env, { port: env.faults.stall, connect_timeout: 0.3 }, (sql) => sql`select 1`),
  },
  {
    fault: "RST at accept",
    expected: "reset",
    run: (env) => pgJsRun(env, { port: env.faults.rst }, (sql) => sql`select 1`),
  },
  {
    fault: "RST on the startup message",
    expected: "reset",
    run: (env) => pgJsRun(env, { port: env.faults.rstOnData }, (sql) => sql`select 1`),
  },
  // Not here: a server that closes (FIN) before postgres.js is ready. postgres.js
  // reconnects at once, restarting its connect_timeout each time (connection.js
  // `closed()`: `if (initial) return reconnect()`), so the query never settles.
  {
    fault: "pg_terminate_backend mid-query (57P01)",
    expected: "closed",
    run: (env) => pgJsMidQuery(env, () => terminate(env, SLEEP_SQL)),
  },
  {
    fault: "backend SIGKILLed mid-query",
    expected: "closed",
    run: async (env) => {
      try {
        return await pgJsMidQuery(env, killBackend(env, SLEEP_SQL));
      } finally {
        await pgReady(env);
      }
    },
  },
  {
    fault:
      "postgres stopped with an immediate shutdown mid-query (SIGQUIT = pg_ctl stop -m immediate)",
    expected: "closed",
    run: async (env) => {
      try {
        return await pgJsMidQuery(env, () => env.pg.kill());
      } finally {
        await env.pg.restart();
      }
    },
  },
  {
    fault: "connect while postgres shuts down (57P03 the database system is shutting down)",
    expected: "connect_failed",
    expectedSent: false,
    run: (env) => duringSmartShutdown(env, () => pgJsRun(env, {}, (sql) => sql`select 1`)),
  },
  {
    fault: "query after sql.end() (CONNECTION_ENDED)",
    expected: "closed",
    expectedSent: false,
    run: async (env) => {
      const sql = await pgJs(env);
      await sql`select 1`;
      await sql.end();
      return rejection(sql`select 1`);
    },
  },
  {
    fault:
      "in-flight query when sql.end({ timeout: 0 }) destroys the connection (CONNECTION_DESTROYED)",
    expected: "closed",
    run: async (env) => {
      const sql = await pgJs(env);
      await sql`select 1`;
      const q = rejection(sql.unsafe(SLEEP_SQL));
      await backendRunning(env, SLEEP_SQL);
      await sql.end({ timeout: 0 });
      return q;
    },
  },
  {
    fault: "negative: query.cancel() (57014 canceling statement due to user request)",
    expected: "unknown",
    note: "postgres.js cancels through the server: the same 57014 as any other cancel",
    run: async (env) => {
      const sql = await pgJs(env);
      try {
        const q = sql.unsafe(SLEEP_SQL);
        const r = rejection(q);
        await backendRunning(env, SLEEP_SQL);
        q.cancel();
        return await r;
      } finally {
        await quietly(() => sql.end({ timeout: 0 }));
      }
    },
  },
  ...sqlNegatives(async (env, statements, opts) => {
    const sql = await pgJs(env, opts);
    try {
      return await rejection(sql.begin(async (tx: any) => {
        for (const s of statements) await tx.unsafe(s);
      }));
    } finally {
      await quietly(() => sql.end({ timeout: 0 }));
    }
  }, { user: "user", password: "pass", database: "database" }),
];

// ---------------------------------------------------------------------------------------------
// mysql2 (raw fault servers and a minimal MySQL server: no MySQL server here)
// ---------------------------------------------------------------------------------------------

async function mysqlConnect(port: number, opts: Record<string, unknown> = {}) {
  const mysql = await import("mysql2/promise");
  return (mysql.default ?? mysql).createConnection({
    host: "127.0.0.1",
    port,
    user: "faultline",
    password: "secret",
    database: "faultline",
    connectTimeout: 300,
    ...opts,
  } as any);
}

async function mysqlQuery(port: number, f: (c: any) => Promise<unknown>) {
  const c = await mysqlConnect(port);
  (c as any).on?.("error", () => {});
  try {
    return await rejection(f(c));
  } finally {
    await quietly(() => (c as any).destroy());
  }
}

const mysql2Cases: Case[] = [
  {
    fault: "refused",
    expected: "refused",
    expectedSent: false,
    run: (env) => rejection(mysqlConnect(env.closed)),
  },
  {
    fault: "dns",
    expected: "dns",
    expectedSent: false,
    run: () => rejection(mysqlConnect(3306, { host: UNRESOLVABLE_HOST })),
  },
  {
    fault: "connect timeout (SYN unanswered, connectTimeout 300)",
    expected: "timeout",
    expectedSent: false,
    run: (env) => rejection(mysqlConnect(env.backlog)),
  },
  {
    fault: "connect timeout (server accepts, never greets, connectTimeout 300)",
    expected: "timeout",
    expectedSent: false,
    run: (env) => rejection(mysqlConnect(env.faults.stall)),
  },
  {
    fault: "RST at accept",
    expected: "reset",
    run: (env) => rejection(mysqlConnect(env.faults.rst)),
  },
  {
    fault: "FIN at accept",
    expected: "closed",
    run: (env) => rejection(mysqlConnect(env.faults.fin)),
  },
  {
    fault: "RST while answering a query",
    expected: "reset",
    run: (env) => mysqlQuery(env.faults.mysqlRst, (c) => c.query("SELECT 1")),
  },
  {
    fault: "FIN while answering a query",
    expected: "closed",
    run: (env) => mysqlQuery(env.faults.mysqlFin, (c) => c.query("SELECT 1")),
  },
  {
    fault: "query on a connection the server closed",
    expected: "closed",
    expectedSent: false,
    run: (env) =>
      mysqlQuery(env.faults.mysqlFin, async (c) => {
        await c.query("SELECT 1").catch(() => {});
        await sleep(50);
        await c.query("SELECT 1");
      }),
  },
  {
    fault: "query timeout 300 ms (server silent)",
    expected: "timeout",
    run: (env) =>
      mysqlQuery(env.faults.mysqlStall, (c) => c.query({ sql: "SELECT 1", timeout: 300 })),
  },
  {
    fault: "Pool: refused",
    expected: "refused",
    expectedSent: false,
    run: async (env) => {
      const mysql = await import("mysql2/promise");
      const pool = (mysql.default ?? mysql).createPool({
        host: "127.0.0.1",
        port: env.closed,
        user: "faultline",
        connectTimeout: 300,
      });
      try {
        return await rejection(pool.query("SELECT 1"));
      } finally {
        await quietly(() => pool.end());
      }
    },
  },
  {
    fault: "negative: SQL syntax error (ER_PARSE_ERROR 1064)",
    expected: "unknown",
    run: (env) => mysqlQuery(env.faults.mysqlSyntax, (c) => c.query("SELEKT 1")),
  },
  {
    fault: "negative: wrong password (ER_ACCESS_DENIED_ERROR 1045)",
    expected: "unknown",
    run: (env) => rejection(mysqlConnect(env.faults.mysqlDenied)),
  },
];

// ---------------------------------------------------------------------------------------------
// mongodb (raw fault servers and a minimal MongoDB server: no MongoDB server here)
// ---------------------------------------------------------------------------------------------

async function mongo(
  host: string,
  port: number,
  f: (c: any) => Promise<unknown>,
  opts = {},
  auth = "",
) {
  const { MongoClient } = await import("mongodb");
  const c = new MongoClient(`mongodb://${auth}${host}:${port}/?directConnection=true`, {
    serverSelectionTimeoutMS: 600,
    connectTimeoutMS: 300,
    heartbeatFrequencyMS: 500,
    ...opts,
  });
  try {
    return await rejection(f(c));
  } finally {
    await quietly(() => c.close(true));
  }
}

const findOne = (c: any, opts = {}) => c.db("faultline").collection("c").findOne({}, opts);

const mongodbCases: Case[] = [
  {
    fault: "refused (server selection times out, its reason ECONNREFUSED)",
    expected: "refused",
    expectedSent: false,
    run: (env) => mongo("127.0.0.1", env.closed, (c) => findOne(c)),
  },
  {
    fault: "dns",
    expected: "dns",
    expectedSent: false,
    run: () => mongo(UNRESOLVABLE_HOST, 27017, (c) => findOne(c)),
  },
  {
    fault: "connect timeout (SYN unanswered, connectTimeoutMS 300)",
    expected: "timeout",
    expectedSent: false,
    run: (env) => mongo("127.0.0.1", env.backlog, (c) => findOne(c)),
  },
  {
    fault: "connect timeout (server accepts, never answers hello, connectTimeoutMS 300)",
    expected: "timeout",
    expectedSent: false,
    run: (env) => mongo("127.0.0.1", env.faults.stall, (c) => findOne(c)),
  },
  {
    fault: "RST at accept",
    expected: "reset",
    run: (env) => mongo("127.0.0.1", env.faults.rst, (c) => findOne(c)),
  },
  {
    fault: "FIN at accept",
    expected: "closed",
    run: (env) => mongo("127.0.0.1", env.faults.fin, (c) => findOne(c)),
  },
  {
    fault: "RST while answering a find",
    expected: "reset",
    run: (env) => mongo("127.0.0.1", env.faults.mongoRst, (c) => findOne(c)),
  },
  {
    fault: "FIN while answering a find",
    expected: "closed",
    run: (env) => mongo("127.0.0.1", env.faults.mongoFin, (c) => findOne(c)),
  },
  {
    fault: "socketTimeoutMS 300 (server silent on a find)",
    expected: "timeout",
    run: (env) =>
      mongo("127.0.0.1", env.faults.mongoStall, (c) => findOne(c), { socketTimeoutMS: 300 }),
  },
  {
    fault: "caller's AbortSignal aborts a find",
    expected: "cancelled",
    run: (env) =>
      mongo("127.0.0.1", env.faults.mongoStall, (c) => {
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 200);
        return findOne(c, { signal: ac.signal });
      }),
  },
  {
    fault: "negative: command error (CommandNotFound 59)",
    expected: "unknown",
    run: (env) => mongo("127.0.0.1", env.faults.mongoCmdError, (c) => findOne(c)),
  },
  {
    fault: "negative: wrong password (AuthenticationFailed 18)",
    expected: "unknown",
    run: (env) =>
      mongo("127.0.0.1", env.faults.mongoAuthFail, (c) => findOne(c), {}, "faultline:wrong@"),
  },
];

// ---------------------------------------------------------------------------------------------
// ioredis
// ---------------------------------------------------------------------------------------------

async function ioredisClient(port: number, opts: Record<string, unknown> = {}) {
  const mod: any = await import("ioredis");
  const Redis = mod.Redis ?? mod.default?.Redis ?? mod.default;
  const r = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    connectTimeout: 300,
    maxRetriesPerRequest: 0,
    ...opts,
  });
  r.on("error", () => {});
  return r;
}

async function ioredisRun(
  port: number,
  opts: Record<string, unknown>,
  f: (r: any) => Promise<unknown>,
) {
  const r = await ioredisClient(port, opts);
  try {
    return await rejection(f(r));
  } finally {
    r.disconnect();
  }
}

const clientKill = (env: Env, id: number | string) => admin.redisClientKill(env.redis.port, id);
const redisAclUser = (env: Env) => admin.ensureRedisUser(env.redis.port);

// ioredis's connect() rejects with a bare "Connection is closed." whatever ended
// the attempt (refused, DNS, timeout, RST, FIN, even WRONGPASS): the cause goes
// to the 'error' event only (Redis.js, connectionCloseHandler). A command gets
// "Connection is closed." when no reconnect follows, MaxRetriesPerRequestError
// when reconnects go on failing, and the server's reply error otherwise.
const NO_RETRY = { retryStrategy: () => null };
const AUTO = { lazyConnect: false, enableReadyCheck: false };

const ioredisCases: Case[] = [
  {
    fault: "refused: connect()",
    expected: "closed",
    note: "connect() says only \"Connection is closed.\"; ECONNREFUSED went to the 'error' event",
    run: (env) => ioredisRun(env.closed, NO_RETRY, (r) => r.connect()),
  },
  {
    fault: "refused: a command, retryStrategy () => null",
    expected: "closed",
    run: (env) => ioredisRun(env.closed, { ...AUTO, ...NO_RETRY }, (r) => r.get("k")),
  },
  {
    fault: "refused: a command, retrying, maxRetriesPerRequest 1 (MaxRetriesPerRequestError)",
    expected: "connect_failed",
    note: "ioredis reports only that it gave up; the refusals went to the 'error' event",
    run: (env) =>
      ioredisRun(
        env.closed,
        { ...AUTO, retryStrategy: () => 20, maxRetriesPerRequest: 1 },
        (r) => r.get("k"),
      ),
  },
  {
    fault: "refused: a command, enableOfflineQueue false",
    expected: "connect_failed",
    expectedSent: false,
    run: (env) =>
      ioredisRun(
        env.closed,
        { ...AUTO, ...NO_RETRY, enableOfflineQueue: false },
        (r) => r.get("k"),
      ),
  },
  {
    fault: "dns: connect()",
    expected: "closed",
    note: "connect() says only \"Connection is closed.\"; ENOTFOUND went to the 'error' event",
    run: () => ioredisRun(6379, { ...NO_RETRY, host: UNRESOLVABLE_HOST }, (r) => r.connect()),
  },
  {
    fault: "connect timeout (SYN unanswered, connectTimeout 300): connect()",
    expected: "closed",
    note: "connect() says only \"Connection is closed.\"; ETIMEDOUT went to the 'error' event",
    run: (env) => ioredisRun(env.backlog, NO_RETRY, (r) => r.connect()),
  },
  {
    fault: "commandTimeout 300 (server accepts, never answers)",
    expected: "timeout",
    run: (env) => ioredisRun(env.faults.stall, { ...AUTO, commandTimeout: 300 }, (r) => r.get("k")),
  },
  {
    fault: "RST at accept: a command",
    expected: "closed",
    note: "ECONNRESET went to the 'error' event; the command says \"Connection is closed.\"",
    run: (env) => ioredisRun(env.faults.rst, { ...AUTO, ...NO_RETRY }, (r) => r.get("k")),
  },
  {
    fault: "RST on the first command",
    expected: "closed",
    note: "ECONNRESET went to the 'error' event; the command says \"Connection is closed.\"",
    run: (env) => ioredisRun(env.faults.rstOnData, { ...AUTO, ...NO_RETRY }, (r) => r.get("k")),
  },
  {
    fault: "FIN at accept: a command",
    expected: "closed",
    run: (env) => ioredisRun(env.faults.fin, { ...AUTO, ...NO_RETRY }, (r) => r.get("k")),
  },
  {
    fault: "FIN on the first command",
    expected: "closed",
    run: (env) => ioredisRun(env.faults.finOnData, { ...AUTO, ...NO_RETRY }, (r) => r.get("k")),
  },
  {
    fault: "CLIENT KILL during BLPOP (retryStrategy () => null)",
    expected: "closed",
    run: (env) =>
      ioredisRun(env.redis.port, NO_RETRY, async (r) => {
        await r.connect();
        const id = await r.client("ID");
        const p = r.blpop("faultline:nothing", 10);
        await sleep(100);
        await clientKill(env, id);
        await p;
      }),
  },
  {
    fault: "command after the connection was killed",
    expected: "closed",
    run: (env) =>
      ioredisRun(env.redis.port, NO_RETRY, async (r) => {
        await r.connect();
        await clientKill(env, await r.client("ID"));
        await sleep(200);
        await r.get("k");
      }),
  },
  {
    fault: "negative: WRONGTYPE",
    expected: "unknown",
    run: (env) =>
      ioredisRun(env.redis.port, {}, async (r) => {
        await r.connect();
        await r.set("faultline:string", "x");
        await r.lpush("faultline:string", "y");
      }),
  },
  {
    fault: "negative: wrong password (WRONGPASS), a command",
    expected: "unknown",
    note: 'through connect() the same failure reads "Connection is closed." (not recorded: ' +
      "indistinguishable from a dropped connection)",
    run: async (env) => {
      await redisAclUser(env);
      return ioredisRun(env.redis.port, {
        ...AUTO,
        ...NO_RETRY,
        username: "faultline",
        password: "wrong",
      }, (r) => r.get("k"));
    },
  },
];

// ---------------------------------------------------------------------------------------------
// redis (node-redis)
// ---------------------------------------------------------------------------------------------

async function nodeRedis(
  port: number,
  opts: Record<string, unknown> = {},
  socket: Record<string, unknown> = {},
) {
  const { createClient } = await import("redis");
  const c = createClient({
    socket: { host: "127.0.0.1", port, connectTimeout: 300, reconnectStrategy: false, ...socket },
    ...opts,
  } as any);
  c.on("error", () => {});
  return c;
}

async function nodeRedisRun(
  port: number,
  f: (c: any) => Promise<unknown>,
  opts: Record<string, unknown> = {},
  socket: Record<string, unknown> = {},
) {
  const c = await nodeRedis(port, opts, socket);
  try {
    return await rejection(f(c));
  } finally {
    await quietly(() => c.destroy());
  }
}

const nodeRedisCases: Case[] = [
  {
    fault: "refused",
    expected: "refused",
    expectedSent: false,
    run: (env) => nodeRedisRun(env.closed, (c) => c.connect()),
  },
  {
    fault: "dns",
    expected: "dns",
    expectedSent: false,
    run: () => nodeRedisRun(6379, (c) => c.connect(), {}, { host: UNRESOLVABLE_HOST }),
  },
  {
    fault: "connect timeout (SYN unanswered, connectTimeout 300)",
    expected: "timeout",
    expectedSent: false,
    run: (env) => nodeRedisRun(env.backlog, (c) => c.connect()),
  },
  {
    fault: "socketTimeout 300 (server accepts, never answers)",
    expected: "timeout",
    run: (env) =>
      nodeRedisRun(
        env.faults.stall,
        async (c) => {
          await c.connect();
          await c.get("k");
        },
        {},
        { socketTimeout: 300 },
      ),
  },
  {
    fault: "RST at accept",
    expected: "reset",
    run: (env) => nodeRedisRun(env.faults.rst, (c) => c.connect()),
  },
  {
    fault: "RST on the first command",
    expected: "reset",
    run: (env) =>
      nodeRedisRun(env.faults.rstOnData, async (c) => {
        await c.connect();
        await c.get("k");
      }),
  },
  {
    fault: "FIN at accept",
    expected: "closed",
    run: (env) => nodeRedisRun(env.faults.fin, (c) => c.connect()),
  },
  {
    fault: "FIN on the first command",
    expected: "closed",
    run: (env) =>
      nodeRedisRun(env.faults.finOnData, async (c) => {
        await c.connect();
        await c.get("k");
      }),
  },
  {
    fault: "CLIENT KILL during BLPOP (reconnectStrategy false)",
    expected: "closed",
    run: (env) =>
      nodeRedisRun(env.redis.port, async (c) => {
        await c.connect();
        const id = await c.clientId();
        const p = c.blPop("faultline:nothing", 10);
        await sleep(100);
        await clientKill(env, id);
        await p;
      }),
  },
  {
    fault: "command after the connection was killed (ClientClosedError)",
    expected: "closed",
    expectedSent: false,
    run: (env) =>
      nodeRedisRun(env.redis.port, async (c) => {
        await c.connect();
        await clientKill(env, await c.clientId());
        await sleep(200);
        await c.get("k");
      }),
  },
  {
    fault: "caller's AbortSignal, aborted before the command is written (withAbortSignal)",
    expected: "cancelled",
    note: "node-redis honours the signal only while the command waits in its queue",
    run: (env) =>
      nodeRedisRun(env.redis.port, async (c) => {
        await c.connect();
        const ac = new AbortController();
        ac.abort();
        await c.withAbortSignal(ac.signal).get("k");
      }),
  },
  {
    fault: "a command while offline (disableOfflineQueue, reconnecting to a refused port)",
    expected: "connect_failed",
    expectedSent: false,
    run: async (env) => {
      const c = await nodeRedis(env.closed, { disableOfflineQueue: true }, {
        reconnectStrategy: () => 100,
      });
      c.connect().catch(() => {});
      try {
        await sleep(50);
        return await rejection(c.get("k"));
      } finally {
        await quietly(() => c.destroy());
      }
    },
  },
  {
    fault: "negative: WRONGTYPE",
    expected: "unknown",
    run: (env) =>
      nodeRedisRun(env.redis.port, async (c) => {
        await c.connect();
        await c.set("faultline:string2", "x");
        await c.lPush("faultline:string2", "y");
      }),
  },
  {
    fault: "negative: wrong password (WRONGPASS)",
    expected: "unknown",
    run: async (env) => {
      await redisAclUser(env);
      return nodeRedisRun(env.redis.port, (c) => c.connect(), {
        username: "faultline",
        password: "wrong",
      });
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Bun's SQL and RedisClient (Bun only)
// ---------------------------------------------------------------------------------------------

/** Bun's SQL with its MySQL adapter, against the raw fault servers and the minimal MySQL server. */
function bunMysqlCases(): Case[] {
  const run = async (port: number, f: (sql: any) => Promise<unknown>) => {
    const sql = new G.Bun.SQL({
      adapter: "mysql",
      hostname: "127.0.0.1",
      port,
      username: "faultline",
      password: "secret",
      database: "faultline",
      max: 1,
      connectionTimeout: 0.3,
    });
    try {
      return await rejection(f(sql));
    } finally {
      await quietly(() => sql.close({ timeout: 0 }));
    }
  };
  const q = (sql: any) => sql`SELECT 1`;
  return [
    {
      fault: "MySQL: refused",
      expected: "connect_failed",
      expectedSent: false,
      run: (env) => run(env.closed, q),
    },
    {
      fault: "MySQL: connect timeout (SYN unanswered, connectionTimeout 0.3 s)",
      expected: "timeout",
      expectedSent: false,
      run: (env) => run(env.backlog, q),
    },
    {
      fault: "MySQL: RST at accept",
      expected: "closed",
      // Racing, Bun reports the same RST as a failed connect (ERR_MYSQL_CONNECTION_REFUSED).
      expectFor: (e) =>
        safe(() => (e as any).code) === "ERR_MYSQL_CONNECTION_REFUSED"
          ? "connect_failed"
          : "closed",
      note:
        "Bun says ERR_MYSQL_CONNECTION_FAILED for an RST and a FIN alike (and, racing, ERR_MYSQL_CONNECTION_REFUSED)",
      run: (env) => run(env.faults.rst, q),
    },
    { fault: "MySQL: FIN at accept", expected: "closed", run: (env) => run(env.faults.fin, q) },
    // Bun sends a command of its own after the login, which these servers
    // answer with the fault: Bun reports it as a failed connection.
    {
      fault: "MySQL: RST on the first command after login",
      expected: "closed",
      run: (env) => run(env.faults.mysqlRst, q),
    },
    {
      fault: "MySQL: FIN on the first command after login",
      expected: "closed",
      run: (env) => run(env.faults.mysqlFin, q),
    },
    {
      fault: "MySQL negative: SQL syntax error (1064)",
      expected: "unknown",
      run: (env) => run(env.faults.mysqlSyntax, (sql) => sql`SELEKT 1`),
    },
    {
      fault: "MySQL negative: wrong password (1045)",
      expected: "unknown",
      run: (env) => run(env.faults.mysqlDenied, q),
    },
  ];
}

function bunSql(env: Env, opts: Record<string, unknown> = {}) {
  return new G.Bun.SQL({
    adapter: "postgres",
    hostname: "127.0.0.1",
    port: env.pg.port,
    username: "postgres",
    database: "postgres",
    max: 1,
    connectionTimeout: 0.3,
    ...opts,
  });
}

async function bunSqlRun(
  env: Env,
  opts: Record<string, unknown>,
  f: (sql: any) => Promise<unknown>,
) {
  const sql = bunSql(env, opts);
  try {
    return await rejection(f(sql));
  } finally {
    await quietly(() => sql.close({ timeout: 0 }));
  }
}

async function bunSqlMidQuery(env: Env, fault: () => Promise<void>) {
  const sql = bunSql(env);
  try {
    await sql`select 1`;
    const q = rejection(sql.unsafe(SLEEP_SQL));
    await whileRunning(env, SLEEP_SQL, fault);
    return await q;
  } finally {
    await quietly(() => sql.close({ timeout: 0 }));
  }
}

const bunSqlCases: Case[] = [
  {
    fault: "refused",
    expected: "connect_failed",
    expectedSent: false,
    note: "Bun says ERR_POSTGRES_CONNECTION_REFUSED for a refusal, a name that does not resolve " +
      "and sometimes an RST at accept alike: the code does not tell why",
    run: (env) => bunSqlRun(env, { port: env.closed }, (sql) => sql`select 1`),
  },
  {
    fault: "dns",
    expected: "connect_failed",
    expectedSent: false,
    note:
      'Bun says ERR_POSTGRES_CONNECTION_REFUSED "Failed to connect" for a name that does not resolve',
    run: (env) => bunSqlRun(env, { hostname: UNRESOLVABLE_HOST }, (sql) => sql`select 1`),
  },
  {
    fault: "connect timeout (SYN unanswered, connectionTimeout 0.3 s)",
    expected: "timeout",
    expectedSent: false,
    run: (env) => bunSqlRun(env, { port: env.backlog }, (sql) => sql`select 1`),
  },
  {
    fault: "connect timeout (server accepts, never answers the startup, connectionTimeout 0.3 s)",
    expected: "timeout",
    expectedSent: false,
    run: (env) => bunSqlRun(env, { port: env.faults.stall }, (sql) => sql`select 1`),
  },
  {
    fault: "RST at accept",
    expected: "closed",
    // Racing, Bun reports the same RST as a failed connect (ERR_POSTGRES_CONNECTION_REFUSED).
    expectFor: (e) =>
      safe(() => (e as any).code) === "ERR_POSTGRES_CONNECTION_REFUSED"
        ? "connect_failed"
        : "closed",
    note: 'Bun says ERR_POSTGRES_CONNECTION_FAILED "Connection closed before the connection was ' +
      'established" for an RST and a FIN alike (and, racing, ERR_POSTGRES_CONNECTION_REFUSED)',
    run: (env) => bunSqlRun(env, { port: env.faults.rst }, (sql) => sql`select 1`),
  },
  {
    fault: "RST on the startup message",
    expected: "closed",
    run: (env) => bunSqlRun(env, { port: env.faults.rstOnData }, (sql) => sql`select 1`),
  },
  {
    fault: "FIN at accept",
    expected: "closed",
    run: (env) => bunSqlRun(env, { port: env.faults.fin }, (sql) => sql`select 1`),
  },
  {
    fault: "FIN on the startup message",
    expected: "closed",
    run: (env) => bunSqlRun(env, { port: env.faults.finOnData }, (sql) => sql`select 1`),
  },
  {
    fault: "pg_terminate_backend mid-query (57P01)",
    expected: "closed",
    run: (env) => bunSqlMidQuery(env, () => terminate(env, SLEEP_SQL)),
  },
  {
    fault: "backend SIGKILLed mid-query",
    expected: "closed",
    run: async (env) => {
      try {
        return await bunSqlMidQuery(env, killBackend(env, SLEEP_SQL));
      } finally {
        await pgReady(env);
      }
    },
  },
  {
    fault:
      "postgres stopped with an immediate shutdown mid-query (SIGQUIT = pg_ctl stop -m immediate)",
    expected: "closed",
    run: async (env) => {
      try {
        return await bunSqlMidQuery(env, () => env.pg.kill());
      } finally {
        await env.pg.restart();
      }
    },
  },
  {
    fault: "connect while postgres shuts down (57P03 the database system is shutting down)",
    expected: "connect_failed",
    expectedSent: false,
    run: (env) => duringSmartShutdown(env, () => bunSqlRun(env, {}, (sql) => sql`select 1`)),
  },
  {
    fault: "query after sql.close()",
    expected: "closed",
    run: async (env) => {
      const sql = bunSql(env);
      await sql`select 1`;
      await sql.close();
      return rejection(sql`select 1`);
    },
  },
  {
    fault: "negative: query.cancel() (57014 canceling statement due to user request)",
    expected: "unknown",
    note: "Bun cancels through the server: the same 57014 as any other cancel",
    run: async (env) => {
      const sql = bunSql(env);
      try {
        const q = sql.unsafe(SLEEP_SQL);
        const r = rejection(q);
        await backendRunning(env, SLEEP_SQL);
        q.cancel();
        return await r;
      } finally {
        await quietly(() => sql.close({ timeout: 0 }));
      }
    },
  },
  ...bunMysqlCases(),
  ...sqlNegatives(async (env, statements, opts) => {
    const sql = bunSql(env, opts);
    try {
      return await rejection(sql.begin(async (tx: any) => {
        for (const s of statements) await tx.unsafe(s);
      }));
    } finally {
      await quietly(() => sql.close({ timeout: 0 }));
    }
  }, { user: "username", password: "password", database: "database" }),
];

// Bun's RedisClient: connect() rejects with ERR_REDIS_CONNECTION_CLOSED
// "Connection closed" whatever ended the attempt (refused, DNS, timeout, a
// wrong password); a command waiting in the offline queue gets the precise
// code (ERR_REDIS_CONNECTION_TIMEOUT, ERR_REDIS_AUTHENTICATION_FAILED). With
// the default autoReconnect a refused connection is retried for seconds, so
// these cases turn it off.
function bunRedis(url: string, opts: Record<string, unknown> = {}) {
  return new G.Bun.RedisClient(url, { connectionTimeout: 300, autoReconnect: false, ...opts });
}

async function bunRedisRun(
  port: number,
  f: (r: any) => Promise<unknown>,
  opts = {},
  auth = "",
  host = "127.0.0.1",
) {
  const r = bunRedis(`redis://${auth}${host}:${port}`, opts);
  try {
    return await rejection(f(r));
  } finally {
    await quietly(() => r.close());
  }
}

const bunRedisCases: Case[] = [
  {
    fault: "refused: a command",
    expected: "closed",
    note: 'Bun says ERR_REDIS_CONNECTION_CLOSED "Connection closed" for a refused connection',
    run: (env) => bunRedisRun(env.closed, (r) => r.get("k")),
  },
  {
    fault: "refused: connect()",
    expected: "closed",
    run: (env) => bunRedisRun(env.closed, (r) => r.connect()),
  },
  {
    fault: "dns: a command",
    expected: "closed",
    note:
      'Bun says ERR_REDIS_CONNECTION_CLOSED "Connection closed" for a name that does not resolve',
    run: (env) => bunRedisRun(env.redis.port, (r) => r.get("k"), {}, "", UNRESOLVABLE_HOST),
  },
  {
    fault: "connect timeout (SYN unanswered, connectionTimeout 300): a command",
    expected: "timeout",
    expectedSent: false,
    run: (env) => bunRedisRun(env.backlog, (r) => r.get("k")),
  },
  {
    fault: "connect timeout (SYN unanswered, connectionTimeout 300): connect()",
    expected: "closed",
    note:
      'connect() says only "Connection closed" where a command says ERR_REDIS_CONNECTION_TIMEOUT',
    run: (env) => bunRedisRun(env.backlog, (r) => r.connect()),
  },
  {
    fault: "connect timeout (server accepts, never answers, connectionTimeout 300): a command",
    expected: "timeout",
    expectedSent: false,
    run: (env) => bunRedisRun(env.faults.stall, (r) => r.get("k")),
  },
  {
    fault: "RST at accept: a command",
    expected: "closed",
    run: (env) => bunRedisRun(env.faults.rst, (r) => r.get("k")),
  },
  {
    fault: "RST on the first command",
    expected: "closed",
    run: (env) => bunRedisRun(env.faults.rstOnData, (r) => r.get("k")),
  },
  {
    fault: "FIN at accept: a command",
    expected: "closed",
    run: (env) => bunRedisRun(env.faults.fin, (r) => r.get("k")),
  },
  {
    fault: "FIN on the first command",
    expected: "closed",
    run: (env) => bunRedisRun(env.faults.finOnData, (r) => r.get("k")),
  },
  {
    fault: "CLIENT KILL during BLPOP (autoReconnect false)",
    expected: "closed",
    run: (env) =>
      bunRedisRun(env.redis.port, async (r) => {
        await r.connect();
        const id = await r.send("CLIENT", ["ID"]);
        const p = r.send("BLPOP", ["faultline:nothing", "10"]);
        await sleep(100);
        await clientKill(env, id);
        await p;
      }),
  },
  {
    fault: "command after the connection was killed",
    expected: "closed",
    run: (env) =>
      bunRedisRun(env.redis.port, async (r) => {
        await r.connect();
        await clientKill(env, await r.send("CLIENT", ["ID"]));
        await sleep(200);
        await r.get("k");
      }),
  },
  {
    fault: "negative: WRONGTYPE",
    expected: "unknown",
    run: (env) =>
      bunRedisRun(env.redis.port, async (r) => {
        await r.set("faultline:string3", "x");
        await r.send("LPUSH", ["faultline:string3", "y"]);
      }),
  },
  {
    fault: "negative: wrong password (WRONGPASS), a command",
    expected: "unknown",
    note:
      'through connect() the same failure reads ERR_REDIS_CONNECTION_CLOSED "Connection closed" ' +
      "(not recorded: indistinguishable from a dropped connection)",
    run: async (env) => {
      await redisAclUser(env);
      return bunRedisRun(env.redis.port, (r) => r.get("k"), {}, "faultline:wrong@");
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const isBun = () => (G.Bun ? undefined : "Bun's own API: runs under Bun only");
const clients: Client[] = [
  { id: "pg", client: "pg", version: () => pkgVersion("pg"), cases: pgCases },
  {
    id: "postgres_js",
    client: "postgres",
    version: () => pkgVersion("postgres"),
    cases: postgresJsCases,
  },
  { id: "mysql2", client: "mysql2", version: () => pkgVersion("mysql2"), cases: mysql2Cases },
  { id: "mongodb", client: "mongodb", version: () => pkgVersion("mongodb"), cases: mongodbCases },
  { id: "ioredis", client: "ioredis", version: () => pkgVersion("ioredis"), cases: ioredisCases },
  { id: "node_redis", client: "redis", version: () => pkgVersion("redis"), cases: nodeRedisCases },
  {
    id: "bun_sql",
    client: "Bun.SQL",
    version: () => Promise.resolve(G.Bun?.version ?? ""),
    cases: bunSqlCases,
    unavailable: isBun,
  },
  {
    id: "bun_redis",
    client: "Bun.RedisClient",
    version: () => Promise.resolve(G.Bun?.version ?? ""),
    cases: bunRedisCases,
    unavailable: isBun,
  },
];

function describe(e: unknown): string {
  const parts: string[] = [];
  let node: any = e;
  for (let i = 0; i < 4 && node && typeof node === "object"; i++) {
    parts.push(
      `${safe(() => node.constructor?.name)}${
        safe(() => node.code) !== undefined ? `[${safe(() => node.code)}]` : ""
      } ${JSON.stringify(String(safe(() => node.message) ?? "").slice(0, 90))}`,
    );
    node = safe(() => node.cause);
  }
  return parts.join(" <- ");
}

async function main() {
  // Errors a client reports only on an emitter, or late: shown, never fatal.
  const late = (e: unknown) => console.log(`[${RUNTIME}]   (late/unhandled) ${describe(e)}`);
  process.on("unhandledRejection", late);
  process.on("uncaughtException", late);
  const t0 = Date.now();
  const [pg, redis, faults, closed, backlog] = await Promise.all([
    startPostgres(),
    startRedis(),
    startDbFaultServer(),
    closedPort(),
    startBacklogFullListener(),
  ]);
  if (!backlog.full) {
    console.log(`[${RUNTIME}] warning: the accept queue never filled (${backlog.helper})`);
  }
  const env: Env = { pg, redis, faults: faults.ports, closed, backlog: backlog.port };
  const outDir = path.join(root, "tests", "fixtures", "clients");
  fs.mkdirSync(outDir, { recursive: true });
  try {
    for (const client of clients) {
      if (ONLY && !ONLY.includes(client.id)) continue;
      const why = client.unavailable?.();
      if (why) {
        console.log(`[${RUNTIME}] ${client.id}: not run: ${why}`);
        continue;
      }
      const captured: unknown[] = [];
      for (const c of client.cases) {
        let result: unknown;
        try {
          result = await within(c.run(env), GUARD_MS);
        } catch (e) {
          console.log(`[${RUNTIME}] ${client.id} / ${c.fault}: HARNESS ERROR ${describe(e)}`);
          continue;
        }
        if (result === "timeout" || result === NO_ERROR || result === undefined) {
          const what = result === "timeout" ? `no settle within ${GUARD_MS} ms` : "no error";
          console.log(`[${RUNTIME}] ${client.id} / ${c.fault}: NOT RECORDED (${what})`);
          continue;
        }
        console.log(`[${RUNTIME}] ${client.id} / ${c.fault}: ${describe(result)}`);
        captured.push({
          fault: c.fault,
          expected: c.expectFor?.(result) ?? c.expected,
          ...(c.expectedSent !== undefined ? { expectedSent: c.expectedSent } : {}),
          ...(c.note ? { note: c.note } : {}),
          error: serialize(result),
        });
      }
      const doc = {
        client: client.client,
        clientVersion: await client.version(),
        runtime: RUNTIME,
        runtimeVersion: RUNTIME_VERSION,
        generatedBy: "scripts/capture_db_errors.ts",
        captured,
      };
      const file = path.join(outDir, `${client.id}.${RUNTIME}.json`);
      if (!DRY && captured.length) fs.writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
      console.log(
        `[${RUNTIME}] ${client.id}: ${captured.length} recorded${
          DRY ? " (dry run)" : ` -> ${file}`
        }`,
      );
    }
  } finally {
    await Promise.all([pg.stop(), redis.stop(), faults.stop(), backlog.close()]);
  }
  console.log(`[${RUNTIME}] done in ${Math.round((Date.now() - t0) / 1000)} s`);
  // Clients that leave a timer behind must not hold the run.
  setTimeout(() => process.exit(0), 2000).unref?.();
}

await main();
