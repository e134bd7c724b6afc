import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  boundOf,
  bucketOf,
  BUCKETS,
  LatencyWindow,
  MIN_SAMPLES,
  REFRESH,
  WINDOW,
} from "./_latency_window.ts";

/** Records `count` samples of `ms`; what record() said of each (true: the percentile was refreshed). */
function feed(window: LatencyWindow, ms: number, count: number): boolean[] {
  return Array.from({ length: count }, () => window.record(ms));
}

describe("LatencyWindow", () => {
  test("bucketOf() puts a latency in the bucket whose bound is at most 9% above it", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.07, max: 1_000_000, noNaN: true }), (ms) => {
        const bound = boundOf(bucketOf(ms));
        assert.ok(bound >= ms * (1 - 1e-9), `${bound} < ${ms}`);
        assert.ok(bound <= ms * 1.0906, `${bound} too far above ${ms}`);
      }),
    );
    assert.equal(bucketOf(0), 0);
    assert.equal(bucketOf(NaN), 0);
    assert.equal(bucketOf(-5), 0);
    assert.equal(bucketOf(1e12), BUCKETS - 1);
  });

  test("bucketOf() puts a latency exactly on a bucket's bound in that bucket, just above it in the next", () => {
    for (let i = 0; i < BUCKETS; i++) {
      assert.equal(bucketOf(boundOf(i)), i, `bound of bucket ${i}`);
      const above = Math.min(i + 1, BUCKETS - 1);
      assert.equal(bucketOf(boundOf(i) * 1.001), above, `just above bucket ${i}`);
    }
  });

  test("LatencyWindow gives nothing before MIN_SAMPLES, then the percentile of its samples", () => {
    const w = new LatencyWindow(90);
    for (let i = 1; i < MIN_SAMPLES; i++) w.record(i);
    assert.ok(Number.isNaN(w.value));
    w.record(MIN_SAMPLES);
    assert.equal(w.value, boundOf(bucketOf(18)), "p90 of 1..20 is 18");
  });

  test("LatencyWindow forgets all but the last WINDOW samples", () => {
    const w = new LatencyWindow(50);
    for (let i = 0; i < WINDOW; i++) w.record(1000);
    assert.equal(w.value, boundOf(bucketOf(1000)));
    for (let i = 0; i < WINDOW; i++) w.record(10);
    assert.equal(w.size, WINDOW);
    assert.equal(w.value, boundOf(bucketOf(10)));
  });

  test("LatencyWindow keeps no trace of fast samples many windows old once slow ones have replaced them", () => {
    const w = new LatencyWindow(10);
    // 20 laps of the ring: a sample left uncounted-out on each lap would add up.
    feed(w, 10, 20 * WINDOW);
    assert.equal(w.value, boundOf(bucketOf(10)));
    feed(w, 1000, WINDOW);
    assert.equal(w.size, WINDOW);
    assert.equal(w.value, boundOf(bucketOf(1000)), "even the p10 is slow");
  });

  test("LatencyWindow refreshes its percentile every REFRESH samples after MIN_SAMPLES, holding it in between", () => {
    const w = new LatencyWindow(90);
    const first = feed(w, 10, MIN_SAMPLES);
    assert.deepEqual(first, [...Array(MIN_SAMPLES - 1).fill(false), true]);
    assert.equal(w.value, boundOf(bucketOf(10)));
    // From the 23rd sample on a fresh p90 would be 1000 ms; the cached 10 ms stands until the 16th new one.
    assert.deepEqual(feed(w, 1000, REFRESH - 1), Array(REFRESH - 1).fill(false));
    assert.equal(w.value, boundOf(bucketOf(10)));
    assert.deepEqual(feed(w, 1000, 1), [true]);
    assert.equal(w.value, boundOf(bucketOf(1000)));
  });
});
