import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  boundOf,
  bucketOf,
  BUCKETS,
  LatencyWindow,
  MIN_SAMPLES,
  WINDOW,
} from "./_latency_window.ts";

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
});
