/**
 * Netflix concurrency-limits' `WindowedLimit`, with failsafe-go's choice of
 * the 90th percentile: the latency-based algorithms learn once per window of
 * calls rather than once per call, from the window's p90 latency, its peak
 * in-flight count and whether any call in it was dropped. Per call, at a few
 * hundred calls a second, they would move the limit faster than its effect
 * on the dependency's latency can come back (one round trip later), and a
 * slow outlier would count as much as a whole window. Internal.
 *
 * A window closes at the first call that ends after its end time, which is
 * set when it opens to twice the least latency seen in the window before,
 * kept within [{@link MIN_WINDOW_MS}, {@link MAX_WINDOW_MS}]; a window of
 * fewer than {@link MIN_SAMPLES} calls teaches nothing. Memory is fixed: a
 * histogram of log-spaced buckets (see `_latency_window.ts`), cleared per window.
 *
 * @module
 */

import { boundOf, bucketOf, BUCKETS } from "../_latency_window.ts";

export const MIN_WINDOW_MS = 100;
export const MAX_WINDOW_MS = 1_000;
export const MIN_SAMPLES = 10;
const QUANTILE = 0.9;

export class SampleWindow {
  readonly #counts = new Uint32Array(BUCKETS);
  #samples = 0;
  #minRtt = Infinity;
  #maxInflight = 0;
  #dropped = false;
  #end = -Infinity;
  /** The closed window's p90 latency, peak in-flight count and drop, once `add` returns true. */
  rtt = 0;
  inflight = 0;
  dropped = false;

  /** Adds a call that ended at `now`; true when it closed a window worth learning from. */
  add(now: number, rtt: number, inflight: number, dropped: boolean): boolean {
    if (rtt > 0 && rtt < Infinity) {
      const b = bucketOf(rtt);
      // Not `counts[b]!++`: Stryker's instrumenter cannot mutate an update of a non-null assertion.
      this.#counts[b] = this.#counts[b]! + 1;
      this.#samples++;
      if (rtt < this.#minRtt) this.#minRtt = rtt;
    }
    if (inflight > this.#maxInflight) this.#maxInflight = inflight;
    if (dropped) this.#dropped = true;
    if (!(now > this.#end)) return false;
    const ready = this.#samples >= MIN_SAMPLES;
    const span = 2 * this.#minRtt;
    this.#end = now +
      (span > MIN_WINDOW_MS ? (span < MAX_WINDOW_MS ? span : MAX_WINDOW_MS) : MIN_WINDOW_MS);
    if (ready) {
      this.rtt = this.#quantile();
      this.inflight = this.#maxInflight;
      this.dropped = this.#dropped;
    }
    this.#counts.fill(0);
    this.#samples = 0;
    this.#minRtt = Infinity;
    this.#maxInflight = 0;
    this.#dropped = false;
    return ready;
  }

  #quantile(): number {
    const target = Math.ceil(QUANTILE * this.#samples);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= target) return boundOf(i);
    }
    return boundOf(BUCKETS - 1);
  }
}
