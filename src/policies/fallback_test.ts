// The operations are async functions on purpose: that is what a policy usually runs.
// deno-lint-ignore-file require-await
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type AnyConnectionError, ConnectionError } from "../errors/connection_error.ts";
import { BulkheadRejectedError } from "./bulkhead.ts";
import { BrokenCircuitError } from "./broken_circuit_error.ts";
import { fallback, type FallbackEvent } from "./fallback.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { constantBackoff } from "./backoff.ts";

const refused = (): Error =>
  Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });

describe("fallback()", () => {
  test("fallback() serves a value when the operation fails with a connection error", async () => {
    const policy = fallback("cached");
    assert.equal(await policy.execute(() => Promise.reject(refused())), "cached");
    assert.equal(
      await policy.execute(() => {
        throw refused();
      }),
      "cached",
    );
  });

  test("fallback() returns the operation's value when it succeeds", async () => {
    const policy = fallback("cached");
    assert.equal(await policy.execute(() => "fresh"), "fresh");
    assert.equal(await policy.execute(async () => "fresh"), "fresh");
  });

  test("fallback() calls a function with the error as a ConnectionError", async () => {
    const seen: unknown[] = [];
    const policy = fallback((error) => {
      seen.push(error);
      return "computed";
    });
    const original = refused();
    assert.equal(await policy.execute(() => Promise.reject(original)), "computed");
    assert.ok(seen[0] instanceof ConnectionError);
    assert.equal((seen[0] as ConnectionError).kind, "refused");
    assert.equal((seen[0] as ConnectionError).cause, original);
  });

  test("fallback() awaits an async fallback function", async () => {
    const policy = fallback(async () => {
      await Promise.resolve();
      return 7;
    });
    assert.equal(await policy.execute(() => Promise.reject(refused())), 7);
  });

  test("fallback() always calls a function: wrap it to fall back to a function value", async () => {
    const useless = () => "I am the value";
    const policy = fallback(() => useless);
    assert.equal(await policy.execute<unknown>(() => Promise.reject(refused())), useless);
  });

  test("fallback() lets a bug and the caller's cancellation through untouched by default", async () => {
    const policy = fallback("cached");
    const bug = new TypeError("undefined is not a function");
    await assert.rejects(policy.execute(() => Promise.reject(bug)), (e) => e === bug);
    const cancelled = new ConnectionError("cancelled");
    await assert.rejects(policy.execute(() => Promise.reject(cancelled)), (e) => e === cancelled);
    const aborted = new DOMException("The operation was aborted.", "AbortError");
    await assert.rejects(
      policy.execute(() => Promise.reject(aborted)),
      (e) => e instanceof ConnectionError && e.kind === "cancelled" && e.cause === aborted,
    );
  });

  test("fallback() handles a full bulkhead and an open circuit by default", async () => {
    const policy = fallback("cached");
    assert.equal(
      await policy.execute(() => Promise.reject(new BulkheadRejectedError(1, 0))),
      "cached",
    );
    assert.equal(
      await policy.execute(() => Promise.reject(new BrokenCircuitError("open"))),
      "cached",
    );
    // Known by its brand, so another copy of faultline's errors count too,
    // and not by its name, which any error may carry.
    const fromAnotherCopy = Object.assign(new Error("open"), {
      [Symbol.for("faultline.BrokenCircuitError")]: true,
    });
    assert.equal(await policy.execute(() => Promise.reject(fromAnotherCopy)), "cached");
    class Impostor extends Error {
      override name = "BrokenCircuitError";
    }
    await assert.rejects(policy.execute(() => Promise.reject(new Impostor("open"))), Impostor);
  });

  test("fallback() with on: a list of kinds handles only those kinds", async () => {
    const policy = fallback("cached", { on: ["timeout", "reset"] });
    assert.equal(
      await policy.execute(() => Promise.reject(new ConnectionError("timeout"))),
      "cached",
    );
    await assert.rejects(
      policy.execute(() => Promise.reject(refused())),
      (e) => e instanceof ConnectionError && e.kind === "refused",
    );
    const single = fallback("cached", { on: "refused" });
    assert.equal(await single.execute(() => Promise.reject(refused())), "cached");
  });

  test("fallback() with on: a predicate sees the error and its normalized form", async () => {
    const calls: Array<[unknown, AnyConnectionError]> = [];
    const policy = fallback("cached", {
      on: (error, normalized) => {
        calls.push([error, normalized]);
        return normalized.kind === "unknown" && (error as Error).message === "http 503";
      },
    });
    const http = new Error("http 503");
    assert.equal(await policy.execute(() => Promise.reject(http)), "cached");
    assert.equal(calls[0]![0], http);
    assert.equal(calls[0]![1].kind, "unknown");
    const other = new Error("other");
    await assert.rejects(policy.execute(() => Promise.reject(other)), (e) => e === other);
  });

  test("fallback() rejects with what a fallback function throws", async () => {
    const thrown = new Error("no cache either");
    const policy = fallback(() => {
      throw thrown;
    });
    await assert.rejects(policy.execute(() => Promise.reject(refused())), (e) => e === thrown);
  });

  test("fallback() tells onFallback listeners and passes the attempt through", async () => {
    const fromOption: FallbackEvent[] = [];
    const policy = fallback(0, { onFallback: (e) => fromOption.push(e) });
    const events: FallbackEvent[] = [];
    policy.onFallback((e) => events.push(e));
    let attempt = 0;
    // The attempt of a retry outside it, in a pipeline: the first attempt's
    // error is not the fallback's to handle, the second's is.
    await pipeline(retry({ maxAttempts: 2, backoff: constantBackoff(0), on: () => true }), policy)
      .execute((ctx) => {
        attempt = ctx.attempt;
        return Promise.reject(ctx.attempt === 1 ? new Error("again") : refused());
      });
    assert.equal(attempt, 2);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.attempt, 2);
    assert.equal((events[0]!.error as ConnectionError).kind, "refused");
    assert.equal(fromOption.length, 1);
  });

  test("fallback() rejects before calling the operation when the signal has already aborted", async () => {
    const policy = fallback("cached");
    let called = false;
    await assert.rejects(
      policy.execute(() => (called = true), AbortSignal.abort()),
      (e) => e instanceof ConnectionError && e.kind === "cancelled",
    );
    assert.equal(called, false);
  });

  test("fallback() validates its options with messages naming them", () => {
    assert.throws(
      () => fallback(0, { on: 5 as unknown as "refused" }),
      (e) => e instanceof TypeError && e.message.includes("'on'"),
    );
    assert.throws(
      () => fallback(0, { on: [1] as unknown as ["refused"] }),
      (e) => e instanceof TypeError && e.message.includes("'on[0]'"),
    );
    assert.throws(
      () => fallback(0, { on: ["refusd"] as unknown as ["refused"] }),
      (e) => e instanceof RangeError && e.message.includes("'on[0]'"),
    );
    assert.throws(
      () => fallback(0, { onFallback: 1 as unknown as () => void }),
      (e) => e instanceof TypeError && e.message.includes("'onFallback'"),
    );
    assert.throws(
      () => fallback(0, "x" as never),
      (e) => e instanceof TypeError && e.message.includes("'options'"),
    );
  });

  test("fallback() copies a list of kinds at construction", async () => {
    const kinds: Array<"refused" | "reset"> = ["refused"];
    const policy = fallback("cached", { on: kinds });
    kinds[0] = "reset";
    assert.equal(await policy.execute(() => Promise.reject(refused())), "cached");
  });
});

