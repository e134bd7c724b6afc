/**
 * {@link CircuitBreakerSnapshot}: a breaker's state as plain JSON, and the
 * check a snapshot passes before `restore()` takes it.
 *
 * @module
 */

import type { TripSnapshot } from "./trip/types.ts";
import type { CircuitState } from "./breaker_options.ts";
import { MAX_DELAY_MS } from "./backoff.ts";
import { show } from "./_validate.ts";

const NAMES: readonly CircuitState[] = ["closed", "open", "half_open", "isolated"];

/**
 * The plain, JSON-safe state of a breaker: {@link CircuitBreaker.toJSON} gives
 * it, {@link CircuitBreaker.restore} takes it back. Times are on the breaker's
 * clock (`realClock` is comparable across processes).
 *
 * @example
 * ```ts
 * import { circuitBreaker, type CircuitBreakerSnapshot, consecutiveFailures } from "@faultline/faultline";
 *
 * const snapshot: CircuitBreakerSnapshot = circuitBreaker({
 *   trip: consecutiveFailures(3),
 *   halfOpenAfter: 1_000,
 * }).toJSON();
 * const json = JSON.stringify(snapshot);
 * ```
 */
export interface CircuitBreakerSnapshot {
  /** The format version: 1. */
  version: 1;
  /** The state. */
  state: CircuitState;
  /** When it last opened (on the clock), or `null` while it has not opened since it closed. */
  openedAt: number | null;
  /** The wait of the current opening in ms. */
  halfOpenAfterMs: number;
  /** Openings since it was last closed. */
  openings: number;
  /** Successful probes in the current half-open state. */
  probeSuccesses: number;
  /** The strategy's counts. */
  trip: TripSnapshot;
}

const INVALIDATED = "Cannot restore circuit breaker as";

function bad(field: string, rule: string, value: unknown, range = false): never {
  throw new (range ? RangeError : TypeError)(
    `${INVALIDATED} 'snapshot${field}' must be ${rule}: current value is ${show(value)}`,
  );
}

/** The snapshot, checked field by field; throws naming the first bad one. */
export function checkSnapshot(snapshot: unknown, successes: number): CircuitBreakerSnapshot {
  if (typeof snapshot !== "object" || snapshot === null || Array.isArray(snapshot)) {
    bad("", "an object from toJSON()", snapshot);
  }
  const s = snapshot as Record<string, unknown>;
  if (s.version !== 1) bad(".version", "1", s.version, typeof s.version === "number");
  const state = s.state;
  if (typeof state !== "string") bad(".state", "a circuit state", state);
  if (!NAMES.includes(state as CircuitState)) {
    bad(".state", `one of ${NAMES.map((n) => `"${n}"`).join(", ")}`, state, true);
  }
  const openedAt = s.openedAt;
  if (openedAt !== null && typeof openedAt !== "number") {
    bad(".openedAt", "a finite number or null", openedAt);
  }
  if (typeof openedAt === "number" && (!Number.isFinite(openedAt) || openedAt < 0)) {
    bad(".openedAt", "a finite non-negative number or null", openedAt, true);
  }
  if ((state === "open" || state === "half_open") && openedAt === null) {
    bad(".openedAt", `a number when the state is "${state}"`, openedAt);
  }
  const delay = s.halfOpenAfterMs;
  if (typeof delay !== "number") bad(".halfOpenAfterMs", "a number of milliseconds", delay);
  if (!(delay >= 0 && delay <= MAX_DELAY_MS)) {
    bad(".halfOpenAfterMs", `a number of milliseconds from 0 to ${MAX_DELAY_MS}`, delay, true);
  }
  for (const field of ["openings", "probeSuccesses"] as const) {
    const v = s[field];
    if (typeof v !== "number") bad(`.${field}`, "a non-negative integer", v);
    if (!Number.isSafeInteger(v) || v < 0) bad(`.${field}`, "a non-negative integer", v, true);
  }
  if ((s.probeSuccesses as number) >= successes) {
    bad(".probeSuccesses", `less than 'halfOpenSuccesses' (${successes})`, s.probeSuccesses, true);
  }
  if (typeof s.trip !== "object" || s.trip === null || Array.isArray(s.trip)) {
    bad(".trip", "an object", s.trip);
  }
  return s as unknown as CircuitBreakerSnapshot;
}
