import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Clock, ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { type Backoff, constantBackoff, exponentialBackoff, MAX_DELAY_MS } from "./backoff.ts";
import {
  retry,
  type RetryEvent,
  type RetryGiveUpEvent,
  type RetryOptions,
  type RetrySuccessEvent,
} from "./retry.ts";
import { type RetryBudget, retryBudget } from "./retry_budget.ts";
import type { ExecutionContext } from "./types.ts";
import { pipeline } from "./pipeline.ts";
import { timeout } from "./timeout.ts";
import { circuitBreaker } from "./circuit_breaker.ts";
import { consecutiveFailures } from "./trip/consecutive_failures.ts";

// ---------------------------------------------------------------- helpers

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** Fires every timer the call sets, in order, until none is left; then gives the outcome. */
async function drive<T>(clock: ManualClock, promise: Promise<T>): Promise<Settled<T>> {
  const settled = settle(promise);
  await clock.advance(0);
  while (await clock.next()) { /* fire the next timer */ }
  return settled;
}

function rejected<T>(s: Settled<T>): unknown {
  assert.equal(s.ok, false, `expected a rejection, got ${s.ok ? String(s.value) : ""}`);
  return (s as { error: unknown }).error;
}

/** A clock that counts the timers asked of it. */
class CountingClock implements Clock {
  readonly inner = new ManualClock();
  sleeps = 0;
  timers = 0;
  now(): number {
    return this.inner.now();
  }
  setTimeout(callback: () => void, ms: number): unknown {
    this.timers++;
    return this.inner.setTimeout(callback, ms);
  }
  clearTimeout(handle: unknown): void {
    this.inner.clearTimeout(handle);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps++;
    return this.inner.sleep(ms, signal);
  }
}

/** A signal that tracks the listeners added to it and not removed. */
function trackedSignal(): { controller: AbortController; signal: AbortSignal; live: () => number } {
  const controller = new AbortController();
  const signal = controller.signal;
  const live = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: unknown, options?: unknown) => {
    live.add(listener);
    add(type, listener as EventListener, options as AddEventListenerOptions);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: unknown, options?: unknown) => {
    live.delete(listener);
    remove(type, listener as EventListener, options as EventListenerOptions);
  }) as typeof signal.removeEventListener;
  return { controller, signal, live: () => live.size };
}

/** An operation that fails with `errors` in turn, then returns `value`. */
function failing<T>(
  errors: unknown[],
  value: T,
): { fn: (ctx: ExecutionContext) => Promise<T>; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    fn: (ctx) => {
      calls.push(ctx.attempt);
      const i = calls.length - 1;
      return i < errors.length ? Promise.reject(errors[i]) : Promise.resolve(value);
    },
  };
}

const refused = (): ConnectionError => new ConnectionError("refused", { port: 1 });
const rawRefused = (): Error =>
  Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
    code: "ECONNREFUSED",
    syscall: "connect",
    address: "127.0.0.1",
    port: 1,
  });

/** Runs `body` with console.error silenced, giving what was reported. */
async function quietly(body: () => Promise<void>): Promise<unknown[][]> {
  const original = console.error;
  const reports: unknown[][] = [];
  console.error = (...args: unknown[]) => {
    reports.push(args);
  };
  try {
    await body();
  } finally {
    console.error = original;
  }
  return reports;
}

// ---------------------------------------------------------------- tests

