// Options are data from the caller, sometimes straight from JSON: a
// `__proto__` or `constructor` key must pollute no prototype and must not
// stand in for a real option, and each option is read once, at construction
// (a getter that changes its mind, or a later change to the object, changes
// nothing). Every factory that takes an options object is covered, and
// connect() and resilientFetch(); this is the one place these are tested.
//
// Options here are built from JSON and getters, so they are deliberately untyped.
// deno-lint-ignore-file no-explicit-any
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import {
  BrokenCircuitError,
  bulkhead,
  BulkheadRejectedError,
  circuitBreaker,
  connect,
  ConnectionError,
  consecutiveFailures,
  constantBackoff,
  exponentialBackoff,
  failureRate,
  fallback,
  keyedCircuitBreaker,
  ManualClock,
  retry,
  retryBudget,
  timeout,
} from "../mod.ts";
import { checkConnectOptions } from "../src/connect/connection.ts";
import { resilientFetch } from "../src/http/mod.ts";

// ------------------------------------------------------------------ helpers

const refused = (): Error =>
  Object.assign(new Error("connect ECONNREFUSED"), {
    code: "ECONNREFUSED",
  });
const reset = (): Error => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

function assertNotPolluted(): void {
  const probe = {} as Record<string, unknown>;
  assert.equal(probe.polluted, undefined, "({}).polluted");
  assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);
  assert.equal(Object.hasOwn(Function.prototype, "polluted"), false);
  assert.equal(Object.hasOwn(Array.prototype, "polluted"), false);
}

/** JSON options with a `__proto__` and a `constructor` key carrying `decoys`. */
function hostile(own: Record<string, unknown>, decoys: Record<string, unknown>): any {
  const json = JSON.stringify({
    ...own,
    constructor: { prototype: { polluted: 1, ...decoys } },
  }).slice(0, -1) + `,"__proto__":${JSON.stringify({ polluted: 1, ...decoys })}}`;
  const parsed = JSON.parse(json);
  // JSON.parse makes "__proto__" an own data property, not the prototype.
  assert.ok(Object.hasOwn(parsed, "__proto__"));
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  return parsed;
}

interface Tracked {
  options: any;
  reads: Record<string, number>;
}

/**
 * An options object whose every option is a getter: the first read gives
 * `first[key]`, every later read `later[key]` (when given). Reads are counted.
 */
function tracked(first: Record<string, unknown>, later: Record<string, unknown>): Tracked {
  const reads: Record<string, number> = {};
  const options = {};
  for (const key of Object.keys(first)) {
    reads[key] = 0;
    Object.defineProperty(options, key, {
      enumerable: true,
      configurable: true,
      get() {
        reads[key]++;
        return reads[key] === 1 || !(key in later) ? first[key] : later[key];
      },
    });
  }
  return { options, reads };
}

function assertReadOnce({ reads }: Tracked, what: string): void {
  for (const [key, n] of Object.entries(reads)) {
    assert.equal(n, 1, `${what}: option '${key}' was read ${n} times`);
  }
}

/** Replaces every option with its `later` value, as plain writable data. */
function mutate({ options }: Tracked, later: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(later)) {
    Object.defineProperty(options, key, { value, writable: true, configurable: true });
  }
}

/** Settles `promise`, advancing the manual clock (bounded) while it is pending. */
async function drive<T>(
  promise: Promise<T>,
  clock: ManualClock,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let done = false;
  const settled = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  ).finally(() => (done = true));
  for (let i = 0; i < 100 && !done; i++) await clock.advance(1000);
  return await settled;
}

function counter<T>(fn: (n: number) => T): { calls: number; op: () => T } {
  const c = {
    calls: 0,
    op: (): T => fn(++c.calls),
  };
  return c;
}

const failing = (make: () => Error) =>
  counter((): never => {
    throw make();
  });

// ------------------------------------------------------- prototype pollution

