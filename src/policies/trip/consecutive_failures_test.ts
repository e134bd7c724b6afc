// consecutiveFailures(): when it opens, its counts per breaker, its options,
// and restore() of its snapshot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../clock.ts";
import { consecutiveFailures } from "./consecutive_failures.ts";
import type { TripCounter } from "./types.ts";

const PREFIX = "Cannot restore circuit breaker as ";

/** restore(snapshot) throws exactly this error class and message, and changes nothing. */
function refuses(
  c: TripCounter,
  snapshot: unknown,
  name: "TypeError" | "RangeError",
  message: string,
): void {
  const before = JSON.stringify(c.toJSON());
  assert.throws(() => c.restore(snapshot), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.equal(e.name, name, `${message}: got ${e}`);
    assert.ok(e instanceof (name === "TypeError" ? TypeError : RangeError));
    assert.equal(e.message, PREFIX + message);
    return true;
  });
  assert.equal(JSON.stringify(c.toJSON()), before, `unchanged after ${message}`);
}

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

test("consecutiveFailures() restore() takes a count below n and refuses any other as a RangeError", () => {
  const c = consecutiveFailures(3).create(new ManualClock());
  c.failure();
  const cases = [[-1, "-1"], [1.5, "1.5"], [3, "3"], [NaN, "NaN"], [Infinity, "Infinity"]];
  for (const [value, shown] of cases as Array<[number, string]>) {
    refuses(
      c,
      { type: "consecutiveFailures", failures: value },
      "RangeError",
      `'snapshot.trip.failures' must be an integer from 0 to 2: current value is ${shown}`,
    );
  }
  c.restore({ type: "consecutiveFailures", failures: 2 });
  assert.equal(c.failure(), true, "two restored failures and one more open it");
});