describe("retry(): attempts", () => {
  test("retry() with maxAttempts 1 never retries", async () => {
    const clock = new ManualClock();
    const error = refused();
    const op = failing([error], "never");
    const s = await drive(clock, retry({ maxAttempts: 1, clock }).execute(op.fn));
    assert.equal(rejected(s), error);
    assert.deepEqual(op.calls, [1]);
  });

  test("retry() gives up after maxAttempts, counting the first attempt", async () => {
    const clock = new ManualClock();
    const errors = [refused(), refused(), refused(), refused()];
    const op = failing(errors, "never");
    const policy = retry({ maxAttempts: 3, backoff: constantBackoff(100), clock });
    const giveUps: RetryGiveUpEvent[] = [];
    policy.onGiveUp((e) => giveUps.push(e));
    const s = await drive(clock, policy.execute(op.fn));
    assert.equal(rejected(s), errors[2], "the last error");
    assert.deepEqual(op.calls, [1, 2, 3]);
    assert.deepEqual(giveUps, [{ attempts: 3, reason: "attempts", error: errors[2] }]);
    assert.equal(clock.now(), 200);
    assert.equal(clock.pendingTimers, 0);
  });

  test("retry() defaults to 3 attempts", async () => {
    const clock = new ManualClock();
    const op = failing([refused(), refused(), refused(), refused()], 1);
    await drive(clock, retry({ clock }).execute(op.fn));
    assert.equal(op.calls.length, 3);
  });

  test("retry() returns the value of the attempt that succeeds", async () => {
    const clock = new ManualClock();
    const op = failing([refused()], "ok");
    const policy = retry({ clock, backoff: constantBackoff(10) });
    const successes: RetrySuccessEvent[] = [];
    policy.onSuccess((e) => successes.push(e));
    const s = await drive(clock, policy.execute(op.fn));
    assert.deepEqual(s, { ok: true, value: "ok" });
    assert.deepEqual(op.calls, [1, 2]);
    assert.deepEqual(successes, [{ attempts: 2 }]);
  });

  test("retry() runs a synchronous operation and catches what it throws", async () => {
    const clock = new ManualClock();
    let n = 0;
    const s = await drive(
      clock,
      retry({ clock, backoff: constantBackoff(0) }).execute(() => {
        if (++n < 3) throw refused();
        return n;
      }),
    );
    assert.deepEqual(s, { ok: true, value: 3 });
  });

  test("retry() numbers its own attempts and ignores the attempt passed by an outer policy", async () => {
    const clock = new ManualClock();
    const op = failing([refused()], "ok");
    const policy = retry({ clock, backoff: constantBackoff(0) });
    const outer = retry({ maxAttempts: 7, backoff: constantBackoff(0), on: () => true });
    let outerAttempt = 0;
    await drive(
      clock,
      pipeline(outer, policy).execute((ctx) => {
        outerAttempt = ctx.attempt;
        return op.fn(ctx);
      }),
    );
    assert.ok(outerAttempt >= 1);
    assert.deepEqual(op.calls, [1, 2]);
  });

  test("retry() with maxAttempts Infinity stops at the deadline", async () => {
    const clock = new ManualClock();
    const op = failing(Array.from({ length: 1_000 }, refused), "never");
    const policy = retry({
      maxAttempts: Infinity,
      deadline: 1_000,
      backoff: constantBackoff(100),
      clock,
    });
    rejected(await drive(clock, policy.execute(op.fn)));
    assert.equal(op.calls.length, 11); // at 0, 100, ..., 1000
  });

  test("property: retry() never calls the operation more than maxAttempts times", async () => {
    const outcome = fc.constantFrom(
      "refused" as const,
      "tls" as const,
      "bug" as const,
      "ok" as const,
      "retry-result" as const,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(outcome, { maxLength: 12 }),
        fc.integer({ min: 0, max: 3 }),
        async (maxAttempts, outcomes, ms) => {
          const clock = new ManualClock();
          let calls = 0;
          const policy = retry({
            maxAttempts,
            backoff: constantBackoff(ms),
            clock,
            handleResult: (r) => r === "retry-result",
          });
          const s = await drive(
            clock,
            policy.execute(() => {
              const o = outcomes[calls++] ?? "refused";
              if (o === "refused") throw refused();
              if (o === "tls") throw new ConnectionError("tls");
              if (o === "bug") throw new TypeError("bug");
              return o;
            }),
          );
          assert.ok(calls <= maxAttempts, `${calls} calls > ${maxAttempts}`);
          // Exactly: up to the first outcome that ends the call, or maxAttempts.
          const end = outcomes.findIndex((o) => o === "tls" || o === "bug" || o === "ok");
          assert.equal(calls, end === -1 ? maxAttempts : Math.min(maxAttempts, end + 1));
          if (s.ok) assert.ok(s.value === "ok" || s.value === "retry-result");
          assert.equal(clock.pendingTimers, 0);
        },
      ),
      { numRuns: 200 },
    );
  });
  test("retry() with a 0 ms backoff runs thousands of attempts, failing at once or later, without growing the stack", async () => {
    const attempts = 20_000;
    const policy = retry({ maxAttempts: attempts, backoff: constantBackoff(0) });
    let thrown = 0;
    const sync = await policy.execute(() => {
      if (++thrown < attempts) throw rawRefused();
      return "sync";
    });
    assert.equal(sync, "sync");
    let rejectedCount = 0;
    const later = await policy.execute(() =>
      ++rejectedCount < attempts ? Promise.reject(rawRefused()) : Promise.resolve("later")
    );
    assert.equal(later, "later");
    assert.equal(thrown + rejectedCount, 2 * attempts);
  });

  test("retry() with a 0 ms backoff starts the attempt after one that throws a microtask later, alone and in a pipeline", async () => {
    const breaker = circuitBreaker({ trip: consecutiveFailures(100), halfOpenAfter: 1000 });
    for (
      const policy of [
        retry({ backoff: constantBackoff(0) }),
        pipeline(retry({ backoff: constantBackoff(0) }), breaker),
      ]
    ) {
      let attempts = 0;
      const call = policy.execute(() => {
        if (++attempts < 3) throw rawRefused();
        return "third";
      });
      assert.equal(attempts, 1, "no second attempt before execute() returns");
      await null;
      assert.equal(attempts, 2);
      assert.equal(await call, "third");
    }
  });

  test("retry() alone settles in the same turn as inside a pipeline, and calls its operation with no this", async () => {
    const breaker = () => circuitBreaker({ trip: consecutiveFailures(100), halfOpenAfter: 1000 });
    const turns: number[] = [];
    const thisValues: unknown[] = [];
    for (
      const policy of [
        retry({ backoff: constantBackoff(0) }),
        pipeline(retry({ backoff: constantBackoff(0) }), breaker()),
      ]
    ) {
      let turn = 0;
      let ticking = true;
      const ticker = (async () => {
        while (ticking) {
          await null;
          turn++;
        }
      })();
      const value = await policy.execute(function (this: unknown, { attempt }) {
        thisValues.push(this);
        return attempt < 3 ? Promise.reject(rawRefused()) : Promise.resolve(attempt);
      });
      turns.push(turn);
      ticking = false;
      await ticker;
      assert.equal(value, 3);
    }
    assert.equal(turns[0], turns[1], `settled at turns ${turns.join(" and ")}`);
    assert.deepEqual(thisValues, Array(6).fill(undefined));
  });

  test("retry() alone starts its second attempt a microtask after a first whose own then calls back at once", async () => {
    let attempts = 0;
    const call = retry({ backoff: constantBackoff(0) }).execute(() => {
      if (++attempts > 1) return "second";
      const failed = Promise.reject(rawRefused());
      failed.catch(() => {});
      // A promise whose then rejects before it returns, then follows what the handler gave.
      (failed as { then: unknown }).then = (_ok: unknown, fail: (e: unknown) => unknown) => {
        try {
          return Promise.resolve(fail(rawRefused()));
        } catch (error) {
          return Promise.reject(error);
        }
      };
      return failed;
    });
    assert.equal(attempts, 1, "no second attempt before execute() returns");
    assert.equal(await call, "second");
  });

  test("retry() retries a first attempt that returns a failing thenable function, or a promise whose constructor getter throws a connection error", async () => {
    const refusedThenable = Object.assign(() => {}, {
      then: (_ok: unknown, fail: (e: unknown) => void) => fail(rawRefused()),
    });
    const hostile = () => {
      const p = Promise.resolve("never seen");
      Object.defineProperty(p, "constructor", {
        get() {
          throw rawRefused();
        },
      });
      return p;
    };
    for (const first of [() => refusedThenable, hostile]) {
      for (
        const policy of [
          retry({ backoff: constantBackoff(0) }),
          pipeline(
            retry({ backoff: constantBackoff(0) }),
            circuitBreaker({ trip: consecutiveFailures(100), halfOpenAfter: 1000 }),
          ),
        ]
      ) {
        let attempts = 0;
        const call = policy.execute((): unknown => ++attempts === 1 ? first() : "second");
        assert.equal(attempts, 1, "no second attempt before execute() returns");
        assert.equal(await call, "second");
        assert.equal(attempts, 2);
      }
    }
  });

  test("retry() tells onSuccess of a call whose first attempt succeeds, and a breaker outside it hears that success", async () => {
    const heard: RetrySuccessEvent[] = [];
    const r = retry({ maxAttempts: 1 });
    r.onSuccess((e) => heard.push(e));
    assert.equal(await r.execute(() => Promise.resolve("at once")), "at once");
    assert.equal(
      await pipeline(r, timeout(1000)).execute(() => Promise.resolve("at once")),
      "at once",
    );
    assert.deepEqual(heard, [{ attempts: 1 }, { attempts: 1 }]);
    // A success between two failures resets consecutive failures: the breaker stays closed.
    const breaker = circuitBreaker({ trip: consecutiveFailures(2), halfOpenAfter: 1000 });
    const policy = pipeline(breaker, retry({ maxAttempts: 1 }));
    await assert.rejects(policy.execute(() => Promise.reject(rawRefused())));
    assert.equal(await policy.execute(() => Promise.resolve("ok")), "ok");
    await assert.rejects(policy.execute(() => Promise.reject(rawRefused())));
    assert.equal(breaker.state, "closed");
  });

  test("retry() with a 0 ms backoff starts the next attempt in the turn an asynchronous failure arrives", async () => {
    const policy = retry({ maxAttempts: 3, backoff: constantBackoff(0) });
    const started: number[] = [];
    let turn = 0;
    let ticking = true;
    const tick = async () => {
      while (ticking) {
        await null;
        turn++;
      }
    };
    const ticker = tick();
    await policy.execute(({ attempt }) => {
      started.push(turn);
      return attempt < 3 ? Promise.reject(rawRefused()) : Promise.resolve(attempt);
    });
    ticking = false;
    await ticker;
    // Each failure is heard one turn after its attempt started; no turn is spent waiting.
    assert.deepEqual(started.map((t) => t - started[0]!), [0, 1, 2]);
  });
});

