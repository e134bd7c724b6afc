import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { rateLimit, type RateLimitedEvent } from "./rate_limit.ts";
import { RateLimitedError } from "./rate_limited_error.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { constantBackoff } from "./backoff.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import { MemoryFleetStore } from "../../tests/support/fleet_memory_store.ts";

/** What `p` rejects with; fails when it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return assert.fail("expected a rejection");
}

/** An AbortController whose signal counts the abort listeners added and not removed. */
function countingController(): { controller: AbortController; listeners: () => number } {
  const controller = new AbortController();
  const signal = controller.signal;
  let count = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: EventListenerOrEventListenerObject) => {
    if (type === "abort") count++;
    add(type, listener);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListenerOrEventListenerObject) => {
    if (type === "abort") count--;
    remove(type, listener);
  }) as typeof signal.removeEventListener;
  return { controller, listeners: () => count };
}

describe("rateLimit()", () => {
  test("lets a burst through at once, then one call every windowMs / limit", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 10, windowMs: 1_000, burst: 3, clock });
    for (let i = 0; i < 3; i++) assert.equal(await limiter.execute(() => i), i);
    const error = await rejection(limiter.execute(() => "over"));
    assert.ok(error instanceof RateLimitedError);
    assert.equal(error.retryAfterMs, 100);
    assert.equal(error.name, "RateLimitedError");
    await clock.advance(99);
    assert.ok((await rejection(limiter.execute(() => "still over"))) instanceof RateLimitedError);
    await clock.advance(1);
    assert.equal(await limiter.execute(() => "again"), "again");
    assert.equal(clock.pendingTimers, 0);
  });

  test("burst defaults to limit, and a quiet spell refills it up to burst only", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 4, windowMs: 1_000, clock });
    assert.equal(limiter.burst, 4);
    assert.equal(limiter.available, 4);
    for (let i = 0; i < 4; i++) await limiter.execute(() => i);
    assert.equal(limiter.available, 0);
    await clock.advance(10_000);
    assert.equal(limiter.available, 4);
  });

  test("refusals fire onRejected with the error and its retryAfterMs", async () => {
    const clock = new ManualClock();
    const events: RateLimitedEvent[] = [];
    const limiter = rateLimit({
      limit: 1,
      windowMs: 500,
      clock,
      onRejected: (e) => events.push(e),
    });
    await limiter.execute(() => 1);
    await clock.advance(200);
    const error = await rejection(limiter.execute(() => 2));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.error, error);
    assert.equal(events[0]!.retryAfterMs, 300);
  });

  test("a call over the limit waits its turn when it comes within maxWaitMs", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 10, windowMs: 1_000, burst: 1, maxWaitMs: 250, clock });
    const started: number[] = [];
    const run = (i: number) => limiter.execute(() => started.push(clock.now()) && i);
    const calls = [run(0), run(1), run(2)];
    await clock.advance(0);
    assert.deepEqual(started, [0]);
    assert.equal(limiter.waiting, 2);
    // The fourth would start at 300 ms: later than 250 ms from now.
    const fourth = await rejection(run(3));
    assert.ok(fourth instanceof RateLimitedError);
    assert.equal(fourth.retryAfterMs, 300);
    await clock.advance(200);
    assert.deepEqual(started, [0, 100, 200]);
    assert.deepEqual(await Promise.all(calls), [0, 1, 2]);
    assert.equal(limiter.waiting, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("an abort while waiting rejects at once, gives the turn back and leaves nothing behind", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 10, windowMs: 1_000, burst: 1, maxWaitMs: 1_000, clock });
    await limiter.execute(() => 0);
    const { controller, listeners } = countingController();
    const waiting = limiter.execute(() => "never", controller.signal);
    await clock.advance(0);
    assert.equal(listeners(), 1);
    assert.equal(clock.pendingTimers, 1);
    controller.abort(new Error("user left"));
    const error = await rejection(waiting);
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(listeners(), 0);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(limiter.waiting, 0);
    // Its slot (100 ms) is free again for the next caller.
    const started: number[] = [];
    const next = limiter.execute(() => started.push(clock.now()));
    await clock.advance(100);
    await next;
    assert.deepEqual(started, [100]);
  });

  test("an abort of an earlier waiter does not bunch later ones together", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 10, windowMs: 1_000, burst: 1, maxWaitMs: 1_000, clock });
    await limiter.execute(() => 0);
    const controller = new AbortController();
    const started: number[] = [];
    const first = limiter.execute(() => started.push(clock.now()), controller.signal);
    const second = limiter.execute(() => started.push(clock.now()));
    controller.abort();
    await rejection(first);
    const third = limiter.execute(() => started.push(clock.now()));
    await clock.advance(1_000);
    await Promise.all([second, third]);
    assert.deepEqual(started, [200, 300]);
  });

  test("an already-aborted caller never takes a turn", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 1, windowMs: 1_000, clock });
    const controller = new AbortController();
    controller.abort();
    await rejection(limiter.execute(() => "no", controller.signal));
    assert.equal(limiter.available, 1);
  });

  test("errors of the operation leave as ConnectionError when recognized, else untouched", async () => {
    const limiter = rateLimit({ limit: 10, windowMs: 1_000, clock: new ManualClock() });
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
      code: "ECONNREFUSED",
    });
    const e1 = await rejection(limiter.execute(() => Promise.reject(refused)));
    assert.ok(e1 instanceof ConnectionError);
    assert.equal(e1.kind, "refused");
    const plain = new Error("not a connection failure");
    assert.equal(await rejection(limiter.execute(() => Promise.reject(plain))), plain);
  });

  test("in a pipeline, each retry takes a turn of its own", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 2, windowMs: 1_000, burst: 2, clock });
    const policy = pipeline(retry({ maxAttempts: 3, backoff: constantBackoff(0), clock }), limiter);
    let attempts = 0;
    const error = await rejection(policy.execute(() => {
      attempts++;
      throw Object.assign(new Error("reset"), { code: "ECONNRESET" });
    }));
    // Two attempts pass the limiter; the third is refused, and that is not retried.
    assert.equal(attempts, 2);
    assert.ok(error instanceof RateLimitedError);
  });

  test("bad options throw at construction in std style", () => {
    assert.throws(
      () => rateLimit({ limit: 0, windowMs: 1_000 }),
      new RangeError(
        "Cannot create rateLimit as 'limit' must be a positive integer: current value is 0",
      ),
    );
    assert.throws(() => rateLimit({ limit: 1, windowMs: 0 }), RangeError);
    assert.throws(() => rateLimit({ limit: 1, windowMs: 1, burst: 1.5 }), RangeError);
    assert.throws(() => rateLimit({ limit: 1, windowMs: 1, maxWaitMs: -1 }), RangeError);
    assert.throws(() => rateLimit({ limit: 1, windowMs: 1, maxWaitMs: Infinity }), RangeError);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => rateLimit(undefined as any), TypeError);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => rateLimit({ limit: "1", windowMs: 1 } as any), TypeError);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => rateLimit({ limit: 1, windowMs: 1, fleet: { key: "k" } as any }), {
      name: "TypeError",
      message: /'fleet.store' must be a FleetStore/,
    });
  });

  test("property: no span of t ms ever starts more than burst + t × limit / windowMs calls", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 500 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 60 }),
        async (limit, windowMs, burst, maxWaitMs, gaps) => {
          const clock = new ManualClock();
          const limiter = rateLimit({ limit, windowMs, burst, maxWaitMs, clock });
          const starts: number[] = [];
          const calls: Promise<unknown>[] = [];
          for (const gap of gaps) {
            await clock.advance(gap);
            calls.push(
              limiter.execute(() => starts.push(clock.now())).catch((e) => {
                if (!(e instanceof RateLimitedError)) throw e;
              }),
            );
          }
          await clock.advance(maxWaitMs + 1);
          await Promise.all(calls);
          const rate = limit / windowMs;
          for (let i = 0; i < starts.length; i++) {
            for (let j = i; j < starts.length; j++) {
              const span = starts[j]! - starts[i]!;
              assert.ok(
                j - i + 1 <= burst + span * rate + 1e-6,
                `${j - i + 1} calls in ${span} ms (limit ${limit}/${windowMs}, burst ${burst})`,
              );
            }
          }
          assert.equal(clock.pendingTimers, 0);
        },
      ),
      { numRuns: 150 },
    );
  });
  test("rateLimit() decides the same whatever the clock reads: a real clock's 1.7e12 ms adds no float noise", async () => {
    for (const origin of [0, 10_000_000, 1_700_000_000_000]) {
      const clock = new ManualClock(origin);
      const idle = rateLimit({ limit: 3, windowMs: 1_000, burst: 2, clock });
      assert.equal(idle.available, 2, `idle at ${origin}`);
      // 1000 / 7 ms a call: two at once, then each at the first whole ms its turn has come.
      const limiter = rateLimit({ limit: 7, windowMs: 1_000, burst: 2, maxWaitMs: 0, clock });
      const refused: string[] = [];
      for (const at of [0, 0, 143, 286, 429, 572, 715, 858, 1_000, 1_000]) {
        await clock.advance(origin + at - clock.now());
        await limiter.execute(() => at).catch((e) => {
          assert.ok(e instanceof RateLimitedError);
          refused.push(`${at}: ${e.retryAfterMs}`);
        });
      }
      assert.deepEqual(refused, ["1000: 143"], `at ${origin}`);
      assert.equal(limiter.available, 0);
      await clock.advance(143);
      assert.equal(limiter.available, 1, `one turn back 143 ms on, at ${origin}`);
    }
  });

  test("a call whose turn comes exactly maxWaitMs from now waits for it", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 10, windowMs: 1_000, burst: 1, maxWaitMs: 100, clock });
    await limiter.execute(() => 0);
    const started: number[] = [];
    const second = limiter.execute(() => started.push(clock.now()));
    assert.equal(limiter.waiting, 1);
    await clock.advance(100);
    await second;
    assert.deepEqual(started, [100]);
  });

  test("a waiting call that gets its turn stops listening to its signal", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 10, windowMs: 1_000, burst: 1, maxWaitMs: 1_000, clock });
    const { controller, listeners } = countingController();
    await limiter.execute(() => 0, controller.signal);
    const waiting = limiter.execute(() => "turn", controller.signal);
    await clock.advance(0);
    assert.equal(listeners(), 1);
    await clock.advance(100);
    assert.equal(await waiting, "turn");
    assert.equal(listeners(), 0);
    assert.equal(limiter.waiting, 0);
  });

  test("a call that must wait and arrives with its signal already aborted gives its turn back", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 10, windowMs: 1_000, burst: 1, maxWaitMs: 1_000, clock });
    await limiter.execute(() => 0);
    // A third-party layer outside hands the limiter a context whose signal has aborted.
    const reason = new Error("gone");
    const layer: Policy = {
      execute: <T>(inner: (ctx: ExecutionContext) => T | Promise<T>) =>
        Promise.resolve(inner({ signal: AbortSignal.abort(reason), attempt: 1 })),
    };
    let called = false;
    const error = await rejection(pipeline(layer, limiter).execute(() => (called = true)));
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(error.cause, reason);
    assert.equal(called, false);
    assert.equal(limiter.waiting, 0);
    assert.equal(clock.pendingTimers, 0);
    // The turn at 100 ms is free again.
    const started: number[] = [];
    const next = limiter.execute(() => started.push(clock.now()));
    await clock.advance(100);
    await next;
    assert.deepEqual(started, [100]);
  });

  test("RateLimitedError says when to retry, and is made without a stack trace", () => {
    const E = Error as { stackTraceLimit?: unknown };
    const before = E.stackTraceLimit;
    try {
      E.stackTraceLimit = 25;
      const error = new RateLimitedError(120);
      assert.equal(error.message, "Rate limit exceeded: retry after 120 ms");
      assert.equal(error.retryAfterMs, 120);
      assert.doesNotMatch(String(error.stack), /\n\s+at /);
      assert.match(String(new Error("with frames").stack), /\n\s+at /);
      assert.equal(E.stackTraceLimit, 25, "Error.stackTraceLimit is restored");
      // Without a numeric stackTraceLimit it is left alone, and where there is
      // none at all (Firefox has none) none is made.
      E.stackTraceLimit = undefined;
      assert.equal(new RateLimitedError(1).retryAfterMs, 1);
      assert.equal(E.stackTraceLimit, undefined);
      delete E.stackTraceLimit;
      assert.equal(new RateLimitedError(1).retryAfterMs, 1);
      assert.equal(Object.hasOwn(Error, "stackTraceLimit"), false);
    } finally {
      E.stackTraceLimit = before;
    }
  });

  test("RateLimitedError is recognized by its brand, across copies of the library", () => {
    const foreign = { [Symbol.for("faultline.RateLimitedError")]: true };
    assert.ok(foreign instanceof RateLimitedError);
    assert.equal({} instanceof RateLimitedError, false);
    assert.equal(new Error("x") instanceof RateLimitedError, false);
    class Sub extends RateLimitedError {}
    assert.ok(new Sub(5) instanceof RateLimitedError);
    assert.ok(new Sub(5) instanceof Sub);
    assert.equal(new RateLimitedError(5) instanceof Sub, false);
    assert.equal(foreign instanceof Sub, false);
  });

  test("rateLimit() refuses an fn that is not a function, naming the policy", async () => {
    const limiter = rateLimit({ limit: 1, windowMs: 1_000, clock: new ManualClock() });
    await assert.rejects(limiter.execute(5 as never), {
      name: "TypeError",
      message: "Cannot execute rateLimit as 'fn' must be a function: current value is 5",
    });
  });

  test("bad options name the option they are about", () => {
    const cases: Array<[unknown, string, string]> = [
      [undefined, "TypeError", "'options' must be an object: current value is undefined"],
      [
        { limit: 1, windowMs: -1 },
        "RangeError",
        "'windowMs' must be a finite non-negative number of milliseconds: current value is -1",
      ],
      [
        { limit: 1, windowMs: 0 },
        "RangeError",
        "'windowMs' must be a finite number of milliseconds above 0: current value is 0",
      ],
      [
        { limit: 1, windowMs: 1, burst: 0 },
        "RangeError",
        "'burst' must be a positive integer: current value is 0",
      ],
      [
        { limit: 1, windowMs: 1, maxWaitMs: -1 },
        "RangeError",
        "'maxWaitMs' must be a finite non-negative number of milliseconds: current value is -1",
      ],
      [
        { limit: 1, windowMs: 1, onRejected: 1 },
        "TypeError",
        "'onRejected' must be a function: current value is 1",
      ],
      [
        { limit: 1, windowMs: 1, fleet: { store: {}, key: "k" } },
        "TypeError",
        "'fleet.store' must be a FleetStore (with a rateLimit method): current value is {}",
      ],
    ];
    for (const [options, name, message] of cases) {
      assert.throws(() => rateLimit(options as never), {
        name,
        message: `Cannot create rateLimit as ${message}`,
      });
    }
  });

  test("close() and [Symbol.dispose]() do nothing without fleet", async () => {
    const clock = new ManualClock();
    const limiter = rateLimit({ limit: 1, windowMs: 1_000, clock });
    limiter.close();
    limiter[Symbol.dispose]();
    assert.equal(await limiter.execute(() => "still works"), "still works");
  });

  test("with fleet, available counts only the tokens leased from the store", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const limiter = rateLimit({
      limit: 100,
      windowMs: 1_000,
      clock,
      fleet: { store, key: "api", syncMs: 100 },
    });
    assert.equal(limiter.available, 100, "alone until the store answers");
    await limiter.execute(() => 1);
    await clock.advance(0);
    assert.ok(store.count("rateLimit") >= 1, "the call asked the store for tokens");
    const leased = limiter.available;
    assert.ok(leased > 0 && leased < 99, `available ${leased}`);
    limiter.close();
  });

  test("with fleet, [Symbol.dispose]() stops every request to the store", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const limiter = rateLimit({
      limit: 1_000,
      windowMs: 1_000,
      clock,
      fleet: { store, key: "k", syncMs: 100 },
    });
    await limiter.execute(() => 1);
    await clock.advance(0);
    limiter[Symbol.dispose]();
    const requests = store.log.length;
    for (let i = 0; i < 50; i++) {
      await limiter.execute(() => i).catch(() => {});
      await clock.advance(20);
    }
    assert.equal(store.log.length, requests);
    assert.equal(clock.pendingTimers, 0);
  });
});
