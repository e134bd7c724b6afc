import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Clock, ManualClock } from "../clock.ts";
import { retryBudget, type RetryBudgetOptions } from "./retry_budget.ts";

function take(budget: { tryRetry(): boolean }, n: number): number {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (budget.tryRetry()) allowed++;
  return allowed;
}

describe("retryBudget()", () => {
  test("retryBudget() allows retries up to ratio × calls when there is no floor", () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0.2, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    assert.equal(budget.tryRetry(), false, "no calls yet, no floor: no retry");
    for (let i = 0; i < 10; i++) budget.recordCall();
    assert.equal(budget.available, 2);
    assert.equal(take(budget, 5), 2);
    assert.equal(budget.available, 0);
  });

  test("retryBudget() allows minRetriesPerSecond × window seconds with no traffic", () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0.1, minRetriesPerSecond: 3, windowMs: 2_000, clock });
    assert.equal(budget.available, 6);
    assert.equal(take(budget, 10), 6);
  });

  test("retryBudget() adds the ratio to the floor", () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0.5, minRetriesPerSecond: 1, windowMs: 1_000, clock });
    for (let i = 0; i < 4; i++) budget.recordCall();
    assert.equal(take(budget, 10), 3); // 0.5 × 4 + 1
  });

  test("retryBudget() recovers as the window slides past old retries", async () => {
    const clock = new ManualClock(5_000);
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 2, windowMs: 1_000, clock });
    assert.equal(take(budget, 5), 2);
    await clock.advance(500);
    assert.equal(budget.available, 0, "still inside the window");
    await clock.advance(500);
    assert.equal(budget.available, 2, "a whole window later the old retries are gone");
    assert.equal(take(budget, 5), 2);
  });

  test("retryBudget() forgets old calls too, so a burst of traffic does not bank retries forever", async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    for (let i = 0; i < 100; i++) budget.recordCall();
    assert.equal(budget.available, 100);
    await clock.advance(10_000);
    assert.equal(budget.available, 0);
  });

  test("retryBudget() reports 0 available, never less, when the calls behind its retries left the window", async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0.5, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    for (let i = 0; i < 10; i++) budget.recordCall();
    await clock.advance(500);
    assert.equal(take(budget, 5), 5);
    await clock.advance(500); // the calls' bucket leaves; the retries' stays
    assert.equal(budget.available, 0);
    assert.equal(budget.tryRetry(), false);
  });

  test("retryBudget() slides in buckets of a tenth of the window", async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    budget.recordCall(); // slot 0
    await clock.advance(500);
    budget.recordCall(); // slot 5
    assert.equal(budget.available, 2);
    await clock.advance(500); // slot 10: slot 0 is out of the window, slot 5 is not
    assert.equal(budget.available, 1);
    await clock.advance(499); // slot 14
    assert.equal(budget.available, 1);
    await clock.advance(1); // slot 15: slot 5 drops
    assert.equal(budget.available, 0);
  });

  test("retryBudget() keeps counting when the clock steps back", () => {
    let now = 10_000;
    const manual = new ManualClock();
    const clock: Clock = {
      now: () => now,
      setTimeout: (cb, ms) => manual.setTimeout(cb, ms),
      clearTimeout: (handle) => manual.clearTimeout(handle),
      sleep: (ms, signal) => manual.sleep(ms, signal),
    };
    const budget = retryBudget({ ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    budget.recordCall();
    now = 0;
    budget.recordCall();
    now = NaN;
    budget.recordCall();
    assert.equal(budget.available, 3);
    now = 10_999; // the same window as the latest bucket, at 10 000
    assert.equal(budget.available, 3);
    now = 11_900; // a whole window after it
    assert.equal(budget.available, 0);
  });

  test("retryBudget() counts only the last window however many calls it has seen", async () => {
    const clock = new ManualClock();
    const budget = retryBudget({ ratio: 0.1, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    // 100 000 calls spread over 100 s: only the last window counts.
    for (let i = 0; i < 100_000; i++) {
      budget.recordCall();
      if (i % 1_000 === 999) await clock.advance(1_000);
    }
    assert.equal(budget.available, 0);
    for (let i = 0; i < 50; i++) budget.recordCall();
    assert.equal(budget.available, 5);
  });

  test("retryBudget() has documented defaults", () => {
    const budget = retryBudget({ clock: new ManualClock() });
    assert.equal(budget.available, 100); // 10 per second over 10 s
    for (let i = 0; i < 1_000; i++) budget.recordCall();
    assert.equal(budget.available, 200); // + 10% of 1000
  });

  test("retryBudget() ratio may exceed 1", () => {
    const budget = retryBudget({ ratio: 2, minRetriesPerSecond: 0, clock: new ManualClock() });
    budget.recordCall();
    assert.equal(take(budget, 5), 2);
  });

  test("retryBudget() names the bad option", () => {
    const cases: Array<[unknown, string, string]> = [
      [
        { ratio: -0.1 },
        "RangeError",
        "Cannot create retryBudget as 'ratio' must be a finite non-negative number: current value is -0.1",
      ],
      [
        { ratio: NaN },
        "RangeError",
        "Cannot create retryBudget as 'ratio' must be a finite non-negative number: current value is NaN",
      ],
      [
        { ratio: "0.1" },
        "TypeError",
        `Cannot create retryBudget as 'ratio' must be a finite non-negative number: current value is "0.1"`,
      ],
      [
        { minRetriesPerSecond: Infinity },
        "RangeError",
        "Cannot create retryBudget as 'minRetriesPerSecond' must be a finite non-negative number: current value is Infinity",
      ],
      [
        { windowMs: 0 },
        "RangeError",
        "Cannot create retryBudget as 'windowMs' must be a finite positive number of milliseconds: current value is 0",
      ],
      [
        { windowMs: -5 },
        "RangeError",
        "Cannot create retryBudget as 'windowMs' must be a finite non-negative number of milliseconds: current value is -5",
      ],
      [
        { clock: {} },
        "TypeError",
        "Cannot create retryBudget as 'clock' must be a Clock (now, setTimeout, clearTimeout and sleep): current value is {}",
      ],
      [
        42,
        "TypeError",
        "Cannot create retryBudget as 'options' must be an object: current value is 42",
      ],
    ];
    for (const [options, name, message] of cases) {
      assert.throws(
        () => retryBudget(options as RetryBudgetOptions),
        { name, message },
        JSON.stringify(options),
      );
    }
  });
});
