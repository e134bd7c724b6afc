// instrument()'s metrics against the real OpenTelemetry SDK (tests/support/otel_sdk.ts),
// as a collector would receive them. Time is a ManualClock, so every duration is exact.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { constantBackoff } from "../policies/backoff.ts";
import { bulkhead } from "../policies/bulkhead.ts";
import { chaos } from "../policies/chaos.ts";
import { circuitBreaker } from "../policies/circuit_breaker.ts";
import { fallback } from "../policies/fallback.ts";
import { pipeline } from "../policies/pipeline.ts";
import { retry } from "../policies/retry.ts";
import { timeout } from "../policies/timeout.ts";
import { consecutiveFailures } from "../policies/trip/consecutive_failures.ts";
import type { Policy } from "../policies/types.ts";
import { find, otel, refused } from "../../tests/support/otel_sdk.ts";
import { instrument, type InstrumentOptions } from "./mod.ts";

describe("instrument(): metrics", () => {
  test("a retried call records each retry, each attempt's duration and the call's, in seconds", async () => {
    const o = otel();
    const clock = new ManualClock();
    const policy = instrument(
      pipeline(
        retry({ maxAttempts: 3, backoff: constantBackoff(100), clock }),
        timeout(1000, { clock }),
      ),
      { name: "orders-db", meter: o.meter, clock },
    );
    let calls = 0;
    const call = policy.execute(async () => {
      calls++;
      await clock.sleep(calls === 1 ? 20 : 30);
      if (calls === 1) throw Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
      return "rows";
    });
    await clock.advance(150);
    assert.equal(await call, "rows");
    const points = await o.points();
    const db = { "faultline.pipeline": "orders-db" };
    assert.equal(
      find(points, "faultline.events", {
        ...db,
        "faultline.policy": "retry",
        "faultline.event": "retry",
        "error.type": "reset",
      }),
      1,
    );
    assert.deepEqual(find(points, "faultline.attempt.duration", { ...db, "error.type": "reset" }), {
      count: 1,
      sum: 0.02,
    });
    assert.deepEqual(find(points, "faultline.attempt.duration", db), { count: 1, sum: 0.03 });
    assert.deepEqual(find(points, "faultline.pipeline.duration", db), { count: 1, sum: 0.15 });
    assert.deepEqual(
      [...new Set(points.map((p) => `${p.name} ${p.unit}`))].sort(),
      ["faultline.attempt.duration s", "faultline.events {event}", "faultline.pipeline.duration s"],
    );
    assert.equal(clock.pendingTimers, 0);
  });
  test("a breaker that opens counts its state changes with the new state, and its rejections by error type", async () => {
    const o = otel();
    const clock = new ManualClock();
    const breaker = circuitBreaker({ trip: consecutiveFailures(2), halfOpenAfter: 1000, clock });
    const policy = instrument(pipeline(fallback("cached"), breaker), {
      name: "api",
      meter: o.meter,
      clock,
    });
    for (let i = 0; i < 3; i++) await policy.execute(() => Promise.reject(refused()));
    const points = await o.points();
    const api = { "faultline.pipeline": "api", "faultline.policy": "circuit_breaker" };
    assert.equal(
      find(points, "faultline.events", {
        ...api,
        "faultline.event": "state_change",
        "faultline.circuit.state": "open",
      }),
      1,
    );
    assert.equal(
      find(points, "faultline.events", {
        ...api,
        "faultline.event": "rejected",
        "error.type": "BrokenCircuitError",
      }),
      1,
    );
    const fallbacks = {
      "faultline.pipeline": "api",
      "faultline.policy": "fallback",
      "faultline.event": "fallback",
    };
    assert.equal(find(points, "faultline.events", { ...fallbacks, "error.type": "refused" }), 2);
    assert.equal(
      find(points, "faultline.events", { ...fallbacks, "error.type": "BrokenCircuitError" }),
      1,
    );
    // The fallback answered: the calls succeeded, two of their attempts did not.
    assert.deepEqual(find(points, "faultline.pipeline.duration", { "faultline.pipeline": "api" }), {
      count: 3,
      sum: 0,
    });
    assert.deepEqual(
      find(points, "faultline.attempt.duration", {
        "faultline.pipeline": "api",
        "error.type": "refused",
      }),
      { count: 2, sum: 0 },
    );
  });
  test("timeouts, give-ups, bulkhead rejections and injected faults are counted with their policy and event", async () => {
    const o = otel();
    const clock = new ManualClock();
    const gate = bulkhead(1);
    const policy = instrument(
      pipeline(
        gate,
        retry({ maxAttempts: 2, backoff: constantBackoff(0), clock }),
        timeout(50, { clock }),
        chaos({ rate: 1, fault: "unreachable", latencyMs: 100, clock }),
      ),
      { name: "edge", meter: o.meter, clock },
    );
    const first = policy.execute(() => "never").catch((e: ConnectionError) => e.kind);
    const second = policy.execute(() => "never").catch((e: Error) => e.name);
    await clock.advance(100);
    assert.deepEqual([await first, await second], ["timeout", "BulkheadRejectedError"]);
    const points = await o.points();
    const edge = { "faultline.pipeline": "edge" };
    const count = (policy: string, event: string, type?: string) =>
      find(points, "faultline.events", {
        ...edge,
        "faultline.policy": policy,
        "faultline.event": event,
        ...(type === undefined ? {} : { "error.type": type }),
      });
    assert.equal(count("timeout", "timeout", "timeout"), 2);
    assert.equal(count("retry", "retry", "timeout"), 1);
    assert.equal(count("retry", "give_up", "timeout"), 1);
    assert.equal(count("bulkhead", "rejected", "BulkheadRejectedError"), 1);
    assert.equal(count("chaos", "latency_injected"), 2);
    assert.equal(clock.pendingTimers, 0);
  });
  test("the instrumented policy gives what the policy gives: values, errors, and the policy still works alone", async () => {
    const o = otel();
    const inner = retry({ maxAttempts: 2, backoff: constantBackoff(0) });
    const policy = instrument(inner, { name: "alone", meter: o.meter, tracer: o.tracer });
    assert.equal(await policy.execute(({ attempt }) => attempt), 1);
    const error = await policy.execute(() => Promise.reject(refused())).catch((e) => e);
    assert.ok(error instanceof ConnectionError && error.kind === "refused");
    const bug = new TypeError("x is not a function");
    assert.equal(await policy.execute(() => Promise.reject(bug)).catch((e) => e), bug);
    assert.equal(await inner.execute(() => "direct"), "direct");
    // A third-party layer runs through its execute, measured all the same.
    const thirdParty: Policy = {
      execute: (fn) => Promise.resolve(fn({ signal: new AbortController().signal, attempt: 1 })),
    };
    assert.equal(
      await instrument(pipeline(inner, thirdParty), { name: "mixed", meter: o.meter }).execute(() =>
        7
      ),
      7,
    );
    const points = await o.points();
    const mixed = find(points, "faultline.attempt.duration", { "faultline.pipeline": "mixed" });
    assert.equal((mixed as { count: number }).count, 1);
  });
  test("dispose() stops the counting of a shared policy's events", async () => {
    const o = otel();
    const shared = retry({ maxAttempts: 2, backoff: constantBackoff(0) });
    const policy = instrument(shared, { name: "shared", meter: o.meter });
    policy.dispose();
    let calls = 0;
    await shared.execute(() => (++calls === 1 ? Promise.reject(refused()) : "ok"));
    const events = (await o.points()).filter((p) => p.name === "faultline.events");
    assert.deepEqual(events, []);
  });
  test("a meter or tracer that throws never breaks a call", async () => {
    const broken = () => {
      throw new Error("exporter down");
    };
    const meter = {
      createCounter: () => ({ add: broken }),
      createHistogram: () => ({ record: broken }),
    };
    const span = { addEvent: broken, setAttribute: broken, setStatus: broken, end: broken };
    const tracer = { startActiveSpan: broken };
    const spanTracer = {
      startActiveSpan: (_n: string, _o: unknown, fn: (s: unknown) => unknown) => fn(span),
    };
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      for (
        const options of [{ meter }, { tracer }, { tracer: spanTracer }] as Partial<
          InstrumentOptions
        >[]
      ) {
        const policy = instrument(retry({ maxAttempts: 2, backoff: constantBackoff(0) }), {
          name: "broken",
          ...options,
        });
        let calls = 0;
        assert.equal(
          await policy.execute(() => (++calls === 1 ? Promise.reject(refused()) : "ok")),
          "ok",
        );
      }
    } finally {
      console.error = original;
    }
    assert.ok(errors.length > 0, "what threw was reported");
  });
  test("bad arguments are refused at construction, naming them", () => {
    const meter = { createCounter: () => ({ add() {} }), createHistogram: () => ({ record() {} }) };
    const cases: Array<[unknown, unknown, string]> = [
      [undefined, { name: "x", meter }, "Cannot create instrument as 'policy' must be a Policy"],
      [
        retry(),
        undefined,
        "Cannot create instrument as 'name' must be a non-empty string: current value is undefined",
      ],
      [retry(), { name: "", meter }, "'name' must be a non-empty string"],
      [
        retry(),
        { name: "x", meter: {} },
        "Cannot create instrument as 'meter' must be a Meter (an object with createCounter and createHistogram): current value is {}",
      ],
      [
        retry(),
        { name: "x", tracer: { startSpan() {} } },
        "'tracer' must be a Tracer (an object with startActiveSpan)",
      ],
      [
        retry(),
        { name: "x" },
        "Cannot create instrument as 'meter' must be a Meter, or 'tracer' a Tracer",
      ],
      [retry(), { name: "x", meter, clock: {} }, "'clock' must be a Clock"],
    ];
    for (const [policy, options, message] of cases) {
      assert.throws(() => instrument(policy as never, options as never), (e: Error) => {
        assert.ok(e instanceof TypeError, `${e.name}: ${e.message}`);
        assert.ok(e.message.includes(message), e.message);
        return true;
      });
    }
  });
});
