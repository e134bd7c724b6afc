// rateLimit({ fleet }) on a ManualClock against the in-memory reference
// store (tests/support/fleet_memory_store.ts): the limit holds across
// instances, no call waits on the store, and the store sees a bounded number
// of requests whatever the call rate.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { rateLimit, type RateLimitPolicy } from "../policies/rate_limit.ts";
import { RateLimitedError } from "../policies/rate_limited_error.ts";
import type { FleetErrorEvent } from "./store.ts";
import { MemoryFleetStore } from "../../tests/support/fleet_memory_store.ts";

/** Calls `limiter` once; true when it was let through, without waiting for the store. */
async function tryCall(limiter: RateLimitPolicy): Promise<boolean> {
  try {
    await limiter.execute(() => 1);
    return true;
  } catch (e) {
    if (e instanceof RateLimitedError) return false;
    throw e;
  }
}

/** Settles within a few microtask turns, or says it did not. */
async function settlesAtOnce(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 20; i++) await undefined;
  return done;
}

describe("rateLimit({ fleet })", () => {
  test("two instances share one limit through the store", async () => {
    const clock = new ManualClock(1_000);
    const store = new MemoryFleetStore(clock);
    const options = { limit: 20, windowMs: 1_000, burst: 5, clock };
    const fleet = { store, key: "api", syncMs: 50 };
    const a = rateLimit({ ...options, fleet });
    const b = rateLimit({ ...options, fleet });
    let admitted = 0;
    // Each instance tries a call every 5 ms for 3 s: 1200 tries, 200 each second.
    for (let t = 0; t < 3_000; t += 5) {
      if (await tryCall(a)) admitted++;
      if (await tryCall(b)) admitted++;
      await clock.advance(5);
    }
    // The fleet's limit is 5 + 20 × 3 = 65; alone, each would let that many through.
    assert.ok(admitted <= 65 + 10, `admitted ${admitted}`);
    assert.ok(admitted >= 50, `admitted ${admitted}`);
    a.close();
    b.close();
  });

  test("a call never waits on the store: a store that never answers changes nothing for callers", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    store.mode = "hang";
    const errors: FleetErrorEvent[] = [];
    const limiter = rateLimit({
      limit: 1_000,
      windowMs: 1_000,
      clock,
      fleet: { store, key: "k", syncMs: 10 },
    });
    limiter.onFleetError((e) => errors.push(e));
    for (let i = 0; i < 200; i++) {
      assert.equal(await settlesAtOnce(limiter.execute(() => i)), true);
      await clock.advance(10);
    }
    // A request that hangs counts as failed after 1 s; then backoff.
    assert.ok(errors.length >= 1, "onFleetError fired");
    assert.equal(errors[0]!.key, "k");
    assert.equal((errors[0]!.error as Error).name, "TimeoutError");
    assert.ok(store.log.length <= 4, `${store.log.length} requests`);
    limiter.close();
  });

  test("store down: each instance goes on with its own limit, backs off, and resyncs when it is back", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    store.mode = "fail";
    const errors: FleetErrorEvent[] = [];
    const limiter = rateLimit({
      limit: 100,
      windowMs: 1_000,
      burst: 10,
      clock,
      fleet: { store, key: "k", syncMs: 20 },
    });
    limiter.onFleetError((e) => errors.push(e));
    let admitted = 0;
    for (let t = 0; t < 3_000; t += 5) {
      if (await tryCall(limiter)) admitted++;
      await clock.advance(5);
    }
    // Its own limit: 10 + 100 × 3.
    assert.ok(admitted <= 310 && admitted >= 290, `admitted ${admitted}`);
    // Backoff: 20, 40, 80 … up to 320 ms (16 × syncMs), not one request per call.
    assert.ok(store.log.length < 30, `${store.log.length} requests while down`);
    assert.ok(errors.length === store.log.length);
    assert.ok(errors.at(-1)!.failures === store.log.length);
    assert.ok(errors.at(-1)!.retryInMs <= 320);
    store.mode = "ok";
    const before = store.log.length;
    for (let t = 0; t < 1_000; t += 5) {
      await tryCall(limiter);
      await clock.advance(5);
    }
    assert.ok(store.log.length > before, "tried again");
    assert.equal(errors.length, before, "no error once it is back");
    assert.ok(store.tats.get("k")! > 0, "the fleet state is in the store again");
    limiter.close();
  });

  test("requests to the store do not grow with the call rate", async () => {
    const requestsAt = async (perMs: number): Promise<number> => {
      const clock = new ManualClock();
      const store = new MemoryFleetStore(clock);
      const limiter = rateLimit({
        limit: 100_000,
        windowMs: 1_000,
        clock,
        fleet: { store, key: "k", syncMs: 100 },
      });
      for (let t = 0; t < 1_000; t += 2) {
        for (let i = 0; i < perMs; i++) await tryCall(limiter);
        await clock.advance(2);
      }
      limiter.close();
      return store.log.length;
    };
    const slow = await requestsAt(1);
    const fast = await requestsAt(40);
    assert.ok(slow <= 11 && fast <= 11, `${slow} and ${fast} requests in 1 s at syncMs 100`);
  });

  test("when the fleet has no token left, the others are refused with the fleet's retryAfterMs", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const fleet = { store, key: "k", syncMs: 100 };
    const a = rateLimit({ limit: 10, windowMs: 1_000, clock, fleet });
    const b = rateLimit({ limit: 10, windowMs: 1_000, clock, fleet });
    // b makes itself known to the store first, with room to spare.
    await tryCall(b);
    await clock.advance(0);
    // a takes the rest of the fleet's burst.
    let n = 0;
    for (let i = 0; i < 40; i++) {
      if (await tryCall(a)) n++;
      await clock.advance(10);
    }
    await clock.advance(100);
    let refused: RateLimitedError | undefined;
    // b's last reply had room: it goes on credit until its next request says otherwise.
    for (let i = 0; i < 30 && refused === undefined; i++) {
      try {
        await b.execute(() => 1);
      } catch (e) {
        refused = e as RateLimitedError;
      }
      await clock.advance(10);
    }
    assert.ok(refused instanceof RateLimitedError, `a got ${n}, b was never refused`);
    assert.ok(
      refused.retryAfterMs > 0 && refused.retryAfterMs <= 1_000,
      String(refused.retryAfterMs),
    );
    a.close();
    b.close();
  });

  test("after the last call no timer is left, and close() stops every request", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const limiter = rateLimit({
      limit: 1_000,
      windowMs: 1_000,
      clock,
      fleet: { store, key: "k", syncMs: 100 },
    });
    for (let i = 0; i < 300; i++) await tryCall(limiter);
    await clock.advance(1_000);
    assert.equal(clock.pendingTimers, 0);
    const requests = store.log.length;
    await clock.advance(10_000);
    assert.equal(store.log.length, requests, "idle: no request");
    limiter.close();
    for (let i = 0; i < 300; i++) await tryCall(limiter);
    await clock.advance(1_000);
    assert.equal(store.log.length, requests, "closed: no request");
    assert.equal(clock.pendingTimers, 0);
  });

  test("bad fleet options throw at construction", () => {
    const store = new MemoryFleetStore(new ManualClock());
    assert.throws(
      () => rateLimit({ limit: 1, windowMs: 1, fleet: { store, key: "" } }),
      new RangeError(
        `Cannot create rateLimit as 'fleet.key' must be a non-empty string: current value is ""`,
      ),
    );
    assert.throws(
      () => rateLimit({ limit: 1, windowMs: 1, fleet: { store, key: "k", syncMs: 0 } }),
      RangeError,
    );
    assert.throws(
      () => rateLimit({ limit: 1, windowMs: 1, fleet: { store, key: "k", minInstances: 0 } }),
      RangeError,
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => rateLimit({ limit: 1, windowMs: 1, fleet: { store: {} as any, key: "k" } }),
      TypeError,
    );
  });
});
