// The operations are async functions on purpose: that is what a policy usually runs.
// deno-lint-ignore-file require-await
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { constantBackoff } from "./backoff.ts";
import { consecutiveFailures } from "./trip/consecutive_failures.ts";
import { bulkhead } from "./bulkhead.ts";
import { circuitBreaker } from "./circuit_breaker.ts";
import { fallback } from "./fallback.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { timeout } from "./timeout.ts";
import type { ExecutionContext, Policy } from "./types.ts";

/** A third-party policy (no hidden attempt parameter) that logs around the call. */
function logging(name: string, log: string[]): Policy {
  return {
    async execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal) {
      log.push(`enter ${name}`);
      try {
        return await fn({ signal: signal ?? new AbortController().signal, attempt: 1 });
      } finally {
        log.push(`exit ${name}`);
      }
    },
  };
}

/** A tiny retry that numbers its attempts and passes its signal through. */
function fakeRetry(attempts: number): Policy {
  return {
    async execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal) {
      for (let attempt = 1;; attempt++) {
        try {
          return await fn({ signal: signal ?? new AbortController().signal, attempt });
        } catch (error) {
          if (attempt >= attempts) throw error;
        }
      }
    },
  };
}

const refused = (): Error =>
  Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });

const never = (): Promise<never> => new Promise(() => {});

