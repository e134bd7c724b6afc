import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_WINDOW_MS, MIN_SAMPLES, MIN_WINDOW_MS, SampleWindow } from "./_sample_window.ts";

/** Adds `n` calls of latency `rtt`, ending at `from`, `from + 1`, …, none of which closes a window. */
function addCalls(w: SampleWindow, from: number, n: number, rtt: number, inflight = 1): void {
  for (let i = 0; i < n; i++) assert.equal(w.add(from + i, rtt, inflight, false), false);
}

describe("SampleWindow", () => {
  test("SampleWindow teaches nothing from a window of fewer than MIN_SAMPLES calls", () => {
    const w = new SampleWindow();
    assert.equal(w.add(0, 10, 1, false), false, "the first call only opens a window");
    for (let i = 1; i < MIN_SAMPLES - 1; i++) assert.equal(w.add(i, 10, 1, false), false);
    assert.equal(
      w.add(MIN_WINDOW_MS + 1, 10, 1, false),
      false,
      `${MIN_SAMPLES - 1} calls: not enough`,
    );
  });

  test("SampleWindow closes after twice the least latency, within its bounds, with the p90, the peak in flight and any drop", () => {
    const w = new SampleWindow();
    w.add(0, 80, 1, false); // opens: ends at 0 + clamp(2 × 80) = 160
    for (let i = 0; i < 9; i++) w.add(10 + i, 100, 3, false);
    w.add(20, 1000, 7, true);
    assert.equal(w.add(160, 100, 2, false), false, "not past the end yet");
    assert.equal(w.add(161, 100, 2, false), true);
    assert.ok(w.rtt >= 100 && w.rtt < 110, `p90 ${w.rtt}: the slow outlier does not count`);
    assert.equal(w.inflight, 7);
    assert.equal(w.dropped, true);
    // The next window lasts twice its own least latency: 100 ms → 200 ms.
    for (let i = 0; i < 12; i++) w.add(200 + i, 5_000, 1, false);
    assert.equal(w.add(161 + 200, 5_000, 1, false), false);
    assert.equal(w.add(161 + 201, 5_000, 1, false), true);
    assert.equal(w.dropped, false);
    // A slow window lasts at most MAX_WINDOW_MS.
    for (let i = 0; i < 12; i++) w.add(400 + i, 5_000, 1, false);
    assert.equal(w.add(362 + MAX_WINDOW_MS + 1, 5_000, 1, false), true);
  });

  test("SampleWindow ignores latencies it cannot measure but keeps their drops", () => {
    const w = new SampleWindow();
    w.add(0, 10, 1, false);
    for (let i = 0; i < MIN_SAMPLES; i++) w.add(1, 10, 1, false);
    w.add(2, 0, 1, true);
    w.add(3, NaN, 1, false);
    assert.equal(w.add(MIN_WINDOW_MS + 1, Infinity, 1, false), true);
    assert.equal(w.dropped, true);
    assert.ok(w.rtt >= 10 && w.rtt < 11);
  });

  test("SampleWindow reports nothing before a window closes", () => {
    const w = new SampleWindow();
    assert.deepEqual([w.rtt, w.inflight, w.dropped], [0, 0, false]);
  });

  test("SampleWindow reports the 90th percentile, not the least or the greatest latency", () => {
    const w = new SampleWindow();
    w.add(0, 64, 1, false); // opens: ends at 128
    w.add(1, 4, 2, false);
    addCalls(w, 2, 8, 16, 5);
    // 10 calls: 4, 8 × 16, 64; the 9th of them is 16 ms.
    assert.equal(w.add(129, 64, 3, false), true);
    assert.deepEqual([w.rtt, w.inflight, w.dropped], [16, 5, false]);
  });

  test("SampleWindow counts only latencies it can measure towards MIN_SAMPLES", () => {
    const w = new SampleWindow();
    w.add(0, 10, 1, false); // opens: ends at MIN_WINDOW_MS
    addCalls(w, 1, MIN_SAMPLES - 2, 10);
    for (const rtt of [0, -1, NaN, Infinity]) assert.equal(w.add(50, rtt, 1, false), false);
    assert.equal(
      w.add(MIN_WINDOW_MS + 1, 10, 1, false),
      false,
      `${MIN_SAMPLES - 1} measured calls`,
    );
  });

  test("SampleWindow lasts at least MIN_WINDOW_MS however fast the calls", () => {
    const w = new SampleWindow();
    w.add(0, 10, 1, false); // twice 10 ms is less than MIN_WINDOW_MS
    addCalls(w, 1, MIN_SAMPLES, 10);
    assert.equal(w.add(50, 10, 1, false), false);
    assert.equal(w.add(MIN_WINDOW_MS, 10, 1, false), false);
    assert.equal(w.add(MIN_WINDOW_MS + 1, 10, 1, false), true);
  });

  test("SampleWindow sets the next window from the least latency, not the closing call's", () => {
    const w = new SampleWindow();
    w.add(0, 200, 1, false); // opens: ends at 400
    addCalls(w, 1, MIN_SAMPLES, 80);
    assert.equal(w.add(401, 300, 1, false), true); // the least was 80 ms: the next ends at 401 + 160
    addCalls(w, 402, MIN_SAMPLES, 300);
    assert.equal(w.add(561, 300, 1, false), false);
    assert.equal(w.add(562, 300, 1, false), true);
  });

  test("SampleWindow keeps the last window's figures through a window too small to learn from", () => {
    const w = new SampleWindow();
    w.add(0, 16, 1, false); // opens: ends at MIN_WINDOW_MS
    addCalls(w, 1, MIN_SAMPLES, 16, 4);
    assert.equal(w.add(MIN_WINDOW_MS + 1, 16, 4, false), true);
    assert.deepEqual([w.rtt, w.inflight, w.dropped], [16, 4, false]);
    w.add(MIN_WINDOW_MS + 2, 64, 9, true);
    assert.equal(w.add(2 * MIN_WINDOW_MS + 2, 64, 9, true), false, "2 calls");
    assert.deepEqual([w.rtt, w.inflight, w.dropped], [16, 4, false]);
  });
});
