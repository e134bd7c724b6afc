// Written against mutation testing (Stryker): details of timeout() that a
// mutant changed without another test noticing. ManualClock throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { isConnectionError } from "../errors/is_connection_error.ts";
import { timeout } from "./timeout.ts";
import type { ExecutionContext } from "./types.ts";

const never = (): Promise<never> => new Promise<never>(() => {});

test("the timeout error says how long, for which operation, from which runtime", async () => {
  const clock = new ManualClock();
  const policy = timeout(50, { clock, operation: "read" });
  const call = policy.execute(never).then(() => undefined, (e: unknown) => e);
  await clock.advance(50);
  const error = await call;
  assert.ok(isConnectionError(error, "timeout"));
  assert.equal(error.message, "Timed out after 50 ms");
  assert.equal(error.timeoutMs, 50);
  assert.equal(error.operation, "read");
  assert.notEqual(error.runtime, "unknown");
});

test("ctx.signal read before the deadline is live; read after it, it is aborted with the error", async () => {
  const clock = new ManualClock();
  const policy = timeout(10, { clock });
  let early: AbortSignal | undefined;
  let ctx: ExecutionContext | undefined;
  const call = policy.execute((c) => {
    ctx = c;
    early = c.signal;
    assert.equal(early.aborted, false, "not aborted before the deadline");
    return never();
  }).then(() => undefined, (e: unknown) => e);
  await clock.advance(10);
  const error = await call;
  assert.equal(early!.aborted, true);
  assert.equal(early!.reason, error);

  // A signal first read only after the deadline is born aborted, with the same error.
  let late: ExecutionContext | undefined;
  const call2 = policy.execute((c) => {
    late = c;
    return never();
  }).then(() => undefined, (e: unknown) => e);
  await clock.advance(10);
  const error2 = await call2;
  assert.equal(late!.signal.aborted, true);
  assert.equal(late!.signal.reason, error2);
  assert.ok(ctx);
});

test("a caller's signal aborted before ctx.signal is read makes it born aborted with that reason", async () => {
  const clock = new ManualClock();
  const policy = timeout(1000, { clock });
  const caller = new AbortController();
  let ctx: ExecutionContext | undefined;
  const call = policy.execute((c) => {
    ctx = c;
    return never();
  }, caller.signal);
  const reason = new Error("mine");
  caller.abort(reason);
  const error = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(isConnectionError(error, "cancelled"));
  assert.equal(ctx!.signal.aborted, true);
  assert.equal(ctx!.signal.reason, reason);
  assert.equal(clock.pendingTimers, 0);
});

test("an operation that never reads ctx.signal is still cancelled by the caller", async () => {
  const clock = new ManualClock();
  const policy = timeout(1000, { clock });
  const caller = new AbortController();
  const call = policy.execute(never, caller.signal);
  caller.abort();
  const error = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(isConnectionError(error, "cancelled"), String(error));
});

test("an operation that aborts the caller's signal itself is cancelled at once", async () => {
  const clock = new ManualClock();
  const policy = timeout(1000, { clock });
  const caller = new AbortController();
  let ran = false;
  const call = policy.execute(() => {
    caller.abort();
    return Promise.resolve("value").then((v) => {
      ran = true;
      return v;
    });
  }, caller.signal);
  const error = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(isConnectionError(error, "cancelled"), String(error));
  assert.equal(ran, true);
});

test("thenables: a function with then() is raced, a throwing then() rejects, plain values resolve", async () => {
  const clock = new ManualClock();
  const policy = timeout(20, { clock });
  const fnThenable = Object.assign(() => {}, { then: () => {} });
  const raced = assert.rejects(
    policy.execute(() => fnThenable as unknown as Promise<never>),
    (e: unknown) => isConnectionError(e, "timeout"),
  );
  await clock.advance(20);
  await raced;

  const boom = new Error("then threw");
  const throwing = {
    then() {
      throw boom;
    },
  };
  await assert.rejects(
    policy.execute(() => throwing as unknown as Promise<never>),
    (e) => e === boom,
  );

  const notThenable = { then: 5 };
  assert.equal(await policy.execute(() => notThenable), notThenable);
  assert.equal(await policy.execute(() => null), null);
  const fn = () => 1;
  assert.equal(await policy.execute(() => fn), fn);
  assert.equal(await policy.execute(() => "text"), "text");
  assert.equal(clock.pendingTimers, 0);
});

test("a recognized error thrown by the operation leaves as a ConnectionError", async () => {
  const policy = timeout(1000, { clock: new ManualClock() });
  const refused = Object.assign(new Error("x"), { code: "ECONNREFUSED" });
  await assert.rejects(
    policy.execute(() => {
      throw refused;
    }),
    (e) => e instanceof ConnectionError && e.kind === "refused" && e.cause === refused,
  );
  await assert.rejects(
    policy.execute(() => Promise.reject(refused)),
    (e) => e instanceof ConnectionError && e.kind === "refused",
  );
});

test("timeout() refuses bad arguments with messages that name the option", () => {
  const cases: Array<[() => unknown, ErrorConstructor, string]> = [
    [
      () => timeout("5" as never),
      TypeError,
      `Cannot create timeout as 'ms' must be a finite positive number of milliseconds: current value is "5"`,
    ],
    [
      () => timeout(0),
      RangeError,
      "Cannot create timeout as 'ms' must be a finite positive number of milliseconds: current value is 0",
    ],
    [
      () => timeout(Infinity),
      RangeError,
      "Cannot create timeout as 'ms' must be a finite positive number of milliseconds: current value is Infinity",
    ],
    [
      () => timeout(1, { operation: "nope" as never }),
      TypeError,
      `Cannot create timeout as 'operation' must be one of connect, read, write, lookup, tls, fetch, listen: current value is "nope"`,
    ],
    [
      () => timeout(1, { onTimeout: 5 as never }),
      TypeError,
      "Cannot create timeout as 'onTimeout' must be a function: current value is 5",
    ],
    [
      () => timeout(1, 5 as never),
      TypeError,
      "Cannot create timeout as 'options' must be an object: current value is 5",
    ],
  ];
  for (const [make, Ctor, message] of cases) {
    assert.throws(make, (e: unknown) => {
      assert.ok(e instanceof Ctor, String(e));
      assert.equal((e as Error).message, message);
      return true;
    });
  }
  assert.throws(() => timeout(1, { clock: {} as never }), /Cannot create timeout as 'clock'/);
});