describe("retry(): which errors", () => {
  test("retry() retries a recognized retryable error and rejects with its ConnectionError", async () => {
    const clock = new ManualClock();
    const raw = [rawRefused(), rawRefused(), rawRefused()];
    const op = failing(raw, "never");
    const error = rejected(await drive(clock, retry({ clock }).execute(op.fn)));
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "refused");
    assert.equal(error.cause, raw[2]);
    assert.equal(op.calls.length, 3);
  });

  test("retry() does not retry a non-retryable connection error", async () => {
    const clock = new ManualClock();
    for (const error of [new ConnectionError("tls"), new ConnectionError("dns")]) {
      const op = failing([error], "never");
      const policy = retry({ clock });
      const giveUps: RetryGiveUpEvent[] = [];
      policy.onGiveUp((e) => giveUps.push(e));
      assert.equal(rejected(await drive(clock, policy.execute(op.fn))), error);
      assert.equal(op.calls.length, 1);
      assert.deepEqual(giveUps, [{ attempts: 1, reason: "not_retryable", error }]);
    }
  });

  test("retry() retries a temporary DNS failure by default", async () => {
    const clock = new ManualClock();
    const op = failing([new ConnectionError("dns", { temporary: true })], "ok");
    assert.deepEqual(await drive(clock, retry({ clock }).execute(op.fn)), {
      ok: true,
      value: "ok",
    });
  });

  test("retry() leaves an unrecognized error untouched and does not retry it", async () => {
    const clock = new ManualClock();
    for (const error of [new TypeError("a bug"), "a string", undefined, { status: 500 }]) {
      const op = failing([error], "never");
      const s = await drive(clock, retry({ clock }).execute(op.fn));
      assert.equal(rejected(s), error);
      assert.equal(op.calls.length, 1);
    }
  });

  test("retry() never retries a cancellation by default", async () => {
    const clock = new ManualClock();
    const abort = new DOMException("The operation was aborted.", "AbortError");
    const op = failing([abort], "never");
    const error = rejected(await drive(clock, retry({ clock }).execute(op.fn)));
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(op.calls.length, 1);
  });

  test("retry() with a list of kinds retries only those kinds", async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, on: ["reset"], backoff: constantBackoff(0) });
    const a = failing([new ConnectionError("reset")], "ok");
    assert.deepEqual(await drive(clock, policy.execute(a.fn)), { ok: true, value: "ok" });
    const b = failing([refused()], "ok");
    rejected(await drive(clock, policy.execute(b.fn)));
    assert.equal(b.calls.length, 1);
  });

  test("retry() with 'unknown' in the list retries unrecognized errors, untouched", async () => {
    const clock = new ManualClock();
    const bug = new TypeError("flaky");
    const op = failing([bug, bug, bug], "never");
    const s = await drive(clock, retry({ clock, on: ["unknown"] }).execute(op.fn));
    assert.equal(rejected(s), bug);
    assert.equal(op.calls.length, 3);
  });

  test("retry() with a predicate is given the error and its ConnectionError", async () => {
    const clock = new ManualClock();
    class HttpError extends Error {
      status: number;
      constructor(status: number) {
        super(`HTTP ${status}`);
        this.status = status;
      }
    }
    const seen: Array<[unknown, unknown]> = [];
    const policy = retry({
      clock,
      backoff: constantBackoff(1),
      on: (error, normalized) => {
        seen.push([error, normalized?.kind]);
        return error instanceof HttpError ? error.status === 503 : normalized?.kind === "refused";
      },
    });
    const raw = rawRefused();
    const http = new HttpError(503);
    const op = failing([raw, http, new HttpError(404)], "never");
    const error = rejected(await drive(clock, policy.execute(op.fn)));
    assert.ok(error instanceof HttpError && error.status === 404);
    assert.deepEqual(seen.map(([e, k]) => [e === raw || e === http || "404", k]), [
      [true, "refused"],
      [true, undefined],
      ["404", undefined],
    ]);
  });

  test("retry() rejects with what its predicate throws", async () => {
    const clock = new ManualClock();
    const oops = new Error("predicate bug");
    const policy = retry({
      clock,
      on: () => {
        throw oops;
      },
    });
    const op = failing([refused()], "never");
    assert.equal(rejected(await drive(clock, policy.execute(op.fn))), oops);
  });
});