test("retry(): __proto__ and constructor keys pollute nothing and stand in for no option", async () => {
  const clock = new ManualClock();
  const options = hostile({ maxAttempts: 2 }, { maxAttempts: 9, on: ["unknown"] });
  options.backoff = constantBackoff(0);
  options.clock = clock;
  const policy = retry(options);
  assertNotPolluted();
  const op = failing(refused);
  const out = await drive(policy.execute(op.op), clock);
  assert.equal(out.ok, false);
  assert.equal(op.calls, 2);
  const bug = failing(() => new Error("bug"));
  await drive(policy.execute(bug.op), clock);
  assert.equal(bug.calls, 1, "the decoy `on` was not used");
  assertNotPolluted();
});

test("circuitBreaker() and keyedCircuitBreaker(): __proto__ and constructor keys pollute nothing", async () => {
  const clock = new ManualClock();
  const options = hostile({ halfOpenAfter: 1000 }, { halfOpenAfter: 0, on: ["unknown"] });
  options.trip = consecutiveFailures(1);
  options.clock = clock;
  const breaker = circuitBreaker(options);
  assertNotPolluted();
  await breaker.execute(() => {
    throw new Error("bug");
  }).catch(() => {});
  assert.equal(breaker.state, "closed", "an unrecognized error does not count");
  await breaker.execute(failing(refused).op).catch(() => {});
  assert.equal(breaker.state, "open");
  await clock.advance(999);
  assert.equal(breaker.state, "open", "halfOpenAfter is the own 1000, not the decoy 0");
  await clock.advance(1);
  assert.equal(breaker.state, "half_open");

  const keyed = keyedCircuitBreaker(options, hostile({ maxKeys: 1 }, { maxKeys: 10 }));
  keyed.get("__proto__");
  keyed.get("constructor");
  keyed.get("prototype");
  assert.equal(keyed.size, 1, "maxKeys is the own 1");
  assert.deepEqual([...keyed.keys()], ["prototype"]);
  const json = keyed.toJSON();
  assert.equal(Object.getPrototypeOf(json), null);
  keyed.restore(
    JSON.parse(`{"__proto__": ${JSON.stringify(json.prototype)}}`),
  );
  assert.deepEqual([...keyed.keys()], ["__proto__"]);
  assertNotPolluted();
});

test("timeout(), fallback(), bulkhead(): __proto__ and constructor keys pollute nothing", async () => {
  const clock = new ManualClock();
  const t = hostile({ operation: "connect" }, { operation: "fetch" });
  t.clock = clock;
  const policy = timeout(100, t);
  const pending = drive(
    policy.execute(({ signal }) =>
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
    ),
    clock,
  );
  const out = await pending;
  assert.ok(!out.ok && out.error instanceof ConnectionError);
  assert.equal((out.error as ConnectionError).kind, "timeout");
  assert.equal((out.error as ConnectionError).operation, "connect");

  const f = fallback("served", hostile({ on: ["refused"] }, { on: ["reset"] }));
  assert.equal(await f.execute(failing(refused).op), "served");
  await assert.rejects(
    f.execute(failing(reset).op),
    (e: unknown) => e instanceof ConnectionError && e.kind === "reset",
  );

  const b = bulkheadOf(hostile({ queue: 0 }, { queue: 5 }));
  let release!: () => void;
  const first = b.execute(() => new Promise<void>((r) => (release = r)));
  await assert.rejects(b.execute(() => 1), BulkheadRejectedError);
  release();
  await first;
  assertNotPolluted();
});

function bulkheadOf(options: unknown): ReturnType<typeof bulkhead> {
  return bulkhead(1, options as never);
}

