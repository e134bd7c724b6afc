import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { hedge, type HedgeEvent } from "./hedge.ts";
import { pipeline } from "./pipeline.ts";
import { retryBudget } from "./retry_budget.ts";
import { timeout } from "./timeout.ts";
import type { ExecutionContext } from "./types.ts";

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

/** Counts the listeners added to and removed from `signal`. */
function countListeners(signal: AbortSignal): { readonly live: number } {
  const counter = { live: 0 };
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    counter.live++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    counter.live--;
    remove(...args);
  }) as typeof remove;
  return counter;
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
});