describe("retry(): results", () => {
  test("retry() retries a result that handleResult rejects and returns the good one", async () => {
    const clock = new ManualClock();
    const statuses = [503, 503, 200];
    let i = 0;
    const policy = retry({
      clock,
      backoff: constantBackoff(10),
      handleResult: (r) => (r as { status: number }).status === 503,
    });
    const events: RetryEvent[] = [];
    policy.onRetry((e) => events.push(e));
    const s = await drive(clock, policy.execute(() => ({ status: statuses[i++] })));
    assert.deepEqual(s, { ok: true, value: { status: 200 } });
    assert.deepEqual(events, [
      { attempt: 1, delay: 10, result: { status: 503 } },
      { attempt: 2, delay: 10, result: { status: 503 } },
    ]);
  });

  test("retry() returns the last result when the attempts run out on a result", async () => {
    const clock = new ManualClock();
    let i = 0;
    const policy = retry({
      clock,
      maxAttempts: 2,
      backoff: constantBackoff(10),
      handleResult: (r) => (r as { status: number }).status === 503,
    });
    const giveUps: RetryGiveUpEvent[] = [];
    policy.onGiveUp((e) => giveUps.push(e));
    const s = await drive(clock, policy.execute(() => ({ status: 503, n: ++i })));
    assert.deepEqual(s, { ok: true, value: { status: 503, n: 2 } });
    assert.deepEqual(giveUps, [{ attempts: 2, reason: "attempts", result: { status: 503, n: 2 } }]);
  });

  test("retry() rejects with what handleResult throws", async () => {
    const clock = new ManualClock();
    const oops = new Error("handleResult bug");
    const policy = retry({
      clock,
      handleResult: () => {
        throw oops;
      },
    });
    assert.equal(rejected(await drive(clock, policy.execute(() => 1))), oops);
  });
});

