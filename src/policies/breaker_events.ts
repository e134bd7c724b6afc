/**
 * The events a {@link CircuitBreaker} gives its listeners.
 *
 * @module
 */

import type { BrokenCircuitError } from "./broken_circuit_error.ts";
import type { CircuitState } from "./breaker_options.ts";

/**
 * `onStateChange`'s event.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures, type StateChangeEvent } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breaker.onStateChange((e: StateChangeEvent) => console.log(`${e.from} -> ${e.to}`));
 * ```
 */
export interface StateChangeEvent {
  /** The state it left. */
  readonly from: CircuitState;
  /** The state it entered. */
  readonly to: CircuitState;
}

/**
 * `onBreak`'s event: the breaker opened, or was isolated.
 *
 * @example
 * ```ts
 * import { type BreakEvent, circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breaker.onBreak((e: BreakEvent) => console.warn(`circuit ${e.reason}`, e.error));
 * ```
 */
export interface BreakEvent {
  /** `open`, or `isolated` for {@link CircuitBreaker.isolate}. */
  readonly state: "open" | "isolated";
  /** What opened it. */
  readonly reason: "tripped" | "slow_calls" | "probe_failed" | "probe_timed_out" | "isolated";
  /** The failure that opened it (as it leaves the breaker), when there was one. */
  readonly error: unknown;
  /** How long until it half-opens, or `undefined` when isolated. */
  readonly retryAfterMs: number | undefined;
}

/**
 * `onHalfOpen`'s event.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breaker.onHalfOpen((e) => console.log(`probing after opening ${e.openings} time(s)`));
 * ```
 */
export interface HalfOpenEvent {
  /** How many times it opened since it was last closed. */
  readonly openings: number;
}

/**
 * `onReset`'s event: the breaker closed.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breaker.onReset((e) => console.log(`closed: ${e.reason}`));
 * ```
 */
export interface ResetEvent {
  /** `probes_succeeded`, or `reset` for {@link CircuitBreaker.reset}. */
  readonly reason: "probes_succeeded" | "reset";
}

/**
 * `onRejected`'s event: a call was refused without running.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * let rejected = 0;
 * breaker.onRejected(() => rejected++);
 * ```
 */
export interface RejectedEvent {
  /** The error the call rejected with. */
  readonly error: BrokenCircuitError;
}
