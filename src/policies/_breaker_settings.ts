/**
 * A circuit breaker's options, validated and read once: shared by every
 * breaker of a keyed breaker. Internal.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { AnyConnectionError } from "../errors/connection_error.ts";
import { CONNECTION_ERROR_KINDS } from "../errors/kinds.ts";
import { type Judge, normalizeError, type Normalizer } from "../errors/normalize_error.ts";
import { MAX_DELAY_MS } from "./backoff.ts";
import type { TripStrategy } from "./trip/types.ts";
import type { CircuitBreakerOptions, HalfOpenBackoff } from "./breaker_options.ts";
import { parseOn } from "./_on.ts";
import { SlowCallRule } from "./_slow_calls.ts";
import { type FleetSettings, fleetSettings } from "../fleet/_sync.ts"; // fleet (issue 13)
import {
  clock as checkClock,
  duration,
  judge,
  optionsObject,
  positiveInteger,
  typeError,
} from "./_validate.ts";

const DEFAULT_KINDS: ReadonlySet<string> = new Set(
  CONNECTION_ERROR_KINDS.filter((k) => k !== "cancelled" && k !== "unknown"),
);

/** Validated options, read once: shared by every breaker of a keyed breaker. */
export class BreakerSettings {
  readonly trip: TripStrategy;
  readonly halfOpenAfter: number | ((openings: number) => number) | HalfOpenBackoff;
  readonly kinds: ReadonlySet<string> | undefined;
  readonly predicate: ((error: unknown, normalized: AnyConnectionError) => boolean) | undefined;
  readonly maxProbes: number;
  readonly successes: number;
  readonly probeTimeout: number;
  readonly clock: Clock;
  readonly judge: Judge;
  readonly normalize: Normalizer;
  /** fleet (issue 13): the validated `fleet` option. */
  readonly fleet: FleetSettings | undefined;
  /** The slow-call rule, when `slowCall` is given. */
  readonly slowCall: SlowCallRule | undefined;

  constructor(options: unknown, api = "circuitBreaker") {
    if (options === undefined) typeError(api, "options", "an object", options);
    const o = optionsObject<CircuitBreakerOptions>(api, options);
    const trip = o.trip;
    const halfOpenAfter = o.halfOpenAfter;
    const on = o.on;
    const maxProbes = o.halfOpenMaxProbes;
    const successes = o.halfOpenSuccesses;
    const probeTimeout = o.probeTimeout;
    const clock = o.clock;
    const normalize = o.normalize;
    const fleet = o.fleet; // fleet (issue 13)
    const slowCall = o.slowCall;
    if (
      typeof trip !== "object" || trip === null ||
      typeof (trip as TripStrategy).create !== "function"
    ) {
      typeError(api, "trip", "a trip strategy such as consecutiveFailures(5)", trip);
    }
    this.trip = trip;
    if (typeof halfOpenAfter === "function") {
      this.halfOpenAfter = halfOpenAfter;
    } else if (
      typeof halfOpenAfter === "object" && halfOpenAfter !== null &&
      typeof (halfOpenAfter as HalfOpenBackoff).delay === "function"
    ) {
      this.halfOpenAfter = halfOpenAfter;
    } else if (typeof halfOpenAfter === "number" || halfOpenAfter === undefined) {
      this.halfOpenAfter = Math.min(duration(api, "halfOpenAfter", halfOpenAfter), MAX_DELAY_MS);
    } else {
      typeError(
        api,
        "halfOpenAfter",
        "a finite non-negative number of milliseconds, a function or a backoff",
        halfOpenAfter,
      );
    }
    const parsed = parseOn<(error: unknown, normalized: AnyConnectionError) => boolean>(api, on);
    this.kinds = parsed.predicate === undefined ? parsed.kinds ?? DEFAULT_KINDS : undefined;
    this.predicate = parsed.predicate;
    this.maxProbes = maxProbes === undefined
      ? 1
      : positiveInteger(api, "halfOpenMaxProbes", maxProbes);
    this.successes = successes === undefined
      ? 1
      : positiveInteger(api, "halfOpenSuccesses", successes);
    this.probeTimeout = probeTimeout === undefined
      ? 60_000
      : duration(api, "probeTimeout", probeTimeout, true);
    this.clock = checkClock(api, clock);
    this.judge = judge(api, normalize);
    this.normalize = normalize ?? normalizeError;
    this.fleet = fleetSettings(api, fleet, "circuitBreaker"); // fleet (issue 13)
    this.slowCall = slowCall === undefined ? undefined : new SlowCallRule(api, slowCall);
    Object.freeze(this);
  }
}