describe("retry(): delays", () => {
  test("retry() waits the backoff's delays between attempts", async () => {
    const clock = new ManualClock();
    const op = failing([refused(), refused(), refused()], "ok");
    const policy = retry({
      clock,
      maxAttempts: 4,
      backoff: exponentialBackoff({ initial: 100, jitter: "none" }),
    });
    const times: number[] = [];
    const s = await drive(
      clock,
      policy.execute((ctx) => {
        times.push(clock.now());
        return op.fn(ctx);
      }),
    );
    assert.deepEqual(s, { ok: true, value: "ok" });
    assert.deepEqual(times, [0, 100, 300, 700]);
  });

  test("retry() with a 0 ms delay never waits on a timer", async () => {
    const clock = new CountingClock();
    const op = failing([refused(), refused()], "ok");
    const s = await settle(retry({ clock, backoff: constantBackoff(0) }).execute(op.fn));
    assert.deepEqual(s, { ok: true, value: "ok" });
    assert.equal(clock.sleeps, 0);
    assert.equal(clock.timers, 0);
    assert.equal(clock.now(), 0);
  });

  test("retry() lets the delay option override the backoff, to honour a Retry-After", async () => {
    const clock = new ManualClock();
    const infos: unknown[] = [];
    const error = refused();
    const op = failing([error, error, error, error], "ok");
    const choices = [5_000, undefined, NaN, "7" as unknown as number];
    const policy = retry({
      clock,
      maxAttempts: 5,
      backoff: constantBackoff(100),
      delay: (info) => {
        infos.push(info);
        return choices[infos.length - 1];
      },
    });
    const events: RetryEvent[] = [];
    policy.onRetry((e) => events.push(e));
    const s = await drive(clock, policy.execute(op.fn));
    assert.deepEqual(s, { ok: true, value: "ok" });
    assert.deepEqual(infos[0], { attempt: 1, error, backoffDelay: 100 });
    assert.deepEqual(events.map((e) => e.delay), [5_000, 100, 100, 100]);
    assert.equal(clock.now(), 5_300);
  });

  test("retry() treats a negative override as 0 ms, without a timer", async () => {
    const clock = new CountingClock();
    const op = failing([refused()], "ok");
    const policy = retry({ clock, backoff: constantBackoff(100), delay: () => -50 });
    assert.deepEqual(await settle(policy.execute(op.fn)), { ok: true, value: "ok" });
    assert.equal(clock.sleeps, 0);
  });

  test("retry() gives the delay option the result being retried", async () => {
    const clock = new ManualClock();
    const infos: unknown[] = [];
    let n = 0;
    const policy = retry({
      clock,
      backoff: constantBackoff(1),
      handleResult: (r) => r === "busy",
      delay: (info) => {
        infos.push(info);
        return 2_000;
      },
    });
    const s = await drive(clock, policy.execute(() => (++n === 1 ? "busy" : "done")));
    assert.deepEqual(s, { ok: true, value: "done" });
    assert.deepEqual(infos, [{ attempt: 1, result: "busy", backoffDelay: 1 }]);
    assert.equal(clock.now(), 2_000);
  });

  test("retry() clamps a custom backoff's NaN, negative or infinite delay", async () => {
    const clock = new ManualClock();
    const values = [NaN, -5, Infinity];
    const backoff: Backoff = { delay: (n) => values[n - 1]! };
    const policy = retry({ clock, maxAttempts: 4, backoff });
    const events: RetryEvent[] = [];
    policy.onRetry((e) => events.push(e));
    const op = failing([refused(), refused(), refused()], "ok");
    const settled = settle(policy.execute(op.fn));
    await clock.advance(0);
    assert.deepEqual(events.map((e) => e.delay), [0, 0, MAX_DELAY_MS]);
    await clock.advance(MAX_DELAY_MS);
    assert.deepEqual(await settled, { ok: true, value: "ok" });
  });

  test("retry() passes the random source to the backoff, so jitter is reproducible", async () => {
    const run = async (jitter: "full" | "decorrelated"): Promise<number[]> => {
      const clock = new ManualClock();
      let seed = 1;
      const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
      const policy = retry({
        clock,
        maxAttempts: 6,
        random,
        backoff: exponentialBackoff({ initial: 100, max: 10_000, jitter }),
      });
      const delays: number[] = [];
      policy.onRetry((e) => delays.push(e.delay));
      await drive(clock, policy.execute(failing(Array.from({ length: 9 }, refused), 0).fn));
      return delays;
    };
    for (const jitter of ["full", "decorrelated"] as const) {
      const a = await run(jitter);
      assert.equal(a.length, 5);
      assert.deepEqual(await run(jitter), a);
    }
    const full = await run("full");
    full.forEach((d, i) => assert.ok(d >= 0 && d <= 100 * 2 ** i));
    const decorrelated = await run("decorrelated");
    decorrelated.forEach((d) => assert.ok(d >= 100 && d <= 10_000));
  });

  test("retry() keeps the previous delay per execution, so concurrent calls share a backoff safely", async () => {
    const clock = new ManualClock();
    const seen: Array<[number, number]> = [];
    const backoff: Backoff = {
      delay: (n, previous) => {
        seen.push([n, previous]);
        return n * 10;
      },
    };
    const policy = retry({ clock, maxAttempts: 3, backoff, delay: () => 1 });
    const a = failing([refused(), refused()], "a");
    const b = failing([refused(), refused()], "b");
    const results = await Promise.all([
      drive(clock, policy.execute(a.fn)),
      drive(clock, policy.execute(b.fn)),
    ]);
    assert.deepEqual(results, [{ ok: true, value: "a" }, { ok: true, value: "b" }]);
    // Each execution sees its own sequence; the previous delay is the backoff's, not the override.
    assert.deepEqual(seen.sort(), [[1, 0], [1, 0], [2, 10], [2, 10]]);
  });
});

describe("retry(): deadline", () => {
  test("retry() gives up at once when the next wait would cross the deadline", async () => {
    const clock = new ManualClock();
    const errors = Array.from({ length: 10 }, refused);
    const op = failing(errors, "never");
    const policy = retry({ clock, maxAttempts: 10, deadline: 250, backoff: constantBackoff(100) });
    const giveUps: RetryGiveUpEvent[] = [];
    policy.onGiveUp((e) => giveUps.push(e));
    const s = await drive(clock, policy.execute(op.fn));
    assert.equal(rejected(s), errors[2]);
    assert.equal(op.calls.length, 3); // at 0, 100, 200; a wait to 300 would cross 250
    assert.equal(clock.now(), 200, "it gave up without waiting");
    assert.deepEqual(giveUps, [{ attempts: 3, reason: "deadline", error: errors[2] }]);
    assert.equal(clock.pendingTimers, 0);
  });

  test("retry()'s deadline counts the time the attempts took", async () => {
    const clock = new ManualClock(1_000);
    const op = failing(Array.from({ length: 10 }, refused), "never");
    const policy = retry({
      clock,
      maxAttempts: 10,
      deadline: 1_000,
      backoff: constantBackoff(100),
    });
    const s = await drive(
      clock,
      policy.execute(async (ctx) => {
        await clock.sleep(300);
        return op.fn(ctx);
      }),
    );
    rejected(s);
    // Attempts end at 300, 700, 1100 (relative): the wait after the second would end at 800,
    // after the third at 1200, past the deadline.
    assert.equal(op.calls.length, 3);
  });

  test("retry()'s deadline caps an overriding delay too", async () => {
    const clock = new ManualClock();
    const op = failing([refused()], "ok");
    const policy = retry({ clock, deadline: 5_000, delay: () => 60_000 });
    const s = await drive(clock, policy.execute(op.fn));
    rejected(s);
    assert.equal(op.calls.length, 1);
    assert.equal(clock.now(), 0);
  });

  test("retry() allows a wait that ends exactly at the deadline", async () => {
    const clock = new ManualClock();
    const op = failing([refused()], "ok");
    const policy = retry({ clock, deadline: 100, backoff: constantBackoff(100) });
    assert.deepEqual(await drive(clock, policy.execute(op.fn)), { ok: true, value: "ok" });
  });
});

