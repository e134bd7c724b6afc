// failureRate(): its options, and when it opens (minimumCalls, threshold,
// the failures of the whole window). How its windows keep and forget calls is
// in ./_windows_test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../clock.ts";
import { failureRate, type FailureRateOptions } from "./failure_rate.ts";
import type { TripCounter } from "./types.ts";

/** A 1 000 ms window in 4 buckets of 250 ms. */
function window4(clock: ManualClock, threshold = 0.5, minimumCalls = 1): TripCounter {
  return failureRate({ threshold, minimumCalls, windowMs: 1000, buckets: 4 }).create(clock);
}

test("failureRate() waits for minimumCalls before deciding", () => {
  const c = failureRate({ threshold: 0.5, minimumCalls: 4, windowMs: 1000 }).create(
    new ManualClock(),
  );
  assert.equal(c.failure(), false);
  assert.equal(c.failure(), false);
  assert.equal(c.failure(), false);
  assert.equal(c.failure(), true);
});

test("failureRate() trips when the share of failures reaches the threshold", () => {
  const c = failureRate({ threshold: 0.5, minimumCalls: 4, windowMs: 1000 }).create(
    new ManualClock(),
  );
  c.success();
  c.success();
  c.success();
  assert.equal(c.failure(), false); // 1 of 4
  assert.equal(c.failure(), false); // 2 of 5
  assert.equal(c.failure(), true); // 3 of 6
});

test("failureRate() sums the failures of every bucket, not their calls", async () => {
  const clock = new ManualClock(0);
  const c = window4(clock, 0.5, 4);
  await clock.advance(250);
  c.failure(); // bucket 1
  await clock.advance(500);
  c.success(); // bucket 3
  c.success();
  c.success();
  assert.equal(c.failure(), false, "2 failures of 5 calls");
  assert.equal(c.failure(), true, "3 failures of 6 calls");
});

test("failureRate() gives every create() call its own buckets", () => {
  const strategy = failureRate({ threshold: 0.5, minimumCalls: 2, windowMs: 1000 });
  const clock = new ManualClock();
  const a = strategy.create(clock);
  const b = strategy.create(clock);
  a.failure();
  assert.equal(b.failure(), false);
  assert.equal(a.failure(), true);
});

test("failureRate() takes up to 1000 buckets and is frozen", () => {
  const strategy = failureRate({ threshold: 0.5, windowMs: 1000, buckets: 1000 });
  assert.equal(strategy.buckets, 1000);
  assert.ok(Object.isFrozen(strategy));
  assert.ok(Object.isFrozen(failureRate({ threshold: 0.5, windowCalls: 10 })));
});

test("failureRate() refuses bad options with errors naming the option", () => {
  const cases: Array<[unknown, string, string]> = [
    [undefined, "TypeError", "'options' must be an object: current value is undefined"],
    [
      { threshold: 0, windowMs: 1 },
      "RangeError",
      "'threshold' must be a number above 0 and at most 1: current value is 0",
    ],
    [
      { threshold: 1.5, windowMs: 1 },
      "RangeError",
      "'threshold' must be a number above 0 and at most 1: current value is 1.5",
    ],
    [
      { threshold: NaN, windowMs: 1 },
      "RangeError",
      "'threshold' must be a number above 0 and at most 1: current value is NaN",
    ],
    [
      { windowMs: 1 },
      "TypeError",
      "'threshold' must be a number above 0 and at most 1: current value is undefined",
    ],
    [
      { threshold: 0.5, minimumCalls: 0, windowMs: 1 },
      "RangeError",
      "'minimumCalls' must be a positive integer: current value is 0",
    ],
    [
      { threshold: 0.5, minimumCalls: 2.5, windowMs: 1 },
      "RangeError",
      "'minimumCalls' must be a positive integer: current value is 2.5",
    ],
    [
      { threshold: 0.5 },
      "TypeError",
      "'windowMs' must be a number of milliseconds, or 'windowCalls' given: current value is undefined",
    ],
    [
      { threshold: 0.5, windowMs: 0 },
      "RangeError",
      "'windowMs' must be a finite number of milliseconds above 0: current value is 0",
    ],
    [
      { threshold: 0.5, windowMs: -1 },
      "RangeError",
      "'windowMs' must be a finite non-negative number of milliseconds: current value is -1",
    ],
    [
      { threshold: 0.5, windowMs: Infinity },
      "RangeError",
      "'windowMs' must be a finite non-negative number of milliseconds: current value is Infinity",
    ],
    [
      { threshold: 0.5, windowMs: 1, buckets: 0 },
      "RangeError",
      "'buckets' must be a positive integer: current value is 0",
    ],
    [
      { threshold: 0.5, windowMs: 1, buckets: 1001 },
      "RangeError",
      "'buckets' must be at most 1000: current value is 1001",
    ],
    [
      { threshold: 0.5, windowMs: 1, windowCalls: 10 },
      "TypeError",
      "'windowCalls' must be left out when 'windowMs' is given: current value is 10",
    ],
    [
      { threshold: 0.5, windowCalls: 0 },
      "RangeError",
      "'windowCalls' must be a positive integer: current value is 0",
    ],
    [
      { threshold: 0.5, minimumCalls: 20, windowCalls: 10 },
      "RangeError",
      "'windowCalls' must be at least 'minimumCalls' (20): current value is 10",
    ],
    [
      { threshold: 0.5, windowCalls: 10, buckets: 2 },
      "TypeError",
      "'buckets' must be left out with 'windowCalls': current value is 2",
    ],
  ];
  for (const [options, name, message] of cases) {
    assert.throws(() => failureRate(options as FailureRateOptions), {
      name,
      message: `Cannot create failureRate as ${message}`,
    });
  }
});
