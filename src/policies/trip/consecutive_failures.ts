/**
 * {@link consecutiveFailures}: the breaker opens on the n-th counted failure
 * in a row.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { positiveInteger } from "../_validate.ts";
import { snapshotCount, snapshotObject } from "./_snapshot.ts";
import type { TripCounter, TripSnapshot, TripStrategy } from "./types.ts";

/**
 * Opens the breaker on the `failures`-th counted failure in a row; a counted
 * success starts the count again. Create it with {@link consecutiveFailures}.
 *
 * @example
 * ```ts
 * import { consecutiveFailures } from "@faultline/faultline";
 *
 * console.log(consecutiveFailures(5).failures); // 5
 * ```
 */
export class ConsecutiveFailures implements TripStrategy {
  /** How many counted failures in a row open the breaker. */
  readonly failures: number;

  /** Prefer {@link consecutiveFailures}, which validates the same way. */
  constructor(failures: number) {
    this.failures = positiveInteger("consecutiveFailures", "n", failures);
    Object.freeze(this);
  }

  /** Fresh counts for one breaker. */
  create(_clock: Clock): TripCounter {
    return new ConsecutiveCounter(this.failures);
  }
}

class ConsecutiveCounter implements TripCounter {
  readonly #limit: number;
  #failures = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  success(): void {
    this.#failures = 0;
  }

  failure(): boolean {
    return ++this.#failures >= this.#limit;
  }

  reset(): void {
    this.#failures = 0;
  }

  toJSON(): TripSnapshot {
    return { type: "consecutiveFailures", failures: this.#failures };
  }

  restore(snapshot: unknown): void {
    const s = snapshotObject(snapshot, "consecutiveFailures");
    this.#failures = snapshotCount(s, "failures", this.#limit - 1);
  }
}

/**
 * Opens the breaker on the `n`-th counted failure in a row. A counted success
 * starts the count again; errors the breaker does not count change nothing.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 10_000 });
 * ```
 */
export function consecutiveFailures(n: number): ConsecutiveFailures {
  return new ConsecutiveFailures(n);
}
