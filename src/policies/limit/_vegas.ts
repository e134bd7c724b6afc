/**
 * Vegas, after TCP Vegas as Netflix concurrency-limits' `VegasLimit` applies
 * it to requests: the limit follows an estimate of how many calls are queued
 * at the dependency. Internal.
 *
 * The no-load latency is the least latency seen; every 15 to 30 × limit
 * samples it is forgotten and measured again (a probe), so that a dependency
 * that got slower for good is not judged against an old best. Each sample:
 *
 *     queued = ⌈limit × (1 − noLoad / latest)⌉
 *
 * With `s = max(1, ⌊log10 limit⌋)`: a drop (a timeout, an overload
 * rejection) takes `s` off; fewer than half the slots in use holds the limit;
 * `queued ≤ s` adds `6s` (nothing queues: grow fast); `queued < 3s` adds `s`;
 * `queued > 6s` takes `s` off; in between it holds.
 *
 * @module
 */

import { clamp, type LimitAlgorithm, log10Step } from "./_types.ts";

/** The probe comes after `PROBE × limit × jitter` samples, jitter in [0.5, 1). */
const PROBE = 30;

export class Vegas implements LimitAlgorithm {
  estimate: number;
  readonly windowed = true;
  readonly #min: number;
  readonly #max: number;
  #noLoad = 0;
  #samples = 0;
  #jitter = 0.75;
  /** A small generator of its own for the probe's jitter: no global state, reproducible. */
  #seed = 0x9e3779b9;

  constructor(initial: number, min: number, max: number) {
    this.estimate = initial;
    this.#min = min;
    this.#max = max;
    this.#nextJitter();
  }

  #nextJitter(): void {
    // xorshift32
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x >>> 0;
    this.#jitter = 0.5 + (this.#seed / 0x1_0000_0000) * 0.5;
  }

  sample(rtt: number, inflight: number, dropped: boolean): number {
    if (!(rtt > 0) || rtt === Infinity) return this.estimate;
    const limit = this.estimate;
    if (++this.#samples >= this.#jitter * PROBE * limit) {
      this.#samples = 0;
      this.#nextJitter();
      this.#noLoad = rtt;
      return limit;
    }
    if (this.#noLoad === 0 || rtt < this.#noLoad) {
      this.#noLoad = rtt;
      return limit;
    }
    const step = log10Step(Math.floor(limit));
    let next: number;
    if (dropped) {
      next = limit - step;
    } else if (inflight * 2 < limit) {
      return limit;
    } else {
      const queued = Math.ceil(limit * (1 - this.#noLoad / rtt));
      if (queued <= step) next = limit + 6 * step;
      else if (queued < 3 * step) next = limit + step;
      else if (queued > 6 * step) next = limit - step;
      else return limit;
    }
    return this.estimate = clamp(next, this.#min, this.#max);
  }
}