test("fallback() serves a throttle's and a rate limit's refusal by default", async () => {
  const { ThrottledError } = await import("./throttled_error.ts");
  const { RateLimitedError } = await import("./rate_limited_error.ts");
  const policy = fallback("cached");
  for (const error of [new ThrottledError(0.5, 10, 2), new RateLimitedError(100)]) {
    assert.equal(await policy.execute(() => Promise.reject(error)), "cached", error.name);
  }
});

test("fallback() with on: a list of kinds lets an error it does not recognize through untouched", async () => {
  const policy = fallback("cached", { on: ["refused", "reset"] });
  const bug = new TypeError("not a connection failure");
  await assert.rejects(policy.execute(() => Promise.reject(bug)), (e) => e === bug);
});

test("fallback() with on: a predicate handles an error only when it returns true", async () => {
  const truthy = fallback("cached", { on: (() => 1) as never });
  const error = new Error("http 503");
  await assert.rejects(truthy.execute(() => Promise.reject(error)), (e) => e === error);
});

test("fallback() rejects with what an on predicate throws", async () => {
  const thrown = new Error("predicate bug");
  const policy = fallback("cached", {
    on: () => {
      throw thrown;
    },
  });
  await assert.rejects(policy.execute(() => Promise.reject(refused())), (e) => e === thrown);
});

test("fallback() passes a connection failure of the fallback function out as ConnectionError", async () => {
  const thrown = refused();
  const throwing = fallback(() => {
    throw thrown;
  });
  await assert.rejects(
    throwing.execute(() => Promise.reject(refused())),
    (e) => e instanceof ConnectionError && e.kind === "refused" && e.cause === thrown,
  );
  const rejected = refused();
  const rejecting = fallback(async () => {
    throw rejected;
  });
  await assert.rejects(
    rejecting.execute(() => Promise.reject(refused())),
    (e) => e instanceof ConnectionError && e.kind === "refused" && e.cause === rejected,
  );
});

test("fallback() refuses an fn that is not a function, naming the policy", async () => {
  await assert.rejects(fallback(0).execute(5 as never), {
    name: "TypeError",
    message: "Cannot execute fallback as 'fn' must be a function: current value is 5",
  });
});
