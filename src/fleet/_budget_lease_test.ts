// retryBudget({ fleet }) on a ManualClock against the in-memory reference
// store (tests/support/fleet_memory_store.ts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { retryBudget } from "../policies/retry_budget.ts";
import { retry } from "../policies/retry.ts";
import { constantBackoff } from "../policies/backoff.ts";
import type { FleetErrorEvent } from "./store.ts";
import { MemoryFleetStore } from "../../tests/support/fleet_memory_store.ts";

function take(budget: { tryRetry(): boolean }, n: number): number {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (budget.tryRetry()) allowed++;
  return allowed;
}

describe("retryBudget({ fleet })", () => {
  test("the calls of one instance earn retries for another", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const fleet = { store, key: "db", syncMs: 100 };
    const options = { ratio: 0.1, minRetriesPerSecond: 0, windowMs: 10_000, clock, fleet };
    const busy = retryBudget(options);
    const quiet = retryBudget(options);
    for (let i = 0; i < 200; i++) busy.recordCall();
    quiet.recordCall();
    await clock.advance(200);
    // Alone, `quiet` would have 0.1 × 1 retries; the fleet has 0.1 × 201.
    let allowed = 0;
    for (let i = 0; i < 10; i++) {
      allowed += take(quiet, 5);
      await clock.advance(100);
    }
    assert.ok(allowed >= 15 && allowed <= 21, `allowed ${allowed}`);
    // Spent, but for a token each may still hold from its last lease.
    assert.ok(take(busy, 10) + take(quiet, 10) <= 2, "the fleet's budget is spent");
    busy.close();
    quiet.close();
  });

  test("retries across the fleet stay within ratio × the fleet's calls", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const fleet = { store, key: "db", syncMs: 50 };
    const budgets = [0, 1, 2].map(() =>
      retryBudget({ ratio: 0.2, minRetriesPerSecond: 1, windowMs: 5_000, clock, fleet })
    );
    let calls = 0, retries = 0;
    for (let t = 0; t < 4_000; t += 10) {
      for (const b of budgets) {
        b.recordCall();
        calls++;
        retries += take(b, 2);
      }
      await clock.advance(10);
    }
    // Over the whole run (shorter than the window): 0.2 × calls + 5, plus one batch of credit each.
    const limit = 0.2 * calls + 5;
    assert.ok(retries <= limit + 3 * 16, `${retries} retries for ${calls} calls`);
    assert.ok(retries >= limit * 0.7, `${retries} retries for ${calls} calls`);
    for (const b of budgets) b.close();
  });

  test("store down: each budget decides alone, and the error is reported", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    store.mode = "fail";
    const errors: FleetErrorEvent[] = [];
    const budget = retryBudget({
      ratio: 0.5,
      minRetriesPerSecond: 0,
      windowMs: 1_000,
      clock,
      fleet: { store, key: "db", syncMs: 10 },
    });
    budget.onFleetError((e) => errors.push(e));
    for (let i = 0; i < 10; i++) budget.recordCall();
    await clock.advance(0);
    assert.equal(errors.length, 1);
    assert.equal(budget.available, 5);
    assert.equal(take(budget, 10), 5);
    budget.close();
  });

  test("a retry policy with a fleet budget never waits on a store that hangs", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    store.mode = "hang";
    const budget = retryBudget({ clock, fleet: { store, key: "db", syncMs: 10 } });
    const policy = retry({ maxAttempts: 3, backoff: constantBackoff(0), budget, clock });
    let attempts = 0;
    const result = policy.execute(() => {
      if (++attempts < 3) throw Object.assign(new Error("reset"), { code: "ECONNRESET" });
      return "done";
    });
    await clock.advance(0);
    assert.equal(await result, "done");
    assert.equal(attempts, 3);
    budget.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test("idle: no request and no timer after the last call", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const budget = retryBudget({ clock, fleet: { store, key: "db", syncMs: 100 } });
    for (let i = 0; i < 1_000; i++) {
      budget.recordCall();
      if (i % 10 === 0) budget.tryRetry();
      if (i % 100 === 0) await clock.advance(10);
    }
    await clock.advance(1_000);
    const requests = store.log.length;
    assert.ok(requests <= 4, `${requests} requests`);
    assert.equal(clock.pendingTimers, 0);
    await clock.advance(10_000);
    assert.equal(store.log.length, requests);
  });
});
