/**
 * AIMD (additive increase, multiplicative decrease), after Netflix
 * concurrency-limits' `AIMDLimit` and TCP's congestion window: latency plays
 * no part. Internal.
 *
 * A drop (a call that timed out or was turned away for overload) cuts the
 * limit to ⌊limit × 0.9⌋; any other sample taken while at least half the
 * slots were in use adds 1.
 *
 * @module
 */

import { clamp, type LimitAlgorithm } from "./_types.ts";

/** The share of the limit kept on a drop. */
const BACKOFF = 0.9;

export class Aimd implements LimitAlgorithm {
  estimate: number;
  readonly windowed = false;
  readonly #min: number;
  readonly #max: number;

  constructor(initial: number, min: number, max: number) {
    this.estimate = initial;
    this.#min = min;
    this.#max = max;
  }

  sample(_rtt: number, inflight: number, dropped: boolean): number {
    const limit = this.estimate;
    let next: number;
    if (dropped) next = Math.floor(limit * BACKOFF);
    else if (inflight * 2 >= limit) next = limit + 1;
    else return limit;
    return this.estimate = clamp(next, this.#min, this.#max);
  }
}
