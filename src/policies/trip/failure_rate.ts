/**
 * {@link failureRate}: the breaker opens when failures make up a share of the
 * counted calls in a window (a time window, or the last N calls).
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import {
  duration,
  optionsObject,
  positiveInteger,
  rangeError,
  ratio,
  typeError,
} from "../_validate.ts";
import { CountWindow, TimeWindow } from "./_windows.ts";
import type { TripCounter, TripStrategy } from "./types.ts";

/**
 * Options of {@link failureRate}: give exactly one of `windowMs` (a sliding
 * time window) and `windowCalls` (the last N counted calls).
 *
 * @example
 * ```ts
 * import { failureRate, type FailureRateOptions } from "@faultline/faultline";
 *
 * const options: FailureRateOptions = { threshold: 0.5, minimumCalls: 20, windowMs: 30_000 };
 * const trip = failureRate(options);
 * ```
 */
export interface FailureRateOptions {
  /** The share of failures, above 0 and at most 1, at which the breaker opens. */
  threshold: number;
  /** No decision before this many counted calls are in the window: a positive integer. Default 10. */
  minimumCalls?: number;
  /** A time window in ms (finite, above 0), kept in `buckets` slices. */
  windowMs?: number;
  /** How many slices the time window is kept in: a positive integer, default 10. Only with `windowMs`. */
  buckets?: number;
  /** A count window: the last this many counted calls (a positive integer, at least `minimumCalls`). */
  windowCalls?: number;
}

/**
 * Opens the breaker when, on a counted failure, at least `minimumCalls`
 * counted calls are in the window and the share of failures among them is at
 * least `threshold`. Create it with {@link failureRate}.
 *
 * The time window is kept in a fixed number of buckets that rotate lazily as
 * calls are recorded, so it needs no timer; it covers between
 * `windowMs - windowMs / buckets` and `windowMs` of history.
 *
 * @example
 * ```ts
 * import { failureRate } from "@faultline/faultline";
 *
 * const trip = failureRate({ threshold: 0.5, minimumCalls: 20, windowMs: 10_000 });
 * console.log(trip.threshold, trip.windowMs, trip.buckets); // 0.5 10000 10
 * ```
 */
export class FailureRate implements TripStrategy {
  /** The share of failures at which the breaker opens. */
  readonly threshold: number;
  /** Calls needed in the window before a decision. */
  readonly minimumCalls: number;
  /** The time window in ms, or `undefined` for a count window. */
  readonly windowMs: number | undefined;
  /** How many buckets the time window is kept in (`undefined` for a count window). */
  readonly buckets: number | undefined;
  /** The count window, or `undefined` for a time window. */
  readonly windowCalls: number | undefined;

  /** Prefer {@link failureRate}, which validates the same way. */
  constructor(options: FailureRateOptions) {
    const api = "failureRate";
    if (options === undefined) typeError(api, "options", "an object", options);
    const o = optionsObject<FailureRateOptions>(api, options);
    // Each option is read once, so a getter or a later change has no effect.
    const threshold = o.threshold;
    const minimumCalls = o.minimumCalls;
    const windowMs = o.windowMs;
    const buckets = o.buckets;
    const windowCalls = o.windowCalls;
    this.threshold = ratio(api, "threshold", threshold, true);
    this.minimumCalls = minimumCalls === undefined
      ? 10
      : positiveInteger(api, "minimumCalls", minimumCalls);
    if (windowMs === undefined && windowCalls === undefined) {
      typeError(api, "windowMs", "a number of milliseconds, or 'windowCalls' given", windowMs);
    }
    if (windowMs !== undefined && windowCalls !== undefined) {
      typeError(api, "windowCalls", "left out when 'windowMs' is given", windowCalls);
    }
    if (windowMs !== undefined) {
      const ms = duration(api, "windowMs", windowMs);
      if (ms === 0) rangeError(api, "windowMs", "a finite number of milliseconds above 0", ms);
      this.windowMs = ms;
      this.buckets = buckets === undefined ? 10 : positiveInteger(api, "buckets", buckets);
      if (this.buckets > 1000) rangeError(api, "buckets", "at most 1000", this.buckets);
      this.windowCalls = undefined;
    } else {
      if (buckets !== undefined) typeError(api, "buckets", "left out with 'windowCalls'", buckets);
      const n = positiveInteger(api, "windowCalls", windowCalls);
      if (n < this.minimumCalls) {
        rangeError(api, "windowCalls", `at least 'minimumCalls' (${this.minimumCalls})`, n);
      }
      this.windowMs = undefined;
      this.buckets = undefined;
      this.windowCalls = n;
    }
    Object.freeze(this);
  }

  /** Fresh counts for one breaker. */
  create(clock: Clock): TripCounter {
    return this.windowMs === undefined ? new CountWindow(this) : new TimeWindow(this, clock);
  }

  /** True when `failures` of `calls` must open the breaker. */
  trips(failures: number, calls: number): boolean {
    return calls >= this.minimumCalls && failures >= this.threshold * calls;
  }
}

/**
 * Opens the breaker when failures make up at least `threshold` of the counted
 * calls in a window, once the window holds `minimumCalls` of them. The window
 * is either the last `windowMs` milliseconds (kept in `buckets` slices, rotated
 * as calls are recorded: no timer) or the last `windowCalls` calls.
 *
 * @example Half of the calls in the last 30 s, once there are 20 of them
 * ```ts
 * import { circuitBreaker, failureRate } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({
 *   trip: failureRate({ threshold: 0.5, minimumCalls: 20, windowMs: 30_000 }),
 *   halfOpenAfter: 5_000,
 * });
 * ```
 *
 * @example A quarter of the last 100 calls
 * ```ts
 * import { failureRate } from "@faultline/faultline";
 *
 * const trip = failureRate({ threshold: 0.25, minimumCalls: 50, windowCalls: 100 });
 * ```
 */
export function failureRate(options: FailureRateOptions): FailureRate {
  return new FailureRate(options);
}
