import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Vegas } from "./_vegas.ts";

/** A Vegas at `limit` whose no-load latency is 10 ms (its first sample). */
function atNoLoad10(limit: number, min = 1, max = 1_000): Vegas {
  const vegas = new Vegas(limit, min, max);
  assert.equal(
    vegas.sample(10, limit, false),
    limit,
    "the first sample only sets the no-load latency",
  );
  return vegas;
}

/**
 * How many lightly loaded samples at `rtt`, after the samples `before`, until
 * a Vegas at limit 10 takes `rtt` as its no-load latency: then a loaded
 * sample at `rtt` finds nothing queued and grows the limit by 6.
 */
function samplesUntilProbe(before: number[], rtt: number): number {
  for (let n = 1; n <= 400; n++) {
    const vegas = new Vegas(10, 1, 100);
    for (const ms of before) vegas.sample(ms, 1, false);
    for (let i = 0; i < n; i++) vegas.sample(rtt, 1, false);
    if (vegas.sample(rtt, 10, false) === 16) return n;
  }
  return Infinity;
}

describe("Vegas", () => {
  test("Vegas learns from windows of calls", () => {
    assert.equal(new Vegas(10, 1, 100).windowed, true);
  });

  test("Vegas moves the limit by the calls it estimates queued, in steps of ⌊log10 limit⌋", () => {
    // queued = ⌈limit × (1 − 10 / rtt)⌉; s = 1 at limit 10, 2 at limit 100.
    const cases: [limit: number, rtt: number, queued: number, next: number][] = [
      [10, 10, 0, 16], // queued ≤ s: + 6s
      [10, 11, 1, 16],
      [10, 12, 2, 11], // queued < 3s: + s
      [10, 14, 3, 10], // 3s ≤ queued ≤ 6s: holds
      [10, 24, 6, 10],
      [10, 30, 7, 9], // queued > 6s: − s
      [100, 10, 0, 112],
      [100, 10.4, 4, 102],
      [100, 10.8, 8, 100],
      [100, 20, 50, 98],
    ];
    for (const [limit, rtt, queued, next] of cases) {
      assert.equal(Math.ceil(limit * (1 - 10 / rtt)), queued, `${limit} at ${rtt} ms`);
      const vegas = atNoLoad10(limit);
      assert.equal(
        vegas.sample(rtt, limit, false),
        next,
        `${limit} at ${rtt} ms (${queued} queued)`,
      );
      assert.equal(vegas.estimate, next);
    }
  });

  test("Vegas takes one step off on a drop, whatever the latency and load", () => {
    assert.equal(atNoLoad10(4).sample(10, 4, true), 3, "⌊log10 4⌋ is 0: the step is still 1");
    assert.equal(atNoLoad10(4).sample(10, 4, false), 10, "and a growth is 6 × 1");
    assert.equal(atNoLoad10(10).sample(10, 10, true), 9);
    assert.equal(atNoLoad10(10).sample(10, 1, true), 9);
    assert.equal(atNoLoad10(100).sample(50, 100, true), 98);
  });

  test("Vegas holds the limit while fewer than half its slots are in use", () => {
    assert.equal(atNoLoad10(10).sample(10, 4, false), 10);
    assert.equal(atNoLoad10(10).sample(10, 5, false), 16, "half the slots in use counts as loaded");
  });

  test("Vegas keeps the limit within its bounds", () => {
    assert.equal(atNoLoad10(10, 1, 12).sample(10, 10, false), 12);
    assert.equal(atNoLoad10(10, 10, 100).sample(10, 10, true), 10);
  });

  test("Vegas takes a lower latency as its new no-load latency and holds on that sample", () => {
    const vegas = new Vegas(10, 1, 100);
    vegas.sample(20, 10, false);
    assert.equal(vegas.sample(10, 10, false), 10);
    assert.equal(vegas.sample(10, 10, false), 16, "10 ms is now no load: nothing queued");
  });

  test("Vegas ignores latencies it cannot measure, even dropped ones", () => {
    const vegas = atNoLoad10(10);
    for (const rtt of [0, -1, NaN, Infinity]) {
      assert.equal(vegas.sample(rtt, 10, false), 10, `${rtt}`);
      assert.equal(vegas.sample(rtt, 10, true), 10, `${rtt}, dropped`);
    }
    assert.equal(vegas.sample(10, 10, false), 16, "the no-load latency is still 10 ms");
  });

  test("Vegas forgets its no-load latency after a reproducible 15 to 30 × limit samples, each time after a new count", () => {
    // From its xorshift32 jitter: after 198 samples at limit 10, then 282 more.
    const first = 1 + samplesUntilProbe([10], 20);
    assert.equal(first, 198);
    const second = samplesUntilProbe([10, ...Array<number>(first - 1).fill(20)], 30);
    assert.equal(second, 282);
    for (const n of [first, second]) assert.ok(n >= 15 * 10 && n < 30 * 10, `${n}`);
  });
});
