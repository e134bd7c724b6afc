// Written against mutation testing (Stryker): details of circuitBreaker()
// that a mutant changed without another test noticing. ManualClock throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { consecutiveFailures } from "./breaker_strategies.ts";
import { BrokenCircuitError, circuitBreaker } from "./circuit_breaker.ts";
import { keyedCircuitBreaker } from "./keyed_breaker.ts";

const refused = (): Error => Object.assign(new Error("x"), { code: "ECONNREFUSED" });
const fail = (): never => {
  throw refused();
};

test("a call started before the breaker moved on is not counted, success or failure", async () => {
  const clock = new ManualClock();
  const breaker = circuitBreaker({ trip: consecutiveFailures(2), halfOpenAfter: 1000, clock });
  let resolveOld!: (v: string) => void;
  const old = breaker.execute(() => new Promise<string>((r) => (resolveOld = r)));
  breaker.isolate();
  breaker.reset();
  await breaker.execute(fail).catch(() => {});
  resolveOld("late");
  assert.equal(await old, "late");
  // Had the stale success counted, the failure count would have started again.
  await breaker.execute(fail).catch(() => {});
  assert.equal(breaker.state, "open");

  const b2 = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 1000, clock });
  let rejectOld!: (e: unknown) => void;
  const old2 = b2.execute(() => new Promise<never>((_, r) => (rejectOld = r)));
  b2.isolate();
  b2.reset();
  rejectOld(refused());
  await old2.catch(() => {});
  assert.equal(b2.state, "closed", "a stale failure does not open it");
});

test("a synchronous success inside a call that moved the breaker on is not counted", async () => {
  const clock = new ManualClock();
  const breaker = circuitBreaker({ trip: consecutiveFailures(2), halfOpenAfter: 1000, clock });
  await breaker.execute(fail).catch(() => {});
  assert.equal(
    await breaker.execute(() => {
      breaker.isolate();
      breaker.reset();
      return "sync";
    }),
    "sync",
  );
  await breaker.execute(fail).catch(() => {});
  assert.equal(breaker.state, "closed", "one failure since the reset");
  await breaker.execute(fail).catch(() => {});
  assert.equal(breaker.state, "open");
});

test("thenables: a function with then() is awaited, plain values are successes", async () => {
  const clock = new ManualClock();
  const breaker = circuitBreaker({ trip: consecutiveFailures(2), halfOpenAfter: 1000, clock });
  const rejecting = Object.assign(() => {}, {
    then: (_: unknown, reject: (e: unknown) => void) => reject(refused()),
  });
  await assert.rejects(breaker.execute(() => rejecting as unknown as Promise<never>));
  assert.equal(await breaker.execute(() => null), null, "a null result is a success");
  await breaker.execute(fail).catch(() => {});
  assert.equal(breaker.state, "closed", "the null success started the count again");
  const notThenable = { then: "no" };
  assert.equal(await breaker.execute(() => notThenable), notThenable);
  await breaker.execute(fail).catch(() => {});
  assert.equal(breaker.state, "closed");
  await breaker.execute(() => rejecting as unknown as Promise<never>).catch(() => {});
  assert.equal(breaker.state, "open", "the thenable's rejection counted");
});

test("BrokenCircuitError says the state, the wait and the key", async () => {
  const clock = new ManualClock();
  const breaker = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 1000, clock });
  await breaker.execute(fail).catch(() => {});
  await clock.advance(200.5);
  const open = await breaker.execute(() => 1).catch((e: unknown) => e);
  assert.ok(open instanceof BrokenCircuitError);
  assert.equal(open.message, "The circuit is open: call refused, it half-opens in 800 ms");
  assert.equal(open.state, "open");
  assert.equal(open.retryAfterMs, 799.5);
  assert.equal(open.key, undefined);

  await clock.advance(800);
  let release!: () => void;
  const probe = breaker.execute(() => new Promise<void>((r) => (release = r)));
  const busy = await breaker.execute(() => 1).catch((e: unknown) => e);
  assert.ok(busy instanceof BrokenCircuitError);
  assert.equal(busy.message, "The circuit is half-open and its probes are busy: call refused");
  assert.equal(busy.retryAfterMs, undefined);
  release();
  await probe;

  breaker.isolate();
  const isolated = await breaker.execute(() => 1).catch((e: unknown) => e);
  assert.equal(
    (isolated as Error).message,
    "The circuit is isolated: call refused until reset()",
  );

  const keyed = keyedCircuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 10, clock });
  const k = keyed.get("db:5432");
  await k.execute(fail).catch(() => {});
  const keyedError = await k.execute(() => 1).catch((e: unknown) => e);
  assert.equal(
    (keyedError as Error).message,
    'The circuit for "db:5432" is open: call refused, it half-opens in 10 ms',
  );
  assert.equal((keyedError as BrokenCircuitError).key, "db:5432");
});

test("circuitBreaker() names the bad entry of `on`", () => {
  assert.throws(
    () => circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 1, on: [5 as never] }),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message ===
        "Cannot create circuitBreaker as 'on' must be a list of connection error kinds: current value is [5]",
  );
});

test("restore() refuses each malformed field with a message naming it", () => {
  const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1 });
  const good = breaker.toJSON();
  const cases: Array<[Record<string, unknown>, ErrorConstructor, string]> = [
    [{ state: 5 }, TypeError, "'snapshot.state' must be a circuit state: current value is 5"],
    [
      { state: "open", openedAt: "0" },
      TypeError,
      `'snapshot.openedAt' must be a finite number or null: current value is "0"`,
    ],
    [
      { halfOpenAfterMs: -1 },
      RangeError,
      "'snapshot.halfOpenAfterMs' must be a number of milliseconds from 0 to 2147483647: current value is -1",
    ],
    [
      { openings: "1" },
      TypeError,
      `'snapshot.openings' must be a non-negative integer: current value is "1"`,
    ],
    [
      { probeSuccesses: null },
      TypeError,
      "'snapshot.probeSuccesses' must be a non-negative integer: current value is null",
    ],
  ];
  for (const [patch, Ctor, tail] of cases) {
    assert.throws(() => breaker.restore({ ...good, ...patch } as never), (e: unknown) => {
      assert.ok(e instanceof Ctor, `${String(e)}`);
      assert.equal((e as Error).message, `Cannot restore circuit breaker as ${tail}`);
      return true;
    });
  }
  assert.equal(breaker.state, "closed");
});
