/**
 * Gradient2, after Netflix concurrency-limits' `Gradient2Limit`: the limit
 * follows the ratio of a long-term average latency to the latest latency.
 * Internal.
 *
 * Each sample: the long-term latency is an exponential average over about
 * {@link LONG_WINDOW} samples (a plain mean for the first {@link WARMUP});
 * when it is more than twice the latest latency (the dependency has just
 * recovered), it decays by 5% a sample so that the limit does not stay low.
 * When fewer than half the slots are in use, the limit holds (nothing to learn
 * about load). Otherwise
 *
 *     gradient = clamp(TOLERANCE × long / latest, 0.5, 1)
 *     next     = limit × gradient + QUEUE
 *     limit    = limit × (1 − SMOOTHING) + next × SMOOTHING
 *
 * so a steady latency grows the limit by up to `QUEUE × SMOOTHING` a sample,
 * and a latency that climbs past `TOLERANCE` × the long-term one shrinks it,
 * by at most 10% a sample.
 *
 * @module
 */

import { clamp, type LimitAlgorithm } from "./_types.ts";

/** How far the latest latency may exceed the long-term one before the limit falls. */
const TOLERANCE = 1.5;
/** How much of each new estimate is taken. */
const SMOOTHING = 0.2;
/** The headroom added to the estimate: how many calls may queue at the dependency. */
const QUEUE = 4;
/** The span of the long-term average, in samples. */
const LONG_WINDOW = 600;
/** Samples averaged plainly before the exponential average starts. */
const WARMUP = 10;
const FACTOR = 2 / (LONG_WINDOW + 1);

export class Gradient2 implements LimitAlgorithm {
  estimate: number;
  readonly windowed = true;
  readonly #min: number;
  readonly #max: number;
  #long = 0;
  #count = 0;

  constructor(initial: number, min: number, max: number) {
    this.estimate = initial;
    this.#min = min;
    this.#max = max;
  }

  sample(rtt: number, inflight: number, _dropped: boolean): number {
    if (!(rtt > 0) || rtt === Infinity) return this.estimate; // nothing measured
    let long: number;
    if (this.#count < WARMUP) {
      this.#count++;
      long = this.#long += (rtt - this.#long) / this.#count;
    } else {
      long = this.#long = this.#long * (1 - FACTOR) + rtt * FACTOR;
    }
    if (long / rtt > 2) this.#long = long * 0.95;
    const limit = this.estimate;
    if (inflight < limit / 2) return limit;
    const gradient = clamp(TOLERANCE * long / rtt, 0.5, 1);
    const next = limit * gradient + QUEUE;
    return this.estimate = clamp(limit * (1 - SMOOTHING) + next * SMOOTHING, this.#min, this.#max);
  }
}
