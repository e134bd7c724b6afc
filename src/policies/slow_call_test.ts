// circuitBreaker({ slowCall }): the breaker also opens on the share of slow calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { circuitBreaker } from "./circuit_breaker.ts";
import { consecutiveFailures } from "./trip/consecutive_failures.ts";
import type { BreakEvent } from "./breaker_events.ts";

function slowBreaker(clock: ManualClock) {
  const breaker = circuitBreaker({
    trip: consecutiveFailures(100),
    halfOpenAfter: 1_000,
    clock,
    slowCall: { durationMs: 100, threshold: 0.5, minimumCalls: 4, windowMs: 10_000 },
  });
  const breaks: BreakEvent[] = [];
  breaker.onBreak((e) => breaks.push(e));
  return { breaker, breaks };
}

/** One call that takes `ms` on the clock. */
async function call(clock: ManualClock, breaker: ReturnType<typeof circuitBreaker>, ms: number) {
  const p = breaker.execute(() => clock.sleep(ms).then(() => "ok"));
  await clock.advance(ms);
  return p;
}

test("circuitBreaker({ slowCall }) opens when the share of slow calls reaches the threshold", async () => {
  const clock = new ManualClock();
  const { breaker, breaks } = slowBreaker(clock);
  await call(clock, breaker, 10);
  await call(clock, breaker, 150);
  await call(clock, breaker, 20);
  assert.equal(breaker.state, "closed", "3 calls: fewer than minimumCalls");
  await call(clock, breaker, 100); // exactly durationMs counts as slow: 2 of 4
  assert.equal(breaker.state, "open");
  assert.equal(breaks.length, 1);
  assert.equal(breaks[0]!.reason, "slow_calls");
  await assert.rejects(breaker.execute(() => "never"), { name: "BrokenCircuitError" });
  assert.equal(clock.pendingTimers, 0);
});

test("circuitBreaker({ slowCall }) stays closed while fast calls keep the share under the threshold", async () => {
  const clock = new ManualClock();
  const { breaker } = slowBreaker(clock);
  for (let i = 0; i < 20; i++) await call(clock, breaker, i % 3 === 2 ? 200 : 5);
  assert.equal(breaker.state, "closed");
});

test("circuitBreaker({ slowCall }) forgets calls older than windowMs, and starts over after closing", async () => {
  const clock = new ManualClock();
  const { breaker } = slowBreaker(clock);
  await call(clock, breaker, 150);
  await call(clock, breaker, 150);
  await clock.advance(20_000); // both fall out of the window
  await call(clock, breaker, 5);
  await call(clock, breaker, 5);
  await call(clock, breaker, 150);
  assert.equal(breaker.state, "closed", "1 slow of 3 recent");
  breaker.isolate().dispose(); // closes it again, counts cleared
  await call(clock, breaker, 150);
  assert.equal(breaker.state, "closed");
});

test("circuitBreaker({ slowCall }) does not time a call that started before the breaker moved on", async () => {
  const clock = new ManualClock();
  const { breaker } = slowBreaker(clock);
  const before = [1, 2, 3].map(() => breaker.execute(() => clock.sleep(500)));
  breaker.reset(); // while the three run
  await clock.advance(500);
  await Promise.all(before);
  await call(clock, breaker, 150);
  assert.equal(breaker.state, "closed", "1 slow call since the reset: fewer than minimumCalls");
});

test("circuitBreaker({ slowCall }) times slow failures too, but not errors it does not count", async () => {
  const clock = new ManualClock();
  const { breaker } = slowBreaker(clock);
  const refused = () => Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
  const slowFail = async () => {
    const p = breaker.execute(() => clock.sleep(150).then(() => Promise.reject(refused())));
    await clock.advance(150);
    await p.catch(() => {});
  };
  const slowBug = async () => {
    const p = breaker.execute(() =>
      clock.sleep(150).then(() => Promise.reject(new Error("a bug")))
    );
    await clock.advance(150);
    await p.catch(() => {});
  };
  for (let i = 0; i < 4; i++) await slowBug();
  assert.equal(breaker.state, "closed", "errors the breaker does not count change nothing");
  for (let i = 0; i < 4; i++) await slowFail();
  assert.equal(breaker.state, "open");
});

test("circuitBreaker() refuses a bad slowCall, naming the option", () => {
  const base = { trip: consecutiveFailures(1), halfOpenAfter: 1 };
  const cases: Array<[unknown, string, string]> = [
    [
      5,
      "TypeError",
      "Cannot create circuitBreaker as 'options' must be an object: current value is 5",
    ],
    [
      { threshold: 0.5 },
      "TypeError",
      "Cannot create circuitBreaker as 'slowCall.durationMs' must be a finite non-negative number of milliseconds: current value is undefined",
    ],
    [
      { durationMs: 100, threshold: 0 },
      "RangeError",
      "Cannot create circuitBreaker as 'slowCall.threshold' must be a number above 0 and at most 1: current value is 0",
    ],
    [
      { durationMs: 100, threshold: 0.5, minimumCalls: 0 },
      "RangeError",
      "Cannot create circuitBreaker as 'slowCall.minimumCalls' must be a positive integer: current value is 0",
    ],
    [
      { durationMs: 100, threshold: 0.5, windowMs: 5 },
      "RangeError",
      "Cannot create circuitBreaker as 'slowCall.windowMs' must be at least 10 milliseconds: current value is 5",
    ],
  ];
  for (const [slowCall, name, message] of cases) {
    assert.throws(() => circuitBreaker({ ...base, slowCall: slowCall as never }), {
      name,
      message,
    });
  }
});
