// How pipeline() runs faultline's own policies (one strategy each, _engine.ts):
// the same outcomes as the policies nested by hand through their public
// execute, with one promise per call, whatever the callbacks throw.
// deno-lint-ignore-file require-await
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { constantBackoff } from "./backoff.ts";
import { consecutiveFailures } from "./trip/consecutive_failures.ts";
import type { TripStrategy } from "./trip/types.ts";
import { circuitBreaker } from "./circuit_breaker.ts";
import { bulkhead } from "./bulkhead.ts";
import { fallback } from "./fallback.ts";
import { hedge } from "./hedge.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import type { RetryBudget } from "./retry_budget.ts";
import { queueOf, timeout, TimeoutPolicy } from "./timeout.ts";
import type { ExecutionContext, Policy } from "./types.ts";

const refused = (): Error =>
  Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });

/**
 * What one attempt does. Besides outcomes, the generators include errors
 * that make a user's callback throw: retry's `on` ("bad-on"), its
 * `handleResult` ("bad-result"), the breaker's `on` ("bad-count") and the
 * fallback function ("bad-fallback"). Each must reject that call, the same
 * way in a pipeline and nested by hand.
 */
type Step =
  | "ok"
  | "value"
  | "refused"
  | "throw"
  | "plain"
  | "hang"
  | "thenable"
  | "bad-on"
  | "bad-result"
  | "bad-count"
  | "bad-fallback";

const marked = (message: string): Error =>
  Object.assign(new Error(message), { code: "ECONNRESET" });

/** One attempt of an operation, as the step says. */
function perform(step: Step, _ctx: ExecutionContext): unknown {
  switch (step) {
    case "ok":
      return Promise.resolve("ok");
    case "value":
      return "sync value";
    case "refused":
      return Promise.reject(refused());
    case "throw":
      throw refused();
    case "plain":
      return Promise.reject(new Error("not a connection error"));
    case "hang":
      return new Promise(() => {});
    case "thenable":
      // Calls back three times: only the first may count.
      return {
        then(resolve: (v: unknown) => void, reject: (e: unknown) => void) {
          resolve("thenable");
          resolve("again");
          reject(refused());
        },
      };
    case "bad-on":
    case "bad-count":
    case "bad-fallback":
      return Promise.reject(marked(step));
    case "bad-result":
      return "bad-result";
  }
}

function build(clock: ManualClock) {
  const log: string[] = [];
  const r = retry({
    maxAttempts: 3,
    backoff: constantBackoff(10),
    clock,
    on: (e, n) => {
      if ((e as Error).message === "bad-on") throw new Error("retry's on threw");
      return n?.retryable === true;
    },
    handleResult: (v) => {
      if (v === "bad-result") throw new Error("handleResult threw");
      return false;
    },
  });
  const b = circuitBreaker({
    trip: consecutiveFailures(3),
    halfOpenAfter: 50,
    clock,
    on: (e, n) => {
      if ((e as Error).message === "bad-count") throw new Error("breaker's on threw");
      return n.kind !== "unknown" && n.kind !== "cancelled";
    },
  });
  const t = timeout(20, { clock });
  r.onRetry((e) => log.push(`retry ${e.attempt}`));
  r.onGiveUp((e) => log.push(`give up ${e.attempts} ${e.reason}`));
  b.onStateChange((e) => log.push(`${e.from}->${e.to}`));
  t.onTimeout(() => log.push("timeout"));
  const f = fallback((e: unknown) => {
    if ((e as Error).message === "bad-fallback") throw new Error("fallback threw");
    return `served ${(e as Error).name}`;
  }, {
    on: (e) => (e as Error).message !== "not a connection error",
  });
  f.onFallback(() => log.push("fallback"));
  const h = bulkhead(1);
  return { r, b, t, f, h, log };
}

function describeOutcome(settled: { value?: unknown; error?: unknown }): string {
  if (!("error" in settled)) return `value ${String(settled.value)}`;
  const e = settled.error;
  if (e instanceof ConnectionError) return `${e.name} ${e.kind}`;
  return `${(e as Error).name}: ${(e as Error).message}`;
}

