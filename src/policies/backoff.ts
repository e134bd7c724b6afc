/**
 * Backoffs: how long {@link retry} waits before each retry.
 *
 * A backoff is a plain, frozen value with no state of its own, so one backoff
 * can be shared by any number of policies and concurrent calls. What a
 * strategy needs to remember between retries (decorrelated jitter needs the
 * previous delay) is kept by the retry, per execution, and passed back in.
 *
 * @module
 */

import { duration, optionsObject, rangeError, typeError } from "./_validate.ts";

/**
 * The longest wait any backoff returns: the largest delay `setTimeout`
 * accepts (about 24.8 days). Longer values would fire at once in every
 * runtime, so they are capped here rather than trusted to the timer.
 */
export const MAX_DELAY_MS = 2_147_483_647;

/**
 * How long to wait before a retry. Implement it to write your own strategy;
 * {@link retry} clamps whatever it returns into `[0, MAX_DELAY_MS]` (NaN
 * counts as 0), so a faulty backoff can never make it wait forever or spin on
 * a NaN.
 *
 * `delay` must be pure: it gets everything it needs in its arguments, so the
 * same backoff value can serve many calls at once.
 *
 * @example A backoff of your own
 * ```ts
 * import { type Backoff, retry } from "@faultline/faultline";
 *
 * // 100 ms, 200 ms, 300 ms, ...
 * const linear: Backoff = { delay: (retryNumber) => 100 * retryNumber };
 * const policy = retry({ backoff: linear });
 * ```
 */
export interface Backoff {
  /**
   * The delay in milliseconds before retry number `retryNumber`.
   *
   * @param retryNumber 1 for the wait after the first attempt failed, 2 after the second, ...
   * @param previous what this backoff returned for the previous retry of the
   *   same execution (0 before the first retry)
   * @param random a source of numbers in `[0, 1)`, like `Math.random`
   */
  delay(retryNumber: number, previous: number, random: () => number): number;
}

/**
 * How {@link exponentialBackoff} spreads its delays, so that many clients that
 * failed together do not all retry at the same instant.
 *
 * - `"none"`: exactly `initial × factor^(n-1)`, capped at `max`.
 * - `"full"`: a random delay between 0 and that value ("Full Jitter" from the
 *   AWS Architecture Blog, "Exponential Backoff And Jitter").
 * - `"decorrelated"`: a random delay between `initial` and three times the
 *   previous delay, capped at `max` ("Decorrelated Jitter" from the same
 *   article; `factor` does not apply to it).
 *
 * @example
 * ```ts
 * import { type BackoffJitter, exponentialBackoff } from "@faultline/faultline";
 *
 * const jitter: BackoffJitter = "decorrelated";
 * const backoff = exponentialBackoff({ jitter });
 * ```
 */
export type BackoffJitter = "none" | "full" | "decorrelated";

/**
 * Options of {@link exponentialBackoff}.
 *
 * @example
 * ```ts
 * import { exponentialBackoff, type ExponentialBackoffOptions } from "@faultline/faultline";
 *
 * const options: ExponentialBackoffOptions = { initial: 50, max: 5_000, factor: 3, jitter: "none" };
 * const backoff = exponentialBackoff(options);
 * ```
 */
export interface ExponentialBackoffOptions {
  /** The first delay in ms (before jitter): finite, ≥ 0. Default 100. */
  initial?: number;
  /**
   * No delay is ever longer, in ms: finite, ≥ `initial`. Default 30 000 (or
   * `initial`, if larger). Both are capped at {@link MAX_DELAY_MS}.
   */
  max?: number;
  /** Each delay is this many times the one before (before jitter): finite, ≥ 1. Default 2. */
  factor?: number;
  /** How delays are randomized. Default `"full"`. */
  jitter?: BackoffJitter;
}

const JITTERS: readonly BackoffJitter[] = ["none", "full", "decorrelated"];

/** A random number forced into [0, 1], so an injected source cannot break the bounds. */
function unit(random: () => number): number {
  const r = random();
  return r > 0 ? (r < 1 ? r : 1) : 0;
}

/**
 * The same delay before every retry. Create it with {@link constantBackoff}.
 *
 * @example
 * ```ts
 * import { constantBackoff, type ConstantBackoff } from "@faultline/faultline";
 *
 * const backoff: ConstantBackoff = constantBackoff(250);
 * console.log(backoff.ms); // 250
 * ```
 */
export class ConstantBackoff implements Backoff {
  /** The delay in ms. */
  readonly ms: number;

  /** Prefer {@link constantBackoff}, which validates `ms` the same way. */
  constructor(ms: number) {
    this.ms = duration("constantBackoff", "ms", ms);
    Object.freeze(this);
  }