describe("retry(): cancellation", () => {
  test("retry() ends a backoff at once when the signal aborts, leaving no timer", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const op = failing([refused(), refused()], "ok");
    const policy = retry({ clock, backoff: constantBackoff(60_000) });
    const giveUps: RetryGiveUpEvent[] = [];
    policy.onGiveUp((e) => giveUps.push(e));
    const settled = settle(policy.execute(op.fn, controller.signal));
    await clock.advance(0);
    assert.equal(clock.pendingTimers, 1, "waiting on the backoff");
    const reason = new Error("user left");
    controller.abort(reason);
    const error = rejected(await settled); // without advancing the clock
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(error.cause, reason);
    assert.equal(clock.now(), 0);
    assert.equal(clock.pendingTimers, 0);
    assert.deepEqual(op.calls, [1]);
    assert.deepEqual(giveUps, [{ attempts: 1, reason: "cancelled", error }]);
  });

  test("retry() rejects with the signal's reason itself when it is a ConnectionError", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const settled = settle(
      retry({ clock, backoff: constantBackoff(1_000) }).execute(
        failing([refused()], "ok").fn,
        controller.signal,
      ),
    );
    await clock.advance(0);
    const reason = new ConnectionError("timeout", { timeoutMs: 500 });
    controller.abort(reason);
    assert.equal(rejected(await settled), reason);
    assert.equal(clock.pendingTimers, 0);
  });

  test("retry() with an aborted signal rejects before calling the operation", async () => {
    const controller = new AbortController();
    controller.abort();
    let calls = 0;
    const error = rejected(
      await settle(retry().execute(() => ++calls, controller.signal)),
    );
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.ok(error.cause instanceof DOMException);
    assert.equal(calls, 0);
  });

  test("retry() does not retry once the signal aborted during an attempt", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let calls = 0;
    const s = await drive(
      clock,
      retry({ clock, backoff: constantBackoff(0) }).execute(() => {
        calls++;
        controller.abort("stop");
        throw refused();
      }, controller.signal),
    );
    const error = rejected(s);
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(error.cause, "stop");
    assert.equal(calls, 1);
  });

  test("retry() takes no budget and tells no onRetry listener once the signal aborted during an attempt", async () => {
    const controller = new AbortController();
    let taken = 0;
    const budget = { recordCall() {}, tryRetry: () => (taken++, true) };
    const policy = retry({ backoff: constantBackoff(0), budget: budget as unknown as RetryBudget });
    let retried = 0;
    policy.onRetry(() => retried++);
    const error = await policy.execute(() => {
      controller.abort("stop");
      return Promise.reject(refused());
    }, controller.signal).catch((e) => e);
    assert.equal(error.kind, "cancelled");
    assert.deepEqual([taken, retried], [0, 0]);
  });

  test("retry() rejects with what a backoff, a delay or the clock's sleep throws", async () => {
    const boom = new Error("boom");
    const throwingBackoff = {
      delay: (): number => {
        throw boom;
      },
    } as unknown as Backoff;
    const byBackoff = retry({ backoff: throwingBackoff }).execute(() => Promise.reject(refused()));
    assert.equal(await byBackoff.catch((e) => e), boom);
    const byDelay = retry({
      delay: () => {
        throw boom;
      },
    }).execute(() => Promise.reject(refused()));
    assert.equal(await byDelay.catch((e) => e), boom);
    const clock = new ManualClock();
    const sleepless: Clock = {
      now: () => clock.now(),
      setTimeout: (cb, ms) => clock.setTimeout(cb, ms),
      clearTimeout: (h) => clock.clearTimeout(h),
      sleep: () => Promise.reject(boom),
    };
    const bySleep = retry({ clock: sleepless, backoff: constantBackoff(10) })
      .execute(() => Promise.reject(refused()));
    assert.equal(await bySleep.catch((e) => e), boom);
  });

  test("retry() stops when a listener aborts the signal before a 0 ms retry", async () => {
    const controller = new AbortController();
    const policy = retry({ backoff: constantBackoff(0) });
    policy.onRetry(() => controller.abort("enough"));
    let calls = 0;
    const s = await settle(policy.execute(() => {
      calls++;
      throw refused();
    }, controller.signal));
    assert.equal((rejected(s) as ConnectionError).kind, "cancelled");
    assert.equal(calls, 1);
  });

  test("retry() gives the operation the caller's signal", async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await retry().execute((ctx) => {
      seen = ctx.signal;
    }, controller.signal);
    assert.equal(seen, controller.signal);
  });

  test("retry() leaves no listener on a long-lived signal over many calls", async () => {
    const clock = new ManualClock();
    const { signal, live } = trackedSignal();
    const policy = retry({ clock, backoff: constantBackoff(10) });
    for (let i = 0; i < 200; i++) {
      const op = failing([refused()], i);
      const s = await drive(
        clock,
        policy.execute((ctx) => {
          void ctx.signal.aborted;
          return op.fn(ctx);
        }, signal),
      );
      assert.deepEqual(s, { ok: true, value: i });
    }
    assert.equal(live(), 0);
    assert.equal(clock.pendingTimers, 0);
  });
});

