// normalizeError() against what the database and Redis clients throw, live:
// pg, postgres.js, ioredis and node-redis against a real postgres and a real
// redis-server, mysql2 and mongodb against raw faults and minimal servers
// (tests/support/db_fault_server.ts), all on loopback, started here and
// stopped after. A representative subset of what scripts/capture_db_errors.ts
// records into tests/fixtures/clients/ (every recorded case is classified by
// tests/client_fixtures_test.ts). Bun's own SQL and RedisClient: see
// tests/clients_bun_test.ts. A missing server gives one loud line and a skip
// (a failure under CI=true), see tests/support/requirements.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { MongoClient } from "mongodb";
import postgres from "postgres";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { normalizeError } from "../src/errors/normalize_error.ts";
import type { ConnectionErrorKind } from "../src/errors/kinds.ts";
import { findPostgresBin, suiteNotRun } from "./support/requirements.ts";
import { type PostgresServer, startPostgres } from "./support/postgres_server.ts";
import { findRedisServer, type RedisServer, startRedis } from "./support/redis_server.ts";
import { type DbFaultServer, startDbFaultServer } from "./support/db_faults.ts";
import { closedPort, UNRESOLVABLE_HOST } from "./support/faults.ts";
import { type BacklogFullListener, startBacklogFullListener } from "./support/loopback_servers.ts";
import {
  backendRunning,
  ensureRedisUser,
  importPg,
  redisClientKill,
  terminateBackend,
} from "./support/db_helpers.ts";

// A case that hangs fails on its own instead of holding the run.
const T = { timeout: 15_000 };
const SLEEP_SQL = "select pg_sleep(10)";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `p` rejects with; fails when it resolves. */
async function rejectionOf(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return assert.fail("expected a rejection");
}

/** An operation left pending while a fault is provoked, its rejection handled from the start. */
class Pending {
  readonly error: Promise<unknown>;
  constructor(p: PromiseLike<unknown>) {
    this.error = rejectionOf(p);
  }
}
const pending = (p: PromiseLike<unknown>) => new Pending(p);

/** Asserts the kind (and `sent`, when given) normalizeError() gives for what `p` rejects with. */
async function expectKind(
  p: Promise<unknown> | Pending,
  kind: ConnectionErrorKind,
  sent?: boolean,
): Promise<void> {
  const raw = p instanceof Pending ? await p.error : await rejectionOf(p);
  const e = normalizeError(raw);
  const what = `${(raw as Error)?.constructor?.name}: ${(raw as Error)?.message}`;
  assert.equal(e.kind, kind, what);
  if (sent !== undefined) assert.equal(e.sent, sent, `sent, for ${what}`);
}