/** Runs `calls` one after the other, advancing the clock until each settles. */
async function drive(
  clock: ManualClock,
  run: (fn: (ctx: ExecutionContext) => unknown) => Promise<unknown>,
  calls: Step[][],
): Promise<string[]> {
  const seen: string[] = [];
  for (const steps of calls) {
    let attempt = 0;
    const settled: { value?: unknown; error?: unknown } = {};
    let done = false;
    let result: Promise<unknown>;
    try {
      result = run((ctx) => perform(steps[attempt++ % steps.length]!, ctx));
    } catch (error) {
      throw new Error(`execute threw synchronously: ${String(error)}`);
    }
    result.then(
      (value) => (settled.value = value, done = true),
      (error) => (settled.error = error, done = true),
    );
    // Microtask turns first (cheap), then timer by timer.
    for (let i = 0; i < 30 && !done; i++) await null;
    for (let i = 0; i < 50 && !done; i++) if (!await clock.next()) break;
    seen.push(`${describeOutcome(settled)} after ${attempt}`);
    await clock.advance(60); // past halfOpenAfter, so that the breaker moves on
  }
  return seen;
}

type Policies = ReturnType<typeof build>;

const STEPS: Step[] = [
  "ok",
  "value",
  "refused",
  "throw",
  "plain",
  "hang",
  "thenable",
  "bad-on",
  "bad-result",
  "bad-count",
  "bad-fallback",
];

/**
 * Property: over random sequences of calls, a pipeline of a set of policies
 * ends every call, and fires every event, as the same policies, freshly
 * made, nested by hand through their public `execute` do.
 */
async function sameAsNested(
  maxCalls: number,
  numRuns: number,
  piped: (x: Policies) => Policy,
  nested: (x: Policies, fn: (ctx: ExecutionContext) => unknown) => Promise<unknown>,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.constantFrom(...STEPS), { minLength: 1, maxLength: 3 }), {
        minLength: 1,
        maxLength: maxCalls,
      }),
      async (calls) => {
        const c1 = new ManualClock();
        const x = build(c1);
        const p = piped(x);
        const a = await drive(c1, (fn) => p.execute(fn), calls);
        const c2 = new ManualClock();
        const y = build(c2);
        const b = await drive(c2, (fn) => nested(y, fn), calls);
        assert.deepEqual(a, b);
        assert.deepEqual(x.log, y.log);
        assert.equal(x.b.state, y.b.state);
        assert.equal(x.h.executing, y.h.executing);
        assert.equal(c1.pendingTimers, 0);
        assert.equal(c2.pendingTimers, 0);
        assert.equal(queueOf(x.t).live, queueOf(y.t).live);
      },
    ),
    { numRuns },
  );
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

