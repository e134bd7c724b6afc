import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import {
  BrokenCircuitError,
  circuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerSnapshot,
} from "./circuit_breaker.ts";
import { consecutiveFailures } from "./trip/consecutive_failures.ts";
import { failureRate } from "./trip/failure_rate.ts";
import { keyedCircuitBreaker } from "./keyed_breaker.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { constantBackoff, MAX_DELAY_MS } from "./backoff.ts";

function refusedError(): Error {
  return Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
}

const fail = (): never => {
  throw refusedError();
};
const ok = (): number => 42;

/** A signal that counts the abort listeners added to it and not removed. */
function countingSignal(): {
  signal: AbortSignal;
  controller: AbortController;
  live: () => number;
} {
  const controller = new AbortController();
  const signal = controller.signal;
  let live = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const listeners = new Set<unknown>();
  signal.addEventListener = ((type: string, l: unknown, o?: unknown) => {
    if (type === "abort" && !listeners.has(l)) {
      listeners.add(l);
      live++;
    }
    add(type, l as EventListener, o as AddEventListenerOptions);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, l: unknown, o?: unknown) => {
    if (type === "abort" && listeners.delete(l)) live--;
    remove(type, l as EventListener, o as EventListenerOptions);
  }) as typeof signal.removeEventListener;
  return { signal, controller, live: () => live };
}

function breaker(extra: Partial<CircuitBreakerOptions> = {}, clock = new ManualClock()) {
  const b = circuitBreaker({ trip: consecutiveFailures(2), halfOpenAfter: 1000, clock, ...extra });
  return { b, clock };
}

async function trip(b: { execute: (fn: () => unknown) => Promise<unknown> }, n = 2): Promise<void> {
  for (let i = 0; i < n; i++) await b.execute(fail).catch(() => {});
}