describe("mysql2 and mongodb (raw faults, minimal MySQL and MongoDB servers)", () => {
  let faults: DbFaultServer;
  let closed: number;
  before(async () => {
    faults = await startDbFaultServer();
    closed = await closedPort();
  });
  after(() => faults?.stop());

  const my = (port: number) =>
    mysql.createConnection({
      host: "127.0.0.1",
      port,
      user: "faultline",
      password: "secret",
      connectTimeout: 300,
    });

  test("mysql2: refused → refused, not sent", T, () => expectKind(my(closed), "refused", false));

  test(
    "mysql2: no greeting within connectTimeout → timeout, not sent",
    T,
    () => expectKind(my(faults.ports.stall), "timeout", false),
  );

  test(
    "mysql2: FIN before the greeting (PROTOCOL_CONNECTION_LOST) → closed",
    T,
    () => expectKind(my(faults.ports.fin), "closed"),
  );

  test("mysql2: RST under a query → reset; the next query → closed, not sent", T, async () => {
    const c = await my(faults.ports.mysqlRst);
    c.on("error", () => {});
    try {
      await expectKind(c.query("SELECT 1"), "reset");
      await expectKind(c.query("SELECT 1"), "closed", false);
    } finally {
      c.destroy();
    }
  });

  test("mysql2: a syntax error (ER_PARSE_ERROR) stays unknown", T, async () => {
    const c = await my(faults.ports.mysqlSyntax);
    try {
      await expectKind(c.query("SELEKT 1"), "unknown");
    } finally {
      c.destroy();
    }
  });

  test(
    "mysql2: a wrong password (ER_ACCESS_DENIED_ERROR) stays unknown",
    T,
    () => expectKind(my(faults.ports.mysqlDenied), "unknown"),
  );

  const mongo = async (port: number, f: (c: MongoClient) => Promise<void>, opts = {}) => {
    const c = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, {
      serverSelectionTimeoutMS: 600,
      connectTimeoutMS: 300,
      heartbeatFrequencyMS: 500,
      ...opts,
    });
    try {
      await f(c);
    } finally {
      await c.close(true);
    }
  };
  const findOne = (c: MongoClient) => c.db("faultline").collection("c").findOne({});

  test(
    "mongodb: refused (a server-selection timeout) → refused, not sent",
    T,
    () => mongo(closed, (c) => expectKind(findOne(c), "refused", false)),
  );

  test(
    "mongodb: hello never answered (connectTimeoutMS) → timeout, not sent",
    T,
    () => mongo(faults.ports.stall, (c) => expectKind(findOne(c), "timeout", false)),
  );

  test(
    "mongodb: FIN under a find → closed",
    T,
    () => mongo(faults.ports.mongoFin, (c) => expectKind(findOne(c), "closed")),
  );

  test(
    "mongodb: socketTimeoutMS under a find → timeout",
    T,
    () =>
      mongo(faults.ports.mongoStall, (c) => expectKind(findOne(c), "timeout"), {
        socketTimeoutMS: 300,
      }),
  );

  test(
    "mongodb: the server's command error stays unknown",
    T,
    () => mongo(faults.ports.mongoCmdError, (c) => expectKind(findOne(c), "unknown")),
  );
});

