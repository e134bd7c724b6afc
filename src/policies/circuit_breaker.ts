/**
 * The circuit breaker: stops calling a dependency that keeps failing, and
 * lets a few probes through now and then to find out when it is back.
 *
 * States: `closed` (calls go through and are counted), `open` (calls are
 * rejected with {@link BrokenCircuitError} without running), `half_open`
 * (at most `halfOpenMaxProbes` calls at a time go through as probes; the rest
 * are rejected), `isolated` (opened by hand with `isolate()`, until `reset()`).
 *
 * Where each part lives: the options in `breaker_options.ts`, the events in
 * `breaker_events.ts`, the snapshot in `breaker_snapshot.ts`, the error in
 * `broken_circuit_error.ts`, the trip strategies in `trip/`,
 * and the state machine, written once, in `_breaker_core.ts`.
 *
 * @module
 */

import { BreakerCore, type BreakerParent, BreakerSettings } from "./_breaker_core.ts";
import { executeSolo, STRATEGY } from "./_engine.ts";
import type {
  BreakEvent,
  HalfOpenEvent,
  RejectedEvent,
  ResetEvent,
  StateChangeEvent,
} from "./breaker_events.ts";
import type { CircuitBreakerOptions, CircuitState } from "./breaker_options.ts";
import type { CircuitBreakerSnapshot } from "./breaker_snapshot.ts";
import { Emitter, type Event } from "./events.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import type { FleetErrorEvent } from "../fleet/store.ts"; // fleet (issue 13)

export type {
  BreakerOn,
  CircuitBreakerOptions,
  CircuitState,
  HalfOpenBackoff,
  SlowCallOptions,
} from "./breaker_options.ts";
export type {
  BreakEvent,
  HalfOpenEvent,
  RejectedEvent,
  ResetEvent,
  StateChangeEvent,
} from "./breaker_events.ts";
export type { CircuitBreakerSnapshot } from "./breaker_snapshot.ts";
export { BrokenCircuitError } from "./broken_circuit_error.ts";

/** Internal: how a keyed breaker makes the breakers it owns. */
class Child {
  readonly settings: BreakerSettings;
  readonly parent: BreakerParent;
  readonly key: string;
  constructor(settings: BreakerSettings, parent: BreakerParent, key: string) {
    this.settings = settings;
    this.parent = parent;
    this.key = key;
  }
}

/** Internal: a breaker owned by a keyed breaker, sharing its settings. */
export function childBreaker(
  settings: BreakerSettings,
  parent: BreakerParent,
  key: string,
): CircuitBreaker {
  return new CircuitBreaker(new Child(settings, parent, key) as unknown as CircuitBreakerOptions);
}

/**
 * A circuit breaker. Create it with {@link circuitBreaker}; it is a
 * {@link Policy}, so it goes into a `pipeline()`.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 10_000 });
 * const rows = await breaker.execute(async () => [1, 2, 3]);
 * console.log(breaker.state); // "closed"
 * ```
 */
export class CircuitBreaker implements Policy {
  /** @ignore */
  readonly [STRATEGY]: BreakerCore;

  /** Prefer {@link circuitBreaker}, which is the same. */
  constructor(options: CircuitBreakerOptions) {
    this[STRATEGY] = options instanceof Child
      ? new BreakerCore(CircuitBreaker.prototype, options.settings, options.parent, options.key)
      : new BreakerCore(
        CircuitBreaker.prototype,
        new BreakerSettings(options),
        undefined,
        undefined,
      );
  }

  /** The state now (an `open` breaker whose wait is over reads `half_open`). */
  get state(): CircuitState {
    return this[STRATEGY].state();
  }

  /** Listens to every change of state. */
  get onStateChange(): Event<StateChangeEvent> {
    return this[STRATEGY].listeners().stateChange.subscribe;
  }

  /** Listens to the breaker opening or being isolated. */
  get onBreak(): Event<BreakEvent> {
    return this[STRATEGY].listeners().break.subscribe;
  }

  /** Listens to the breaker half-opening. */
  get onHalfOpen(): Event<HalfOpenEvent> {
    return this[STRATEGY].listeners().halfOpen.subscribe;
  }

