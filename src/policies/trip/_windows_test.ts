// The windows of failureRate() (./_windows.ts): the time window's buckets
// (rotation, a clock that jumps or goes back, reset, snapshots and restore())
// and the count window's ring of outcomes. ManualClock throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../clock.ts";
import { failureRate } from "./failure_rate.ts";
import type { TripCounter } from "./types.ts";

interface TimeSnapshot {
  type: string;
  windowMs: number;
  head: number | null;
  calls: number[];
  failures: number[];
}

interface CountSnapshot {
  type: string;
  windowCalls: number;
  outcomes: number[];
}

const PREFIX = "Cannot restore circuit breaker as ";

/** The counter's snapshot as the time window writes it. */
function timeJSON(c: TripCounter): TimeSnapshot {
  return c.toJSON() as unknown as TimeSnapshot;
}

function countJSON(c: TripCounter): CountSnapshot {
  return c.toJSON() as unknown as CountSnapshot;
}

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

// ----------------------------------------------------------------- time window

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

test("a fresh time window has no head; a call at time 0 makes bucket 0 the head", () => {
  const clock = new ManualClock(0);
  const c = window4(clock);
  assert.deepEqual(timeJSON(c), {
    type: "failureRate",
    windowMs: 1000,
    head: null,
    calls: [0, 0, 0, 0],
    failures: [0, 0, 0, 0],
  });
  c.success();
  assert.deepEqual(timeJSON(c), {
    type: "failureRate",
    windowMs: 1000,
    head: 0,
    calls: [1, 0, 0, 0],
    failures: [0, 0, 0, 0],
  });
});