describe("retry(): budget", () => {
  test("retry() gives up with the last error when the shared budget is exhausted", async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0.5, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    const policy = retry({ clock, maxAttempts: 3, backoff: constantBackoff(0), budget });
    const other = retry({ clock, maxAttempts: 3, backoff: constantBackoff(0), budget });
    const giveUps: RetryGiveUpEvent[] = [];
    policy.onGiveUp((e) => giveUps.push(e));
    for (let i = 0; i < 8; i++) await other.execute(() => i); // 8 calls: 4 retries
    const errors = Array.from({ length: 3 }, refused);
    const op = failing(errors, "never");
    const s = await drive(clock, policy.execute(op.fn)); // 9 calls: 4.5 retries
    assert.equal(rejected(s), errors[2]);
    assert.equal(op.calls.length, 3);
    const op2 = failing(Array.from({ length: 3 }, refused), "never");
    const s2 = await drive(clock, policy.execute(op2.fn)); // 10 calls: 5 retries, 2 used
    assert.equal(op2.calls.length, 3);
    rejected(s2);
    const errors3 = Array.from({ length: 3 }, refused);
    const op3 = failing(errors3, "never");
    const s3 = await drive(clock, policy.execute(op3.fn)); // 11 calls: 5.5 retries, 4 used
    assert.equal(op3.calls.length, 2, "one retry left in the budget");
    assert.equal(rejected(s3), errors3[1], "the last error");
    assert.deepEqual(giveUps.map((e) => e.reason), ["attempts", "attempts", "budget"]);
    assert.equal(budget.available, 0);
  });

  test("retry() recovers its budget as the window slides", async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, clock });
    const policy = retry({ clock, maxAttempts: 5, backoff: constantBackoff(0), budget });
    const a = failing(Array.from({ length: 5 }, refused), "never");
    rejected(await drive(clock, policy.execute(a.fn)));
    assert.equal(a.calls.length, 2, "the floor allows one retry a second");
    await clock.advance(1_000);
    const b = failing([refused()], "ok");
    assert.deepEqual(await drive(clock, policy.execute(b.fn)), { ok: true, value: "ok" });
  });

  test("retry() takes nothing from the budget for a retry it will not make", async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 5_000, clock });
    const policy = retry({ clock, maxAttempts: 1, budget });
    rejected(await drive(clock, policy.execute(failing([refused()], 0).fn)));
    const late = retry({ clock, deadline: 10, backoff: constantBackoff(100), budget });
    rejected(await drive(clock, late.execute(failing([refused()], 0).fn)));
    const bug = retry({ clock, budget });
    rejected(await drive(clock, bug.execute(failing([new TypeError("x")], 0).fn)));
    assert.equal(budget.available, 5);
  });
});

describe("retry(): events", () => {
  test("retry() reports each retry and the give-up", async () => {
    const clock = new ManualClock();
    const errors = [refused(), new ConnectionError("reset"), new ConnectionError("tls")];
    const policy = retry({ clock, maxAttempts: 5, backoff: constantBackoff(25) });
    const retries: RetryEvent[] = [];
    const giveUps: RetryGiveUpEvent[] = [];
    const successes: RetrySuccessEvent[] = [];
    policy.onRetry((e) => retries.push(e));
    policy.onGiveUp((e) => giveUps.push(e));
    policy.onSuccess((e) => successes.push(e));
    rejected(await drive(clock, policy.execute(failing(errors, 0).fn)));
    assert.deepEqual(retries, [
      { attempt: 1, delay: 25, error: errors[0] },
      { attempt: 2, delay: 25, error: errors[1] },
    ]);
    assert.deepEqual(giveUps, [{ attempts: 3, reason: "not_retryable", error: errors[2] }]);
    assert.deepEqual(successes, []);
  });

  test("retry() tells onSuccess of the calls that start after a listener subscribes, alone and in a pipeline", async () => {
    const clock = new ManualClock();
    const deadline = retry({ clock, deadline: 1000, backoff: constantBackoff(10) });
    const cases = [
      ["alone", retry({ clock, backoff: constantBackoff(10) })],
      ["with a deadline", deadline],
    ] as const;
    for (const [name, r] of cases) {
      for (const policy of [r, pipeline(r, timeout(100, { clock }))]) {
        const heard: RetrySuccessEvent[] = [];
        // Started before the listener: not told, whether it succeeds at once or after a retry.
        const early = [
          policy.execute(() => Promise.resolve("at once")),
          policy.execute(failing([refused()], "later").fn),
        ];
        const stop = r.onSuccess((e) => heard.push(e));
        await drive(clock, Promise.all(early));
        assert.deepEqual(heard, [], name);
        assert.equal(
          await drive(clock, policy.execute(failing([refused()], "later").fn)).then((s) => s.ok),
          true,
        );
        assert.deepEqual(heard, [{ attempts: 2 }], `${name}: a call started after it is told`);
        stop.dispose();
      }
    }
  });

  test("retry() gives events the ConnectionError of a raw runtime error", async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, backoff: constantBackoff(0) });
    const retries: RetryEvent[] = [];
    policy.onRetry((e) => retries.push(e));
    const raw = rawRefused();
    await drive(clock, policy.execute(failing([raw], 0).fn));
    assert.ok(retries[0]!.error instanceof ConnectionError);
    assert.equal((retries[0]!.error as ConnectionError).cause, raw);
  });

  test("a listener that throws does not break retry()", async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, backoff: constantBackoff(10) });
    const boom = () => {
      throw new Error("listener bug");
    };
    policy.onRetry(boom);
    policy.onGiveUp(boom);
    policy.onSuccess(boom);
    const seen: number[] = [];
    policy.onRetry((e) => seen.push(e.attempt));
    let result: Settled<string> | undefined;
    let failure: Settled<string> | undefined;
    const reports = await quietly(async () => {
      result = await drive(clock, policy.execute(failing([refused()], "ok").fn));
      failure = await drive(clock, policy.execute(failing([new TypeError("x")], "ok").fn));
    });
    assert.deepEqual(result, { ok: true, value: "ok" });
    assert.equal((rejected(failure!) as Error).message, "x");
    assert.deepEqual(seen, [1]);
    assert.equal(reports.length, 3, "each listener failure is reported");
  });

  test("a disposed listener is not called", async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, backoff: constantBackoff(0) });
    let calls = 0;
    const sub = policy.onRetry(() => calls++);
    sub.dispose();
    await drive(clock, policy.execute(failing([refused()], 0).fn));
    assert.equal(calls, 0);
  });
});