  /** Listens to the breaker closing. */
  get onReset(): Event<ResetEvent> {
    return this[STRATEGY].listeners().reset.subscribe;
  }

  /** Listens to calls refused without running. */
  get onRejected(): Event<RejectedEvent> {
    return this[STRATEGY].listeners().rejected.subscribe;
  }

  /**
   * Runs `fn` unless the breaker refuses it, and counts how it ended. Refused
   * calls reject with {@link BrokenCircuitError}; an already-aborted `signal`
   * rejects with a `cancelled` {@link ConnectionError} before anything else.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return executeSolo(this, fn, signal);
  }

  /**
   * Opens the breaker by hand: every call is refused until {@link reset}, or
   * until every handle this returns has been disposed.
   *
   * @example
   * ```ts
   * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
   *
   * const breaker = circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 1_000 });
   * {
   *   using _maintenance = breaker.isolate();
   *   console.log(breaker.state); // "isolated"
   * }
   * console.log(breaker.state); // "closed"
   * ```
   */
  isolate(): Disposable & { dispose(): void } {
    return this[STRATEGY].isolate();
  }

  /** Closes the breaker, whatever its state, and forgets every count. */
  reset(): void {
    this[STRATEGY].reset();
  }

  /**
   * A plain, JSON-safe snapshot of the state and counts; give it to
   * {@link restore} (in this process or another) to carry on from it.
   */
  toJSON(): CircuitBreakerSnapshot {
    return this[STRATEGY].snapshot();
  }

  /**
   * Takes the state and counts of a {@link toJSON} snapshot. A snapshot of
   * the wrong shape (or from a breaker with another strategy or window) is
   * refused with a `TypeError` or `RangeError`, and nothing changes. Calls in
   * flight when it is restored are not counted. Probes in flight are not part
   * of a snapshot; an isolated snapshot stays isolated until `reset()`.
   *
   * @example
   * ```ts
   * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
   *
   * const options = { trip: consecutiveFailures(3), halfOpenAfter: 1_000 };
   * const saved = JSON.stringify(circuitBreaker(options).toJSON());
   * const breaker = circuitBreaker(options);
   * breaker.restore(JSON.parse(saved));
   * ```
   */
  restore(snapshot: CircuitBreakerSnapshot): void {
    this[STRATEGY].restore(snapshot);
  }

  // fleet (issue 13): the fleet's event and the end of its sync.
  /** Listens to failed fleet store requests (with `fleet` only). */
  get onFleetError(): Event<FleetErrorEvent> {
    return (this[STRATEGY].fleet?.errors ?? new Emitter<FleetErrorEvent>()).subscribe;
  }

  /**
   * Stops talking to the fleet store (with `fleet`) and clears its timer;
   * the breaker goes on alone. Without `fleet` it does nothing.
   */
  close(): void {
    this[STRATEGY].fleet?.sync.close();
  }

  /** The same as {@link CircuitBreaker.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A circuit breaker: after the failures its `trip` strategy describes, it
 * opens and refuses calls with {@link BrokenCircuitError} (without running
 * them) for `halfOpenAfter` ms; then up to `halfOpenMaxProbes` calls at a
 * time go through as probes: `halfOpenSuccesses` successes close it, one
 * counted failure opens it again (for the next, possibly longer, wait).
 *
 * Counted are the errors `on` selects (by default every connection failure
 * but `cancelled`; unrecognized errors are not connection failures). Any other
 * error passes through as thrown and counts neither as a failure nor as a
 * success: it changes nothing.
 *
 * @example
 * ```ts
 * import {
 *   circuitBreaker,
 *   exponentialBackoff,
 *   failureRate,
 *   pipeline,
 *   retry,
 *   timeout,
 * } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({
 *   trip: failureRate({ threshold: 0.5, minimumCalls: 20, windowMs: 30_000 }),
 *   halfOpenAfter: exponentialBackoff({ initial: 1_000, max: 60_000, jitter: "none" }),
 * });
 * breaker.onStateChange(({ from, to }) => console.log(`breaker ${from} -> ${to}`));
 * const policy = pipeline(retry(), breaker, timeout(2_000));
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  return new CircuitBreaker(options);
}
