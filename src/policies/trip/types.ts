/**
 * What a {@link circuitBreaker}'s `trip` option takes: a {@link TripStrategy}
 * makes one {@link TripCounter} per breaker, whose counts a snapshot carries
 * as a {@link TripSnapshot}.
 *
 * A strategy is a plain, frozen description (`consecutiveFailures(5)`) that can
 * be shared by any number of breakers. Each breaker calls
 * {@link TripStrategy.create} once and keeps the counter it gets for itself,
 * so two breakers made from one options object never share their counts (a
 * bug opossum and cockatiel both had).
 *
 * Strategies see only the calls the breaker counts: a success, or a failure
 * its `on` option selects. Other errors are recorded nowhere. Only a failure
 * can open the breaker.
 *
 * The strategies: `consecutive_failures.ts` ({@link consecutiveFailures}),
 * `failure_rate.ts` ({@link failureRate}, over the windows of `_windows.ts`).
 *
 * @module
 */

import type { Clock } from "../../clock.ts";

/**
 * The state one breaker keeps for its strategy. Made by
 * {@link TripStrategy.create}; never shared between breakers.
 *
 * @example A strategy of your own: open on the third failure in a row of a slow kind
 * ```ts
 * import { circuitBreaker, type TripCounter, type TripStrategy } from "@faultline/faultline";
 *
 * const threeStrikes: TripStrategy = {
 *   create(): TripCounter {
 *     let failures = 0;
 *     return {
 *       success: () => void (failures = 0),
 *       failure: () => ++failures >= 3,
 *       reset: () => void (failures = 0),
 *       toJSON: () => ({ type: "threeStrikes", failures }),
 *       restore: (s) => void (failures = Number((s as { failures: number }).failures)),
 *     };
 *   },
 * };
 * const breaker = circuitBreaker({ trip: threeStrikes, halfOpenAfter: 1_000 });
 * ```
 */
export interface TripCounter {
  /** Records a counted success. */
  success(): void;
  /** Records a counted failure; returns true when the breaker must open. */
  failure(): boolean;
  /** Forgets every call recorded (the breaker closed, or was reset). */
  reset(): void;
  /** A plain, JSON-safe copy of the counts, with a `type`. */
  toJSON(): TripSnapshot;
  /**
   * Takes the counts from a {@link TripCounter.toJSON} result; throws a
   * `TypeError` or `RangeError` (and changes nothing) when it does not fit.
   */
  restore(snapshot: unknown): void;
}

/**
 * What a breaker's `trip` option takes: a factory of {@link TripCounter}s.
 * Made by {@link consecutiveFailures} and {@link failureRate}.
 *
 * @example
 * ```ts
 * import { consecutiveFailures, type TripStrategy } from "@faultline/faultline";
 *
 * const trip: TripStrategy = consecutiveFailures(5);
 * ```
 */
export interface TripStrategy {
  /** Makes fresh counts for one breaker, which reads the time from `clock`. */
  create(clock: Clock): TripCounter;
}

/**
 * The JSON form of a strategy's counts, inside a breaker's snapshot.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures, type TripSnapshot } from "@faultline/faultline";
 *
 * const trip: TripSnapshot = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 100 })
 *   .toJSON().trip;
 * console.log(trip); // { type: "consecutiveFailures", failures: 0 }
 * ```
 */
export interface TripSnapshot {
  /** Which strategy wrote it. */
  type: string;
  /** Its counts. */
  [field: string]: unknown;
}
