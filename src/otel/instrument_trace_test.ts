// instrument()'s spans against the real OpenTelemetry SDK (tests/support/otel_sdk.ts):
// one span per call, the policies' events on the span of their own call.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  context,
  type ContextManager,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { constantBackoff } from "../policies/backoff.ts";
import { circuitBreaker } from "../policies/circuit_breaker.ts";
import { fallback } from "../policies/fallback.ts";
import { consecutiveFailures } from "../policies/trip/consecutive_failures.ts";
import { pipeline } from "../policies/pipeline.ts";
import { retry } from "../policies/retry.ts";
import { timeout } from "../policies/timeout.ts";
import { otel, refused } from "../../tests/support/otel_sdk.ts";
import { instrument } from "./mod.ts";

describe("instrument(): traces", () => {
  test("each call is a span named after the pipeline, with the policies' events on it and error.type when it fails", async () => {
    const o = otel();
    const clock = new ManualClock();
    const policy = instrument(
      pipeline(
        retry({ maxAttempts: 2, backoff: constantBackoff(10), clock }),
        timeout(100, { clock }),
      ),
      { name: "payments", tracer: o.tracer, clock },
    );
    const call = policy.execute(() => Promise.reject(refused())).catch((e) => e);
    await clock.advance(10);
    const error = await call;
    assert.ok(error instanceof ConnectionError);
    const [span] = o.spans();
    assert.equal(o.spans().length, 1);
    assert.equal(span!.name, "payments");
    assert.equal(span!.kind, SpanKind.INTERNAL);
    assert.equal(span!.attributes["faultline.pipeline"], "payments");
    assert.equal(span!.attributes["error.type"], "refused");
    assert.equal(span!.status.code, SpanStatusCode.ERROR);
    assert.equal(span!.status.message, error.message);
    assert.deepEqual(span!.events.map((e) => [e.name, e.attributes]), [
      ["faultline.retry", {
        "faultline.policy": "retry",
        "error.type": "refused",
        "faultline.attempt": 1,
        "faultline.retry.delay": 0.01,
      }],
      ["faultline.give_up", {
        "faultline.policy": "retry",
        "error.type": "refused",
        "faultline.attempt": 2,
        "faultline.reason": "attempts",
      }],
      ["exception", span!.events[2]!.attributes],
    ]);
    // The SDK names an exception with a code by its code.
    assert.equal(span!.events[2]!.attributes!["exception.type"], "ECONNREFUSED");
    assert.equal(span!.events[2]!.attributes!["exception.message"], error.message);
  });
  test("calls in flight together each get their own events, even a timeout that fires outside any layer", async () => {
    const o = otel();
    const clock = new ManualClock();
    const policy = instrument(
      pipeline(
        retry({ maxAttempts: 2, backoff: constantBackoff(0), clock }),
        timeout(50, { clock }),
      ),
      { name: "cache", tracer: o.tracer, meter: o.meter, clock },
    );
    let slow = true;
    // a times out on its first attempt.
    const a = policy.execute<unknown>(() => (slow ? (slow = false, clock.sleep(1000)) : "a"));
    const b = policy.execute(() => clock.sleep(10).then(() => "b"));
    await clock.advance(60);
    assert.deepEqual([await a, await b], ["a", "b"]);
    const spans = o.spans();
    assert.equal(spans.length, 2);
    const eventsOf = (i: number) => spans[i]!.events.map((e) => e.name);
    // b finished first; a timed out on its first attempt, then succeeded.
    assert.deepEqual(eventsOf(0), []);
    assert.deepEqual(eventsOf(1), ["faultline.timeout", "faultline.retry"]);
    assert.equal(spans[1]!.events[0]!.attributes!["faultline.timeout"], 0.05);
    assert.equal(spans[1]!.status.code, SpanStatusCode.UNSET);
  });
  test("the spans the operation starts are children of the call's span", async () => {
    const o = otel();
    // The smallest context manager: the active context while a function runs.
    let active = ROOT_CONTEXT;
    const manager: ContextManager = {
      active: () => active,
      with(ctx, fn, thisArg, ...args) {
        const previous = active;
        active = ctx;
        try {
          return fn.call(thisArg, ...args);
        } finally {
          active = previous;
        }
      },
      bind: (_ctx, target) => target,
      enable() {
        return this;
      },
      disable() {
        return this;
      },
    };
    context.setGlobalContextManager(manager);
    try {
      const policy = instrument(retry(), { name: "search", tracer: o.tracer });
      await policy.execute(() => {
        assert.equal(trace.getActiveSpan()?.isRecording(), true);
        o.tracer.startSpan("SELECT").end();
      });
    } finally {
      context.disable();
    }
    const [child, parent] = o.spans();
    assert.equal(child!.name, "SELECT");
    assert.equal(parent!.name, "search");
    assert.equal(child!.parentSpanContext?.spanId, parent!.spanContext().spanId);
  });

  test("an event of no call (a breaker isolated by hand) is counted, and lands on no call's span", async () => {
    const o = otel();
    const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1000 });
    const policy = instrument(pipeline(fallback("cached"), breaker), {
      name: "by-hand",
      meter: o.meter,
      tracer: o.tracer,
    });
    const handle = breaker.isolate();
    assert.equal(await policy.execute(() => "live"), "cached");
    handle.dispose();
    await Promise.resolve();
    assert.equal(await policy.execute(() => "live"), "live");
    const [first, second] = o.spans();
    assert.deepEqual(first!.events.map((e) => e.name), [
      "faultline.rejected",
      "faultline.fallback",
    ]);
    assert.deepEqual(second!.events.map((e) => e.name), []);
    const states = (await o.points()).filter((p) =>
      p.attributes["faultline.event"] === "state_change"
    )
      .map((p) => [p.attributes["faultline.circuit.state"], p.value]);
    assert.deepEqual(states.sort(), [["closed", 1], ["isolated", 1]]);
  });
});