  /** Always {@link ConstantBackoff.ms}. */
  delay(_retryNumber: number, _previous: number, _random: () => number): number {
    return this.ms;
  }
}

/**
 * Growing delays with optional jitter. Create it with {@link exponentialBackoff}.
 *
 * @example
 * ```ts
 * import { exponentialBackoff } from "@faultline/faultline";
 *
 * const backoff = exponentialBackoff({ initial: 100, max: 1_000, jitter: "none" });
 * console.log(backoff.delay(1, 0, Math.random)); // 100
 * console.log(backoff.delay(3, 200, Math.random)); // 400
 * console.log(backoff.delay(99, 1_000, Math.random)); // 1000
 * ```
 */
export class ExponentialBackoff implements Backoff {
  /** The first delay in ms, before jitter. */
  readonly initial: number;
  /** The longest delay in ms. */
  readonly max: number;
  /** The growth from one delay to the next, before jitter. */
  readonly factor: number;
  /** How delays are randomized. */
  readonly jitter: BackoffJitter;

  /** Prefer {@link exponentialBackoff}, which validates the options the same way. */
  constructor(options?: ExponentialBackoffOptions) {
    const api = "exponentialBackoff";
    const o = optionsObject<ExponentialBackoffOptions>(api, options);
    // Read each option once: a getter or a later change to the object has no effect.
    const initialOption = o.initial;
    const maxOption = o.max;
    const factor = o.factor;
    const jitter = o.jitter;
    const initial = initialOption === undefined ? 100 : duration(api, "initial", initialOption);
    const max = maxOption === undefined
      ? Math.max(30_000, initial)
      : duration(api, "max", maxOption);
    if (max < initial) {
      rangeError(api, "max", `at least 'initial' (${initial})`, max);
    }
    if (factor !== undefined && typeof factor !== "number") {
      typeError(api, "factor", "a finite number of at least 1", factor);
    }
    if (factor !== undefined && !(factor >= 1 && Number.isFinite(factor))) {
      rangeError(api, "factor", "a finite number of at least 1", factor);
    }
    if (jitter !== undefined && !JITTERS.includes(jitter)) {
      (typeof jitter === "string" ? rangeError : typeError)(
        api,
        "jitter",
        `one of ${JITTERS.map((j) => `"${j}"`).join(", ")}`,
        jitter,
      );
    }
    this.initial = Math.min(initial, MAX_DELAY_MS);
    this.max = Math.min(max, MAX_DELAY_MS);
    this.factor = factor ?? 2;
    this.jitter = jitter ?? "full";
    Object.freeze(this);
  }

  /** The delay before retry `retryNumber`; always within `[0, max]`, never NaN. */
  delay(retryNumber: number, previous: number, random: () => number): number {
    const { initial, max } = this;
    if (this.jitter === "decorrelated") {
      // Brooker's formula: random_between(base, previous * 3), capped.
      const base = previous > initial ? (previous < max ? previous : max) : initial;
      const upper = Math.min(max, base * 3);
      return Math.min(max, initial + unit(random) * (upper - initial));
    }
    // Clamp the exponent first: factor ** n overflows to Infinity for a large
    // n, and 0 * Infinity would be NaN.
    const n = retryNumber > 1 ? retryNumber - 1 : 0;
    // 1 ** Infinity is NaN, so a factor of 1 never reaches the power.
    const growth = this.factor === 1 ? 1 : this.factor ** n;
    const raw = initial === 0 ? 0 : initial * growth;
    const capped = raw < max ? raw : max;
    return this.jitter === "full" ? unit(random) * capped : capped;
  }
}

/**
 * The same delay, in ms, before every retry.
 *
 * @example
 * ```ts
 * import { constantBackoff, retry } from "@faultline/faultline";
 *
 * const policy = retry({ maxAttempts: 5, backoff: constantBackoff(200) });
 * ```
 */
export function constantBackoff(ms: number): ConstantBackoff {
  return new ConstantBackoff(ms);
}

/**
 * Delays that grow by `factor` from `initial` up to `max`, randomized by
 * `jitter` (default `"full"`). Safe for any number of retries: the delay never
 * exceeds `max`, is never negative and never NaN.
 *
 * @example
 * ```ts
 * import { exponentialBackoff, retry } from "@faultline/faultline";
 *
 * const backoff = exponentialBackoff({ initial: 100, max: 10_000, factor: 2, jitter: "full" });
 * // One backoff value can be shared by many policies.
 * const reads = retry({ backoff });
 * const writes = retry({ backoff, maxAttempts: 2 });
 * ```
 */
export function exponentialBackoff(options?: ExponentialBackoffOptions): ExponentialBackoff {
  return new ExponentialBackoff(options);
}
