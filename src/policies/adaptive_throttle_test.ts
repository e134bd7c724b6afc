import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Clock, ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { adaptiveThrottle, ThrottledError, type ThrottledEvent } from "./adaptive_throttle.ts";

const refused = () =>
  Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });

/** A seeded generator of numbers in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("adaptiveThrottle()", () => {
  test("adaptiveThrottle() lets every call through, drawing nothing, while the backend accepts them", async () => {
    const clock = new ManualClock();
    let draws = 0;
    const policy = adaptiveThrottle({ clock, random: () => (draws++, 0) });
    for (let i = 0; i < 50; i++) assert.equal(await policy.execute(() => i), i);
    assert.equal(draws, 0);
    assert.equal(policy.probability, 0);
    assert.equal(policy.requests, 50);
    assert.equal(policy.accepts, 50);
    assert.equal(clock.pendingTimers, 0);
  });

  test("adaptiveThrottle() rejects with probability (requests − k·accepts) / (requests + 1)", async () => {
    const clock = new ManualClock();
    let next = 0.999;
    const events: ThrottledEvent[] = [];
    const policy = adaptiveThrottle({
      clock,
      random: () => next,
      onThrottled: (e) => events.push(e),
    });
    for (let i = 0; i < 10; i++) await policy.execute(() => "ok");
    for (let i = 0; i < 30; i++) {
      await assert.rejects(policy.execute(() => Promise.reject(refused())));
    }
    assert.equal(policy.probability, (40 - 2 * 10) / 41);
    next = 20 / 41 - 1e-9;
    let called = false;
    const error = await policy.execute(() => (called = true)).catch((e) => e);
    assert.equal(called, false);
    assert.ok(error instanceof ThrottledError);
    assert.equal(error.name, "ThrottledError");
    assert.equal(error.probability, 20 / 41);
    assert.equal(error.requests, 41, "a call turned away counts as a request");
    assert.equal(error.accepts, 10);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.error, error);
    next = 21 / 42; // not below p = 21/42: sent
    assert.equal(await policy.execute(() => "sent"), "sent");
  });

  test("adaptiveThrottle() forgets what fell out of the window", async () => {
    const clock = new ManualClock();
    const policy = adaptiveThrottle({ clock, windowMs: 10_000, random: () => 0.999 });
    for (let i = 0; i < 20; i++) {
      await policy.execute(() => Promise.reject(refused())).catch(() => {});
    }
    assert.ok(policy.probability > 0.9);
    await clock.advance(5_000);
    assert.ok(policy.probability > 0.9);
    await clock.advance(5_000);
    assert.equal(policy.probability, 0);
    assert.equal(policy.requests, 0);
  });

  test("adaptiveThrottle() never counts the caller's cancel, and counts other failures as accepted", async () => {
    const policy = adaptiveThrottle({ random: () => 0.999 });
    const controller = new AbortController();
    await assert.rejects(policy.execute(() => {
      controller.abort();
      return Promise.reject(refused());
    }, controller.signal));
    await assert.rejects(policy.execute(() => Promise.reject(new ConnectionError("cancelled"))));
    assert.equal(policy.requests, 0);
    await assert.rejects(policy.execute(() => Promise.reject(new TypeError("HTTP 404"))));
    assert.equal(policy.requests, 1);
    assert.equal(policy.accepts, 1);
    const error = await policy.execute(() => Promise.reject(refused())).catch((e) => e);
    assert.ok(error instanceof ConnectionError, "a recognized failure leaves as a ConnectionError");
    assert.equal(policy.accepts, 1);
  });

  test("adaptiveThrottle() counts only what on selects as not accepted", async () => {
    class HttpError extends Error {
      status: number;
      constructor(status: number) {
        super(`HTTP ${status}`);
        this.status = status;
      }
    }
    const byPredicate = adaptiveThrottle({
      random: () => 0.999,
      on: (error) => error instanceof HttpError && error.status === 503,
    });
    await byPredicate.execute(() => Promise.reject(new HttpError(503))).catch(() => {});
    await byPredicate.execute(() => Promise.reject(new HttpError(404))).catch(() => {});
    await byPredicate.execute(() => Promise.reject(refused())).catch(() => {});
    assert.equal(byPredicate.requests, 3);
    assert.equal(byPredicate.accepts, 2);
    const byKinds = adaptiveThrottle({ random: () => 0.999, on: ["timeout", "unknown"] });
    await byKinds.execute(() => Promise.reject(refused())).catch(() => {});
    await byKinds.execute(() => Promise.reject(new Error("?"))).catch(() => {});
    assert.equal(byKinds.requests, 2);
    assert.equal(byKinds.accepts, 1);
    const throwing = adaptiveThrottle({
      on: () => {
        throw new Error("boom");
      },
    });
    const original = new TypeError("original");
    await assert.rejects(throwing.execute(() => Promise.reject(original)), (e) => e === original);
  });

  test("adaptiveThrottle() rejects decisions exactly as its formula says, whatever the outcomes and draws", async () => {
    const outcome = fc.constantFrom("ok", "refused", "other", "cancel");
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.array(fc.tuple(outcome, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })), {
          maxLength: 80,
        }),
        async (k, calls) => {
          let u = 0;
          const policy = adaptiveThrottle({
            k,
            windowMs: 1e9,
            random: () => u,
            clock: new ManualClock(),
          });
          let requests = 0;
          let accepts = 0;
          for (const [what, draw] of calls) {
            u = draw;
            const p = Math.max(0, (requests - k * accepts) / (requests + 1));
            const controller = new AbortController();
            let sent = false;
            await policy.execute(() => {
              sent = true;
              if (what === "ok") return Promise.resolve();
              if (what === "cancel") controller.abort();
              return Promise.reject(what === "other" ? new TypeError("404") : refused());
            }, controller.signal).catch(() => {});
            assert.equal(sent, !(draw < p), `p = ${p}, draw = ${draw}`);
            if (!sent) requests++;
            else if (what !== "cancel") {
              requests++;
              if (what !== "refused") accepts++;
            }
            assert.equal(policy.requests, requests);
            assert.equal(policy.accepts, accepts);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test("adaptiveThrottle()'s rejection rate follows its formula within sampling error (seeded random)", async () => {
    // Demand: one call a millisecond. The backend accepts 10 calls per 100 ms and refuses the rest.
    // In steady state the client should send about k × capacity: reject 1 − 2 × 10/100 = 80%.
    // The throttle only reads the time: a bare clock moved by hand (20 000 ManualClock
    // advances would each drain the microtask queue, for nothing).
    let t = 0;
    const clock: Clock = {
      now: () => t,
      setTimeout: () => assert.fail("the throttle sets no timer"),
      clearTimeout: () => {},
      sleep: () => assert.fail("the throttle sleeps on nothing"),
    };
    const policy = adaptiveThrottle({ k: 2, windowMs: 2_000, clock, random: seeded(42) });
    let expected = 0;
    let variance = 0;
    let rejected = 0;
    let steadyCalls = 0;
    let steadyRejected = 0;
    let acceptedInSlot = 0;
    let slot = 0;
    for (; t < 20_000; t++) {
      if (Math.floor(t / 100) !== slot) {
        slot = Math.floor(t / 100);
        acceptedInSlot = 0;
      }
      const p = policy.probability;
      expected += p;
      variance += p * (1 - p);
      let isThrottled = false;
      await policy.execute(() => {
        if (acceptedInSlot < 10) return acceptedInSlot++;
        throw refused();
      }).catch((e) => (isThrottled = e instanceof ThrottledError));
      if (isThrottled) rejected++;
      if (t >= 5_000) {
        steadyCalls++;
        if (isThrottled) steadyRejected++;
      }
    }
    const sigma = Math.sqrt(variance);
    assert.ok(
      Math.abs(rejected - expected) <= 4 * sigma + 1,
      `${rejected} rejections, ${expected.toFixed(1)} expected ± ${sigma.toFixed(1)}`,
    );
    const rate = steadyRejected / steadyCalls;
    assert.ok(Math.abs(rate - 0.8) < 0.03, `steady rejection rate ${rate.toFixed(3)}`);
  });

  test("adaptiveThrottle() rejects with what a clock or random source throws", async () => {
    const boom = new Error("boom");
    const policy = adaptiveThrottle({
      random: () => {
        throw boom;
      },
    });
    await policy.execute(() => Promise.reject(refused())).catch(() => {});
    await assert.rejects(policy.execute(() => 1), (e) => e === boom);
  });

  test("ThrottledError is recognized by its brand, across copies of the library", () => {
    const foreign = { [Symbol.for("faultline.ThrottledError")]: true };
    assert.ok(foreign instanceof ThrottledError);
    assert.equal({} instanceof ThrottledError, false);
    assert.equal(new Error("x") instanceof ThrottledError, false);
    class Sub extends ThrottledError {}
    assert.ok(new Sub(0.5, 2, 0) instanceof ThrottledError);
    assert.equal(new ThrottledError(0.5, 2, 0) instanceof Sub, false);
    const error = new ThrottledError(0.25, 8, 3);
    assert.equal(
      error.message,
      "Throttled locally: the backend accepted 3 of the last 8 requests, so 25% of calls are not sent",
    );
  });

  test("adaptiveThrottle() checks its options", () => {
    assert.throws(
      () => adaptiveThrottle({ k: 0.5 }),
      new RangeError(
        "Cannot create adaptiveThrottle as 'k' must be a finite number of at least 1: current value is 0.5",
      ),
    );
    assert.throws(() => adaptiveThrottle({ k: "2" as never }), TypeError);
    assert.throws(() => adaptiveThrottle({ k: Infinity }), RangeError);
    assert.throws(() => adaptiveThrottle({ windowMs: 0 }), /'windowMs'/);
    assert.throws(() => adaptiveThrottle({ windowMs: -1 }), /'windowMs'/);
    assert.throws(() => adaptiveThrottle({ on: ["nope" as never] }), /'on\[0\]'/);
    assert.throws(() => adaptiveThrottle({ on: 1 as never }), /'on'/);
    assert.throws(() => adaptiveThrottle({ random: 1 as never }), /'random'/);
    assert.throws(() => adaptiveThrottle({ clock: {} as never }), /'clock'/);
    assert.throws(() => adaptiveThrottle({ onThrottled: 1 as never }), /'onThrottled'/);
    const policy = adaptiveThrottle();
    assert.equal(policy.k, 2);
    assert.equal(policy.windowMs, 120_000);
  });
});
