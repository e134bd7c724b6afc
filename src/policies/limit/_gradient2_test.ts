import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Gradient2 } from "./_gradient2.ts";

/** Feeds `algorithm` each latency in `rtts` with `inflight` calls in flight; the last estimate. */
function feed(algorithm: Gradient2, rtts: number[], inflight: number): number {
  let estimate = algorithm.estimate;
  for (const rtt of rtts) estimate = algorithm.sample(rtt, inflight, false);
  return estimate;
}

/** `n` times `rtt`. */
const times = (n: number, rtt: number): number[] => Array<number>(n).fill(rtt);

/** The documented step from `limit` at a gradient: limit × 0.8 + (limit × gradient + 4) × 0.2. */
const next = (limit: number, gradient: number): number =>
  limit * 0.8 + (limit * gradient + 4) * 0.2;

/** The weight of a new latency in the long-term average after the warm-up: 2 / (600 + 1). */
const F = 2 / 601;

function assertClose(actual: number, expected: number, message?: string): void {
  assert.ok(
    Math.abs(actual - expected) < 1e-9,
    `${actual} ≠ ${expected}${message ? `: ${message}` : ""}`,
  );
}

describe("Gradient2", () => {
  test("Gradient2 learns from windows of calls", () => {
    assert.equal(new Gradient2(10, 1, 100).windowed, true);
  });

  test("Gradient2 averages the first 10 latencies plainly", () => {
    const g = new Gradient2(10, 1, 100);
    assert.equal(feed(g, [10, 20, 30], 1), 10, "lightly loaded: holds");
    // Long-term: (10 + 20 + 30 + 40) / 4 = 25; gradient 1.5 × 25 / 40 = 0.9375.
    assertClose(g.sample(40, 10, false), next(10, 0.9375));
    assertClose(next(10, 0.9375), 10.675);
  });

  test("Gradient2 moves its long-term latency by 2/601 of each latency after the first 10", () => {
    const g = new Gradient2(10, 1, 100);
    feed(g, times(10, 10), 1);
    // Long-term: 10 × (1 − F) + 20 × F.
    const long = 10 * (1 - F) + 20 * F;
    assertClose(g.sample(20, 10, false), next(10, 1.5 * long / 20)); // ≈ 10.305
    assert.ok(Math.abs(g.estimate - 10.305) < 1e-3);
  });

  test("Gradient2 lets a long-term latency more than twice the latest decay by 5%", () => {
    const g = new Gradient2(10, 1, 100);
    feed(g, times(10, 100), 1);
    g.sample(40, 1, false); // long-term 100 × (1 − F) + 40 × F ≈ 99.8 > 2 × 40: decays
    const long = (100 * (1 - F) + 40 * F) * 0.95 * (1 - F) + 200 * F; // ≈ 95.2, not ≈ 100.1
    assertClose(g.sample(200, 10, false), next(10, 1.5 * long / 200));
    assert.ok(Math.abs(g.estimate - 10.227) < 1e-3);
  });

  test("Gradient2 does not decay a long-term latency just twice the latest", () => {
    const g = new Gradient2(10, 1, 100);
    feed(g, [30, 10], 1); // long-term 20, twice 10
    // Long-term: (30 + 10 + 60) / 3; gradient 1.5 × (100 / 3) / 60 = 5/6.
    assertClose(g.sample(60, 10, false), next(10, 5 / 6));
    assertClose(next(10, 5 / 6), 10 + 7 / 15);
  });

  test("Gradient2 holds the limit while fewer than half its slots are in use", () => {
    const g = new Gradient2(10, 1, 100);
    assert.equal(feed(g, times(10, 10), 4), 10);
    // Steady latency: gradient 1, + 0.8.
    assertClose(g.sample(10, 5, false), 10.8, "half the slots in use counts as loaded");
  });

  test("Gradient2 grows by 0.8 a sample at a steady latency and falls to 0.9 × limit + 0.8 at a far higher one, within its bounds", () => {
    const g = new Gradient2(10, 9, 12);
    assertClose(g.sample(10, 12, false), 10.8);
    assertClose(g.sample(10, 12, false), 11.6);
    assert.equal(feed(g, times(8, 10), 12), 12, "not past maxLimit");
    // Gradient at its floor of 0.5: limit × 0.9 + 0.8.
    assertClose(g.sample(1_000, 12, false), 12 * 0.9 + 0.8);
    assert.equal(feed(g, times(20, 1_000), 12), 9, "not below minLimit");
  });

  test("Gradient2 ignores latencies it cannot measure", () => {
    const g = new Gradient2(10, 1, 100);
    for (const rtt of [0, -1, NaN, Infinity]) assert.equal(g.sample(rtt, 10, false), 10, `${rtt}`);
    // Neither the warm-up nor the average saw them.
    feed(g, times(10, 10), 1);
    assertClose(g.sample(20, 10, false), next(10, 1.5 * (10 * (1 - F) + 20 * F) / 20));
  });
});
