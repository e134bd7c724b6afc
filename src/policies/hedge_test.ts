import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { MAX_DELAY_MS } from "./backoff.ts";
import { hedge, type HedgeEvent, type HedgeOptions } from "./hedge.ts";
import { pipeline } from "./pipeline.ts";
import { retryBudget } from "./retry_budget.ts";
import { timeout } from "./timeout.ts";
import type { ExecutionContext, Policy } from "./types.ts";

const REFUSED = () =>
  Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
    code: "ECONNREFUSED",
    syscall: "connect",
  });

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

function settle(
  promise: Promise<unknown>,
): { now: () => Settled | undefined; done: Promise<Settled> } {
  let outcome: Settled | undefined;
  const done = promise.then(
    (value) => (outcome = { ok: true, value }),
    (error: unknown) => (outcome = { ok: false, error }),
  );
  return { now: () => outcome, done };
}

/** An operation that records each attempt and waits `ms[attempt]` on the clock, honouring its signal. */
function recorder(clock: ManualClock, plan: Record<number, number | Error>) {
  const attempts: ExecutionContext[] = [];
  const fn = async (ctx: ExecutionContext) => {
    attempts.push(ctx);
    const step = plan[ctx.attempt] ?? Infinity;
    if (step instanceof Error) throw step;
    await clock.sleep(step === Infinity ? 1e12 : step, ctx.signal);
    return `attempt ${ctx.attempt}`;
  };
  return { attempts, fn };
}

/** The "abort" listeners on `signal` that were added and not removed (removing another one counts for nothing). */
function countListeners(signal: AbortSignal): { readonly live: number } {
  const live = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    if (args[0] === "abort") live.add(args[1]);
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    if (args[0] === "abort") live.delete(args[1]);
    remove(...args);
  }) as typeof remove;
  return {
    get live() {
      return live.size;
    },
  };
}

