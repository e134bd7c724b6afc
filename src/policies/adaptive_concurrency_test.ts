import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Clock, ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import {
  type AdaptiveAlgorithm,
  adaptiveConcurrency,
  type AdaptiveConcurrencyPolicy,
  type LimitChangeEvent,
} from "./adaptive_concurrency.ts";
import { BulkheadRejectedError } from "./bulkhead.ts";
import { ThrottledError } from "./throttled_error.ts";
import { Aimd } from "./limit/_aimd.ts";
import { Gradient2 } from "./limit/_gradient2.ts";
import { Vegas } from "./limit/_vegas.ts";

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

const timeoutError = () => new ConnectionError("timeout", { message: "Timed out", timeoutMs: 10 });

/**
 * A clock for long simulations: like ManualClock, but it lets only a few
 * microtask turns run after each timer (ManualClock's 512 turns a timer cost
 * seconds under node:test's async tracking when thousands of calls run).
 */
class SimClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers: { due: number; seq: number; callback: () => void }[] = [];
  now(): number {
    return this.#now;
  }
  get pendingTimers(): number {
    return this.#timers.length;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { due: this.#now + ms, seq: this.#seq++, callback };
    this.#timers.push(timer);
    return timer;
  }
  clearTimeout(handle: unknown): void {
    const i = this.#timers.indexOf(handle as never);
    if (i >= 0) this.#timers.splice(i, 1);
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }
  /** Fires every timer due up to `now() + ms`, in order, with a few turns after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await turns(8);
    for (;;) {
      let next: { due: number; seq: number; callback: () => void } | undefined;
      for (const t of this.#timers) {
        if (
          t.due <= end && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))
        ) {
          next = t;
        }
      }
      if (!next) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = next.due;
      next.callback();
      await turns(8);
    }
    this.#now = end;
  }
}

/**
 * Open-loop load, as a server's requests arrive: a call every `gap` ms for
 * `ms` of clock time, each waiting `latency(now)`. Returns the limit at the
 * start of every 100 ms.
 */
async function load(
  policy: AdaptiveConcurrencyPolicy,
  clock: SimClock,
  gap: number,
  ms: number,
  latency: (now: number) => number,
): Promise<number[]> {
  const limits: number[] = [];
  const calls: Promise<unknown>[] = [];
  for (let t = 0; t < ms; t += gap) {
    if (t % 100 === 0) limits.push(policy.limit);
    calls.push(
      policy.execute(() => clock.sleep(latency(clock.now()))).catch((error) => {
        if (!(error instanceof BulkheadRejectedError)) throw error;
      }),
    );
    await clock.advance(gap);
  }
  await clock.advance(10_000); // let the last calls end
  await Promise.all(calls);
  return limits;
}