describe("retry(): options", () => {
  const cases: Array<[unknown, string, string]> = [
    [
      { maxAttempts: 0 },
      "RangeError",
      "Cannot create retry as 'maxAttempts' must be a positive integer or Infinity: current value is 0",
    ],
    [
      { maxAttempts: 2.5 },
      "RangeError",
      "Cannot create retry as 'maxAttempts' must be a positive integer or Infinity: current value is 2.5",
    ],
    [
      { maxAttempts: NaN },
      "RangeError",
      "Cannot create retry as 'maxAttempts' must be a positive integer or Infinity: current value is NaN",
    ],
    [
      { maxAttempts: "3" },
      "TypeError",
      `Cannot create retry as 'maxAttempts' must be a positive integer or Infinity: current value is "3"`,
    ],
    [
      { backoff: 100 },
      "TypeError",
      "Cannot create retry as 'backoff' must be a Backoff (an object with a delay() method): current value is 100",
    ],
    [
      { backoff: {} },
      "TypeError",
      "Cannot create retry as 'backoff' must be a Backoff (an object with a delay() method): current value is {}",
    ],
    [
      { on: ["refused", "refuse"] },
      "RangeError",
      `Cannot create retry as 'on[1]' must be a connection error kind (one of CONNECTION_ERROR_KINDS): current value is "refuse"`,
    ],
    [
      { on: [42] },
      "TypeError",
      "Cannot create retry as 'on[0]' must be a connection error kind (one of CONNECTION_ERROR_KINDS): current value is 42",
    ],
    [
      { on: {} },
      "TypeError",
      "Cannot create retry as 'on' must be a kind, a non-empty list of kinds or a predicate: current value is {}",
    ],
    [
      { on: [] },
      "RangeError",
      "Cannot create retry as 'on' must be a non-empty list of connection error kinds: current value is []",
    ],
    [
      { handleResult: true },
      "TypeError",
      "Cannot create retry as 'handleResult' must be a function: current value is true",
    ],
    [
      { delay: 100 },
      "TypeError",
      "Cannot create retry as 'delay' must be a function: current value is 100",
    ],
    [
      { deadline: -1 },
      "RangeError",
      "Cannot create retry as 'deadline' must be a non-negative number of milliseconds or Infinity: current value is -1",
    ],
    [
      { deadline: NaN },
      "RangeError",
      "Cannot create retry as 'deadline' must be a non-negative number of milliseconds or Infinity: current value is NaN",
    ],
    [
      { deadline: "1s" },
      "TypeError",
      `Cannot create retry as 'deadline' must be a non-negative number of milliseconds or Infinity: current value is "1s"`,
    ],
    [
      { backoff: null },
      "TypeError",
      "Cannot create retry as 'backoff' must be a Backoff (an object with a delay() method): current value is null",
    ],
    [
      { budget: { recordCall: () => {} } },
      "TypeError",
      "Cannot create retry as 'budget' must be a RetryBudget (see retryBudget()): current value is {}",
    ],
    [
      { budget: null },
      "TypeError",
      "Cannot create retry as 'budget' must be a RetryBudget (see retryBudget()): current value is null",
    ],
    [
      { budget: { tryRetry: () => true } },
      "TypeError",
      "Cannot create retry as 'budget' must be a RetryBudget (see retryBudget()): current value is {}",
    ],
    [
      { clock: { now: () => 0 } },
      "TypeError",
      "Cannot create retry as 'clock' must be a Clock (now, setTimeout, clearTimeout and sleep): current value is {}",
    ],
    [
      { random: 0.5 },
      "TypeError",
      "Cannot create retry as 'random' must be a function: current value is 0.5",
    ],
    [
      [],
      "TypeError",
      "Cannot create retry as 'options' must be an object: current value is []",
    ],
  ];
  for (const [options, name, message] of cases) {
    test(`retry() refuses ${JSON.stringify(options)}`, () => {
      assert.throws(() => retry(options as RetryOptions), { name, message });
    });
  }

  test("retry() accepts every valid option", () => {
    const clock = new ManualClock();
    retry({
      maxAttempts: Infinity,
      backoff: constantBackoff(1),
      on: "refused",
      handleResult: () => false,
      delay: () => undefined,
      deadline: Infinity,
      budget: retryBudget({ clock }),
      clock,
      random: () => 0.5,
    });
    retry({ on: () => true, deadline: 0 });
    retry(undefined);
  });

  test("retry() execute() rejects a non-function with a TypeError", async () => {
    const s = await settle(retry().execute(42 as unknown as () => number));
    const error = rejected(s);
    assert.ok(error instanceof TypeError);
    assert.equal(
      error.message,
      "Cannot execute retry as 'fn' must be a function: current value is 42",
    );
  });
});

type ConnectionErrorKindList = Array<import("../errors/kinds.ts").ConnectionErrorKind>;