describe("pipeline()", () => {
  test("pipeline() runs the first policy outermost", async () => {
    const log: string[] = [];
    const policy = pipeline(logging("a", log), logging("b", log), logging("c", log));
    assert.equal(
      await policy.execute(() => {
        log.push("fn");
        return 1;
      }),
      1,
    );
    assert.deepEqual(log, ["enter a", "enter b", "enter c", "fn", "exit c", "exit b", "exit a"]);
  });

  test("pipeline() passes the attempt of the retry around them to inner policies", async () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    const policy = pipeline(
      fakeRetry(3),
      fallback("never used", { on: () => false }),
      bulkhead(1),
      timeout(1000, { clock }),
    );
    const result = await policy.execute((ctx) => {
      seen.push(ctx.attempt);
      if (ctx.attempt < 3) throw new Error(`fail ${ctx.attempt}`);
      return "third";
    });
    assert.equal(result, "third");
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(clock.pendingTimers, 0);
  });

  test("pipeline() gives inner policies and the operation the signal of a timeout around them", async () => {
    const clock = new ManualClock();
    let inner: AbortSignal | undefined;
    let opSignal: AbortSignal | undefined;
    const policy = pipeline(timeout(100, { clock }), {
      execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
        inner = signal;
        return Promise.resolve(fn({ signal: signal!, attempt: 1 }));
      },
    }, fallback(0));
    const outcome = policy.execute(({ signal }) => {
      opSignal = signal;
      return never();
    }).catch((e) => e);
    await clock.advance(100);
    const error = await outcome;
    assert.equal(error.kind, "timeout");
    assert.equal(inner!.aborted, true);
    assert.equal(inner!.reason, error);
    assert.equal(opSignal, inner);
  });

  test("pipeline() hands the caller's signal through faultline policies unchanged", async () => {
    const controller = new AbortController();
    const policy = pipeline(fallback(0), bulkhead(2), fallback(1));
    const seen = await policy.execute((ctx) => ctx.signal, controller.signal);
    assert.equal(seen, controller.signal);
  });

  test("pipeline() makes no AbortController when nobody gave or reads a signal", async () => {
    const Original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const clock = new ManualClock();
      const policy = pipeline(fallback(0), bulkhead(4), fallback(1), timeout(1000, { clock }));
      assert.equal(await policy.execute(async (ctx) => ctx.attempt), 1);
      assert.equal(made, 0);
    } finally {
      globalThis.AbortController = Original;
    }
  });

  test("pipeline() with no policy runs the operation as a pass-through", async () => {
    const policy = pipeline();
    assert.equal(await policy.execute((ctx) => ctx.attempt), 1);
    assert.equal(await policy.execute(async () => "async"), "async");
    const bug = new Error("bug");
    await assert.rejects(policy.execute(() => Promise.reject(bug)), (e) => e === bug);
    await assert.rejects(
      policy.execute(() => {
        throw refused();
      }),
      (e) => e instanceof ConnectionError && e.kind === "refused",
    );
    let called = false;
    await assert.rejects(
      policy.execute(() => (called = true), AbortSignal.abort()),
      (e) => e instanceof ConnectionError && e.kind === "cancelled",
    );
    assert.equal(called, false);
  });

  test("pipeline() of one policy is that policy, and nested pipelines are flattened", async () => {
    const log: string[] = [];
    const a = logging("a", log);
    assert.equal(pipeline(a), a);
    const nested = pipeline(pipeline(logging("x", log), logging("y", log)), logging("z", log));
    await nested.execute(() => log.push("fn"));
    assert.deepEqual(log, ["enter x", "enter y", "enter z", "fn", "exit z", "exit y", "exit x"]);
  });

  test("pipeline() refuses what is not a policy, naming its index", () => {
    const cases: [unknown, string][] = [
      [undefined, "undefined"],
      [null, "null"],
      [1, "1"],
      ["timeout", `"timeout"`],
      [{}, "an object without execute"],
      [() => {}, "a function"],
      [{ execute: 1 }, "an object without execute"],
      [Symbol("policy"), "Symbol(policy)"],
    ];
    for (const [bad, shown] of cases) {
      assert.throws(
        () => pipeline(fallback(0), bad as Policy),
        (e) =>
          e instanceof TypeError &&
          e.message ===
            `Cannot create pipeline as 'policies[1]' must be a Policy (an object with an execute method): current value is ${shown}`,
        String(bad),
      );
    }
  });

  test("pipeline() takes a function with an execute method as a policy", async () => {
    const callable = Object.assign(() => {}, {
      execute: <T>(fn: (ctx: ExecutionContext) => T | Promise<T>) =>
        Promise.resolve(fn({ signal: new AbortController().signal, attempt: 1 })),
    });
    assert.equal(await pipeline(retry(), callable).execute(() => "through"), "through");
  });

  test("pipeline() rejects an operation that is not a function, showing it", async () => {
    for (const [bad, shown] of [[{ a: 1 }, `{"a":1}`], ["op", `"op"`], [undefined, "undefined"]]) {
      await assert.rejects(
        pipeline(retry(), timeout(1000)).execute(bad as unknown as () => number),
        (e) =>
          e instanceof TypeError &&
          e.message ===
            `Cannot execute pipeline as 'fn' must be a function: current value is ${shown}`,
      );
    }
  });

  test("pipeline(retry(), timeout()) times out each attempt and retries it", async () => {
    const clock = new ManualClock();
    const attempts: number[] = [];
    const policy = pipeline(
      retry({ maxAttempts: 3, backoff: constantBackoff(10), clock }),
      timeout(100, { clock }),
    );
    const outcome = policy.execute((ctx) => {
      attempts.push(ctx.attempt);
      return never();
    }).catch((e) => e);
    await clock.advance(100);
    assert.deepEqual(attempts, [1]);
    await clock.advance(10);
    assert.deepEqual(attempts, [1, 2]);
    await clock.advance(220);
    const error = await outcome;
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "timeout");
    assert.equal(error.timeoutMs, 100);
    assert.equal(clock.pendingTimers, 0);
  });

  test("pipeline(timeout(), retry()) bounds the whole call, backoffs included", async () => {
    const clock = new ManualClock();
    const attempts: number[] = [];
    const policy = pipeline(
      timeout(250, { clock }),
      retry({ maxAttempts: 10, backoff: constantBackoff(100), clock }),
    );
    const outcome = policy.execute((ctx) => {
      attempts.push(ctx.attempt);
      return Promise.reject(refused());
    }).catch((e) => e);
    await clock.advance(250);
    const error = await outcome;
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "timeout");
    assert.equal(error.timeoutMs, 250);
    assert.equal(clock.pendingTimers, 0);
  });

  test("pipeline() of all five serves the fallback once the breaker opens", async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ trip: consecutiveFailures(2), halfOpenAfter: 1000, clock });
    const policy = pipeline(
      fallback("cached"),
      bulkhead(2),
      retry({ maxAttempts: 5, backoff: constantBackoff(0), clock }),
      breaker,
      timeout(100, { clock }),
    );
    let calls = 0;
    const result = await policy.execute(() => {
      calls++;
      return Promise.reject(refused());
    });
    assert.equal(result, "cached");
    assert.equal(calls, 2);
    assert.equal(breaker.state, "open");
    assert.equal(clock.pendingTimers, 0);
  });

  test("pipeline() of all five rejects as cancelled when the caller aborts during a backoff", async () => {
    const clock = new ManualClock();
    const policy = pipeline(
      fallback("cached"),
      bulkhead(2),
      retry({ maxAttempts: 5, backoff: constantBackoff(60_000), clock }),
      circuitBreaker({ trip: consecutiveFailures(10), halfOpenAfter: 1000, clock }),
      timeout(100, { clock }),
    );
    const controller = new AbortController();
    const outcome = policy.execute(() => Promise.reject(refused()), controller.signal).catch((e) =>
      e
    );
    await clock.advance(0);
    const reason = new Error("shutting down");
    controller.abort(reason);
    const error = await outcome;
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(error.cause, reason);
    assert.equal(clock.pendingTimers, 0);
  });
});
