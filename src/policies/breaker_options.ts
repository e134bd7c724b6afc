/**
 * The options of {@link circuitBreaker} and the types they use.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { AnyConnectionError } from "../errors/connection_error.ts";
import type { ConnectionErrorKind } from "../errors/kinds.ts";
import type { Normalizer } from "../errors/normalize_error.ts";
import type { TripStrategy } from "./trip/types.ts";
import type { FleetOptions } from "../fleet/store.ts";

/**
 * The state of a {@link CircuitBreaker}.
 *
 * @example
 * ```ts
 * import { circuitBreaker, type CircuitState, consecutiveFailures } from "@faultline/faultline";
 *
 * const state: CircuitState = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 })
 *   .state;
 * console.log(state); // "closed"
 * ```
 */
export type CircuitState = "closed" | "open" | "half_open" | "isolated";

/**
 * A backoff for `halfOpenAfter`: the wait before the `openings`-th half-open
 * since the breaker was last closed. Any `Backoff` (such as
 * `exponentialBackoff()`) fits: it is called as `delay(openings, previousDelay, Math.random)`.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures, type HalfOpenBackoff } from "@faultline/faultline";
 *
 * const doubling: HalfOpenBackoff = { delay: (openings) => Math.min(60_000, 1_000 * 2 ** (openings - 1)) };
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: doubling });
 * ```
 */
export interface HalfOpenBackoff {
  /** The wait in ms; `openings` is 1 the first time the breaker opens after being closed. */
  delay(openings: number, previous: number, random: () => number): number;
}

/**
 * Which errors count as failures: a list of kinds, or a predicate given the
 * error as thrown and its normalized {@link ConnectionError} (kind `"unknown"`
 * when not recognized).
 *
 * @example
 * ```ts
 * import type { BreakerOn } from "@faultline/faultline";
 *
 * const on: BreakerOn = ["refused", "timeout", "reset"];
 * ```
 */
export type BreakerOn =
  | ConnectionErrorKind
  | readonly ConnectionErrorKind[]
  | ((error: unknown, normalized: AnyConnectionError) => boolean);

/**
 * Options of {@link circuitBreaker}.
 *
 * @example
 * ```ts
 * import { type CircuitBreakerOptions, consecutiveFailures } from "@faultline/faultline";
 *
 * const options: CircuitBreakerOptions = { trip: consecutiveFailures(5), halfOpenAfter: 10_000 };
 * ```
 */
export interface CircuitBreakerOptions {
  /** When to open: `consecutiveFailures(n)` or `failureRate({...})`. Required. */
  trip: TripStrategy;
  /**
   * How long it stays open before probing, in ms (finite, ≥ 0); or a function
   * `(openings) => ms`, or a backoff, for waits that grow while the dependency
   * stays down (`openings` counts the openings since it was last closed, from 1).
   * A function or backoff that returns NaN, a negative number or throws gives 0;
   * its result is capped at 2 147 483 647 ms. Required.
   */
  halfOpenAfter: number | ((openings: number) => number) | HalfOpenBackoff;
  /** Which errors count as failures. Default: every connection failure but `cancelled` (and unrecognized errors). */
  on?: BreakerOn;
  /** How many probes may run at once in `half_open`: a positive integer, default 1. */
  halfOpenMaxProbes?: number;
  /** How many successful probes close it: a positive integer, default 1. */
  halfOpenSuccesses?: number;
  /**
   * How long a probe may hold its slot, in ms (≥ 0, or `Infinity`), default
   * 60 000. When every slot is held by probes older than this, the next call
   * counts them as failed and opens the breaker again, so a probe that never
   * settles cannot keep it half-open for ever.
   */
  probeTimeout?: number;
  /**
   * Also open on slow calls, as resilience4j does: when at least
   * `minimumCalls` calls were recorded in the last `windowMs` (default
   * 60 000) and the share that took `durationMs` or longer reaches
   * `threshold`, the breaker opens (reason `"slow_calls"`), alongside its
   * `trip` strategy. Default: none.
   */
  slowCall?: SlowCallOptions;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer} that knows your clients. Default
   * {@link normalizeError}.
   */
  normalize?: Normalizer;
  /** The source of time. Default `realClock`. */
  clock?: Clock;
  /**
   * Share the breaker with every process that uses the same store and key:
   * the fleet opens on its failure rate (once `minInstances` instances saw
   * failures), `isolate()` and `reset()` act fleet-wide, and half-open probes
   * are leased fleet-wide. See {@link FleetOptions}.
   */
  fleet?: FleetOptions;
}

/**
 * The `slowCall` option of {@link circuitBreaker}: open on the share of slow
 * calls, alongside the `trip` strategy.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures, type SlowCallOptions } from "@faultline/faultline";
 *
 * // Open when half of at least 20 calls in the last 30 s took 2 s or more.
 * const slowCall: SlowCallOptions = { durationMs: 2_000, threshold: 0.5, minimumCalls: 20, windowMs: 30_000 };
 * const breaker = circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 10_000, slowCall });
 * ```
 */
export interface SlowCallOptions {
  /** A call that takes this long or longer (ms) is slow. Required. */
  durationMs: number;
  /** The share of slow calls, above 0 and at most 1, that opens the breaker. Required. */
  threshold: number;
  /** The fewest calls in the window before the share is trusted. Default 10. */
  minimumCalls?: number;
  /** How far back the share looks, in ms. Default 60 000. */
  windowMs?: number;
}