describe("circuitBreaker()", () => {
  test("circuitBreaker() opens after n consecutive connection failures", async () => {
    const { b } = breaker();
    await assert.rejects(
      b.execute(fail),
      (e) => e instanceof ConnectionError && e.kind === "refused",
    );
    assert.equal(b.state, "closed");
    await assert.rejects(b.execute(fail), ConnectionError);
    assert.equal(b.state, "open");
  });

  test("circuitBreaker() rejects while open without calling the operation", async () => {
    const { b, clock } = breaker();
    await trip(b);
    await clock.advance(400);
    let calls = 0;
    await assert.rejects(
      b.execute(() => ++calls),
      (e: unknown) => {
        assert.ok(e instanceof BrokenCircuitError);
        assert.ok(e instanceof Error);
        assert.equal(e.name, "BrokenCircuitError");
        assert.equal(e.state, "open");
        assert.equal(e.retryAfterMs, 600);
        assert.match(e.message, /open.*600 ms/);
        assert.match(String(e.stack), /^BrokenCircuitError: /);
        return true;
      },
    );
    assert.equal(calls, 0);
  });

  test("circuitBreaker() counts a success as the end of a run of failures", async () => {
    const { b } = breaker();
    await b.execute(fail).catch(() => {});
    assert.equal(await b.execute(ok), 42);
    await b.execute(fail).catch(() => {});
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() lets errors it does not count pass through untouched, changing nothing", async () => {
    const { b } = breaker({ trip: consecutiveFailures(1) });
    const bug = new TypeError("bug in the caller");
    await assert.rejects(
      b.execute(() => {
        throw bug;
      }),
      (e) => e === bug,
    );
    const cancelled = new ConnectionError("cancelled");
    await assert.rejects(b.execute(() => Promise.reject(cancelled)), (e) => e === cancelled);
    assert.equal(b.state, "closed");
    assert.deepEqual(b.toJSON().trip, { type: "consecutiveFailures", failures: 0 });
  });

  test("circuitBreaker() does not count an uncounted error as a success either", async () => {
    const { b } = breaker();
    await b.execute(fail).catch(() => {});
    await b.execute(() => Promise.reject(new Error("http 500"))).catch(() => {});
    await b.execute(fail).catch(() => {});
    assert.equal(b.state, "open");
  });

  test("circuitBreaker() on: a list of kinds counts only those kinds", async () => {
    const { b } = breaker({ trip: consecutiveFailures(1), on: ["timeout"] });
    await b.execute(fail).catch(() => {});
    assert.equal(b.state, "closed");
    await b.execute(() => Promise.reject(new ConnectionError("timeout"))).catch(() => {});
    assert.equal(b.state, "open");
  });

  test("circuitBreaker() on: a predicate sees the error and its normalized form", async () => {
    const seen: string[] = [];
    const { b } = breaker({
      trip: consecutiveFailures(1),
      on: (error, normalized) => {
        seen.push(normalized.kind);
        return error instanceof Error && error.message === "count me";
      },
    });
    await b.execute(fail).catch(() => {});
    assert.equal(b.state, "closed");
    await b.execute(() => Promise.reject(new Error("count me"))).catch(() => {});
    assert.equal(b.state, "open");
    assert.deepEqual(seen, ["refused", "unknown"]);
  });

  test("circuitBreaker() treats a predicate that throws as not counting, keeping the caller's error", async () => {
    const { b } = breaker({
      trip: consecutiveFailures(1),
      on: () => {
        throw new Error("predicate bug");
      },
    });
    await assert.rejects(b.execute(fail), (e) => e instanceof ConnectionError);
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() half-opens after halfOpenAfter and closes on a successful probe", async () => {
    const { b, clock } = breaker();
    await trip(b);
    await clock.advance(999);
    assert.equal(b.state, "open");
    await clock.advance(1);
    assert.equal(b.state, "half_open");
    assert.equal(await b.execute(ok), 42);
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() reopens on a failed probe", async () => {
    const { b, clock } = breaker();
    await trip(b);
    await clock.advance(1000);
    await assert.rejects(b.execute(fail), ConnectionError);
    assert.equal(b.state, "open");
    await clock.advance(999);
    assert.equal(b.state, "open");
  });

  test("circuitBreaker() lets only halfOpenMaxProbes probes run at once and refuses the rest", async () => {
    const { b, clock } = breaker({ halfOpenMaxProbes: 2, halfOpenSuccesses: 2 });
    await trip(b);
    await clock.advance(1000);
    let calls = 0;
    const gates: Array<() => void> = [];
    const slow = () => {
      calls++;
      return new Promise<number>((resolve) => gates.push(() => resolve(1)));
    };
    const p1 = b.execute(slow);
    const p2 = b.execute(slow);
    await assert.rejects(
      b.execute(slow),
      (e) =>
        e instanceof BrokenCircuitError && e.state === "half_open" && e.retryAfterMs === undefined,
    );
    assert.equal(calls, 2);
    gates[0]!();
    await p1;
    assert.equal(b.state, "half_open"); // one success of two
    gates[1]!();
    await p2;
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() needs halfOpenSuccesses probes in a row to close", async () => {
    const { b, clock } = breaker({ halfOpenSuccesses: 3 });
    await trip(b);
    await clock.advance(1000);
    await b.execute(ok);
    await b.execute(ok);
    assert.equal(b.state, "half_open");
    await b.execute(ok);
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() halfOpenAfter as a function waits longer after each opening", async () => {
    const waits: number[] = [];
    const { b, clock } = breaker({
      halfOpenAfter: (openings) => {
        waits.push(openings);
        return 1000 * 2 ** (openings - 1);
      },
    });
    await trip(b);
    await clock.advance(1000);
    await b.execute(fail).catch(() => {}); // failed probe: second opening, 2000 ms
    await clock.advance(1999);
    assert.equal(b.state, "open");
    await clock.advance(1);
    assert.equal(b.state, "half_open");
    await b.execute(ok);
    await trip(b); // closed in between: back to the first wait
    assert.deepEqual(waits, [1, 2, 1]);
    await clock.advance(1000);
    assert.equal(b.state, "half_open");
  });

  test("circuitBreaker() halfOpenAfter accepts a backoff and survives a bad one", async () => {
    const calls: Array<[number, number]> = [];
    const { b, clock } = breaker({
      halfOpenAfter: {
        delay: (openings, previous) => {
          calls.push([openings, previous]);
          return openings === 1 ? 500 : NaN;
        },
      },
    });
    await trip(b);
    await clock.advance(500);
    await b.execute(fail).catch(() => {});
    assert.deepEqual(calls, [[1, 0], [2, 500]]);
    assert.equal(b.state, "half_open"); // NaN counts as 0
    const { b: c, clock: c2 } = breaker({
      halfOpenAfter: () => {
        throw new Error("bad backoff");
      },
    });
    await trip(c);
    await c2.advance(0);
    assert.equal(c.state, "half_open");
  });

  test("circuitBreaker() keeps a halfOpenAfter of its caller's choosing between 0 and the longest timer", async () => {
    for (
      const [chosen, wait] of [[-5, 0], [0, 0], [250.5, 250.5], [1e15, MAX_DELAY_MS], [
        "9",
        0,
      ]] as const
    ) {
      const { b } = breaker({ halfOpenAfter: () => chosen as number });
      const waits: number[] = [];
      b.onBreak((e) => waits.push(e.retryAfterMs!));
      await trip(b);
      assert.deepEqual(waits, [wait], `halfOpenAfter() returned ${chosen}`);
      assert.equal(b.state, wait === 0 ? "half_open" : "open");
    }
  });

  test("circuitBreaker() frees the probe slot at once when the probe's caller aborts", async () => {
    const { b, clock } = breaker();
    await trip(b);
    await clock.advance(1000);
    const { signal, controller, live } = countingSignal();
    // An operation that ignores its signal and never settles.
    const probe = b.execute(() => new Promise<never>(() => {}), signal);
    assert.equal(live(), 1);
    const reason = new Error("user left");
    controller.abort(reason);
    await assert.rejects(
      probe,
      (e) => e instanceof ConnectionError && e.kind === "cancelled" && e.cause === reason,
    );
    assert.equal(live(), 0);
    assert.equal(b.state, "half_open");
    assert.equal(await b.execute(ok), 42);
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() counts a probe held past probeTimeout as failed, so it is never stuck", async () => {
    const { b, clock } = breaker({ probeTimeout: 5000 });
    await trip(b);
    await clock.advance(1000);
    void b.execute(() => new Promise<never>(() => {}));
    await clock.advance(4999);
    await assert.rejects(
      b.execute(ok),
      (e) => e instanceof BrokenCircuitError && e.state === "half_open",
    );
    await clock.advance(1);
    assert.equal(b.state, "open");
    await clock.advance(1000);
    assert.equal(await b.execute(ok), 42);
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() does not count a cancelled probe either way", async () => {
    const { b, clock } = breaker();
    await trip(b);
    await clock.advance(1000);
    const controller = new AbortController();
    const p = b.execute(
      (ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
        ),
      controller.signal,
    );
    controller.abort();
    await assert.rejects(p, (e) => e instanceof ConnectionError && e.kind === "cancelled");
    assert.equal(b.state, "half_open");
  });

  test("circuitBreaker() rejects an already-aborted signal before calling the operation", async () => {
    const { b } = breaker();
    let calls = 0;
    const reason = new Error("gone");
    await assert.rejects(
      b.execute(() => ++calls, AbortSignal.abort(reason)),
      (e) => e instanceof ConnectionError && e.kind === "cancelled" && e.cause === reason,
    );
    const timeoutReason = new ConnectionError("timeout", { timeoutMs: 5 });
    await assert.rejects(
      b.execute(() => ++calls, AbortSignal.abort(timeoutReason)),
      (e) => e === timeoutReason,
    );
    assert.equal(calls, 0);
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() leaves no listener on a long-lived signal and sets no timer", async () => {
    const { b, clock } = breaker({ halfOpenMaxProbes: 1 });
    const { signal, live } = countingSignal();
    for (let i = 0; i < 50; i++) await b.execute(ok, signal);
    for (let i = 0; i < 2; i++) await b.execute(fail, signal).catch(() => {});
    for (let i = 0; i < 5; i++) await b.execute(ok, signal).catch(() => {});
    await clock.advance(1000);
    await b.execute(fail, signal).catch(() => {});
    await clock.advance(1000);
    await b.execute(ok, signal);
    assert.equal(b.state, "closed");
    assert.equal(live(), 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("circuitBreaker() passes the caller's signal and attempt to the operation", async () => {
    const { b } = breaker();
    const controller = new AbortController();
    // The attempt of a retry outside it, in a pipeline.
    const outer = pipeline(
      retry({ maxAttempts: 3, backoff: constantBackoff(0), on: () => true }),
      b,
    );
    const seen = await outer.execute((ctx) => {
      if (ctx.attempt < 3) throw new Error("again");
      return [ctx.signal, ctx.attempt] as const;
    }, controller.signal);
    assert.equal(seen[0], controller.signal);
    assert.equal(seen[1], 3);
    assert.equal(await b.execute((ctx) => ctx.attempt), 1);
  });

  test("circuitBreaker() catches an operation that throws synchronously", async () => {
    const { b } = breaker({ trip: consecutiveFailures(1) });
    await assert.rejects(b.execute(fail), ConnectionError);
    assert.equal(b.state, "open");
  });

  test("circuitBreaker() does not count a call that started before the state changed, success or failure", async () => {
    // A failure that lands after the breaker opened and closed again.
    const { b, clock } = breaker({ trip: consecutiveFailures(1) });
    let release!: (v: unknown) => void;
    const late = b.execute(() =>
      new Promise((_, reject) => (release = () => reject(refusedError())))
    );
    await b.execute(fail).catch(() => {}); // opens
    await clock.advance(1000);
    await b.execute(ok); // closes
    release(undefined);
    await late.catch(() => {});
    assert.equal(b.state, "closed");

    // A success that lands after isolate() and reset(): had it counted, the
    // run of failures would have started again.
    const { b: b2 } = breaker({ trip: consecutiveFailures(2) });
    let resolveOld!: (v: string) => void;
    const old = b2.execute(() => new Promise<string>((r) => (resolveOld = r)));
    b2.isolate();
    b2.reset();
    await b2.execute(fail).catch(() => {});
    resolveOld("late");
    assert.equal(await old, "late");
    await b2.execute(fail).catch(() => {});
    assert.equal(b2.state, "open");

    // A failure that lands after isolate() and reset().
    const { b: b3 } = breaker({ trip: consecutiveFailures(1) });
    let rejectOld!: (e: unknown) => void;
    const old3 = b3.execute(() => new Promise<never>((_, r) => (rejectOld = r)));
    b3.isolate();
    b3.reset();
    rejectOld(refusedError());
    await old3.catch(() => {});
    assert.equal(b3.state, "closed", "a stale failure does not open it");
  });

  test("circuitBreaker() does not count a synchronous success of a call during which it moved on", async () => {
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

  test("circuitBreaker() awaits a thenable (even a function) and counts a plain value, null included, as a success", async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ trip: consecutiveFailures(2), halfOpenAfter: 1000, clock });
    const rejecting = Object.assign(() => {}, {
      then: (_: unknown, reject: (e: unknown) => void) => reject(refusedError()),
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

  test("isolate() refuses every call until reset()", async () => {
    const { b } = breaker();
    b.isolate();
    assert.equal(b.state, "isolated");
    let calls = 0;
    await assert.rejects(
      b.execute(() => ++calls),
      (e) =>
        e instanceof BrokenCircuitError && e.state === "isolated" && e.retryAfterMs === undefined,
    );
    assert.equal(calls, 0);
    b.reset();
    assert.equal(b.state, "closed");
    assert.equal(await b.execute(ok), 42);
  });

  test("isolate() handles close it when the last one is disposed", () => {
    const { b } = breaker();
    const first = b.isolate();
    const second = b.isolate();
    first.dispose();
    first.dispose(); // twice changes nothing
    assert.equal(b.state, "isolated");
    second[Symbol.dispose]();
    assert.equal(b.state, "closed");
    const stale = b.isolate();
    b.reset();
    b.isolate();
    stale.dispose(); // from before the reset: no effect
    assert.equal(b.state, "isolated");
  });

  test("reset() closes an open breaker and clears its counts", async () => {
    const { b } = breaker({ trip: consecutiveFailures(3) });
    await trip(b, 3);
    b.reset();
    assert.equal(b.state, "closed");
    await trip(b, 2);
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() rejects with the error of a trip counter whose failure() throws", async () => {
    const boom = new Error("boom");
    const trip = {
      create: () => ({
        success() {},
        failure(): boolean {
          throw boom;
        },
        reset() {},
        toJSON: () => ({ type: "custom" }),
        restore() {},
      }),
    };
    const b = circuitBreaker({ trip: trip as never, halfOpenAfter: 100 });
    assert.equal(await b.execute(fail).catch((e) => e), boom);
    assert.equal(b.state, "closed");
  });

  test("circuitBreaker() probe: an operation that aborts its caller's signal frees the probe at once, and a late outcome counts for nothing", async () => {
    const { b, clock } = breaker();
    const reasons: string[] = [];
    b.onBreak((e) => reasons.push(e.reason));
    await trip(b);
    await clock.advance(1000);
    const controller = new AbortController();
    let finish!: (v: number) => void;
    const probe = b.execute(() => {
      controller.abort("caller gone");
      return new Promise<number>((r) => (finish = r));
    }, controller.signal);
    const error = await probe.catch((e) => e);
    assert.ok(error instanceof ConnectionError && error.kind === "cancelled");
    assert.equal(b.state, "half_open");
    finish(1); // the abandoned probe's success closes nothing
    await clock.advance(0);
    assert.equal(b.state, "half_open");
    // Its slot is free: the next probe runs, fails, and reopens the breaker.
    await b.execute(fail).catch(() => {});
    assert.equal(b.state, "open");
    assert.deepEqual(reasons, ["tripped", "probe_failed"]);
  });

  test("circuitBreaker() emits typed events, and a throwing listener breaks nothing", async () => {
    const { b, clock } = breaker();
    const log: string[] = [];
    const originalError = console.error;
    console.error = () => {};
    try {
      b.onStateChange(() => {
        throw new Error("listener bug");
      });
      b.onStateChange(({ from, to }) => log.push(`${from}->${to}`));
      b.onBreak((e) =>
        log.push(
          `break:${e.state}:${e.reason}:${e.retryAfterMs}:${(e.error as ConnectionError)?.kind}`,
        )
      );
      b.onHalfOpen((e) => log.push(`halfOpen:${e.openings}`));
      b.onReset((e) => log.push(`reset:${e.reason}`));
      const sub = b.onRejected((e) => log.push(`rejected:${e.error.state}`));
      await trip(b);
      await b.execute(ok).catch(() => {});
      sub.dispose();
      await b.execute(ok).catch(() => {});
      await clock.advance(1000);
      await b.execute(ok);
      b.isolate();
      b.reset();
      b.isolate().dispose();
    } finally {
      console.error = originalError;
    }
    assert.deepEqual(log, [
      "closed->open",
      "break:open:tripped:1000:refused",
      "rejected:open",
      "open->half_open",
      "halfOpen:1",
      "half_open->closed",
      "reset:probes_succeeded",
      "closed->isolated",
      "break:isolated:isolated:undefined:undefined",
      "isolated->closed",
      "reset:reset",
      "closed->isolated",
      "break:isolated:isolated:undefined:undefined",
      "isolated->closed",
      "reset:reset",
    ]);
  });

  test("circuitBreaker() never shares state between breakers made from the same options", async () => {
    const clock = new ManualClock();
    for (
      const trip of [
        consecutiveFailures(2),
        failureRate({ threshold: 0.5, minimumCalls: 2, windowMs: 1000 }),
        failureRate({ threshold: 0.5, minimumCalls: 2, windowCalls: 4 }),
      ]
    ) {
      const options = { trip, halfOpenAfter: 1000, clock };
      const a = circuitBreaker(options);
      const b = circuitBreaker(options);
      await a.execute(fail).catch(() => {});
      await a.execute(fail).catch(() => {});
      assert.equal(a.state, "open");
      assert.equal(b.state, "closed");
      await b.execute(fail).catch(() => {});
      assert.equal(b.state, "closed");
      assert.notDeepEqual(a.toJSON(), b.toJSON());
    }
  });

  test("circuitBreaker() refuses bad options with errors naming the option", () => {
    const trip = consecutiveFailures(1);
    const cases: Array<[unknown, ErrorConstructor, string]> = [
      [
        undefined,
        TypeError,
        "Cannot create circuitBreaker as 'options' must be an object: current value is undefined",
      ],
      [
        { halfOpenAfter: 1 },
        TypeError,
        "Cannot create circuitBreaker as 'trip' must be a trip strategy such as consecutiveFailures(5): current value is undefined",
      ],
      [
        { trip },
        TypeError,
        "Cannot create circuitBreaker as 'halfOpenAfter' must be a finite non-negative number of milliseconds: current value is undefined",
      ],
      [
        { trip, halfOpenAfter: -1 },
        RangeError,
        "Cannot create circuitBreaker as 'halfOpenAfter' must be a finite non-negative number of milliseconds: current value is -1",
      ],
      [
        { trip, halfOpenAfter: NaN },
        RangeError,
        "Cannot create circuitBreaker as 'halfOpenAfter' must be a finite non-negative number of milliseconds: current value is NaN",
      ],
      [
        { trip, halfOpenAfter: Infinity },
        RangeError,
        "Cannot create circuitBreaker as 'halfOpenAfter' must be a finite non-negative number of milliseconds: current value is Infinity",
      ],
      [
        { trip, halfOpenAfter: "1s" },
        TypeError,
        "Cannot create circuitBreaker as 'halfOpenAfter' must be a finite non-negative number of milliseconds, a function or a backoff: current value is \"1s\"",
      ],
      [
        { trip, halfOpenAfter: 1, halfOpenMaxProbes: 0 },
        RangeError,
        "Cannot create circuitBreaker as 'halfOpenMaxProbes' must be a positive integer: current value is 0",
      ],
      [
        { trip, halfOpenAfter: 1, halfOpenSuccesses: 1.5 },
        RangeError,
        "Cannot create circuitBreaker as 'halfOpenSuccesses' must be a positive integer: current value is 1.5",
      ],
      [
        { trip, halfOpenAfter: 1, probeTimeout: -5 },
        RangeError,
        "Cannot create circuitBreaker as 'probeTimeout' must be a non-negative number of milliseconds or Infinity: current value is -5",
      ],
      [
        { trip, halfOpenAfter: 1, on: ["refused", "nope"] },
        RangeError,
        `Cannot create circuitBreaker as 'on[1]' must be a connection error kind (one of CONNECTION_ERROR_KINDS): current value is "nope"`,
      ],
      [
        { trip, halfOpenAfter: 1, on: [5] },
        TypeError,
        "Cannot create circuitBreaker as 'on[0]' must be a connection error kind (one of CONNECTION_ERROR_KINDS): current value is 5",
      ],
      [
        { trip, halfOpenAfter: 1, on: [] },
        RangeError,
        "Cannot create circuitBreaker as 'on' must be a non-empty list of connection error kinds: current value is []",
      ],
      [
        { trip, halfOpenAfter: 1, on: "refusd" },
        RangeError,
        `Cannot create circuitBreaker as 'on' must be a connection error kind (one of CONNECTION_ERROR_KINDS): current value is "refusd"`,
      ],
      [
        { trip, halfOpenAfter: 1, on: 5 },
        TypeError,
        "Cannot create circuitBreaker as 'on' must be a kind, a non-empty list of kinds or a predicate: current value is 5",
      ],
      [
        { trip, halfOpenAfter: 1, clock: {} },
        TypeError,
        "Cannot create circuitBreaker as 'clock' must be a Clock (now, setTimeout, clearTimeout and sleep): current value is {}",
      ],
    ];
    for (const [options, type, message] of cases) {
      assert.throws(() => circuitBreaker(options as CircuitBreakerOptions), (e: unknown) => {
        assert.ok(e instanceof type, `${message}: got ${e}`);
        assert.equal((e as Error).message, message);
        return true;
      });
    }
  });

  test("toJSON() reads the state now: an open breaker whose wait is over says half_open", async () => {
    const clock = new ManualClock(); // at 0: a breaker opened then says openedAt 0, not null
    const b = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 100, clock });
    await b.execute(() => Promise.reject(refusedError())).catch(() => {});
    assert.equal(b.toJSON().state, "open");
    assert.equal(b.toJSON().openedAt, 0);
    await clock.advance(100);
    const snapshot = b.toJSON();
    assert.equal(snapshot.state, "half_open", "no call was needed to see the wait is over");
    assert.equal(snapshot.openedAt, 0);
    assert.equal(b.state, "half_open");
  });

  test("toJSON() and restore() round-trip a breaker's state through JSON", async () => {
    for (
      const trip of [
        consecutiveFailures(3),
        failureRate({ threshold: 0.5, minimumCalls: 4, windowMs: 10_000, buckets: 5 }),
        failureRate({ threshold: 0.5, minimumCalls: 4, windowCalls: 40 }),
      ]
    ) {
      const clock = new ManualClock(1_700_000_000_000);
      const options = { trip, halfOpenAfter: (n: number) => 1000 * n, clock };
      const a = circuitBreaker(options);
      await a.execute(ok);
      await a.execute(fail).catch(() => {});
      const closed = JSON.parse(JSON.stringify(a)) as CircuitBreakerSnapshot;
      const b = circuitBreaker(options);
      b.restore(closed);
      assert.deepEqual(b.toJSON(), a.toJSON());
      // Open it and carry the open state over.
      for (let i = 0; i < 4; i++) await a.execute(fail).catch(() => {});
      assert.equal(a.state, "open");
      const open = JSON.parse(JSON.stringify(a.toJSON())) as CircuitBreakerSnapshot;
      const c = circuitBreaker(options);
      const changes: string[] = [];
      c.onStateChange(({ from, to }) => changes.push(`${from}->${to}`));
      c.restore(open);
      assert.deepEqual(changes, ["closed->open"]);
      assert.deepEqual(c.toJSON(), a.toJSON());
      await assert.rejects(c.execute(ok), BrokenCircuitError);
      await clock.advance(1000);
      assert.equal(c.state, "half_open");
      await c.execute(ok);
      assert.equal(c.state, "closed");
    }
  });

  test("restore() keeps an isolated snapshot isolated until reset()", () => {
    const { b } = breaker();
    b.isolate();
    const { b: c } = breaker();
    c.restore(b.toJSON());
    const handle = c.isolate();
    handle.dispose();
    assert.equal(c.state, "isolated");
    c.reset();
    assert.equal(c.state, "closed");
  });

  test("restore() carries a half-open breaker's probe successes on, and nothing else of a probe", async () => {
    const options = { halfOpenSuccesses: 3 };
    const { b: source, clock } = breaker(options);
    await trip(source);
    await clock.advance(1000);
    await source.execute(ok);
    await source.execute(ok);
    const halfOpen = source.toJSON();
    assert.equal(halfOpen.probeSuccesses, 2);
    const { b: c } = breaker(options);
    c.restore(halfOpen);
    await c.execute(ok); // the third success in a row
    assert.equal(c.state, "closed");
    // An open breaker has no probes yet: a count in its snapshot is not taken.
    const { b: d, clock: later } = breaker(options);
    d.restore({ ...halfOpen, state: "open", openedAt: 0 });
    assert.equal(d.toJSON().probeSuccesses, 0);
    await later.advance(1000);
    await d.execute(ok);
    assert.equal(d.state, "half_open", "one success of three");
    // Nor is it isolated: the one isolate() handle, disposed, closes it.
    const { b: e } = breaker(options);
    e.restore({ ...halfOpen, state: "open", openedAt: 0 });
    e.isolate().dispose();
    assert.equal(e.state, "closed");
  });

  test("restore() refuses a snapshot of the wrong shape and changes nothing", async () => {
    const { b } = breaker({ trip: consecutiveFailures(3) });
    await b.execute(fail).catch(() => {});
    const good = b.toJSON();
    const before = JSON.stringify(good);
    const bad: Array<[unknown, ErrorConstructor, RegExp]> = [
      [null, TypeError, /'snapshot' must be an object from toJSON\(\): current value is null/],
      [{ ...good, version: 2 }, RangeError, /'snapshot.version' must be 1: current value is 2/],
      [
        { ...good, state: "ajar" },
        RangeError,
        /'snapshot.state' must be one of "closed", "open", "half_open", "isolated"/,
      ],
      [
        { ...good, state: "open", openedAt: null },
        TypeError,
        /'snapshot.openedAt' must be a number when the state is "open"/,
      ],
      [
        { ...good, openedAt: -3 },
        RangeError,
        /'snapshot.openedAt' must be a finite non-negative number or null/,
      ],
      [
        { ...good, halfOpenAfterMs: "1" },
        TypeError,
        /'snapshot.halfOpenAfterMs' must be a number of milliseconds/,
      ],
      [
        { ...good, openings: 1.5 },
        RangeError,
        /'snapshot.openings' must be a non-negative integer: current value is 1.5/,
      ],
      [
        { ...good, probeSuccesses: 1 },
        RangeError,
        /'snapshot.probeSuccesses' must be less than 'halfOpenSuccesses' \(1\)/,
      ],
      [{ ...good, trip: [] }, TypeError, /'snapshot.trip' must be an object/],
      [
        { ...good, trip: { type: "failureRate" } },
        RangeError,
        /'snapshot.trip.type' must be "consecutiveFailures"/,
      ],
      [
        { ...good, trip: { type: "consecutiveFailures", failures: 3 } },
        RangeError,
        /'snapshot.trip.failures' must be an integer from 0 to 2: current value is 3/,
      ],
      [
        { ...good, trip: { type: "consecutiveFailures", failures: "1" } },
        TypeError,
        /'snapshot.trip.failures' must be a non-negative integer/,
      ],
    ];
    for (const [snapshot, type, message] of bad) {
      assert.throws(() => b.restore(snapshot as CircuitBreakerSnapshot), (e: unknown) => {
        assert.ok(e instanceof type, `${message}: got ${e}`);
        assert.match((e as Error).message, /^Cannot restore circuit breaker as /);
        assert.match((e as Error).message, message);
        return true;
      });
      assert.equal(JSON.stringify(b.toJSON()), before);
    }
  });

  test("restore() says which field is malformed, a wrong type as a TypeError and a bad value as a RangeError", () => {
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

  test("BrokenCircuitError can be made by hand and is a real Error", () => {
    const e = new BrokenCircuitError("open", 250, "db:5432");
    assert.ok(e instanceof Error);
    assert.equal(e.name, "BrokenCircuitError");
    assert.equal(e.state, "open");
    assert.equal(e.retryAfterMs, 250);
    assert.equal(e.key, "db:5432");
    assert.equal(
      e.message,
      'The circuit for "db:5432" is open: call refused, it half-opens in 250 ms',
    );
    assert.equal(
      new BrokenCircuitError("isolated", undefined, undefined, "custom").message,
      "custom",
    );
  });

  test("BrokenCircuitError is made without a stack trace, leaving Error.stackTraceLimit as it was, and can be renamed", () => {
    const E = Error as { stackTraceLimit?: unknown };
    const before = E.stackTraceLimit;
    try {
      E.stackTraceLimit = 25;
      const error = new BrokenCircuitError("open", 250);
      assert.doesNotMatch(String(error.stack), /\n\s+at /);
      assert.match(String(new Error("with frames").stack), /\n\s+at /);
      assert.equal(E.stackTraceLimit, 25, "Error.stackTraceLimit is restored");
      error.name = "Renamed"; // as on any Error
      assert.equal(error.name, "Renamed");
      // Without a numeric stackTraceLimit it is left alone, and where there is
      // none at all (Firefox has none) none is made.
      E.stackTraceLimit = undefined;
      assert.equal(new BrokenCircuitError("isolated").state, "isolated");
      assert.equal(E.stackTraceLimit, undefined);
      delete E.stackTraceLimit;
      assert.equal(new BrokenCircuitError("isolated").state, "isolated");
      assert.equal(Object.hasOwn(Error, "stackTraceLimit"), false);
    } finally {
      E.stackTraceLimit = before;
    }
  });

  test("instanceof a subclass of BrokenCircuitError keeps the prototype check", () => {
    class Tagged extends BrokenCircuitError {}
    assert.ok(new Tagged("open") instanceof BrokenCircuitError);
    assert.ok(new Tagged("open") instanceof Tagged);
    assert.ok(!(new BrokenCircuitError("open") instanceof Tagged));
  });

  test("a breaker's refusal takes an assigned message and stack, as any Error does", async () => {
    const breaker = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 1000 });
    breaker.isolate();
    for (
      const error of [
        await breaker.execute(() => 1).catch((e) => e),
        new BrokenCircuitError("open", 5),
      ]
    ) {
      assert.ok(error instanceof BrokenCircuitError);
      error.message = `loading the cart: ${error.message}`;
      error.message += " (not retried)";
      error.stack = "BrokenCircuitError: rewritten";
      assert.match(
        error.message,
        /^loading the cart: The circuit is (isolated|open).* \(not retried\)$/,
      );
      assert.equal(error.stack, "BrokenCircuitError: rewritten");
      assert.equal(Object.keys(error).includes("message"), false, "not enumerable, as on an Error");
    }
    const next = await breaker.execute(() => 1).catch((e) => e);
    assert.equal(next.message, "The circuit is isolated: call refused until reset()");
  });

  test("BrokenCircuitError from a breaker says its state, the wait left and its key", async () => {
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
});

// ------------------------------------------------------------ property test

type Step =
  | { op: "call"; outcome: "ok" | "fail" | "cancel" | "hang" | "bug" }
  | { op: "settle"; index: number; outcome: "ok" | "fail" }
  | { op: "abort"; index: number }
  | { op: "advance"; ms: number }
  | { op: "isolate" }
  | { op: "dispose" }
  | { op: "reset" };

type Outcome = "ok" | "fail" | "cancel" | "hang" | "bug";
// Hanging calls are what fill the probe slots, so they come often.
const outcome: fc.Arbitrary<Outcome> = fc.constantFrom<Outcome>(
  "hang",
  "hang",
  "hang",
  "ok",
  "ok",
  "fail",
  "fail",
  "cancel",
  "bug",
);

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("call" as const), outcome }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("settle" as const),
      index: fc.nat(20),
      outcome: fc.constantFrom<"ok" | "fail">("ok", "fail"),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("abort" as const), index: fc.nat(20) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      ms: fc.integer({ min: 0, max: 1500 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: "isolate" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "dispose" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "reset" as const }) },
);

const LEGAL = new Set([
  "closed->open",
  "open->half_open",
  "half_open->closed",
  "half_open->open",
]);

describe("circuitBreaker() state machine", () => {
  test("circuitBreaker() only takes legal transitions and never exceeds the probe limit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 10, maxLength: 80, size: "max" }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (steps, maxProbes, successes, rate) => {
          const clock = new ManualClock();
          const b = circuitBreaker({
            trip: rate
              ? failureRate({ threshold: 0.5, minimumCalls: 2, windowMs: 2000, buckets: 4 })
              : consecutiveFailures(2),
            halfOpenAfter: (n) => 500 * n,
            halfOpenMaxProbes: maxProbes,
            halfOpenSuccesses: successes,
            probeTimeout: 4000,
            clock,
          });
          let manual: "isolate" | "reset" | undefined;
          const problems: string[] = [];
          b.onStateChange(({ from, to }) => {
            const t = `${from}->${to}`;
            const ok = LEGAL.has(t) ||
              (manual === "isolate" && to === "isolated") ||
              (manual === "reset" && to === "closed");
            if (!ok) problems.push(t);
          });
          // A probe holds its slot from its start until it settles or its caller aborts,
          // within one half-open period.
          let period = 0;
          b.onStateChange(({ to }) => {
            if (to === "half_open") period++;
          });
          const holding = new Set<object>();
          let maxHolding = 0;
          const pending: Array<{ settle: (outcome: "ok" | "fail") => void; abort: () => void }> =
            [];
          const handles: Array<{ dispose(): void }> = [];
          const calls: Promise<unknown>[] = [];
          for (const s of steps) {
            switch (s.op) {
              case "call": {
                const controller = new AbortController();
                const token = { period: -1 };
                let settle: ((outcome: "ok" | "fail") => void) | undefined;
                const release = () => holding.delete(token);
                const p = b.execute(() => {
                  if (b.state === "half_open") {
                    token.period = period;
                    for (const t of holding) {
                      if ((t as { period: number }).period !== period) holding.delete(t);
                    }
                    holding.add(token);
                    maxHolding = Math.max(maxHolding, holding.size);
                  }
                  if (s.outcome === "ok") return (release(), 1);
                  if (s.outcome === "fail") return (release(), Promise.reject(refusedError()));
                  if (s.outcome === "bug") return (release(), Promise.reject(new Error("bug")));
                  if (s.outcome === "cancel") {
                    return (release(), Promise.reject(new ConnectionError("cancelled")));
                  }
                  return new Promise((resolve, reject) => {
                    settle = (o) => {
                      release();
                      if (o === "ok") resolve(1);
                      else reject(refusedError());
                    };
                  });
                }, controller.signal);
                if (settle !== undefined) {
                  const settleNow = settle as (outcome: "ok" | "fail") => void;
                  let done = false;
                  pending.push({
                    settle: (o) => {
                      if (!done) (done = true, settleNow(o));
                    },
                    abort: () => (release(), controller.abort()),
                  });
                }
                calls.push(p.catch(() => {}));
                break;
              }
              case "settle": {
                const entry = pending.splice(s.index % Math.max(1, pending.length), 1)[0];
                entry?.settle(s.outcome);
                break;
              }
              case "abort":
                pending[s.index % Math.max(1, pending.length)]?.abort();
                break;
              case "advance":
                await clock.advance(s.ms);
                break;
              case "isolate":
                manual = "isolate";
                handles.push(b.isolate());
                manual = undefined;
                break;
              case "dispose":
                manual = "reset";
                handles.shift()?.dispose();
                manual = undefined;
                break;
              case "reset":
                manual = "reset";
                b.reset();
                manual = undefined;
                break;
            }
            await Promise.resolve();
          }
          for (const p of pending) p.settle("ok");
          await Promise.all(calls);
          assert.deepEqual(problems, []);
          assert.ok(maxHolding <= maxProbes, `${maxHolding} probes at once > ${maxProbes}`);
          assert.equal(clock.pendingTimers, 0);
          // Never stuck: with time, a healthy dependency closes it again.
          if (b.state === "isolated") b.reset();
          await clock.advance(10_000);
          for (let i = 0; i < successes + 2 && b.state !== "closed"; i++) {
            await b.execute(ok).catch(() => {});
            await clock.advance(10_000);
          }
          assert.equal(b.state, "closed");
        },
      ),
      { numRuns: 300 },
    );
  });
  test("circuitBreaker() without fleet: onFleetError never fires, close() and dispose do nothing", async () => {
    const breaker = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 1_000 });
    const subscription = breaker.onFleetError(() => assert.fail("no fleet, no fleet error"));
    breaker.close();
    breaker[Symbol.dispose]();
    subscription.dispose();
    assert.equal(await breaker.execute(() => "still works"), "still works");
  });
});