test("retryBudget(), exponentialBackoff(), failureRate(): __proto__ and constructor keys pollute nothing", async () => {
  const clock = new ManualClock();
  const b = hostile({ ratio: 0, minRetriesPerSecond: 0 }, { ratio: 1, minRetriesPerSecond: 100 });
  b.clock = clock;
  const budget = retryBudget(b);
  const op = failing(refused);
  await drive(
    retry({ maxAttempts: 5, budget, backoff: constantBackoff(0), clock }).execute(op.op),
    clock,
  );
  assert.equal(op.calls, 1, "the own ratio 0 allows no retry");

  const backoff = exponentialBackoff(
    hostile({ initial: 10, max: 40, jitter: "none" }, { initial: 500, max: 500, factor: 3 }),
  );
  assert.deepEqual([1, 2, 3, 4].map((n) => backoff.delay(n, 0, () => 0.5)), [10, 20, 40, 40]);

  const rate = failureRate(
    hostile({ threshold: 1, minimumCalls: 2, windowCalls: 2 }, {
      minimumCalls: 1,
      windowCalls: 1,
    }),
  );
  const breaker = circuitBreaker({ trip: rate, halfOpenAfter: 1000, clock });
  await breaker.execute(failing(refused).op).catch(() => {});
  assert.equal(breaker.state, "closed", "minimumCalls is the own 2");
  await breaker.execute(failing(refused).op).catch(() => {});
  assert.equal(breaker.state, "open");
  await assert.rejects(breaker.execute(() => 1), BrokenCircuitError);
  assertNotPolluted();
});

function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
      socket.pipe(socket);
    });
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

