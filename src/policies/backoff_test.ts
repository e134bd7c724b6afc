import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  constantBackoff,
  type ExponentialBackoff,
  exponentialBackoff,
  type ExponentialBackoffOptions,
  MAX_DELAY_MS,
} from "./backoff.ts";

/** A deterministic source of numbers in [0, 1) (mulberry32). */
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

const never = (): number => {
  throw new Error("random must not be called");
};

describe("constantBackoff()", () => {
  test("constantBackoff() returns the same delay for every retry", () => {
    const backoff = constantBackoff(250);
    assert.equal(backoff.ms, 250);
    for (const n of [1, 2, 10, 1e9, Infinity]) assert.equal(backoff.delay(n, 0, never), 250);
  });

  test("constantBackoff() accepts 0", () => {
    assert.equal(constantBackoff(0).delay(1, 0, never), 0);
  });

  test("constantBackoff() refuses a negative, NaN, infinite or non-number delay", () => {
    assert.throws(() => constantBackoff(-1), {
      name: "RangeError",
      message:
        "Cannot create constantBackoff as 'ms' must be a finite non-negative number of milliseconds: current value is -1",
    });
    assert.throws(() => constantBackoff(NaN), { name: "RangeError" });
    assert.throws(() => constantBackoff(Infinity), { name: "RangeError" });
    assert.throws(() => constantBackoff("100" as unknown as number), {
      name: "TypeError",
      message:
        "Cannot create constantBackoff as 'ms' must be a finite non-negative number of milliseconds: current value is \"100\"",
    });
  });

  test("a backoff is a frozen value that can be shared", () => {
    const backoff = constantBackoff(10);
    assert.ok(Object.isFrozen(backoff));
    assert.ok(Object.isFrozen(exponentialBackoff()));
  });
});