test("failureRate() forgets the failures of buckets that left the window", async () => {
  const clock = new ManualClock(0);
  const c = failureRate({ threshold: 0.5, minimumCalls: 3, windowMs: 1000, buckets: 10 }).create(
    clock,
  );
  await clock.advance(300);
  c.failure(); // bucket 3
  await clock.advance(500);
  c.success(); // bucket 8
  await clock.advance(500); // bucket 13: buckets 9 to 13 (slots 9, 0, 1, 2, 3) are emptied
  c.success();
  assert.deepEqual(timeJSON(c), {
    type: "failureRate",
    windowMs: 1000,
    head: 13,
    calls: [0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
    failures: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  });
  // One failure of three calls: the failure of bucket 3 no longer counts.
  assert.equal(c.failure(), false);
  assert.equal(c.failure(), true);
});

test("advancing exactly one window from a bucket's start drops that bucket and keeps the rest", async () => {
  const clock = new ManualClock(0);
  const c = failureRate({ threshold: 0.5, minimumCalls: 2, windowMs: 1000, buckets: 10 }).create(
    clock,
  );
  c.failure(); // bucket 0
  await clock.advance(900);
  c.success(); // bucket 9
  await clock.advance(100); // bucket 10 reuses slot 0
  assert.equal(c.failure(), true, "1 failure of 2 calls, the old failure gone");
  assert.deepEqual(timeJSON(c), {
    type: "failureRate",
    windowMs: 1000,
    head: 10,
    calls: [1, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    failures: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  });
  // Less than a bucket later nothing rotates.
  await clock.advance(99);
  c.success();
  assert.deepEqual(timeJSON(c).calls, [2, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
});

test("a clock behind the restored head keeps counting in the newest bucket", async () => {
  const later = new ManualClock(10_250); // bucket 41, slot 1
  const a = window4(later);
  a.failure();
  const saved = timeJSON(a);
  assert.equal(saved.head, 41);
  const earlier = new ManualClock(9_000); // bucket 36: this clock is behind
  const b = window4(earlier, 0.5, 3);
  b.restore(saved);
  b.success();
  assert.deepEqual(timeJSON(b), { ...saved, calls: [0, 2, 0, 0], failures: [0, 1, 0, 0] });
  await earlier.advance(1_500); // bucket 42: slot 2 is emptied, slot 1 kept
  assert.equal(b.failure(), true, "2 failures of 3 calls");
  assert.equal(timeJSON(b).head, 42);
});

test("a jump of any length empties the window at once, not bucket by bucket", async () => {
  // A bucket of 1 ms: stepping through the buckets one by one would never end.
  const strategy = failureRate({ threshold: 1, minimumCalls: 2, windowMs: 10, buckets: 10 });
  const clock = new ManualClock(0);
  const c = strategy.create(clock);
  c.failure();
  await clock.advance(1e15);
  assert.equal(c.failure(), false, "the old failure left the window");
  assert.deepEqual(timeJSON(c).calls, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const fresh = strategy.create(new ManualClock(1e15));
  assert.equal(fresh.failure(), false);
  assert.equal(fresh.failure(), true);
});

test("reset() empties the time window's counts and forgets its head", () => {
  const clock = new ManualClock(5_000);
  const c = window4(clock, 0.5, 3);
  const empty = timeJSON(c);
  c.failure();
  c.failure();
  c.reset();
  assert.deepEqual(timeJSON(c), empty);
  assert.equal(c.failure(), false);
  assert.equal(c.failure(), false, "only two failures since the reset");
});

test("restoring an empty snapshot starts the time window afresh", () => {
  const clock = new ManualClock(0);
  const c = window4(clock);
  const empty = timeJSON(c);
  c.failure();
  c.restore(empty);
  assert.deepEqual(timeJSON(c), empty);
  c.success();
  assert.deepEqual(timeJSON(c), { ...empty, head: 0, calls: [1, 0, 0, 0] });
});

test("a time-window snapshot with no head counts as empty, whatever its buckets hold", () => {
  const c = window4(new ManualClock(0), 0.5, 2);
  const stray = timeJSON(c);
  stray.calls = [0, 2, 0, 3];
  stray.failures = [0, 2, 0, 3];
  c.restore(stray);
  // No head means no call was ever recorded: the first call empties every bucket.
  assert.equal(c.failure(), false, "a single call is below minimumCalls");
  assert.deepEqual(timeJSON(c), {
    type: "failureRate",
    windowMs: 1000,
    head: 0,
    calls: [1, 0, 0, 0],
    failures: [1, 0, 0, 0],
  });
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

test("time-window restore() checks calls and failures as arrays of whole counts, naming the index", () => {
  const c = window4(new ManualClock(5_000));
  c.failure();
  const good = timeJSON(c);
  const max = 0xffffffff;
  for (const field of ["calls", "failures"] as const) {
    const bad: Array<[unknown, "TypeError" | "RangeError", string]> = [
      [
        "abc",
        "TypeError",
        `'snapshot.trip.${field}' must be an array of 4 counts: current value is "abc"`,
      ],
      [
        null,
        "TypeError",
        `'snapshot.trip.${field}' must be an array of 4 counts: current value is null`,
      ],
      [
        [0, 0],
        "RangeError",
        `'snapshot.trip.${field}' must be an array of 4 counts, as this breaker keeps: current value is [0,0]`,
      ],
      [
        [0, "1", 0, 0],
        "TypeError",
        `'snapshot.trip.${field}[1]' must be an integer from 0 to ${max}: current value is "1"`,
      ],
      [
        [0, null, 0, 0],
        "TypeError",
        `'snapshot.trip.${field}[1]' must be an integer from 0 to ${max}: current value is null`,
      ],
      [
        [0, 0, 1.5, 0],
        "RangeError",
        `'snapshot.trip.${field}[2]' must be an integer from 0 to ${max}: current value is 1.5`,
      ],
      [
        [0, 0, 0, -1],
        "RangeError",
        `'snapshot.trip.${field}[3]' must be an integer from 0 to ${max}: current value is -1`,
      ],
      [
        [max + 1, 0, 0, 0],
        "RangeError",
        `'snapshot.trip.${field}[0]' must be an integer from 0 to ${max}: current value is ${
          max + 1
        }`,
      ],
    ];
    for (const [value, name, message] of bad) {
      refuses(c, { ...good, [field]: value }, name, message);
    }
  }
  // The largest count is taken.
  const full = { ...good, head: 20, calls: [max, 0, 0, 0], failures: [max, 0, 0, 0] };
  c.restore(full);
  assert.deepEqual(timeJSON(c), full);
});

test("time-window restore() takes a head of null or a non-negative integer, naming 'trip.head'", () => {
  const c = window4(new ManualClock(5_000));
  c.failure();
  const good = timeJSON(c);
  const rule = "'snapshot.trip.head' must be a non-negative integer or null: current value is";
  refuses(c, { ...good, head: "3" }, "TypeError", `${rule} "3"`);
  refuses(c, { ...good, head: undefined }, "TypeError", `${rule} undefined`);
  refuses(c, { ...good, head: 1.5 }, "RangeError", `${rule} 1.5`);
  refuses(c, { ...good, head: -1 }, "RangeError", `${rule} -1`);
  refuses(c, { ...good, head: 2 ** 53 }, "RangeError", `${rule} ${2 ** 53}`);
  // Bucket 0 is a head like any other: a snapshot taken in the first bucket of time.
  const first = { ...good, head: 0 };
  c.restore(first);
  assert.deepEqual(timeJSON(c), first);
});

test("time-window restore() refuses another window or more failures than calls as RangeErrors", () => {
  const c = window4(new ManualClock());
  const good = timeJSON(c);
  refuses(
    c,
    { ...good, windowMs: 2000 },
    "RangeError",
    "'snapshot.trip.windowMs' must be 1000, the window of this breaker: current value is 2000",
  );
  refuses(
    c,
    { ...good, calls: [0, 0, 0, 1], failures: [0, 0, 0, 2] },
    "RangeError",
    "'snapshot.trip.failures[3]' must be at most calls[3] (1): current value is 2",
  );
  refuses(
    c,
    { type: "consecutiveFailures", failures: 0 },
    "RangeError",
    `'snapshot.trip.type' must be "failureRate", the strategy of this breaker: current value is "consecutiveFailures"`,
  );
});

// ---------------------------------------------------------------- count window

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

test("a count window's snapshot lists the outcomes so far, oldest first, before it fills", () => {
  const c = failureRate({ threshold: 0.5, minimumCalls: 4, windowCalls: 4 }).create(
    new ManualClock(),
  );
  c.failure();
  c.success();
  c.success();
  assert.deepEqual(countJSON(c), { type: "failureRate", windowCalls: 4, outcomes: [1, 0, 0] });
});

test("reset() empties a count window", () => {
  const c = failureRate({ threshold: 0.5, minimumCalls: 2, windowCalls: 4 }).create(
    new ManualClock(),
  );
  c.success();
  assert.equal(c.failure(), true);
  c.reset();
  assert.deepEqual(countJSON(c).outcomes, []);
  assert.equal(c.failure(), false, "one call since the reset is below minimumCalls");
  assert.deepEqual(countJSON(c).outcomes, [1]);
});

test("restore() replaces a count window's outcomes rather than adding to them", () => {
  const c = failureRate({ threshold: 0.5, minimumCalls: 2, windowCalls: 4 }).create(
    new ManualClock(),
  );
  c.failure();
  c.failure();
  c.failure();
  c.restore({ type: "failureRate", windowCalls: 4, outcomes: [0] });
  assert.deepEqual(countJSON(c).outcomes, [0]);
  c.success();
  c.success();
  assert.equal(c.failure(), false, "1 failure of 4 calls");
  assert.deepEqual(countJSON(c).outcomes, [0, 0, 0, 1]);
});

test("count-window restore() errors name the field and have the right class", () => {
  const c = failureRate({ threshold: 0.5, minimumCalls: 2, windowCalls: 3 }).create(
    new ManualClock(),
  );
  c.failure();
  const bad: Array<[unknown, "TypeError" | "RangeError", string]> = [
    [
      { type: "failureRate", windowCalls: 5, outcomes: [0] },
      "RangeError",
      "'snapshot.trip.windowCalls' must be 3, the window of this breaker: current value is 5",
    ],
    [
      { type: "failureRate", outcomes: [0] },
      "RangeError",
      "'snapshot.trip.windowCalls' must be 3, the window of this breaker: current value is undefined",
    ],
    [
      { type: "failureRate", windowCalls: 3, outcomes: "01" },
      "TypeError",
      `'snapshot.trip.outcomes' must be an array of 0s and 1s: current value is "01"`,
    ],
    [
      { type: "failureRate", windowCalls: 3, outcomes: null },
      "TypeError",
      "'snapshot.trip.outcomes' must be an array of 0s and 1s: current value is null",
    ],
    [
      { type: "failureRate", windowCalls: 3, outcomes: [0, 0, 0, 0] },
      "RangeError",
      "'snapshot.trip.outcomes' must be an array of at most 3 outcomes: current value is 4",
    ],
    [
      { type: "failureRate", windowCalls: 3, outcomes: [0, 2] },
      "RangeError",
      "'snapshot.trip.outcomes[1]' must be 0 or 1: current value is 2",
    ],
    [
      { type: "failureRate", windowCalls: 3, outcomes: [1, "1"] },
      "TypeError",
      `'snapshot.trip.outcomes[1]' must be 0 or 1: current value is "1"`,
    ],
  ];
  for (const [snapshot, name, message] of bad) refuses(c, snapshot, name, message);
});