/** An operation's promise that never settles on its own: it rejects when `signal` aborts. */
function never(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** The error of a settled call that rejected. */
function errorOf(call: { now: () => Settled | undefined }): unknown {
  const outcome = call.now();
  assert.equal(outcome?.ok, false, `the call rejected: ${JSON.stringify(outcome)}`);
  return (outcome as { error: unknown }).error;
}

describe("hedge()", () => {
  test("hedge() starts a second attempt after delay and takes the first success", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 100, clock });
    const { attempts, fn } = recorder(clock, { 1: Infinity, 2: 10 });
    const call = settle(policy.execute(fn));
    await clock.advance(99);
    assert.equal(attempts.length, 1);
    await clock.advance(1);
    assert.equal(attempts.length, 2);
    assert.equal(attempts[0]!.signal.aborted, false);
    await clock.advance(10);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 2" });
    assert.equal(attempts[0]!.signal.aborted, true, "the loser's signal aborts");
    assert.equal((attempts[0]!.signal.reason as ConnectionError).kind, "cancelled");
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() does not hedge, nor set a timer, for a call that settles before delay", async () => {
    const clock = new ManualClock();
    const events: HedgeEvent[] = [];
    const policy = hedge({ delay: 100, clock, onHedge: (e) => events.push(e) });
    assert.equal(await policy.execute(() => 42), 42);
    assert.equal(await policy.execute(async () => await 43), 43);
    assert.equal(clock.pendingTimers, 0);
    const { attempts, fn } = recorder(clock, { 1: 60 });
    const call = settle(policy.execute(fn));
    await clock.advance(60);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 1" });
    assert.equal(attempts.length, 1);
    assert.equal(events.length, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() with delay 0 starts every attempt at once and aborts the losers", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 0, maxHedges: 2, clock });
    const { attempts, fn } = recorder(clock, { 1: 30, 2: 20, 3: 10 });
    const call = settle(policy.execute(fn));
    assert.equal(attempts.length, 3);
    await clock.advance(10);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 3" });
    assert.equal(attempts[0]!.signal.aborted, true);
    assert.equal(attempts[1]!.signal.aborted, true);
    assert.equal(attempts[2]!.signal.aborted, false);
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() starts the next attempt at once when one fails with a kind in on", async () => {
    const clock = new ManualClock();
    const events: HedgeEvent[] = [];
    const policy = hedge({
      delay: Infinity,
      on: ["refused"],
      clock,
      onHedge: (e) => events.push(e),
    });
    const { attempts, fn } = recorder(clock, { 1: REFUSED(), 2: 5 });
    const call = settle(policy.execute(fn));
    await clock.advance(0);
    assert.equal(attempts.length, 2);
    await clock.advance(5);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 2" });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.reason, "failure");
    assert.equal(events[0]!.attempt, 2);
    assert.ok(events[0]!.error instanceof ConnectionError);
  });

  test("hedge() hedges on retryable connection failures by default", async () => {
    const policy = hedge({ delay: Infinity });
    let n = 0;
    const value = await policy.execute(() => {
      if (++n === 1) throw REFUSED();
      return n;
    });
    assert.equal(value, 2);
  });

  test("hedge() rejects at once with a failure not in on and abandons the other attempts", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 10, clock });
    const bug = new TypeError("bug");
    const { attempts, fn } = recorder(clock, { 1: Infinity, 2: bug });
    const call = settle(policy.execute(fn));
    await clock.advance(10);
    assert.deepEqual(call.now(), { ok: false, error: bug });
    assert.equal(attempts[0]!.signal.aborted, true);
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() rejects with the last failure when every attempt failed", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 0, maxHedges: 2, clock });
    const errors = [REFUSED(), REFUSED(), REFUSED()];
    const call = settle(policy.execute(async (ctx) => {
      await clock.sleep(10 * (4 - ctx.attempt), ctx.signal);
      throw errors[ctx.attempt - 1];
    }));
    await clock.advance(30);
    const outcome = call.now();
    assert.equal(outcome?.ok, false);
    const error = (outcome as { error: ConnectionError }).error;
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "refused");
    assert.equal(error.cause, errors[0], "attempt 1 failed last");
  });

  test("hedge() never runs more than 1 + maxHedges attempts", async () => {
    const clock = new ManualClock();
    const events: HedgeEvent[] = [];
    const policy = hedge({ delay: 10, maxHedges: 3, clock, onHedge: (e) => events.push(e) });
    const { attempts, fn } = recorder(clock, {});
    const controller = new AbortController();
    const call = settle(policy.execute(fn, controller.signal));
    await clock.advance(1000);
    assert.equal(attempts.length, 4);
    assert.deepEqual(events.map((e) => [e.attempt, e.reason, e.delay]), [
      [2, "delay", 10],
      [3, "delay", 10],
      [4, "delay", 10],
    ]);
    assert.equal(clock.pendingTimers, 4, "only the attempts' own sleeps");
    controller.abort();
    await call.done;
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() takes each hedge from the budget and stops when it is spent", async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, clock });
    const policy = hedge({ delay: 0, maxHedges: 3, budget, clock });
    const first = recorder(clock, { 1: 5, 2: 5, 3: 5, 4: 5 });
    const call = settle(policy.execute(first.fn));
    assert.equal(first.attempts.length, 2, "the budget allowed one hedge");
    await clock.advance(5);
    assert.equal(call.now()?.ok, true);
    const second = recorder(clock, { 1: 5 });
    await Promise.all([policy.execute(second.fn), clock.advance(5)]);
    assert.equal(second.attempts.length, 1, "no hedge left in the budget");
  });

  test("hedge() asks a delay function after each attempt starts", async () => {
    const clock = new ManualClock();
    const asked: number[] = [];
    const policy = hedge({
      maxHedges: 3,
      clock,
      delay: ({ attempt }) => {
        asked.push(attempt);
        return attempt === 1 ? 10 : attempt === 2 ? 20 : NaN;
      },
    });
    const { attempts, fn } = recorder(clock, {});
    const controller = new AbortController();
    const call = settle(policy.execute(fn, controller.signal));
    await clock.advance(10);
    assert.equal(attempts.length, 2);
    await clock.advance(19);
    assert.equal(attempts.length, 2);
    await clock.advance(1);
    assert.equal(attempts.length, 3);
    await clock.advance(1000);
    assert.equal(attempts.length, 3, "NaN: no further hedge");
    assert.deepEqual(asked, [1, 2, 3]);
    controller.abort();
    await call.done;
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() with a percentile delay waits max until it knows 20 calls, then that percentile", async () => {
    const clock = new ManualClock();
    const events: HedgeEvent[] = [];
    const policy = hedge({
      delay: { percentile: 90, min: 1, max: 500 },
      clock,
      onHedge: (e) => events.push(e),
    });
    for (let i = 0; i < 40; i++) {
      const ms = i % 10 === 9 ? 100 : 20; // p90 is 20 ms
      const call = policy.execute((ctx) => clock.sleep(ms, ctx.signal));
      await clock.advance(ms);
      await call;
      if (i < 19) assert.equal(events.length, 0);
    }
    // Once p90 was known (after 20 calls), the two 100 ms calls were hedged at it.
    assert.equal(events.length, 2);
    events.length = 0;
    const { attempts, fn } = recorder(clock, { 1: Infinity, 2: 1 });
    const call = settle(policy.execute(fn));
    await clock.advance(20);
    assert.equal(attempts.length, 1);
    await clock.advance(1); // 20 ms falls in the bucket whose upper bound is ~20.7 ms
    assert.equal(attempts.length, 2);
    assert.ok(events[0]!.delay! >= 20 && events[0]!.delay! < 22, String(events[0]!.delay));
    await clock.advance(1);
    assert.equal(call.now()?.ok, true);
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() rejects at once when the caller aborts, aborting every attempt and leaving no listener", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 10, maxHedges: 2, clock });
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    const { attempts, fn } = recorder(clock, {});
    const call = settle(policy.execute(fn, controller.signal));
    await clock.advance(20);
    assert.equal(attempts.length, 3);
    controller.abort(new Error("user left"));
    await call.done;
    const error = (call.now() as { error: ConnectionError }).error;
    assert.equal(error.kind, "cancelled");
    for (const a of attempts) assert.equal(a.signal.aborted, true);
    await clock.advance(0);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(listeners.live, 0);
  });

  test("hedge() leaves no listener on a long-lived signal after many calls", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 10, clock });
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    for (let i = 0; i < 20; i++) {
      const { fn } = recorder(clock, { 1: 15, 2: 1 });
      const call = policy.execute(fn, controller.signal);
      await clock.advance(11);
      assert.equal(await call, "attempt 2");
    }
    assert.equal(listeners.live, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() inside pipeline with a timeout per attempt hedges a timed-out attempt at once", async () => {
    const clock = new ManualClock();
    const policy = pipeline(hedge({ delay: 1000, clock }), timeout(50, { clock }));
    const { attempts, fn } = recorder(clock, { 1: Infinity, 2: 5 });
    const call = settle(policy.execute(fn));
    await clock.advance(50);
    assert.equal(attempts.length, 2);
    await clock.advance(5);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 2" });
    assert.equal(clock.pendingTimers, 0);
  });

  for (const wait of [0, 10]) {
    test(`hedge() starts nothing and leaves no timer when its delay function (returning ${wait}) aborts the caller's signal`, async () => {
      const clock = new ManualClock();
      const controller = new AbortController();
      const reason = new Error("user left");
      const seen: AbortSignal[] = [];
      const policy = hedge({
        maxHedges: 3,
        clock,
        delay: ({ attempt }) => {
          if (attempt === 2) controller.abort(reason);
          return wait;
        },
      });
      const call = settle(policy.execute((ctx) => {
        seen.push(ctx.signal);
        return never(ctx.signal);
      }, controller.signal));
      await clock.advance(10);
      const error = errorOf(call) as ConnectionError;
      assert.equal(error.kind, "cancelled");
      assert.equal(error.cause, reason);
      assert.equal(clock.pendingTimers, 0, "no timer left armed");
      await clock.advance(100);
      assert.equal(seen.length, 2, "no attempt after the call ended");
      assert.ok(seen.every((signal) => signal.aborted), "every attempt's signal aborted");
      assert.equal(clock.pendingTimers, 0);
    });
  }

  test("hedge() rejects with what a predicate, a delay function or a budget throws", async () => {
    const boom = new Error("boom");
    const byPredicate = hedge({
      delay: Infinity,
      on: () => {
        throw boom;
      },
    });
    await assert.rejects(byPredicate.execute(() => Promise.reject(REFUSED())), (e) => e === boom);
    const byDelay = hedge({
      delay: () => {
        throw boom;
      },
    });
    await assert.rejects(byDelay.execute(() => new Promise(() => {})), (e) => e === boom);
    const budget = {
      recordCall() {},
      tryRetry(): boolean {
        throw boom;
      },
      available: 0,
    };
    const byBudget = hedge({ delay: 0, budget });
    await assert.rejects(byBudget.execute(() => new Promise(() => {})), (e) => e === boom);
  });

  test("hedge() checks its options", () => {
    assert.throws(
      () => hedge(undefined as never),
      new TypeError(
        "Cannot create hedge as 'delay' must be a number of milliseconds, a function or { percentile, min, max }: current value is undefined",
      ),
    );
    assert.throws(
      () => hedge({ delay: 10, maxHedges: 0 }),
      new RangeError(
        "Cannot create hedge as 'maxHedges' must be a positive integer: current value is 0",
      ),
    );
    assert.throws(() => hedge({ delay: -1 }), RangeError);
    assert.throws(() => hedge({ delay: NaN }), RangeError);
    assert.throws(() => hedge({ delay: { percentile: 100 } }), /'delay.percentile'/);
    assert.throws(() => hedge({ delay: { percentile: 50, min: 10, max: 5 } }), /'delay.max'/);
    assert.throws(() => hedge({ delay: 1, on: ["nope" as never] }), /'on\[0\]'/);
    assert.throws(() => hedge({ delay: 1, on: 1 as never }), /'on'/);
    assert.throws(() => hedge({ delay: 1, on: [] }), /'on' must be a non-empty list/);
    assert.equal(typeof hedge({ delay: 1, on: "refused" }).execute, "function", "one kind");
    assert.throws(() => hedge({ delay: 1, budget: {} as never }), /'budget'/);
    assert.throws(() => hedge({ delay: 1, clock: {} as never }), /'clock'/);
    assert.throws(() => hedge({ delay: 1, onHedge: 1 as never }), /'onHedge'/);
    assert.equal(hedge({ delay: 1, maxHedges: 3 }).maxHedges, 3);
  });

  test("hedge().execute() rejects a fn that is not a function, naming hedge", async () => {
    await assert.rejects(
      hedge({ delay: 1 }).execute(42 as never),
      new TypeError("Cannot execute hedge as 'fn' must be a function: current value is 42"),
    );
  });

  test("hedge() inside a pipeline starts no attempt when the signal it is given has already aborted", async () => {
    // A third-party layer outside hands the hedge a context whose signal has aborted.
    const reason = new Error("gone");
    const layer: Policy = {
      execute: <T>(inner: (ctx: ExecutionContext) => T | Promise<T>) =>
        Promise.resolve(inner({ signal: AbortSignal.abort(reason), attempt: 1 })),
    };
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 1, minRetriesPerSecond: 0, clock });
    let called = 0;
    const call = settle(
      pipeline(layer, hedge({ delay: 0, budget, clock })).execute(() => ++called),
    );
    await clock.advance(0);
    const error = errorOf(call) as ConnectionError;
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(error.cause, reason);
    assert.equal(called, 0);
    assert.equal(budget.available, 0, "the call was not counted in the budget");
  });

  test("hedge() rejects at once when the caller aborts during the first attempt's synchronous part", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 10, clock });
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    const reason = new Error("user left");
    const attempts: ExecutionContext[] = [];
    const call = settle(policy.execute((ctx) => {
      attempts.push(ctx);
      controller.abort(reason);
      return never(ctx.signal);
    }, controller.signal));
    await clock.advance(0);
    const error = errorOf(call) as ConnectionError;
    assert.equal(error.kind, "cancelled");
    assert.equal(error.cause, reason);
    assert.equal(attempts[0]!.signal.aborted, true);
    assert.equal(attempts[0]!.signal.reason, reason);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(listeners.live, 0);
    await clock.advance(10);
    assert.equal(attempts.length, 1, "no hedge after the call ended");
  });

  test("hedge() resolves as soon as a hedge wins, even while the first attempt ignores its signal", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 10, clock });
    const call = settle(policy.execute(async ({ attempt }) => {
      await clock.sleep(attempt === 1 ? 1000 : 5); // no signal: attempt 1 runs to its end
      return `attempt ${attempt}`;
    }));
    await clock.advance(15);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 2" });
    await clock.advance(985);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 2" });
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() gives a losing attempt that first reads ctx.signal after the call settled an aborted one", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 10, clock });
    let late: AbortSignal | undefined;
    const call = settle(policy.execute(async (ctx) => {
      if (ctx.attempt === 1) {
        await clock.sleep(100);
        late = ctx.signal;
        if (late.aborted) throw late.reason;
        return "attempt 1";
      }
      await clock.sleep(5, ctx.signal);
      return "attempt 2";
    }));
    await clock.advance(15);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 2" });
    await clock.advance(85);
    assert.equal(late?.aborted, true);
    assert.equal((late?.reason as ConnectionError).kind, "cancelled");
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() aborts the losing attempts with one cancelled error saying the call has settled", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 0, maxHedges: 2, clock });
    const { attempts, fn } = recorder(clock, { 1: 30, 2: 10, 3: 20 });
    const call = settle(policy.execute(fn));
    await clock.advance(10);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 2" });
    const reason = attempts[0]!.signal.reason as ConnectionError;
    assert.ok(reason instanceof ConnectionError);
    assert.equal(reason.kind, "cancelled");
    assert.equal(reason.message, "Hedged attempt abandoned: the call has settled");
    assert.equal(attempts[2]!.signal.reason, reason, "the same error for every loser");
  });

  test("hedge() aborts only the attempts still running when the call settles", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 10, maxHedges: 2, clock });
    const signals: AbortSignal[] = [];
    const call = settle(policy.execute(async (ctx) => {
      signals.push(ctx.signal);
      if (ctx.attempt === 1) {
        await clock.sleep(5, ctx.signal);
        throw REFUSED(); // hedged at once
      }
      await clock.sleep(ctx.attempt === 2 ? 1000 : 1, ctx.signal);
      return `attempt ${ctx.attempt}`;
    }));
    await clock.advance(16); // attempt 2 from 5 ms, attempt 3 from 15 ms
    assert.deepEqual(call.now(), { ok: true, value: "attempt 3" });
    assert.deepEqual(signals.map((s) => s.aborted), [false, true, false]);
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() with a fixed delay keeps one clock timer for all the calls waiting on it", async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: 10, clock });
    const controller = new AbortController();
    const started: number[] = [];
    const op = (ctx: ExecutionContext) => {
      started.push(ctx.attempt);
      return never(ctx.signal);
    };
    const calls = [1, 2, 3].map(() => settle(policy.execute(op, controller.signal)));
    await clock.advance(0);
    assert.equal(clock.pendingTimers, 1);
    await clock.advance(10);
    assert.deepEqual(started, [1, 1, 1, 2, 2, 2]);
    assert.equal(clock.pendingTimers, 0);
    controller.abort();
    await Promise.all(calls.map((c) => c.done));
    for (const c of calls) assert.equal((errorOf(c) as ConnectionError).kind, "cancelled");
  });

  test("hedge() takes a delay beyond 2^31 - 1 ms as no hedge, and hedges at exactly that", async () => {
    const clock = new ManualClock();
    const started: number[] = [];
    const controller = new AbortController();
    const op = (ctx: ExecutionContext) => {
      started.push(ctx.attempt);
      return never(ctx.signal);
    };
    const beyond = settle(hedge({ delay: MAX_DELAY_MS + 1, clock }).execute(op, controller.signal));
    const byFunction = settle(
      hedge({ delay: () => 2 ** 40, clock }).execute(op, controller.signal),
    );
    await clock.advance(0);
    assert.equal(clock.pendingTimers, 0);
    const longest = settle(hedge({ delay: MAX_DELAY_MS, clock }).execute(op, controller.signal));
    await clock.advance(MAX_DELAY_MS - 1);
    assert.deepEqual(started, [1, 1, 1]);
    await clock.advance(1);
    assert.deepEqual(started, [1, 1, 1, 2]);
    await clock.advance(2 ** 40);
    assert.deepEqual(started, [1, 1, 1, 2]);
    controller.abort();
    await Promise.all([beyond.done, byFunction.done, longest.done]);
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() with a percentile delay keeps the delay it learns within min and max", async () => {
    const clock = new ManualClock();
    const events: HedgeEvent[] = [];
    const onHedge = (e: HedgeEvent) => events.push(e);
    const sleeps = async (policy: ReturnType<typeof hedge>, ms: number) => {
      const call = policy.execute((ctx) => clock.sleep(ms, ctx.signal));
      await clock.advance(ms);
      await call;
    };
    const slowCall = async (policy: ReturnType<typeof hedge>, expected: number) => {
      events.length = 0;
      const { attempts, fn } = recorder(clock, { 1: Infinity, 2: 1 });
      const call = settle(policy.execute(fn));
      await clock.advance(expected - 1);
      assert.equal(attempts.length, 1);
      await clock.advance(1);
      assert.equal(attempts.length, 2);
      await clock.advance(1);
      assert.deepEqual(call.now(), { ok: true, value: "attempt 2" });
      assert.deepEqual(events, [{ attempt: 2, reason: "delay", delay: expected }]);
    };
    // Calls of 5 ms: their median is below min, so the delay is min.
    const low = hedge({ delay: { percentile: 50, min: 30, max: 60 }, clock, onHedge });
    for (let i = 0; i < 20; i++) await sleeps(low, 5);
    await slowCall(low, 30);
    // Calls of 40 ms, each hedged at max (30) and won by attempt 1: the delay stays max.
    const high = hedge({ delay: { percentile: 50, max: 30 }, clock, onHedge });
    for (let i = 0; i < 20; i++) await sleeps(high, 40);
    await slowCall(high, 30);
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() neither asks the delay function nor sets a timer once no hedge is left", async () => {
    const clock = new ManualClock();
    const asked: number[] = [];
    const policy = hedge({
      clock,
      delay: ({ attempt }) => {
        asked.push(attempt);
        return 10;
      },
    });
    const controller = new AbortController();
    const started: number[] = [];
    const call = settle(policy.execute((ctx) => {
      started.push(ctx.attempt);
      return never(ctx.signal);
    }, controller.signal));
    await clock.advance(10);
    assert.deepEqual(started, [1, 2]);
    assert.deepEqual(asked, [1]);
    assert.equal(clock.pendingTimers, 0);
    controller.abort();
    await call.done;
  });

  test("hedge() with delay 0 tells onHedge listeners of each attempt it starts", async () => {
    const clock = new ManualClock();
    const events: HedgeEvent[] = [];
    const policy = hedge({ delay: 0, maxHedges: 2, clock, onHedge: (e) => events.push(e) });
    const { fn } = recorder(clock, { 1: 5, 2: 5, 3: 5 });
    const call = settle(policy.execute(fn));
    assert.deepEqual(events, [
      { attempt: 2, reason: "delay", delay: 0 },
      { attempt: 3, reason: "delay", delay: 0 },
    ]);
    await clock.advance(5);
    assert.deepEqual(call.now(), { ok: true, value: "attempt 1" });
  });

  test("hedge() hedges a failure when an on predicate, given the error and its ConnectionError, returns true", async () => {
    const clock = new ManualClock();
    const seen: [unknown, string | undefined][] = [];
    const policy = hedge({
      delay: Infinity,
      clock,
      on: (error, normalized) => {
        seen.push([error, normalized?.kind]);
        return normalized?.kind === "refused";
      },
    });
    const refused = REFUSED();
    const bug = new TypeError("bug");
    const { attempts, fn } = recorder(clock, { 1: refused, 2: bug });
    const call = settle(policy.execute(fn));
    await clock.advance(0);
    assert.equal(attempts.length, 2);
    assert.deepEqual(seen, [[refused, "refused"], [bug, undefined]]);
    assert.equal(errorOf(call), bug, "false: the failure is the call's answer");
  });

  test('hedge() with on "unknown" hedges errors that are not connection failures, and only those', async () => {
    const clock = new ManualClock();
    const policy = hedge({ delay: Infinity, on: "unknown", clock });
    const first = recorder(clock, { 1: new TypeError("bug"), 2: 5 });
    const hedged = settle(policy.execute(first.fn));
    await clock.advance(5);
    assert.deepEqual(hedged.now(), { ok: true, value: "attempt 2" });
    const second = recorder(clock, { 1: REFUSED(), 2: 5 });
    const notHedged = settle(policy.execute(second.fn));
    await clock.advance(0);
    assert.equal(second.attempts.length, 1);
    assert.equal((errorOf(notHedged) as ConnectionError).kind, "refused");
  });

  test("hedge() rejects with what its clock throws", async () => {
    const boom = new Error("boom");
    // A clock whose setTimeout throws, asked for the wait a delay function chose.
    const noTimers = new ManualClock();
    noTimers.setTimeout = () => {
      throw boom;
    };
    let signal: AbortSignal | undefined;
    const byTimer = settle(
      hedge({ delay: () => 10, clock: noTimers }).execute((ctx) => {
        signal = ctx.signal;
        return never(ctx.signal);
      }),
    );
    await noTimers.advance(0);
    assert.equal(errorOf(byTimer), boom);
    assert.equal(signal?.aborted, true, "the attempt is abandoned");
    // The same clock behind a fixed delay, whose calls share one timer.
    let shared: AbortSignal | undefined;
    const byQueue = settle(
      hedge({ delay: 10, clock: noTimers }).execute((ctx) => {
        shared = ctx.signal;
        return never(ctx.signal);
      }),
    );
    await noTimers.advance(0);
    assert.equal(errorOf(byQueue), boom);
    assert.equal(shared?.aborted, true, "the attempt is abandoned");
    // A clock whose now() throws once the call has succeeded, as a percentile delay reads it.
    const stopped = new ManualClock();
    let reads = 0;
    stopped.now = () => {
      if (++reads > 1) throw boom;
      return 0;
    };
    const byNow = settle(hedge({ delay: { percentile: 50 }, clock: stopped }).execute(() => 42));
    await stopped.advance(0);
    assert.equal(errorOf(byNow), boom);
  });

  test("hedge() starts nothing more once an onHedge listener cancels the calls waiting with it", async () => {
    const clock = new ManualClock();
    const batch = new AbortController();
    const listeners = countListeners(batch.signal);
    const events: HedgeEvent[] = [];
    const policy = hedge({
      delay: 10,
      clock,
      onHedge: (e) => {
        events.push(e);
        batch.abort(new Error("too slow"));
      },
    });
    const started: number[] = [];
    const op = (ctx: ExecutionContext) => {
      started.push(ctx.attempt);
      return never(ctx.signal);
    };
    const calls = [
      settle(policy.execute(op, batch.signal)),
      settle(policy.execute(op, batch.signal)),
    ];
    await clock.advance(10);
    assert.equal(events.length, 1);
    assert.deepEqual(started, [1, 1]);
    for (const c of calls) assert.equal((errorOf(c) as ConnectionError).kind, "cancelled");
    assert.equal(clock.pendingTimers, 0);
    assert.equal(listeners.live, 0);
  });

  test("hedge() rejects with an attempt's failure at once when the budget allows no hedge after it", async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 0, clock });
    const policy = hedge({ delay: Infinity, budget, clock });
    const { attempts, fn } = recorder(clock, { 1: REFUSED() });
    const call = settle(policy.execute(fn));
    await clock.advance(0);
    assert.equal(attempts.length, 1);
    assert.equal((errorOf(call) as ConnectionError).kind, "refused");
  });

  test("hedge() asks the budget no more in a call once it has refused a hedge", async () => {
    const clock = new ManualClock();
    const answers = [false, true];
    let asked = 0;
    const budget = {
      recordCall() {},
      tryRetry: (): boolean => answers[asked++] ?? true,
      available: 0,
    };
    const policy = hedge({ delay: 10, maxHedges: 2, budget, clock });
    const started: number[] = [];
    const call = settle(policy.execute(async (ctx) => {
      started.push(ctx.attempt);
      await clock.sleep(20, ctx.signal);
      throw REFUSED();
    }));
    await clock.advance(20);
    assert.equal(asked, 1, "refused at 10 ms, not asked again when attempt 1 failed");
    assert.deepEqual(started, [1]);
    assert.equal((errorOf(call) as ConnectionError).kind, "refused");
    assert.equal(clock.pendingTimers, 0);
  });

  test("hedge() says which delay option is wrong, and why", () => {
    const message = (option: string, rule: string, value: string) =>
      `Cannot create hedge as '${option}' must be ${rule}: current value is ${value}`;
    const shapes = "a number of milliseconds, a function or { percentile, min, max }";
    const percentile = "a number above 0 and below 100";
    const orInfinity = "a non-negative number of milliseconds or Infinity";
    const finite = "a finite non-negative number of milliseconds";
    const cases: [HedgeOptions["delay"], Error][] = [
      [-1, new RangeError(message("delay", orInfinity, "-1"))],
      [null as never, new TypeError(message("delay", shapes, "null"))],
      ["10" as never, new TypeError(message("delay", shapes, '"10"'))],
      [{} as never, new TypeError(message("delay.percentile", percentile, "undefined"))],
      [
        { percentile: "95" as never },
        new TypeError(message("delay.percentile", percentile, '"95"')),
      ],
      [{ percentile: 0 }, new RangeError(message("delay.percentile", percentile, "0"))],
      [{ percentile: -5 }, new RangeError(message("delay.percentile", percentile, "-5"))],
      [{ percentile: 100 }, new RangeError(message("delay.percentile", percentile, "100"))],
      [{ percentile: NaN }, new RangeError(message("delay.percentile", percentile, "NaN"))],
      [{ percentile: 50, min: -1 }, new RangeError(message("delay.min", finite, "-1"))],
      [{ percentile: 50, min: Infinity }, new RangeError(message("delay.min", finite, "Infinity"))],
      [{ percentile: 50, max: -1 }, new RangeError(message("delay.max", orInfinity, "-1"))],
      [
        { percentile: 50, min: 10, max: 5 },
        new RangeError(message("delay.max", "at least delay.min", "5")),
      ],
    ];
    for (const [delay, error] of cases) assert.throws(() => hedge({ delay }), error);
    const valid: HedgeOptions["delay"][] = [
      { percentile: 50 },
      { percentile: 0.5, max: Infinity },
      { percentile: 99.9, min: 5, max: 5 },
    ];
    for (const delay of valid) assert.equal(hedge({ delay }).maxHedges, 1, JSON.stringify(delay));
  });
});
