import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { consecutiveFailures, failureRate, type FailureRateOptions } from "./breaker_strategies.ts";

describe("consecutiveFailures()", () => {
  test("consecutiveFailures() trips on the n-th failure in a row", () => {
    const c = consecutiveFailures(3).create(new ManualClock());
    assert.equal(c.failure(), false);
    assert.equal(c.failure(), false);
    c.success();
    assert.equal(c.failure(), false);
    assert.equal(c.failure(), false);
    assert.equal(c.failure(), true);
  });

  test("consecutiveFailures() gives every create() call its own counts", () => {
    const strategy = consecutiveFailures(2);
    const a = strategy.create(new ManualClock());
    const b = strategy.create(new ManualClock());
    a.failure();
    assert.deepEqual(a.toJSON(), { type: "consecutiveFailures", failures: 1 });
    assert.deepEqual(b.toJSON(), { type: "consecutiveFailures", failures: 0 });
    assert.ok(Object.isFrozen(strategy));
  });

  test("consecutiveFailures() refuses an n that is not a positive integer", () => {
    for (const n of [0, -1, 1.5, NaN, Infinity]) {
      assert.throws(() => consecutiveFailures(n), {
        name: "RangeError",
        message:
          `Cannot create consecutiveFailures as 'n' must be a positive integer: current value is ${n}`,
      });
    }
    assert.throws(() => consecutiveFailures("3" as unknown as number), {
      name: "TypeError",
      message:
        `Cannot create consecutiveFailures as 'n' must be a positive integer: current value is "3"`,
    });
  });
});

describe("failureRate()", () => {
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

  test("failureRate() forgets calls older than windowMs as its buckets rotate", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const c = failureRate({ threshold: 0.5, minimumCalls: 3, windowMs: 1000, buckets: 10 }).create(
      clock,
    );
    c.failure();
    c.failure();
    await clock.advance(1000); // both fall out of the window
    assert.equal(c.failure(), false);
    const json = c.toJSON() as unknown as { calls: number[]; failures: number[] };
    assert.equal(json.calls.reduce((a, b) => a + b), 1);
    await clock.advance(500);
    c.failure();
    assert.equal(c.failure(), true); // three failures within 500 ms
  });

  test("failureRate() keeps calls that are still inside the window", async () => {
    const clock = new ManualClock();
    const c = failureRate({ threshold: 1, minimumCalls: 3, windowMs: 1000, buckets: 4 }).create(
      clock,
    );
    c.failure();
    await clock.advance(300);
    c.failure();
    await clock.advance(300);
    assert.equal(c.failure(), true);
  });

  test("failureRate() clears every bucket after a gap longer than the window", async () => {
    const clock = new ManualClock();
    const c = failureRate({ threshold: 0.5, minimumCalls: 1, windowMs: 100, buckets: 5 }).create(
      clock,
    );
    c.success();
    c.success();
    await clock.advance(60);
    c.success();
    await clock.advance(10_000);
    assert.equal(c.failure(), true);
  });

  test("failureRate() with windowCalls counts only the last N calls", () => {
    const c = failureRate({ threshold: 0.5, minimumCalls: 4, windowCalls: 4 }).create(
      new ManualClock(),
    );
    assert.equal(c.failure(), false);
    c.success();
    c.success();
    c.success();
    assert.equal(c.failure(), false); // 2 of 5 calls, but the window holds 4: 1 of 4
    assert.equal(c.failure(), true); // success, success, failure, failure: 2 of 4
    assert.deepEqual(c.toJSON(), { type: "failureRate", windowCalls: 4, outcomes: [0, 0, 1, 1] });
  });

  test("failureRate() with windowCalls handles windows wider than one word of bits", () => {
    const c = failureRate({ threshold: 0.5, minimumCalls: 100, windowCalls: 100 }).create(
      new ManualClock(),
    );
    for (let i = 0; i < 150; i++) c.success();
    for (let i = 0; i < 49; i++) assert.equal(c.failure(), false);
    assert.equal(c.failure(), true);
    const json = c.toJSON() as unknown as { outcomes: number[] };
    assert.equal(json.outcomes.length, 100);
    assert.equal(json.outcomes.filter((o) => o === 1).length, 50);
    const d = failureRate({ threshold: 0.5, minimumCalls: 100, windowCalls: 100 }).create(
      new ManualClock(),
    );
    d.restore(json);
    assert.deepEqual(d.toJSON(), c.toJSON());
  });

  test("failureRate() round-trips its time window through a snapshot", async () => {
    const clock = new ManualClock(5_000);
    const strategy = failureRate({ threshold: 0.5, minimumCalls: 4, windowMs: 1000, buckets: 4 });
    const a = strategy.create(clock);
    a.success();
    await clock.advance(300);
    a.failure();
    const b = strategy.create(clock);
    b.restore(JSON.parse(JSON.stringify(a.toJSON())));
    assert.deepEqual(b.toJSON(), a.toJSON());
    assert.equal(b.failure(), false);
    assert.equal(b.failure(), true);
  });

  test("failureRate() refuses a snapshot from another window, changing nothing", () => {
    const a = failureRate({ threshold: 0.5, windowMs: 1000 }).create(new ManualClock());
    const before = a.toJSON();
    const other = failureRate({ threshold: 0.5, windowMs: 2000 }).create(new ManualClock())
      .toJSON();
    assert.throws(() => a.restore(other), /'snapshot.trip.windowMs' must be 1000/);
    assert.throws(
      () => a.restore({ ...before, calls: [1, 2] }),
      /'snapshot.trip.calls' must be an array of 10 counts/,
    );
    assert.throws(
      () => a.restore({ ...before, failures: [5, 0, 0, 0, 0, 0, 0, 0, 0, 0] }),
      /'snapshot.trip.failures\[0\]' must be at most calls\[0\] \(0\)/,
    );
    assert.deepEqual(a.toJSON(), before);
    const w = failureRate({ threshold: 0.5, minimumCalls: 2, windowCalls: 3 }).create(
      new ManualClock(),
    );
    assert.throws(
      () => w.restore({ type: "failureRate", windowCalls: 3, outcomes: [0, 2] }),
      /'snapshot.trip.outcomes\[1\]' must be 0 or 1/,
    );
    assert.throws(
      () => w.restore({ type: "failureRate", windowCalls: 3, outcomes: [0, 0, 0, 0] }),
      /'snapshot.trip.outcomes' must be an array of at most 3 outcomes/,
    );
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

  test("failureRate() reads its options once", () => {
    const options: FailureRateOptions = { threshold: 0.5, minimumCalls: 2, windowCalls: 2 };
    const strategy = failureRate(options);
    options.threshold = 1;
    options.windowCalls = 100;
    assert.equal(strategy.threshold, 0.5);
    assert.equal(strategy.windowCalls, 2);
    const c = strategy.create(new ManualClock());
    c.success();
    assert.equal(c.failure(), true);
  });
});