describe("pipeline() layers", () => {
  test("pipeline(retry, circuitBreaker, timeout) ends every call as the policies nested by hand do", async () => {
    await sameAsNested(
      8,
      60,
      (x) => pipeline(x.r, x.b, x.t),
      (x, fn) => x.r.execute((c1) => x.b.execute((c2) => x.t.execute(fn, c2.signal), c1.signal)),
    );
  });

  test("pipeline(fallback, retry, circuitBreaker, timeout, bulkhead) ends every call as the policies nested by hand do", async () => {
    await sameAsNested(
      6,
      40,
      (x) => pipeline(x.f, x.r, x.b, x.t, x.h),
      (x, fn) =>
        x.f.execute((c0) =>
          x.r.execute(
            (c1) =>
              x.b.execute(
                (c2) => x.t.execute((c3) => x.h.execute(fn, c3.signal), c2.signal),
                c1.signal,
              ),
            c0.signal,
          )
        ),
    );
  });

  test("pipeline() frees a bulkhead slot however a call ends", async () => {
    const clock = new ManualClock();
    const h = bulkhead(1);
    const policy = pipeline(h, timeout(10, { clock }));
    for (const step of ["ok", "value", "refused", "throw", "plain", "thenable"] as const) {
      await policy.execute((ctx) => perform(step, ctx)).catch(() => {});
      assert.equal(h.executing, 0, step);
    }
    const hung = policy.execute((ctx) => perform("hang", ctx)).catch((e: ConnectionError) =>
      e
    ) as Promise<ConnectionError>;
    assert.equal(h.executing, 1);
    await clock.advance(10);
    assert.equal((await hung).kind, "timeout");
    assert.equal(h.executing, 0);
  });

  test("pipeline() queues for a full bulkhead, and turns away a call beyond its queue", async () => {
    const h = bulkhead(1, { queue: 1 });
    const policy = pipeline(retry({ maxAttempts: 1 }), h);
    let release!: (v: string) => void;
    const first = policy.execute(() => new Promise<string>((r) => (release = r)));
    const second = policy.execute(async () => "second");
    const third = await policy.execute(async () => "third").catch((e) => e);
    assert.equal(third.name, "BulkheadRejectedError");
    assert.equal(h.executing, 1);
    assert.equal(h.queued, 1);
    release("first");
    assert.deepEqual(await Promise.all([first, second]), ["first", "second"]);
    assert.equal(h.executing, 0);
    assert.equal(h.queued, 0);
  });

  test("pipeline() runs an execute replaced on the instance, and a Proxy of a policy, through execute", async () => {
    const t = timeout(1000);
    let calls = 0;
    const original = t.execute.bind(t);
    t.execute = ((...args: Parameters<typeof original>) => {
      calls++;
      return original(...args);
    }) as typeof t.execute;
    assert.equal(await pipeline(retry(), t).execute(async () => 1), 1);
    assert.equal(calls, 1);

    const target = timeout(1000);
    const proxy = new Proxy(target, {
      get(object, key) {
        const value = Reflect.get(object, key);
        return typeof value === "function" ? value.bind(object) : value;
      },
    });
    assert.equal(await pipeline(retry(), proxy).execute(async () => 2), 2);
  });

  test("pipeline() runs a subclass of a policy through the subclass's own execute", async () => {
    const seen: string[] = [];
    class Logged extends TimeoutPolicy {
      override execute<T>(
        fn: (ctx: ExecutionContext) => T | Promise<T>,
        signal?: AbortSignal,
      ): Promise<T> {
        seen.push("logged");
        return super.execute(fn, signal);
      }
    }
    assert.equal(await pipeline(retry(), new Logged(1000)).execute(async () => 3), 3);
    assert.deepEqual(seen, ["logged"]);
  });

  test("pipeline() ends when a third-party layer does, while the operation inside it still runs", async () => {
    const clock = new ManualClock();
    // A layer of the caller's making that gives up after 10 ms, whatever its operation does.
    const impatient: Policy = {
      execute: <T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal) =>
        new Promise<T>((resolve, reject) => {
          clock.setTimeout(() => reject(new Error("gave up")), 10);
          Promise.resolve(fn({ signal: signal ?? new AbortController().signal, attempt: 1 }))
            .then(resolve, reject);
        }),
    };
    const call = pipeline(impatient, retry()).execute(() => new Promise<never>(() => {}));
    const outcome = call.then(() => "resolved", (e: Error) => e.message);
    await clock.advance(10);
    assert.equal(await outcome, "gave up");
  });

  test("pipeline() rejects with the error of a trip counter whose success() throws", async () => {
    const boom = new Error("boom");
    const trip = {
      create: () => ({
        success() {
          throw boom;
        },
        failure: () => false,
        reset() {},
        toJSON: () => ({ type: "custom" }),
        restore() {},
      }),
    };
    const breaker = circuitBreaker({ trip: trip as unknown as TripStrategy, halfOpenAfter: 100 });
    const policy = pipeline(retry(), breaker);
    assert.equal(await policy.execute(async () => 1).catch((e) => e), boom);
    assert.equal(await policy.execute(() => 1).catch((e) => e), boom);
    assert.equal(await breaker.execute(async () => 1).catch((e) => e), boom);
  });

  test("pipeline() rejects, frees its bulkhead slot and drops its listener when a retry budget throws", async () => {
    const broken = new Error("budget down");
    const budget = {
      recordCall() {
        throw broken;
      },
      tryRetry: () => true,
    } as unknown as RetryBudget;
    const h = bulkhead(1);
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    const policy = pipeline(h, timeout(1000), retry({ budget }));
    const error = await policy.execute(async () => 1, controller.signal).catch((e) => e);
    assert.equal(error, broken);
    assert.equal(h.executing, 0);
    assert.equal(listeners.live, 0);
    assert.equal(await retry({ budget }).execute(async () => 1).catch((e) => e), broken);
  });

  test("pipeline() ends as timeout.execute does when the operation aborts the caller's signal and returns a value", async () => {
    for (
      const make of [() => timeout(1000), () => pipeline(retry({ maxAttempts: 1 }), timeout(1000))]
    ) {
      const controller = new AbortController();
      const value = await make().execute(() => {
        controller.abort();
        return 42;
      }, controller.signal);
      assert.equal(value, 42);
    }
  });

  test("pipeline() of faultline's own policies settles one microtask turn after its operation, however many layers", async () => {
    const turnsToSettle = async (promise: Promise<unknown>): Promise<number> => {
      let settled = false;
      promise.then(() => (settled = true), () => (settled = true));
      let n = 0;
      while (!settled && n < 100) {
        await null;
        n++;
      }
      return n;
    };
    const op = async () => 1;
    const bare = await turnsToSettle(op());
    const policies = (): Policy[] => [
      retry(),
      circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 1000 }),
      timeout(1000),
      fallback(0) as Policy,
      bulkhead(2),
    ];
    for (let i = 0; i < 5; i++) {
      const layer = policies()[i]!;
      const turns = await turnsToSettle(pipeline(layer, timeout(1000)).execute(op));
      assert.equal(turns, bare + 1, `pipeline(${layer.constructor.name}, timeout)`);
    }
    assert.equal(await turnsToSettle(pipeline(...policies()).execute(op)), bare + 1);
    // A pipeline inside a pipeline is flattened: its layers run as the outer one's.
    const [r, b, t, f, h] = policies();
    const nested = pipeline(pipeline(r!, b!), pipeline(t!, pipeline(f!, h!)));
    assert.equal(await turnsToSettle(nested.execute(op)), bare + 1);
    // A value the operation returns at once is handed out at once.
    for (const value of [7, null, undefined]) {
      assert.equal(await turnsToSettle(pipeline(...policies()).execute(() => value)), 1);
      assert.equal(await turnsToSettle(retry().execute(() => value)), 1);
    }
    // Through execute, each layer waits on the promise of the one inside it.
    const wrapped = policies().map((p): Policy => ({
      execute: (fn, signal) => p.execute(fn, signal),
    }));
    assert.ok(await turnsToSettle(pipeline(...wrapped).execute(op)) > bare + 5);
  });

  test("execute() never throws synchronously, even when the value it settles with or the operation returns is a promise whose constructor getter throws", async () => {
    const hostile = (): Promise<number> => {
      const p = Promise.resolve(7);
      Object.defineProperty(p, "constructor", {
        get() {
          throw new Error("constructor getter");
        },
      });
      return p;
    };
    const refusedNow = () => {
      throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    };
    const policies: Policy[] = [
      fallback(hostile()) as Policy,
      pipeline(fallback(hostile()) as Policy, retry({ maxAttempts: 1 })),
      pipeline(retry(), fallback(hostile()) as Policy),
    ];
    for (const policy of policies) {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => (promise = policy.execute(refusedNow)));
      await assert.rejects(promise!, /constructor getter/);
    }
    for (const policy of [retry(), pipeline(retry(), fallback(0) as Policy)]) {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => (promise = policy.execute(hostile)));
      await assert.rejects(promise!, /constructor getter/);
    }
  });

  test("pipeline() rejects at once, without running the operation, when the caller's signal has aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    const first = (): Policy[] => [
      retry(),
      circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 1000 }),
      timeout(1000),
      fallback(0) as Policy,
      bulkhead(2),
    ];
    for (const layer of first()) {
      let calls = 0;
      const error = await pipeline(layer, timeout(1000)).execute(() => calls++, controller.signal)
        .catch((e) => e);
      assert.ok(error instanceof ConnectionError, layer.constructor.name);
      assert.equal(error.kind, "cancelled");
      assert.equal(calls, 0);
    }
  });

  test("pipeline() keeps retry's result check, deadline and success event", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const checked = pipeline(
      retry({
        maxAttempts: 3,
        backoff: constantBackoff(0),
        handleResult: (r) => r === "busy",
        clock,
      }),
      timeout(1000, { clock }),
    );
    assert.equal(await checked.execute(() => ++calls < 3 ? "busy" : "done"), "done");
    assert.equal(calls, 3);

    const succeeded: number[] = [];
    const watched = retry({ maxAttempts: 3, backoff: constantBackoff(0), clock });
    watched.onSuccess((e) => succeeded.push(e.attempts));
    calls = 0;
    await pipeline(watched, timeout(1000, { clock })).execute(() => {
      if (++calls < 2) throw refused();
      return "ok";
    });
    assert.deepEqual(succeeded, [2]);

    const bounded = pipeline(
      retry({ maxAttempts: 10, backoff: constantBackoff(100), deadline: 250, clock }),
      timeout(1000, { clock }),
    );
    calls = 0;
    const outcome = bounded.execute(() => (calls++, Promise.reject(refused()))).catch((e) => e);
    for (let i = 0; i < 10; i++) await clock.advance(100);
    assert.equal((await outcome).kind, "refused");
    assert.equal(calls, 3, "attempts at 0, 100 and 200 ms; the next wait would end past 250");
  });

  test("a retry inside a third-party layer reads the signal of the context it is given once", async () => {
    let reads = 0;
    const signal = new AbortController().signal;
    const outer: Policy = {
      execute: (fn) =>
        Promise.resolve(fn({
          attempt: 1,
          get signal() {
            reads++;
            return signal;
          },
        })),
    };
    let attempts = 0;
    const op = () => {
      if (++attempts < 2) throw new ConnectionError("refused");
      return "second";
    };
    assert.equal(
      await pipeline(outer, retry({ backoff: constantBackoff(0) })).execute(op),
      "second",
    );
    assert.equal(reads, 1);
  });

  test("pipeline() gives a third-party innermost layer the operation itself", async () => {
    let given: unknown;
    const spy: Policy = {
      execute(fn, signal) {
        given = fn;
        return Promise.resolve(fn({ signal: signal ?? new AbortController().signal, attempt: 1 }));
      },
    };
    const op = () => 7;
    assert.equal(await pipeline(retry(), spy).execute(op), 7);
    assert.equal(given, op);
  });

  test("pipeline() runs a Proxy whose traps throw, and a layer whose execute throws, through execute", async () => {
    const target = timeout(1000);
    const hostile = new Proxy(target, {
      getPrototypeOf() {
        throw new Error("no prototype for you");
      },
      get(object, key) {
        const value = Reflect.get(object, key);
        return typeof value === "function" ? value.bind(object) : value;
      },
    });
    assert.equal(await pipeline(retry(), hostile).execute(async () => 3), 3);

    const broken = new Error("execute threw");
    const throwing: Policy = {
      execute() {
        throw broken;
      },
    };
    const t = timeout(1000);
    const error = await pipeline(retry(), throwing, t).execute(async () => 4).catch((e) => e);
    assert.equal(error, broken);
    assert.equal(queueOf(t).live, 0);
  });

  test("execute() called on something that is not a faultline policy rejects, and a null signal is no signal", async () => {
    const r = retry();
    let promise: Promise<unknown> | undefined;
    assert.doesNotThrow(() => (promise = r.execute.call({} as typeof r, () => 1)));
    await assert.rejects(promise!, new TypeError("Cannot execute: not a faultline policy"));
    // deno-lint-ignore no-explicit-any
    assert.equal(await r.execute(() => 2, null as any), 2);
    // deno-lint-ignore no-explicit-any
    assert.equal(await pipeline(r, timeout(1000)).execute(() => 3, null as any), 3);
  });

  test("pipeline() lets a third-party layer end the call before its operation does, and hands it ConnectionErrors", async () => {
    // A third-party layer that answers at once, leaving the operation inside to run on.
    const impatient: Policy = {
      execute: () => Promise.resolve("early" as never),
    };
    let release!: () => void;
    const inner = new Promise<void>((r) => (release = r));
    assert.equal(
      await pipeline(impatient, retry()).execute(async () => {
        await inner;
        return "late";
      }),
      "early",
    );
    release();
    // What leaves faultline's layers for a third-party one leaves as from a call.
    let seen: unknown;
    const watching: Policy = {
      execute: (fn, signal) =>
        Promise.resolve(fn({ signal: signal ?? new AbortController().signal, attempt: 1 }))
          .catch((e) => {
            seen = e;
            throw e;
          }),
    };
    const raw = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    await assert.rejects(
      pipeline(
        watching,
        retry({ maxAttempts: 1 }),
        circuitBreaker({
          trip: consecutiveFailures(5),
          halfOpenAfter: 100,
        }),
      ).execute(() => Promise.reject(raw)),
    );
    assert.ok(seen instanceof ConnectionError, "the third-party layer saw a ConnectionError");
    assert.equal((seen as ConnectionError).cause, raw);
  });

  test("timeout() rejects with the error a promise's constructor getter throws, without throwing", async () => {
    const boom = new Error("constructor getter");
    const hostile = Promise.resolve(1);
    Object.defineProperty(hostile, "constructor", {
      get() {
        throw boom;
      },
    });
    for (const policy of [timeout(1000), pipeline(retry({ maxAttempts: 1 }), timeout(1000))]) {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => (promise = policy.execute(() => hostile)));
      assert.equal(await promise!.catch((e) => e), boom);
    }
  });

  test("pipeline() counts a thenable that calls back more than once as one success", async () => {
    const breaker = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 1000 });
    const policy = pipeline(retry({ maxAttempts: 1 }), breaker, timeout(1000));
    const value = await policy.execute(() =>
      perform("thenable", { attempt: 1 } as ExecutionContext)
    );
    assert.equal(value, "thenable");
    assert.equal(breaker.state, "closed");
  });

  test("pipeline() rejects an operation that is not a function, naming it", async () => {
    const policy = pipeline(retry(), timeout(1000));
    await assert.rejects(
      policy.execute(42 as unknown as () => number),
      (e) =>
        e instanceof TypeError &&
        e.message === "Cannot execute pipeline as 'fn' must be a function: current value is 42",
    );
  });

  test("pipeline() with a timeout settles at once when the operation aborts the caller's signal", async () => {
    const clock = new ManualClock();
    const t = timeout(1000, { clock });
    const policy = pipeline(retry({ maxAttempts: 2 }), t);
    const controller = new AbortController();
    let calls = 0;
    const error = await policy.execute(() => {
      calls++;
      controller.abort(new Error("stop"));
      return new Promise(() => {});
    }, controller.signal).catch((e) => e);
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(calls, 1);
    assert.equal(queueOf(t).live, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("pipeline() rejects as execute does when a breaker's predicate throws", async () => {
    const breaker = () =>
      circuitBreaker({
        trip: consecutiveFailures(1),
        halfOpenAfter: 1000,
        on: () => {
          throw new Error("predicate broke");
        },
      });
    const alone = breaker();
    const inPipeline = breaker();
    const policy = pipeline(fallback("unused", { on: () => false }), inPipeline, timeout(1000));
    const viaPipeline = await policy.execute(() => Promise.reject(refused())).catch((e) => e);
    const viaExecute = await alone.execute(() => Promise.reject(refused())).catch((e) => e);
    assert.equal(viaPipeline.name, viaExecute.name);
    assert.equal(viaPipeline.kind, viaExecute.kind);
    assert.equal(inPipeline.state, alone.state);
  });

  test("pipeline() runs an open breaker's refusal and half-open probe through the breaker's gate", async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 100, clock });
    const policy = pipeline(retry({ maxAttempts: 1 }), breaker, timeout(1000, { clock }));
    let calls = 0;
    await policy.execute(() => (calls++, Promise.reject(refused()))).catch(() => {});
    assert.equal(breaker.state, "open");
    const refusal = await policy.execute(() => (calls++, "never")).catch((e) => e);
    assert.equal(refusal.name, "BrokenCircuitError");
    assert.equal(calls, 1);
    await clock.advance(100);
    assert.equal(await policy.execute((ctx) => (calls++, `probe ${ctx.attempt}`)), "probe 1");
    assert.equal(breaker.state, "closed");
    assert.equal(calls, 2);
    assert.equal(clock.pendingTimers, 0);
  });

  test("pipeline() leaves no listener on a long-lived signal after many calls", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    const t = timeout(1000, { clock });
    const policy: Policy = pipeline(
      retry({ maxAttempts: 2, backoff: constantBackoff(0), clock }),
      circuitBreaker({ trip: consecutiveFailures(1000), halfOpenAfter: 100, clock }),
      t,
    );
    for (let i = 0; i < 200; i++) {
      await policy.execute(async (ctx) => {
        if (ctx.attempt === 1 && i % 2 === 0) throw refused();
        return i;
      }, controller.signal);
    }
    assert.equal(listeners.live, 0);
    assert.equal(queueOf(t).live, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  // A timeout's or a hedge attempt's signal is made only when read; the
  // layers inside hear the context itself. In Node and Bun an AbortController
  // and a listener on its signal cost more than the rest of such a call.
  test("a pipeline makes no AbortController for an operation that never reads its signal", async () => {
    const Real = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Real {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const clock = new ManualClock();
      const pipelines: Policy[] = [
        pipeline(
          timeout(5000, { clock }),
          retry({ clock }),
          circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 1000, clock }),
          timeout(1000, { clock }),
        ),
        pipeline(hedge({ delay: 1000, clock }), timeout(1000, { clock })),
        pipeline(hedge({ delay: 1000, clock }), retry({ clock }), timeout(1000, { clock })),
      ];
      for (const policy of pipelines) assert.equal(await policy.execute(async () => 42), 42);
      assert.equal(made, 0);
      // Read, it is made, and is the signal of the layer the operation runs in.
      await pipelines[0]!.execute((ctx) => assert.ok(ctx.signal instanceof AbortSignal));
      assert.equal(made, 1);
    } finally {
      globalThis.AbortController = Real;
    }
  });

  test("a timeout inside a timeout aborts its operation with the outer one's error, and never fires itself", async () => {
    const clock = new ManualClock();
    const outer = timeout(100, { clock });
    const inner = timeout(1000, { clock });
    const fired: number[] = [];
    outer.onTimeout(() => fired.push(100));
    inner.onTimeout(() => fired.push(1000));
    let signal: AbortSignal | undefined;
    const call = pipeline(outer, inner).execute((ctx) => {
      signal = ctx.signal;
      return new Promise(() => {});
    });
    const settled = call.catch((e: unknown) => e);
    await clock.advance(100);
    const error = await settled;
    assert.ok(error instanceof ConnectionError && error.kind === "timeout");
    assert.equal(error.timeoutMs, 100);
    assert.equal(signal!.aborted, true);
    assert.equal(signal!.reason, error, "the operation sees why it was given up");
    assert.equal(queueOf(inner).live, 0, "the inner timeout left its queue");
    await clock.advance(1000);
    assert.deepEqual(fired, [100]);
    assert.equal(clock.pendingTimers, 0);
  });

  test("an outer timeout that ends before the operation reads its signal still hands on an aborted one", async () => {
    const clock = new ManualClock();
    const outer = timeout(100, { clock });
    let read: (() => AbortSignal) | undefined;
    const call = pipeline(outer, retry({ clock }), timeout(1000, { clock })).execute((ctx) => {
      read = () => ctx.signal;
      return new Promise(() => {});
    }).catch((e: unknown) => e);
    await clock.advance(100);
    const error = await call;
    const signal = read!();
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, error);
  });

  test("a timeout inside a hedge stops with the attempt the hedge abandons", async () => {
    const clock = new ManualClock();
    const inner = timeout(1000, { clock });
    let timeouts = 0;
    inner.onTimeout(() => timeouts++);
    const signals: AbortSignal[] = [];
    const call = pipeline(hedge({ delay: 10, clock }), inner).execute((ctx) => {
      signals.push(ctx.signal);
      return ctx.attempt === 1 ? new Promise(() => {}) : "second";
    });
    await clock.advance(10);
    assert.equal(await call, "second");
    assert.equal(signals.length, 2);
    assert.equal(signals[0]!.aborted, true, "the first attempt's operation is told");
    assert.ok(signals[0]!.reason instanceof ConnectionError);
    assert.equal(signals[0]!.reason.kind, "cancelled");
    assert.equal(signals[1]!.aborted, false);
    assert.equal(queueOf(inner).live, 0);
    await clock.advance(1000);
    assert.equal(timeouts, 0, "an abandoned attempt does not time out");
    assert.equal(clock.pendingTimers, 0);
  });

  test("a retry inside a timeout runs its first attempt in the timeout's context, and the rest under its signal", async () => {
    const clock = new ManualClock();
    const seen: Array<[number, boolean]> = [];
    let first: ExecutionContext | undefined;
    const call = pipeline(
      timeout(100, { clock }),
      retry({ maxAttempts: 3, backoff: constantBackoff(10), clock }),
    ).execute((ctx) => {
      first ??= ctx;
      seen.push([ctx.attempt, ctx.signal.aborted]);
      if (ctx.attempt < 3) throw refused();
      return new Promise(() => {});
    }).catch((e: unknown) => e);
    await clock.advance(20);
    assert.deepEqual(seen, [[1, false], [2, false], [3, false]]);
    await clock.advance(80);
    const error = await call;
    assert.ok(error instanceof ConnectionError && error.kind === "timeout");
    assert.equal(first!.signal.aborted, true);
    assert.equal(first!.signal.reason, error);
  });

  test("an outer timeout ends a half-open probe and the timeout inside it, in the order they listened", async () => {
    const clock = new ManualClock();
    const inner = timeout(1000, { clock });
    let innerTimeouts = 0;
    inner.onTimeout(() => innerTimeouts++);
    const breaker = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 50, clock });
    const policy = pipeline(timeout(100, { clock }), breaker, inner);
    await policy.execute(() => Promise.reject(refused())).catch(() => {});
    assert.equal(breaker.state, "open");
    await clock.advance(50);
    let signal: AbortSignal | undefined;
    const probe = policy.execute((ctx) => {
      signal = ctx.signal;
      return new Promise(() => {});
    }).catch((e: unknown) => e);
    assert.equal(breaker.state, "half_open");
    await clock.advance(100);
    const error = await probe;
    assert.ok(error instanceof ConnectionError && error.kind === "timeout");
    assert.equal(error.timeoutMs, 100);
    assert.equal(signal!.reason, error);
    // The inner timeout listened first, so the probe hears a timeout, not a
    // cancellation: it counts as a failed probe, as with nested signals.
    assert.equal(breaker.state, "open");
    assert.equal(queueOf(inner).live, 0);
    await clock.advance(1000);
    assert.equal(innerTimeouts, 0);
    // A probe that succeeds through the same layers leaves each of them.
    assert.equal(await policy.execute(() => "closed again"), "closed again");
    assert.equal(breaker.state, "closed");
    assert.equal(clock.pendingTimers, 0);
  });

  test("a retry inside a retry counts its own attempts from 1 on every outer attempt", async () => {
    const seen: number[] = [];
    const policy = pipeline(
      retry({ maxAttempts: 2, backoff: constantBackoff(0) }),
      retry({ maxAttempts: 2, backoff: constantBackoff(0) }),
    );
    await policy.execute((ctx) => {
      seen.push(ctx.attempt);
      throw refused();
    }).catch(() => {});
    assert.deepEqual(seen, [1, 2, 1, 2]);
  });

  test("an operation that aborts the caller's signal, then reads its timeout's signal, finds it aborted: one signal however often read", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const why = new Error("user gave up");
    let reads: AbortSignal[] = [];
    let seen: [boolean, unknown] | undefined;
    const error = await pipeline(timeout(1000, { clock }), timeout(500, { clock })).execute(
      (ctx) => {
        controller.abort(why); // before the layers listen: they do once the operation returns
        reads = [ctx.signal, ctx.signal];
        seen = [reads[0]!.aborted, reads[0]!.reason];
        return new Promise(() => {});
      },
      controller.signal,
    ).catch((e: unknown) => e);
    assert.deepEqual(seen, [true, why], "aborted when read");
    assert.equal(reads[0], reads[1], "the same signal on every read");
    assert.ok(error instanceof ConnectionError && error.kind === "cancelled");
    assert.equal(error.cause, why);
    assert.equal(clock.pendingTimers, 0);
  });

  test("a hedge attempt abandoned while its operation runs leaves no timeout inside it waiting", async () => {
    const clock = new ManualClock();
    const inner = timeout(1000, { clock });
    let timeouts = 0;
    inner.onTimeout(() => timeouts++);
    const controller = new AbortController();
    const call = pipeline(hedge({ delay: 10, clock }), inner).execute((ctx) => {
      // The second attempt's operation ends the call: the hedge abandons that
      // attempt before the timeout inside it has begun to listen.
      if (ctx.attempt === 2) controller.abort();
      return new Promise(() => {});
    }, controller.signal).catch((e: unknown) => e);
    await clock.advance(10);
    const error = await call;
    assert.ok(error instanceof ConnectionError && error.kind === "cancelled");
    assert.equal(queueOf(inner).live, 0);
    await clock.advance(1000);
    assert.equal(timeouts, 0);
    assert.equal(clock.pendingTimers, 0);
  });
});
