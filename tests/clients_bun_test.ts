// normalizeError() against what Bun's own clients throw, live: `Bun.SQL`
// against a real postgres and `Bun.RedisClient` against a real redis-server,
// plus raw faults (tests/support/db_fault_server.ts), all on loopback. Bun
// only: under Deno and Node this file registers one skipped test. The rest of
// what scripts/capture_db_errors.ts records for them (tests/fixtures/clients/
// bun_*.bun.json) is classified by tests/client_fixtures_test.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { normalizeError } from "../src/errors/normalize_error.ts";
import type { ConnectionErrorKind } from "../src/errors/kinds.ts";
import { findPostgresBin, suiteNotRun } from "./support/requirements.ts";
import { type PostgresServer, startPostgres } from "./support/postgres_server.ts";
import { findRedisServer, type RedisServer, startRedis } from "./support/redis_server.ts";
import { type DbFaultServer, startDbFaultServer } from "./support/db_faults.ts";
import { closedPort } from "./support/faults.ts";
import { type BacklogFullListener, startBacklogFullListener } from "./support/loopback_servers.ts";
import {
  backendRunning,
  ensureRedisUser,
  redisClientKill,
  terminateBackend,
} from "./support/db_helpers.ts";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as { Bun?: any }).Bun;
const T = { timeout: 15_000 };
const SLEEP_SQL = "select pg_sleep(10)";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `p` rejects with (handled from the start); fails when it resolves. */
async function rejectionOf(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return assert.fail("expected a rejection");
}

/** Asserts the kind (and `sent`, when given) normalizeError() gives for `raw`. */
function expectKind(raw: unknown, kind: ConnectionErrorKind, sent?: boolean): void {
  const e = normalizeError(raw);
  const what = `${(raw as { code?: unknown })?.code}: ${(raw as Error)?.message}`;
  assert.equal(e.kind, kind, what);
  if (sent !== undefined) assert.equal(e.sent, sent, `sent, for ${what}`);
}

if (Bun === undefined) {
  test("Bun's SQL and RedisClient", { skip: "Bun's own clients: Bun only" }, () => {});
} else {
  if (findPostgresBin() === undefined) {
    suiteNotRun("Bun.SQL against a real postgres (tests/clients_bun_test.ts)", "postgresql");
  } else {
    describe("Bun.SQL against a real postgres", () => {
      let server: PostgresServer;
      let faults: DbFaultServer;
      let closed: number;
      before(async () => {
        [server, faults, closed] = await Promise.all([
          startPostgres(),
          startDbFaultServer(),
          closedPort(),
        ]);
      });
      after(async () => {
        await Promise.all([server?.stop(), faults?.stop()]);
      });

      const sql = (options: Record<string, unknown> = {}) =>
        new Bun.SQL({
          adapter: "postgres",
          hostname: "127.0.0.1",
          port: server.port,
          username: "postgres",
          database: "postgres",
          max: 1,
          connectionTimeout: 0.3,
          ...options,
        });

      test("refused (ERR_POSTGRES_CONNECTION_REFUSED) → connect_failed, not sent", T, async () => {
        const db = sql({ port: closed });
        try {
          expectKind(await rejectionOf(db`select 1`), "connect_failed", false);
        } finally {
          await db.close({ timeout: 0 });
        }
      });

      test("connectionTimeout against a silent server → timeout, not sent", T, async () => {
        const db = sql({ port: faults.ports.stall });
        try {
          expectKind(await rejectionOf(db`select 1`), "timeout", false);
        } finally {
          await db.close({ timeout: 0 });
        }
      });

      test(
        "FIN during the startup (ERR_POSTGRES_CONNECTION_FAILED) → closed, not sent",
        T,
        async () => {
          const db = sql({ port: faults.ports.finOnData });
          try {
            expectKind(await rejectionOf(db`select 1`), "closed", false);
          } finally {
            await db.close({ timeout: 0 });
          }
        },
      );

      test("pg_terminate_backend mid-query (57P01) → closed", T, async () => {
        const db = sql();
        try {
          await db`select 1`;
          const q = rejectionOf(db.unsafe(SLEEP_SQL));
          await backendRunning(server.port, SLEEP_SQL);
          await terminateBackend(server.port, SLEEP_SQL);
          expectKind(await q, "closed");
        } finally {
          await db.close({ timeout: 0 });
        }
      });

      test("a syntax error and statement_timeout (57014) stay unknown", T, async () => {
        const db = sql();
        try {
          expectKind(await rejectionOf(db`selekt 1`), "unknown");
          // deno-lint-ignore no-explicit-any
          const timedOut = rejectionOf(db.begin(async (tx: any) => {
            await tx`set local statement_timeout = 100`;
            await tx`select pg_sleep(2)`;
          }));
          expectKind(await timedOut, "unknown");
        } finally {
          await db.close({ timeout: 0 });
        }
      });
    });
  }

  if (findRedisServer() === undefined) {
    suiteNotRun(
      "Bun.RedisClient against a real redis-server (tests/clients_bun_test.ts)",
      "redis-server",
    );
  } else {
    describe("Bun.RedisClient against a real redis-server", () => {
      let server: RedisServer;
      let backlog: BacklogFullListener;
      before(async () => {
        [server, backlog] = await Promise.all([startRedis(), startBacklogFullListener()]);
        await ensureRedisUser(server.port);
      });
      after(async () => {
        await Promise.all([server?.stop(), backlog?.close()]);
      });

      const redis = (port: number, auth = "") =>
        new Bun.RedisClient(`redis://${auth}127.0.0.1:${port}`, {
          connectionTimeout: 300,
          autoReconnect: false,
        });

      test("CLIENT KILL during BLPOP (ERR_REDIS_CONNECTION_CLOSED) → closed", T, async () => {
        const r = redis(server.port);
        try {
          await r.connect();
          const id = await r.send("CLIENT", ["ID"]);
          const p = rejectionOf(r.send("BLPOP", ["faultline:nothing", "10"]));
          await sleep(100);
          await redisClientKill(server.port, id);
          expectKind(await p, "closed");
        } finally {
          r.close();
        }
      });

      test(
        "a command while the connect times out (ERR_REDIS_CONNECTION_TIMEOUT) → timeout, not sent",
        T,
        async () => {
          const r = redis(backlog.port);
          try {
            expectKind(await rejectionOf(r.get("k")), "timeout", false);
          } finally {
            r.close();
          }
        },
      );

      test("WRONGTYPE and a wrong password stay unknown", T, async () => {
        const r = redis(server.port);
        const w = redis(server.port, "faultline:wrong@");
        try {
          await r.set("faultline:string", "x");
          expectKind(await rejectionOf(r.send("LPUSH", ["faultline:string", "y"])), "unknown");
          expectKind(await rejectionOf(w.get("k")), "unknown");
        } finally {
          r.close();
          w.close();
        }
      });
    });
  }
}
