import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_WINDOW_MS, MIN_SAMPLES, MIN_WINDOW_MS, SampleWindow } from "./_sample_window.ts";

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
});