describe("exponentialBackoff()", () => {
  test("exponentialBackoff() has documented defaults", () => {
    const backoff = exponentialBackoff();
    assert.deepEqual(
      { ...backoff },
      { initial: 100, max: 30_000, factor: 2, jitter: "full" },
    );
  });

  test("exponentialBackoff() without jitter grows by factor up to max", () => {
    const backoff = exponentialBackoff({ initial: 100, max: 1_000, factor: 2, jitter: "none" });
    const delays = [1, 2, 3, 4, 5, 6].map((n) => backoff.delay(n, 0, never));
    assert.deepEqual(delays, [100, 200, 400, 800, 1_000, 1_000]);
  });

  test("exponentialBackoff() stays at max for huge retry numbers, never Infinity or NaN", () => {
    const backoff = exponentialBackoff({ initial: 100, max: 5_000, factor: 10, jitter: "none" });
    for (const n of [1_000, 1e9, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Infinity]) {
      assert.equal(backoff.delay(n, 0, never), 5_000);
    }
    const flat = exponentialBackoff({ initial: 100, max: 5_000, factor: 1, jitter: "none" });
    assert.equal(flat.delay(Infinity, 0, never), 100, "1 ** Infinity is NaN in JavaScript");
    const zero = exponentialBackoff({ initial: 0, max: 5_000, factor: 3, jitter: "none" });
    assert.equal(zero.delay(1e6, 0, never), 0, "0 * Infinity is NaN in JavaScript");
  });

  test("exponentialBackoff() with full jitter scales the delay by the random number", () => {
    const backoff = exponentialBackoff({ initial: 100, max: 1_000, jitter: "full" });
    assert.equal(backoff.delay(3, 0, () => 0.5), 200);
    assert.equal(backoff.delay(3, 0, () => 0), 0);
    assert.equal(backoff.delay(10, 0, () => 0.25), 250);
  });

  test("exponentialBackoff() with decorrelated jitter draws between initial and 3 × previous", () => {
    const backoff = exponentialBackoff({ initial: 100, max: 1_000, jitter: "decorrelated" });
    assert.equal(backoff.delay(1, 0, () => 0), 100);
    assert.equal(backoff.delay(1, 0, () => 0.5), 200); // between 100 and 300
    assert.equal(backoff.delay(2, 200, () => 0.5), 350); // between 100 and 600
    assert.equal(backoff.delay(3, 900, () => 0.999999), 999.9991); // capped at 1000
    assert.equal(backoff.delay(3, 900, () => 1), 1_000);
  });

  test("jitter modes give a reproducible sequence with a seeded random", () => {
    const run = (jitter: "none" | "full" | "decorrelated"): number[] => {
      const backoff = exponentialBackoff({ initial: 10, max: 10_000, jitter });
      const random = seeded(42);
      const out: number[] = [];
      let previous = 0;
      for (let n = 1; n <= 8; n++) {
        previous = backoff.delay(n, previous, random);
        out.push(previous);
      }
      return out;
    };
    for (const jitter of ["none", "full", "decorrelated"] as const) {
      assert.deepEqual(run(jitter), run(jitter));
    }
    assert.deepEqual(run("none"), [10, 20, 40, 80, 160, 320, 640, 1280]);
    const full = run("full");
    full.forEach((d, i) => assert.ok(d >= 0 && d <= 10 * 2 ** i, `full #${i + 1}: ${d}`));
    assert.notDeepEqual(full, run("none"));
    const decorrelated = run("decorrelated");
    decorrelated.forEach((d) => assert.ok(d >= 10 && d <= 10_000));
  });

  test("a random source that returns out-of-range values cannot break the bounds", () => {
    for (const jitter of ["full", "decorrelated"] as const) {
      const backoff = exponentialBackoff({ initial: 10, max: 100, jitter });
      for (const r of [NaN, -1, 2, Infinity, -Infinity]) {
        const d = backoff.delay(3, 40, () => r);
        assert.ok(d >= 0 && d <= 100, `${jitter} with random ${r} gave ${d}`);
      }
    }
  });

  test("exponentialBackoff() caps max at the largest setTimeout delay", () => {
    const backoff = exponentialBackoff({ initial: 1, max: 1e15, jitter: "none" });
    assert.equal(backoff.max, MAX_DELAY_MS);
    assert.equal(backoff.delay(1e6, 0, never), MAX_DELAY_MS);
  });

  test("exponentialBackoff() defaults max to initial when initial is above 30 s", () => {
    assert.equal(exponentialBackoff({ initial: 60_000 }).max, 60_000);
  });

  test("exponentialBackoff() names the bad option", () => {
    const cases: Array<[unknown, string, string]> = [
      [
        { initial: -1 },
        "RangeError",
        "Cannot create exponentialBackoff as 'initial' must be a finite non-negative number of milliseconds: current value is -1",
      ],
      [
        { initial: Infinity },
        "RangeError",
        "Cannot create exponentialBackoff as 'initial' must be a finite non-negative number of milliseconds: current value is Infinity",
      ],
      [
        { max: NaN },
        "RangeError",
        "Cannot create exponentialBackoff as 'max' must be a finite non-negative number of milliseconds: current value is NaN",
      ],
      [
        { initial: 100, max: 50 },
        "RangeError",
        "Cannot create exponentialBackoff as 'max' must be at least 'initial' (100): current value is 50",
      ],
      [
        { factor: 0.5 },
        "RangeError",
        "Cannot create exponentialBackoff as 'factor' must be a finite number of at least 1: current value is 0.5",
      ],
      [
        { factor: Infinity },
        "RangeError",
        "Cannot create exponentialBackoff as 'factor' must be a finite number of at least 1: current value is Infinity",
      ],
      [
        { factor: "2" },
        "TypeError",
        "Cannot create exponentialBackoff as 'factor' must be a finite number of at least 1: current value is \"2\"",
      ],
      [
        { jitter: "equal" },
        "RangeError",
        `Cannot create exponentialBackoff as 'jitter' must be one of "none", "full", "decorrelated": current value is "equal"`,
      ],
      [
        { jitter: true },
        "TypeError",
        `Cannot create exponentialBackoff as 'jitter' must be one of "none", "full", "decorrelated": current value is true`,
      ],
      [
        "fast",
        "TypeError",
        `Cannot create exponentialBackoff as 'options' must be an object: current value is "fast"`,
      ],
    ];
    for (const [options, name, message] of cases) {
      assert.throws(
        () => exponentialBackoff(options as ExponentialBackoffOptions),
        { name, message },
        JSON.stringify(options),
      );
    }
  });

  test("property: delays are within [0, max] and never NaN, for any options and retry", () => {
    const options = fc.record({
      initial: fc.double({ min: 0, max: 1e7, noNaN: true }),
      extra: fc.double({ min: 0, max: 1e12, noNaN: true }),
      factor: fc.oneof(
        fc.double({ min: 1, max: 1e6, noNaN: true }),
        fc.constant(1),
        fc.constant(Number.MAX_VALUE),
      ),
      jitter: fc.constantFrom("none" as const, "full" as const, "decorrelated" as const),
    });
    const anyNumber = fc.oneof(
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1 }),
      fc.double(),
      fc.constantFrom(Infinity, -Infinity, NaN, 0, -1, Number.MAX_VALUE),
    );
    fc.assert(
      fc.property(
        options,
        anyNumber,
        anyNumber,
        fc.oneof(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double()),
        ({ initial, extra, factor, jitter }, retryNumber, previous, r) => {
          const backoff: ExponentialBackoff = exponentialBackoff({
            initial,
            max: initial + extra,
            factor,
            jitter,
          });
          const d = backoff.delay(retryNumber, previous, () => r);
          assert.ok(!Number.isNaN(d), "NaN");
          assert.ok(d >= 0, `negative: ${d}`);
          assert.ok(d <= backoff.max, `${d} above max ${backoff.max}`);
          if (jitter === "decorrelated") assert.ok(d >= backoff.initial, `${d} below initial`);
          if (jitter === "none" && retryNumber === 1) assert.equal(d, backoff.initial);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  test("property: without jitter, delays never shrink as retries go on", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 2_000 }),
        (initial, factor, n) => {
          const backoff = exponentialBackoff({
            initial,
            max: initial * 50,
            factor,
            jitter: "none",
          });
          assert.ok(backoff.delay(n + 1, 0, never) >= backoff.delay(n, 0, never));
        },
      ),
    );
  });
});