if (findPostgresBin() === undefined) {
  suiteNotRun(
    "pg and postgres.js against a real postgres (tests/clients_db_test.ts)",
    "postgresql",
  );
} else {
  describe("pg and postgres.js against a real postgres", () => {
    let server: PostgresServer;
    let faults: DbFaultServer;
    let closed: number;
    // deno-lint-ignore no-explicit-any
    let pg: any;
    before(async () => {
      [server, faults, closed, { default: pg }] = await Promise.all([
        startPostgres(),
        startDbFaultServer(),
        closedPort(),
        importPg(),
      ]);
    });
    after(async () => {
      await Promise.all([server?.stop(), faults?.stop()]);
    });

    const client = (options: Record<string, unknown> = {}) => {
      const c = new pg.Client({
        host: "127.0.0.1",
        port: server.port,
        user: "postgres",
        database: "postgres",
        ...options,
      });
      c.on("error", () => {});
      return c;
    };

    test(
      "pg: refused → refused, not sent",
      T,
      () => expectKind(client({ port: closed }).connect(), "refused", false),
    );

    test(
      "pg: a name that does not resolve → dns, not sent",
      T,
      () => expectKind(client({ host: UNRESOLVABLE_HOST }).connect(), "dns", false),
    );

    test(
      "pg: connectionTimeoutMillis against a silent server → timeout, not sent",
      T,
      () =>
        expectKind(
          client({ port: faults.ports.stall, connectionTimeoutMillis: 300 }).connect(),
          "timeout",
          false,
        ),
    );

    test(
      "pg: FIN before the startup answer → closed",
      T,
      () => expectKind(client({ port: faults.ports.fin }).connect(), "closed"),
    );

    test(
      "pg.Pool: connectionTimeoutMillis against a silent server → timeout, not sent",
      T,
      async () => {
        const pool = new pg.Pool({
          host: "127.0.0.1",
          port: faults.ports.stall,
          user: "postgres",
          connectionTimeoutMillis: 300,
        });
        pool.on("error", () => {});
        try {
          await expectKind(pool.query("select 1"), "timeout", false);
        } finally {
          await pool.end();
        }
      },
    );

    test(
      "pg: pg_terminate_backend mid-query (57P01) → closed; the next query → closed, not sent",
      T,
      async () => {
        const c = client();
        await c.connect();
        try {
          const q = rejectionOf(c.query(SLEEP_SQL));
          await terminateBackend(server.port, SLEEP_SQL);
          const e = normalizeError(await q);
          assert.equal(e.kind, "closed");
          assert.equal(e.code, "57P01");
          await sleep(100); // let the client see the end of the stream
          await expectKind(c.query("select 1"), "closed", false);
        } finally {
          await c.end().catch(() => {});
        }
      },
    );

    test("pg: a syntax error and statement_timeout (57014) stay unknown", T, async () => {
      const c = client();
      await c.connect();
      try {
        await expectKind(c.query("selekt 1"), "unknown");
        await c.query("set statement_timeout = 100");
        await expectKind(c.query("select pg_sleep(2)"), "unknown");
      } finally {
        await c.end();
      }
    });

    const sql = (options: Record<string, unknown> = {}) =>
      postgres({
        host: "127.0.0.1",
        port: server.port,
        user: "postgres",
        database: "postgres",
        max: 1,
        onnotice: () => {},
        ...options,
      });

    test(
      "postgres.js: connect_timeout against a silent server (CONNECT_TIMEOUT) → timeout, not sent",
      T,
      async () => {
        const db = sql({ port: faults.ports.stall, connect_timeout: 0.3 });
        try {
          await expectKind(db`select 1`.execute(), "timeout", false);
        } finally {
          await db.end({ timeout: 0 });
        }
      },
    );

    test(
      "postgres.js: pg_terminate_backend mid-query (CONNECTION_CLOSED) → closed",
      T,
      async () => {
        const db = sql();
        try {
          await db`select 1`;
          const q = pending(db.unsafe(SLEEP_SQL).execute());
          await backendRunning(server.port, SLEEP_SQL);
          await terminateBackend(server.port, SLEEP_SQL);
          await expectKind(q, "closed");
        } finally {
          await db.end({ timeout: 0 });
        }
      },
    );

    test(
      "postgres.js: statement_timeout (57014) and a unique violation stay unknown",
      T,
      async () => {
        const db = sql();
        try {
          await expectKind(
            db.begin(async (tx) => {
              await tx`set local statement_timeout = 100`;
              await tx`select pg_sleep(2)`;
            }),
            "unknown",
          );
          await expectKind(
            db.begin(async (tx) => {
              await tx`create temp table t (id int primary key)`;
              await tx`insert into t values (1), (1)`;
            }),
            "unknown",
          );
        } finally {
          await db.end({ timeout: 0 });
        }
      },
    );

    // Last: it takes postgres down.
    test("pg: postgres stopped with an immediate shutdown mid-query → closed", T, async () => {
      const c = client();
      await c.connect();
      try {
        const q = pending(c.query(SLEEP_SQL));
        await backendRunning(server.port, SLEEP_SQL);
        await server.kill();
        await expectKind(q, "closed");
      } finally {
        await c.end().catch(() => {});
      }
    });
  });
}

