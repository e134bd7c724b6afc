// The checks every trip counter's restore() shares (./_snapshot.ts): a
// snapshot that is not an object, and how an error shows the value it got.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../clock.ts";
import { consecutiveFailures } from "./consecutive_failures.ts";
import { failureRate } from "./failure_rate.ts";
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

/** A 1 000 ms window in 4 buckets of 250 ms. */
function window4(clock: ManualClock, threshold = 0.5, minimumCalls = 1): TripCounter {
  return failureRate({ threshold, minimumCalls, windowMs: 1000, buckets: 4 }).create(clock);
}

test("every trip counter's restore() refuses anything but an object, naming 'snapshot.trip'", () => {
  const counters = [
    consecutiveFailures(3).create(new ManualClock()),
    window4(new ManualClock()),
    failureRate({ threshold: 0.5, minimumCalls: 2, windowCalls: 3 }).create(new ManualClock()),
  ];
  for (const c of counters) {
    for (
      const [value, shown] of [
        [null, "null"],
        [[], "[]"],
        [[1, 2], "[1,2]"],
        ["x", '"x"'],
        [5, "5"],
        [undefined, "undefined"],
      ] as Array<[unknown, string]>
    ) {
      refuses(
        c,
        value,
        "TypeError",
        `'snapshot.trip' must be an object: current value is ${shown}`,
      );
    }
  }
});

test("restore() errors show a symbol or bigint as written, and objects as JSON", () => {
  const c = consecutiveFailures(3).create(new ManualClock());
  const rule = "'snapshot.trip.failures' must be a non-negative integer: current value is";
  refuses(
    c,
    { type: "consecutiveFailures", failures: Symbol("s") },
    "TypeError",
    `${rule} Symbol(s)`,
  );
  refuses(c, { type: "consecutiveFailures", failures: BigInt(7) }, "TypeError", `${rule} 7`);
  refuses(c, { type: "consecutiveFailures", failures: { n: 1 } }, "TypeError", `${rule} {"n":1}`);
  refuses(c, { type: "consecutiveFailures", failures: [1] }, "TypeError", `${rule} [1]`);
  refuses(c, { type: "consecutiveFailures" }, "TypeError", `${rule} undefined`);
});