describe("adaptiveConcurrency()", () => {
  test("adaptiveConcurrency() runs at most limit calls at once and rejects beyond with BulkheadRejectedError", async () => {
    const rejected: unknown[] = [];
    const policy = adaptiveConcurrency({ initialLimit: 2, onRejected: (e) => rejected.push(e) });
    const gate = deferred();
    const calls = [policy.execute(() => gate.promise), policy.execute(() => gate.promise)];
    assert.equal(policy.inFlight, 2);
    const error = await policy.execute(() => "never").catch((e) => e);
    assert.ok(error instanceof BulkheadRejectedError);
    assert.equal(error.limit, 2);
    assert.equal(rejected.length, 1);
    gate.resolve();
    await Promise.all(calls);
    assert.equal(policy.inFlight, 0);
  });

  test("adaptiveConcurrency() queues up to queue calls and starts them as slots free", async () => {
    const policy = adaptiveConcurrency({ initialLimit: 1, queue: 1, algorithm: "aimd" });
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    const second = policy.execute(() => "second");
    assert.equal(policy.queued, 1);
    await assert.rejects(policy.execute(() => 3), BulkheadRejectedError);
    gate.resolve();
    await first;
    assert.equal(await second, "second");
    assert.equal(policy.queued, 0);
    assert.equal(policy.inFlight, 0);
  });

  test("adaptiveConcurrency() takes a waiter whose signal aborts out of the queue", async () => {
    const policy = adaptiveConcurrency({ initialLimit: 1, queue: 5 });
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    const controller = new AbortController();
    const waiting = policy.execute(() => "never", controller.signal);
    controller.abort();
    const error = await waiting.catch((e) => e);
    assert.equal((error as ConnectionError).kind, "cancelled");
    assert.equal(policy.queued, 0);
    gate.resolve();
    await first;
    assert.equal(policy.inFlight, 0);
  });

  test("adaptiveConcurrency() with aimd grows by one per call at load and cuts by 10% on a timeout", async () => {
    const changes: LimitChangeEvent[] = [];
    const policy = adaptiveConcurrency({
      algorithm: "aimd",
      initialLimit: 4,
      onLimitChange: (e) => changes.push(e),
    });
    const gates = Array.from({ length: 4 }, () => deferred());
    const calls = gates.map((g) => policy.execute(() => g.promise));
    for (const g of gates) g.resolve();
    await Promise.all(calls);
    // Started with 1, 2, 3, 4 in flight: the first was below half the limit (4), the others not.
    assert.equal(policy.limit, 7);
    await assert.rejects(policy.execute(() => Promise.reject(timeoutError())));
    assert.equal(policy.limit, 6, "⌊7 × 0.9⌋");
    assert.deepEqual(changes.at(-1), {
      limit: 6,
      previous: 7,
      rtt: changes.at(-1)!.rtt,
      inFlight: 0,
    });
  });

  test("adaptiveConcurrency() measures each call on its clock and sets no timer", async () => {
    const clock = new ManualClock();
    const changes: LimitChangeEvent[] = [];
    const policy = adaptiveConcurrency({
      algorithm: "aimd",
      initialLimit: 2,
      clock,
      onLimitChange: (e) => changes.push(e),
    });
    const calls = [30, 45].map((ms) => policy.execute(() => clock.sleep(ms)));
    assert.equal(clock.pendingTimers, 2, "only the operations' own sleeps");
    await clock.advance(45);
    await Promise.all(calls);
    assert.deepEqual(changes.map((e) => [e.previous, e.limit, e.rtt]), [[2, 3, 30], [3, 4, 45]]);
    assert.equal(clock.pendingTimers, 0);
  });

  test("adaptiveConcurrency() with aimd cuts on an overload rejection from inside, not on other failures or a cancel", async () => {
    const policy = adaptiveConcurrency({ algorithm: "aimd", initialLimit: 10 });
    await assert.rejects(policy.execute(() => Promise.reject(new BulkheadRejectedError(1, 0))));
    assert.equal(policy.limit, 9);
    await assert.rejects(policy.execute(() => Promise.reject(new ThrottledError(0.5, 3, 1))));
    assert.equal(policy.limit, 8);
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    await assert.rejects(policy.execute(() => Promise.reject(refused)));
    await assert.rejects(policy.execute(() => Promise.reject(new TypeError("bug"))));
    const controller = new AbortController();
    const call = policy.execute(() => {
      controller.abort();
      return Promise.reject(timeoutError());
    }, controller.signal);
    await assert.rejects(call);
    assert.equal(policy.limit, 8);
  });

  test("adaptiveConcurrency() lets waiters in as the limit grows", async () => {
    const policy = adaptiveConcurrency({ algorithm: "aimd", initialLimit: 2, queue: 3 });
    const gates = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    const calls = gates.map((g, i) =>
      policy.execute(() => {
        started.push(i);
        return g.promise;
      })
    );
    assert.deepEqual(started, [0, 1]);
    gates[0]!.resolve(); // limit 2 → 3: two waiters get in
    await turns();
    assert.equal(policy.limit, 3);
    assert.deepEqual(started, [0, 1, 2, 3]);
    for (const g of gates) g.resolve();
    await Promise.all(calls);
  });

  for (const Algorithm of [Gradient2, Vegas]) {
    test(`${Algorithm.name} lowers the limit when latency jumps at a steady load and raises it when latency recovers`, () => {
      const algorithm = new Algorithm(20, 1, 200);
      const at: number[] = [];
      // 400 calls at ~10 ms, 300 at ~60 ms, 600 at ~10 ms, each at full load (±10% noise).
      let i = 0;
      for (const [n, rtt] of [[400, 10], [300, 60], [600, 10]] as const) {
        for (let k = 0; k < n; k++, i++) {
          const noise = 0.9 + 0.2 * ((k * 7919) % 100) / 100;
          algorithm.sample(rtt * noise, Math.ceil(algorithm.estimate), false);
          at[i] = algorithm.estimate;
        }
      }
      const before = at[399]!;
      const slow = Math.min(...at.slice(400, 700));
      assert.ok(slow < before / 2, `${Algorithm.name}: ${slow} on the jump < half of ${before}`);
      assert.ok(at[1299]! > slow * 2, `${Algorithm.name}: ${at[1299]} after recovery`);
    });
  }

  for (const algorithm of ["gradient2", "vegas"] as const) {
    test(`adaptiveConcurrency() with ${algorithm} sheds load when the dependency slows down, and takes it back after`, async () => {
      const clock = new SimClock();
      const policy = adaptiveConcurrency({ algorithm, initialLimit: 10, maxLimit: 40, clock });
      // A call every 2 ms taking 20 ms, then 100 ms from 1 s to 2 s, then 20 ms again.
      const latency = (t: number) => (t >= 1_000 && t < 2_000 ? 100 : 20);
      const limits = await load(policy, clock, 2, 4_000, latency);
      const before = limits[9]!;
      const slow = Math.min(...limits.slice(10, 20));
      const after = limits.at(-1)!;
      assert.ok(slow < before, `${algorithm}: ${slow} while slow < ${before} before`);
      assert.ok(after > slow, `${algorithm}: ${after} after recovery > ${slow}`);
      assert.equal(clock.pendingTimers, 0);
      assert.equal(policy.inFlight, 0);
    });
  }

  test("adaptiveConcurrency() keeps the limit within [minLimit, maxLimit] whatever the calls", async () => {
    const algorithms: AdaptiveAlgorithm[] = ["gradient2", "vegas", "aimd"];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...algorithms),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(
          fc.record({
            ms: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 500 })),
            end: fc.constantFrom("ok", "ok", "timeout", "rejected", "bug"),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        async (algorithm, minLimit, span, workers, calls) => {
          const clock = new SimClock();
          const maxLimit = minLimit + span;
          const seen: number[] = [];
          const policy = adaptiveConcurrency({
            algorithm,
            minLimit,
            maxLimit,
            initialLimit: minLimit + Math.floor(span / 2),
            queue: 2,
            clock,
            onLimitChange: (e) => seen.push(e.limit),
          });
          let next = 0;
          const loops = Array.from({ length: workers }, async () => {
            while (next < calls.length) {
              const c = calls[next++]!;
              await policy.execute(async () => {
                await clock.sleep(c.ms);
                if (c.end === "timeout") throw timeoutError();
                if (c.end === "rejected") throw new BulkheadRejectedError(1, 0);
                if (c.end === "bug") throw new TypeError("bug");
              }).catch(() => {});
              seen.push(policy.limit);
              assert.ok(policy.inFlight <= maxLimit);
            }
          });
          while (next < calls.length || policy.inFlight > 0) await clock.advance(100);
          await Promise.all(loops);
          for (const limit of seen) assert.ok(limit >= minLimit && limit <= maxLimit, `${limit}`);
          assert.equal(clock.pendingTimers, 0);
        },
      ),
      { numRuns: 100 },
    );
  });

  test("every limit algorithm keeps its estimate within its bounds for any samples", () => {
    const sample = fc.record({
      rtt: fc.oneof(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.constantFrom(0, -1, NaN, Infinity, 1e-9),
      ),
      inflight: fc.integer({ min: 0, max: 1000 }),
      dropped: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(Gradient2, Vegas, Aimd),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 500 }),
        fc.array(sample, { maxLength: 300 }),
        (Algorithm, min, span, samples) => {
          const max = min + span;
          const algorithm = new Algorithm(min + Math.floor(span / 3), min, max);
          for (const s of samples) {
            const estimate = algorithm.sample(s.rtt, s.inflight, s.dropped);
            assert.ok(estimate >= min && estimate <= max, `${Algorithm.name}: ${estimate}`);
            assert.equal(estimate, algorithm.estimate);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test("adaptiveConcurrency() checks its options", () => {
    assert.throws(
      () => adaptiveConcurrency({ algorithm: "reno" as never }),
      new RangeError(
        `Cannot create adaptiveConcurrency as 'algorithm' must be one of "gradient2", "vegas", "aimd": current value is "reno"`,
      ),
    );
    assert.throws(() => adaptiveConcurrency({ algorithm: 1 as never }), TypeError);
    assert.throws(
      () => adaptiveConcurrency({ minLimit: 0 }),
      /'minLimit' must be a positive integer/,
    );
    assert.throws(
      () => adaptiveConcurrency({ minLimit: 5, maxLimit: 4 }),
      /'maxLimit' must be at least minLimit/,
    );
    assert.throws(
      () => adaptiveConcurrency({ initialLimit: 300 }),
      /'initialLimit' must be from minLimit to maxLimit \(1 to 200\): current value is 300/,
    );
    assert.throws(() => adaptiveConcurrency({ queue: -1 }), /'queue'/);
    assert.throws(() => adaptiveConcurrency({ clock: {} as never }), /'clock'/);
    assert.throws(() => adaptiveConcurrency({ onLimitChange: 1 as never }), /'onLimitChange'/);
    assert.throws(() => adaptiveConcurrency([] as never), /'options'/);
    assert.equal(
      adaptiveConcurrency({ maxLimit: 5 }).limit,
      5,
      "the default 20, kept within bounds",
    );
    assert.equal(adaptiveConcurrency({ minLimit: 30 }).limit, 30);
    const policy = adaptiveConcurrency();
    assert.equal(policy.algorithm, "gradient2");
    assert.equal(policy.limit, 20);
    assert.equal(policy.minLimit, 1);
    assert.equal(policy.maxLimit, 200);
    assert.equal(policy.queue, 0);
  });
});