if (findRedisServer() === undefined) {
  suiteNotRun(
    "ioredis and node-redis against a real redis-server (tests/clients_db_test.ts)",
    "redis-server",
  );
} else {
  describe("ioredis and node-redis against a real redis-server", () => {
    let server: RedisServer;
    let faults: DbFaultServer;
    let backlog: BacklogFullListener;
    let closed: number;
    before(async () => {
      [server, faults, backlog, closed] = await Promise.all([
        startRedis(),
        startDbFaultServer(),
        startBacklogFullListener(),
        closedPort(),
      ]);
      await ensureRedisUser(server.port);
    });
    after(async () => {
      await Promise.all([server?.stop(), faults?.stop(), backlog?.close()]);
    });

    const io = (options: Record<string, unknown> = {}) => {
      const r = new Redis({
        host: "127.0.0.1",
        port: server.port,
        connectTimeout: 300,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        ...options,
      });
      r.on("error", () => {});
      return r;
    };

    test("ioredis: CLIENT KILL during BLPOP → closed, and the next command too", T, async () => {
      const r = io();
      try {
        const id = await r.client("ID");
        const p = pending(r.blpop("faultline:nothing", 10));
        await sleep(100);
        await redisClientKill(server.port, id as number);
        await expectKind(p, "closed");
        await expectKind(r.get("k"), "closed");
      } finally {
        r.disconnect();
      }
    });

    test(
      "ioredis: reconnects keep failing (MaxRetriesPerRequestError) → connect_failed",
      T,
      async () => {
        const r = io({ port: closed, retryStrategy: () => 20, maxRetriesPerRequest: 1 });
        try {
          await expectKind(r.get("k"), "connect_failed");
        } finally {
          r.disconnect();
        }
      },
    );

    test("ioredis: commandTimeout against a silent server → timeout", T, async () => {
      const r = io({ port: faults.ports.stall, enableReadyCheck: false, commandTimeout: 300 });
      try {
        await expectKind(r.get("k"), "timeout");
      } finally {
        r.disconnect();
      }
    });

    test("ioredis: WRONGTYPE and a wrong password (WRONGPASS) stay unknown", T, async () => {
      const r = io();
      try {
        await r.set("faultline:string", "x");
        await expectKind(r.lpush("faultline:string", "y"), "unknown");
      } finally {
        r.disconnect();
      }
      // The command must be queued before the AUTH reply: once that reply has
      // closed the connection, ioredis says only "Connection is closed.".
      const w = io({ username: "faultline", password: "wrong" });
      try {
        await expectKind(w.get("k"), "unknown");
      } finally {
        w.disconnect();
      }
    });

    const nr = (socket: Record<string, unknown> = {}, options: Record<string, unknown> = {}) => {
      const c = createClient({
        socket: {
          host: "127.0.0.1",
          port: server.port,
          connectTimeout: 300,
          reconnectStrategy: false,
          ...socket,
        },
        ...options,
      });
      c.on("error", () => {});
      return c;
    };

    test(
      "node-redis: connect timeout (ConnectionTimeoutError) → timeout, not sent",
      T,
      async () => {
        const c = nr({ port: backlog.port });
        try {
          await expectKind(c.connect(), "timeout", false);
        } finally {
          c.destroy();
        }
      },
    );

    test(
      "node-redis: CLIENT KILL during BLPOP → closed; then ClientClosedError → closed, not sent",
      T,
      async () => {
        const c = nr();
        try {
          await c.connect();
          const id = await c.clientId();
          const p = pending(c.blPop("faultline:nothing", 10));
          await sleep(100);
          await redisClientKill(server.port, id);
          await expectKind(p, "closed");
          await expectKind(c.get("k"), "closed", false);
        } finally {
          if (c.isOpen) c.destroy();
        }
      },
    );

    test("node-redis: the caller's AbortSignal → cancelled", T, async () => {
      const c = nr();
      try {
        await c.connect();
        const ac = new AbortController();
        ac.abort();
        await expectKind(c.withAbortSignal(ac.signal).get("k"), "cancelled");
      } finally {
        c.destroy();
      }
    });

    test("node-redis: WRONGTYPE and a wrong password (WRONGPASS) stay unknown", T, async () => {
      const c = nr();
      const w = nr({}, { username: "faultline", password: "wrong" });
      try {
        await c.connect();
        await c.set("faultline:string2", "x");
        await expectKind(c.lPush("faultline:string2", "y"), "unknown");
        await expectKind(w.connect(), "unknown");
      } finally {
        c.destroy();
        if (w.isOpen) w.destroy();
      }
    });
  });
}