async function roundTrip(
  conn: Awaited<ReturnType<typeof connect>>,
  text: string,
): Promise<string> {
  const writer = conn.writable.getWriter();
  await writer.write(new TextEncoder().encode(text));
  writer.releaseLock();
  const reader = conn.readable.getReader();
  let got = "";
  while (got.length < text.length) {
    const { value, done } = await reader.read();
    if (done) break;
    got += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return got;
}

test("connect(): __proto__ and constructor keys pollute nothing and stand in for no option", async () => {
  const server = await echoServer();
  try {
    // The decoy asks for TLS and another port: a plain echo round trip proves
    // neither was used.
    const options = hostile({ hostname: "127.0.0.1", port: server.port }, {
      tls: true,
      port: 1,
      timeout: 0,
    });
    const conn = await connect(options);
    try {
      assert.equal(await roundTrip(conn, "ping"), "ping");
      assert.equal(conn.remoteAddr.port, server.port);
    } finally {
      await conn.close();
    }
    assertNotPolluted();
  } finally {
    await server.close();
  }
});

test("every factory accepts a null-prototype options object", async () => {
  const bare = (o: Record<string, unknown>): any => Object.assign(Object.create(null), o);
  const clock = new ManualClock();
  const op = failing(refused);
  await drive(
    retry(bare({ maxAttempts: 2, backoff: constantBackoff(0), clock })).execute(op.op),
    clock,
  );
  assert.equal(op.calls, 2);
  assert.equal(
    circuitBreaker(bare({ trip: consecutiveFailures(1), halfOpenAfter: 1 })).state,
    "closed",
  );
  assert.equal(
    keyedCircuitBreaker(bare({ trip: consecutiveFailures(1), halfOpenAfter: 1 }), bare({}))
      .size,
    0,
  );
  assert.equal(timeout(5, bare({ clock })).ms, 5);
  assert.equal(await fallback(1, bare({})).execute(() => 2), 2);
  assert.equal(bulkhead(1, bare({ queue: 2 })).queue, 2);
  assert.equal(retryBudget(bare({ ratio: 0.5 })).available >= 0, true);
  assert.equal(exponentialBackoff(bare({ initial: 7 })).initial, 7);
  assert.equal(failureRate(bare({ threshold: 0.5, windowCalls: 20 })).windowCalls, 20);
  assertNotPolluted();
});

// --------------------------------------------------------------- read once

test("retry() reads each option once; later changes change nothing", async () => {
  const clock = new ManualClock();
  const other = new ManualClock();
  const on = ["refused"];
  const first = {
    maxAttempts: 2,
    backoff: constantBackoff(0),
    on,
    handleResult: () => false,
    delay: () => 0,
    deadline: 1_000_000,
    budget: undefined,
    clock,
    random: () => 0,
  };
  const later = {
    maxAttempts: 9,
    backoff: constantBackoff(50_000),
    on: ["unknown", "refused"],
    handleResult: () => true,
    delay: () => {
      throw new Error("later delay");
    },
    deadline: 0,
    budget: { recordCall() {}, tryRetry: () => false, available: 0 },
    clock: other,
    random: () => {
      throw new Error("later random");
    },
  };
  const t = tracked(first, later);
  const policy = retry(t.options);
  assertReadOnce(t, "retry");
  const delays: number[] = [];
  policy.onRetry((e) => delays.push(e.delay));
  mutate(t, later);
  on.push("unknown");
  const check = async (): Promise<void> => {
    const op = failing(refused);
    const out = await drive(policy.execute(op.op), clock);
    assert.ok(!out.ok && out.error instanceof ConnectionError);
    assert.equal(op.calls, 2, "maxAttempts");
    const bug = failing(() => new Error("bug"));
    await drive(policy.execute(bug.op), clock);
    assert.equal(bug.calls, 1, "on");
    const fine = counter(() => "ok");
    assert.deepEqual(await drive(policy.execute(fine.op), clock), { ok: true, value: "ok" });
    assert.equal(fine.calls, 1, "handleResult");
  };
  await check();
  assert.deepEqual(delays, [0], "backoff and delay: the first, 0 ms");
  assertReadOnce(t, "retry, after calls");
  assert.equal(other.pendingTimers, 0);
});

test("circuitBreaker() and keyedCircuitBreaker() read each option once", async () => {
  for (const keyedToo of [false, true]) {
    const clock = new ManualClock();
    const on = ["refused"];
    const first = {
      trip: consecutiveFailures(2),
      halfOpenAfter: 1000,
      on,
      halfOpenMaxProbes: 1,
      halfOpenSuccesses: 1,
      probeTimeout: 60_000,
      clock,
    };
    const later = {
      trip: consecutiveFailures(1),
      halfOpenAfter: 0,
      on: ["unknown"],
      halfOpenMaxProbes: 5,
      halfOpenSuccesses: 5,
      probeTimeout: 0,
      clock: new ManualClock(1e9),
    };
    const t = tracked(first, later);
    const k = tracked({ maxKeys: 1 }, { maxKeys: 10 });
    const keyed = keyedToo ? keyedCircuitBreaker(t.options, k.options) : undefined;
    const breaker = keyed ? keyed.get("a") : circuitBreaker(t.options);
    assertReadOnce(t, "circuitBreaker");
    if (keyed) assertReadOnce(k, "keyedCircuitBreaker");
    mutate(t, later);
    mutate(k, { maxKeys: 10 });
    on.push("unknown");
    await breaker.execute(() => {
      throw new Error("bug");
    }).catch(() => {});
    await breaker.execute(failing(refused).op).catch(() => {});
    assert.equal(breaker.state, "closed", "trip is the first consecutiveFailures(2)");
    await breaker.execute(failing(refused).op).catch(() => {});
    assert.equal(breaker.state, "open");
    await clock.advance(999);
    assert.equal(breaker.state, "open", "halfOpenAfter");
    await clock.advance(1);
    assert.equal(breaker.state, "half_open");
    await breaker.execute(() => "probe");
    assert.equal(breaker.state, "closed", "halfOpenSuccesses");
    if (keyed) {
      keyed.get("b");
      assert.equal(keyed.size, 1, "maxKeys");
      assertReadOnce(k, "keyedCircuitBreaker, after calls");
    }
    assertReadOnce(t, "circuitBreaker, after calls");
  }
});

test("timeout(), fallback() and bulkhead() read each option once", async () => {
  const clock = new ManualClock();
  const heard: string[] = [];
  const tt = tracked(
    { clock, operation: "connect", onTimeout: () => heard.push("first") },
    { clock: new ManualClock(), operation: "fetch", onTimeout: () => heard.push("later") },
  );
  const policy = timeout(100, tt.options);
  assertReadOnce(tt, "timeout");
  mutate(tt, { operation: "fetch", onTimeout: () => heard.push("later") });
  const out = await drive(
    policy.execute(({ signal }) =>
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
    ),
    clock,
  );
  assert.ok(!out.ok && out.error instanceof ConnectionError);
  assert.equal((out.error as ConnectionError).operation, "connect");
  assert.deepEqual(heard, ["first"]);

  const kinds = ["refused"];
  const ft = tracked(
    { on: kinds, onFallback: () => heard.push("fallback first") },
    { on: ["reset"], onFallback: () => heard.push("fallback later") },
  );
  const f = fallback("served", ft.options);
  assertReadOnce(ft, "fallback");
  mutate(ft, { on: ["reset"], onFallback: () => heard.push("fallback later") });
  kinds.push("reset");
  assert.equal(await f.execute(failing(refused).op), "served");
  await assert.rejects(f.execute(failing(reset).op), ConnectionError);
  assert.deepEqual(heard, ["first", "fallback first"]);

  const bt = tracked(
    { queue: 0, onRejected: () => heard.push("rejected first") },
    { queue: 5, onRejected: () => heard.push("rejected later") },
  );
  const b = bulkhead(1, bt.options);
  assertReadOnce(bt, "bulkhead");
  mutate(bt, { queue: 5, onRejected: () => heard.push("rejected later") });
  let release!: () => void;
  const running = b.execute(() => new Promise<void>((r) => (release = r)));
  await assert.rejects(b.execute(() => 1), BulkheadRejectedError);
  release();
  await running;
  assert.deepEqual(heard, ["first", "fallback first", "rejected first"]);
  assertReadOnce(tt, "timeout, after calls");
  assertReadOnce(ft, "fallback, after calls");
  assertReadOnce(bt, "bulkhead, after calls");
});

test("retryBudget(), exponentialBackoff() and failureRate() read each option once", async () => {
  const clock = new ManualClock();
  const rb = tracked(
    { ratio: 0, minRetriesPerSecond: 0, windowMs: 1000, clock },
    { ratio: 10, minRetriesPerSecond: 1000, windowMs: 1, clock: new ManualClock() },
  );
  const budget = retryBudget(rb.options);
  assertReadOnce(rb, "retryBudget");
  mutate(rb, { ratio: 10, minRetriesPerSecond: 1000 });
  const op = failing(refused);
  await drive(
    retry({ maxAttempts: 5, budget, backoff: constantBackoff(0), clock }).execute(op.op),
    clock,
  );
  assert.equal(op.calls, 1, "ratio 0 and minRetriesPerSecond 0 allow no retry");

  const eb = tracked(
    { initial: 10, max: 40, factor: 2, jitter: "none" },
    { initial: 1, max: 1, factor: 5, jitter: "full" },
  );
  const backoff = exponentialBackoff(eb.options);
  assertReadOnce(eb, "exponentialBackoff");
  mutate(eb, { initial: 1, max: 1, factor: 5, jitter: "full" });
  assert.deepEqual([1, 2, 3, 4].map((n) => backoff.delay(n, 0, () => 0.5)), [10, 20, 40, 40]);

  const fr = tracked(
    { threshold: 1, minimumCalls: 2, windowMs: undefined, buckets: undefined, windowCalls: 2 },
    { threshold: 0.1, minimumCalls: 1, windowMs: 5, buckets: 3, windowCalls: 1 },
  );
  const rate = failureRate(fr.options);
  assertReadOnce(fr, "failureRate");
  mutate(fr, { threshold: 0.1, minimumCalls: 1, windowCalls: 1 });
  assert.equal(rate.minimumCalls, 2);
  assert.equal(rate.windowCalls, 2);
  const breaker = circuitBreaker({ trip: rate, halfOpenAfter: 1000, clock });
  await breaker.execute(failing(refused).op).catch(() => {});
  assert.equal(breaker.state, "closed");
  await breaker.execute(failing(refused).op).catch(() => {});
  assert.equal(breaker.state, "open");
});

test("resilientFetch() reads each option once, and each breaker option", async () => {
  const clock = new ManualClock();
  let calls = 0;
  const fetch503Then200 = () =>
    Promise.resolve(new Response("x", { status: ++calls === 1 ? 503 : 200 }));
  const first = {
    fetch: fetch503Then200,
    maxAttempts: 2,
    backoff: constantBackoff(0),
    deadline: 1_000_000,
    retryMethods: ["GET"],
    retryStatuses: [503],
    maxRetryAfter: 0,
    timeout: 10_000,
    breaker: false,
    policy: undefined,
    clock,
    random: () => 0,
    normalize: undefined,
  };
  const later = {
    fetch: () => Promise.reject(new Error("later fetch")),
    maxAttempts: 1,
    backoff: constantBackoff(50_000),
    deadline: 0,
    retryMethods: [],
    retryStatuses: [],
    maxRetryAfter: 50_000,
    timeout: 1,
    breaker: { trip: consecutiveFailures(1), statuses: [503] },
    policy: { execute: () => Promise.reject(new Error("later policy")) },
    clock: new ManualClock(),
    random: () => {
      throw new Error("later random");
    },
    normalize: () => {
      throw new Error("later normalize");
    },
  };
  const t = tracked(first, later);
  const http = resilientFetch(t.options);
  assertReadOnce(t, "resilientFetch");
  mutate(t, later);
  const out = await drive(http("http://127.0.0.1:1/x"), clock);
  assert.ok(out.ok && out.value.status === 200, "fetch, maxAttempts, retryStatuses, timeout");
  assert.equal(calls, 2);
  assert.equal(http.breakers, undefined, "breaker: false");
  assertReadOnce(t, "resilientFetch, after a call");

  const b = tracked(
    {
      trip: consecutiveFailures(1),
      halfOpenAfter: 1000,
      halfOpenMaxProbes: 1,
      halfOpenSuccesses: 1,
      probeTimeout: 60_000,
      statuses: [500],
      maxOrigins: 1,
    },
    {
      trip: consecutiveFailures(9),
      halfOpenAfter: 0,
      halfOpenMaxProbes: 9,
      halfOpenSuccesses: 9,
      probeTimeout: 0,
      statuses: [503],
      maxOrigins: 9,
    },
  );
  const always503 = () => Promise.resolve(new Response("busy", { status: 503 }));
  const guarded = resilientFetch({ fetch: always503, maxAttempts: 1, clock, breaker: b.options });
  assertReadOnce(b, "resilientFetch breaker");
  mutate(b, { statuses: [503], maxOrigins: 9 });
  assert.equal((await guarded("http://127.0.0.1:1/")).status, 503);
  assert.equal(guarded.breakers?.get("http://127.0.0.1:1").state, "closed", "statuses: [500]");
  await guarded("http://127.0.0.1:2/");
  assert.equal(guarded.breakers?.size, 1, "maxOrigins: 1");
  assertReadOnce(b, "resilientFetch breaker, after calls");
});

test("checkConnectOptions() reads each top-level option once", () => {
  const t = tracked(
    { hostname: "127.0.0.1", port: 8080, tls: undefined, signal: undefined, timeout: 100 },
    { hostname: "", port: 70_000, tls: 5, signal: 5, timeout: -1 },
  );
  const checked = checkConnectOptions(t.options);
  assertReadOnce(t, "checkConnectOptions");
  assert.deepEqual(checked, {
    hostname: "127.0.0.1",
    port: 8080,
    tls: undefined,
    signal: undefined,
    timeout: 100,
  });
});

// Found here and fixed: src/connect/connect.ts used to pass the caller's object on
// to the adapter, which read it again, and checkConnectOptions() read each
// tls option once to check it and again to copy it.

test("checkConnectOptions() reads each tls option once", () => {
  const tls = tracked(
    { serverName: "localhost", caCerts: ["PEM"], alpnProtocols: ["h2"] },
    { serverName: 42, caCerts: "not an array", alpnProtocols: 7 },
  );
  const checked = checkConnectOptions({ hostname: "127.0.0.1", port: 1, tls: tls.options });
  assertReadOnce(tls, "checkConnectOptions tls");
  assert.deepEqual(checked.tls, {
    serverName: "localhost",
    caCerts: ["PEM"],
    alpnProtocols: ["h2"],
  });
});

test("connect() reads each option once", async () => {
  const server = await echoServer();
  try {
    const t = tracked(
      {
        hostname: "127.0.0.1",
        port: server.port,
        tls: undefined,
        signal: undefined,
        timeout: 10_000,
      },
      { hostname: "localhost", port: 1, tls: true, timeout: 1 },
    );
    const conn = await connect(t.options);
    try {
      assertReadOnce(t, "connect");
      mutate(t, { port: 1, tls: true });
      assert.equal(await roundTrip(conn, "once"), "once");
    } finally {
      await conn.close();
    }
  } finally {
    await server.close();
  }
});
