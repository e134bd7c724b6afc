// The operations are async functions on purpose: that is what a policy usually runs.
// deno-lint-ignore-file require-await
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { isConnectionError } from "../errors/is_connection_error.ts";
import { queueOf, timeout, type TimeoutEvent } from "./timeout.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { constantBackoff } from "./backoff.ts";
import type { ExecutionContext } from "./types.ts";

/** A ManualClock that counts the timers set on it and the most pending at once. */
class CountingClock extends ManualClock {
  sets = 0;
  maxPending = 0;
  delays: number[] = [];
  override setTimeout(callback: () => void, ms: number): unknown {
    this.sets++;
    this.delays.push(ms);
    const handle = super.setTimeout(callback, ms);
    this.maxPending = Math.max(this.maxPending, this.pendingTimers);
    return handle;
  }
}

/** An AbortController whose signal counts the abort listeners added and not removed. */
function countingController(): { controller: AbortController; listeners: () => number } {
  const controller = new AbortController();
  const signal = controller.signal;
  let count = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener =
    ((type: string, listener: EventListenerOrEventListenerObject, options?: unknown) => {
      if (type === "abort") count++;
      add(type, listener, options as AddEventListenerOptions);
    }) as typeof signal.addEventListener;
  signal.removeEventListener =
    ((type: string, listener: EventListenerOrEventListenerObject, options?: unknown) => {
      if (type === "abort") count--;
      remove(type, listener, options as EventListenerOptions);
    }) as typeof signal.removeEventListener;
  return { controller, listeners: () => count };
}

const never = (): Promise<never> => new Promise(() => {});

/** Lets a few turns of the microtask queue pass (the queue arms its timer after a few). */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe("timeout()", () => {
  test("timeout() rejects with a ConnectionError of kind timeout that says how long, for which operation, from which runtime", async () => {
    const clock = new ManualClock();
    const policy = timeout(100, { clock, operation: "fetch" });
    const call = policy.execute(never);
    const outcome = call.then(() => "resolved", (e) => e);
    await clock.advance(99);
    assert.equal(await Promise.race([outcome, Promise.resolve("pending")]), "pending");
    await clock.advance(1);
    const error = await outcome;
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "timeout");
    assert.equal(error.message, "Timed out after 100 ms");
    assert.equal(error.timeoutMs, 100);
    assert.equal(error.operation, "fetch");
    assert.notEqual(error.runtime, "unknown");
    assert.equal(error.retryable, true);
    assert.equal(clock.pendingTimers, 0);
  });

  test("timeout() aborts ctx.signal with the same error it rejects with", async () => {
    const clock = new ManualClock();
    const policy = timeout(50, { clock });
    let seen: AbortSignal | undefined;
    const call = policy.execute(({ signal }) => {
      seen = signal;
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason))
      );
    });
    const outcome = call.catch((e) => e);
    assert.equal(seen!.aborted, false);
    await clock.advance(50);
    const error = await outcome;
    assert.equal(seen!.aborted, true);
    assert.equal(seen!.reason, error);
    assert.equal((error as ConnectionError).kind, "timeout");
  });

  test("timeout() rejects at the deadline even when the operation ignores its signal", async () => {
    const clock = new ManualClock();
    const policy = timeout(10, { clock });
    const outcome = policy.execute(never).catch((e) => e);
    await clock.advance(10);
    assert.equal((await outcome).kind, "timeout");
  });

  test("timeout() resolves with the operation's value and leaves no timer", async () => {
    const clock = new ManualClock();
    const policy = timeout(1000, { clock });
    assert.equal(await policy.execute(() => 1), 1);
    assert.equal(await policy.execute(async () => 2), 2);
    const slow = policy.execute(() => clock.sleep(500).then(() => 3));
    await turns();
    assert.equal(clock.pendingTimers, 2); // the sleep and the deadline
    await clock.advance(500);
    assert.equal(await slow, 3);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(queueOf(policy).live, 0);
  });

  test("timeout() passes errors through: recognized ones as ConnectionError, others untouched", async () => {
    const clock = new ManualClock();
    const policy = timeout(1000, { clock });
    const bug = new TypeError("a bug");
    await assert.rejects(policy.execute(() => Promise.reject(bug)), (e) => e === bug);
    await assert.rejects(
      policy.execute(() => {
        throw bug;
      }),
      (e) => e === bug,
    );
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    await assert.rejects(
      policy.execute(() => Promise.reject(refused)),
      (e) => e instanceof ConnectionError && e.kind === "refused" && e.cause === refused,
    );
    await assert.rejects(
      policy.execute(() => {
        throw refused;
      }),
      (e) => e instanceof ConnectionError && e.kind === "refused" && e.cause === refused,
    );
    assert.equal(clock.pendingTimers, 0);
  });

  test("timeout() races a thenable (even a function), rejects when its then() throws, and resolves plain values", async () => {
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

  test("timeout() uses one timer for many concurrent calls", async () => {
    const clock = new CountingClock();
    const policy = timeout(1000, { clock });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i++) calls.push(policy.execute(never).catch((e) => e));
    await turns();
    assert.equal(clock.sets, 1);
    await clock.advance(1000);
    const errors = await Promise.all(calls);
    assert.ok(errors.every((e) => (e as ConnectionError).kind === "timeout"));
    assert.equal(clock.maxPending, 1);
    assert.equal(clock.sets, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  test("timeout() fires staggered deadlines in order with one timer at a time", async () => {
    const clock = new CountingClock();
    const policy = timeout(100, { clock });
    const order: number[] = [];
    for (let i = 0; i < 5; i++) {
      policy.execute(never).catch(() => order.push(i));
      await clock.advance(10);
    }
    await clock.advance(100);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(clock.maxPending, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  test("timeout() sets no timer at all for calls that settle within a few microtask turns", async () => {
    const clock = new CountingClock();
    const policy = timeout(60_000, { clock });
    for (let i = 0; i < 1000; i++) await policy.execute(async () => i);
    assert.equal(clock.sets, 0);
  });

  test("timeout() does not retain settled calls behind a long-lived one", async () => {
    const clock = new ManualClock();
    const policy = timeout(60_000, { clock });
    const stuck = policy.execute(never).catch((e) => e);
    for (let i = 0; i < 10_000; i++) await policy.execute(async () => i);
    assert.equal(queueOf(policy).live, 1);
    assert.ok(queueOf(policy).size <= 64, `queue holds ${queueOf(policy).size} entries`);
    await clock.advance(60_000);
    assert.equal((await stuck).kind, "timeout");
    assert.equal(queueOf(policy).size, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("timeout() clears its timer as soon as the last live call settles", async () => {
    const clock = new ManualClock();
    const policy = timeout(60_000, { clock });
    let finish!: () => void;
    const call = policy.execute(() => new Promise<void>((resolve) => (finish = resolve)));
    await turns();
    assert.equal(clock.pendingTimers, 1);
    finish();
    await call;
    assert.equal(clock.pendingTimers, 0);
  });

  test("timeout() rejects with what its clock throws when setting the deadline, and aborts the operation", async () => {
    const boom = new Error("clock bug");
    const clock = new ManualClock();
    clock.setTimeout = () => {
      throw boom;
    };
    const signals: AbortSignal[] = [];
    const policy = timeout(100, { clock });
    const calls = [1, 2].map(() =>
      policy.execute((ctx) => {
        signals.push(ctx.signal);
        return new Promise(() => {}); // ignores its signal
      }).then(() => assert.fail("resolved"), (e: unknown) => e)
    );
    await clock.advance(0);
    assert.deepEqual(await Promise.all(calls), [boom, boom]);
    assert.ok(signals.every((s) => s.aborted && s.reason === boom));
    assert.equal(queueOf(policy).live, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("timeout() reaches a deadline beyond the 2^31 - 1 ms a timer allows", async () => {
    const clock = new CountingClock();
    const ms = 2 ** 32;
    const policy = timeout(ms, { clock });
    const outcome = policy.execute(never).catch((e) => e);
    await turns();
    assert.ok(clock.delays.every((d) => d <= 2 ** 31 - 1));
    await clock.advance(ms - 1);
    assert.equal(await Promise.race([outcome, Promise.resolve("pending")]), "pending");
    await clock.advance(1);
    assert.equal((await outcome).timeoutMs, ms);
    assert.equal(clock.pendingTimers, 0);
  });

  test("timeout() rejects as cancelled at once when the caller's signal aborts", async () => {
    const clock = new ManualClock();
    const policy = timeout(1000, { clock });
    const { controller, listeners } = countingController();
    let inner: AbortSignal | undefined;
    const outcome = policy.execute(({ signal }) => {
      inner = signal;
      return never();
    }, controller.signal).catch((e) => e);
    assert.equal(listeners(), 1);
    const reason = new Error("user left");
    controller.abort(reason);
    const error = await outcome;
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(error.cause, reason);
    assert.equal(inner!.aborted, true);
    assert.equal(inner!.reason, reason);
    assert.equal(listeners(), 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("timeout() gives a ctx.signal first read after the caller aborted that caller's reason", async () => {
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

  test("timeout() rejects as cancelled an operation that never reads ctx.signal", async () => {
    const clock = new ManualClock();
    const policy = timeout(1000, { clock });
    const caller = new AbortController();
    const call = policy.execute(never, caller.signal);
    caller.abort();
    const error = await call.then(() => undefined, (e: unknown) => e);
    assert.ok(isConnectionError(error, "cancelled"), String(error));
  });

  test("timeout() rejects before calling the operation when the signal has already aborted", async () => {
    const policy = timeout(1000, { clock: new ManualClock() });
    let called = false;
    const reason = new Error("gone");
    await assert.rejects(
      policy.execute(() => (called = true), AbortSignal.abort(reason)),
      (e) => e instanceof ConnectionError && e.kind === "cancelled" && e.cause === reason,
    );
    assert.equal(called, false);
  });

  test("timeout() leaves no listener on a long-lived signal after many calls", async () => {
    const clock = new ManualClock();
    const policy = timeout(1000, { clock });
    const { controller, listeners } = countingController();
    for (let i = 0; i < 100; i++) {
      await policy.execute(async ({ signal }) => signal.aborted, controller.signal);
    }
    const timedOut = policy.execute(never, controller.signal).catch((e) => e);
    await clock.advance(1000);
    assert.equal((await timedOut).kind, "timeout");
    assert.equal(listeners(), 0);
  });

  test("timeout() makes no AbortController unless the operation reads ctx.signal", async () => {
    const Original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const policy = timeout(1000, { clock: new ManualClock() });
      await policy.execute(async (ctx) => ctx.attempt);
      assert.equal(made, 0);
      await policy.execute(async (ctx) => ctx.signal);
      assert.equal(made, 1);
    } finally {
      globalThis.AbortController = Original;
    }
  });

  test("timeout() gives ctx.signal already aborted when read after the deadline", async () => {
    const clock = new ManualClock();
    const policy = timeout(10, { clock });
    let ctxSeen: { signal: AbortSignal } | undefined;
    const outcome = policy.execute((ctx) => {
      ctxSeen = ctx;
      return never();
    }).catch((e) => e);
    await clock.advance(10);
    const error = await outcome;
    assert.equal(ctxSeen!.signal.aborted, true);
    assert.equal(ctxSeen!.signal.reason, error);
  });

  test("timeout() passes the attempt through and tells onTimeout listeners", async () => {
    const clock = new ManualClock();
    const fromOption: TimeoutEvent[] = [];
    const policy = timeout(10, { clock, onTimeout: (e) => fromOption.push(e) });
    const events: TimeoutEvent[] = [];
    policy.onTimeout((e) => events.push(e));
    let attempt = 0;
    // The attempt of a retry outside it, in a pipeline.
    const outcome = pipeline(
      retry({
        maxAttempts: 3,
        backoff: constantBackoff(0),
        on: (e) => !(e instanceof ConnectionError),
      }),
      policy,
    ).execute(
      (ctx) => {
        attempt = ctx.attempt;
        if (ctx.attempt < 3) throw new Error("again");
        return never();
      },
    ).catch((e) => e);
    await clock.advance(10);
    const error = await outcome;
    assert.equal(attempt, 3);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.attempt, 3);
    assert.equal(events[0]!.timeoutMs, 10);
    assert.equal(events[0]!.error, error);
    assert.equal(fromOption.length, 1);
  });

  test("timeout() rejects as cancelled when the operation aborts the caller's signal, and still handles its promise", async () => {
    const controller = new AbortController();
    let subscribed = false;
    const error = await timeout(1000).execute(() => {
      controller.abort();
      // A rejection nobody handles would be reported as unhandled.
      return {
        then(_resolve: (v: unknown) => void, reject: (e: unknown) => void) {
          subscribed = true;
          queueMicrotask(() => reject(new Error("late")));
        },
      } as unknown as Promise<never>;
    }, controller.signal).catch((e) => e);
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(subscribed, true);

    // An operation that resolves after aborting the caller's signal is still cancelled.
    const caller = new AbortController();
    let ran = false;
    const call = timeout(1000, { clock: new ManualClock() }).execute(() => {
      caller.abort();
      return Promise.resolve("value").then((v) => {
        ran = true;
        return v;
      });
    }, caller.signal);
    const cancelled = await call.then(() => undefined, (e: unknown) => e);
    assert.ok(isConnectionError(cancelled, "cancelled"), String(cancelled));
    assert.equal(ran, true);
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
    assert.equal(timeout(0.5).ms, 0.5);
  });
});
