/**
 * What an adaptive concurrency algorithm is: a limit estimate that each
 * finished call's sample moves. Internal.
 *
 * @module
 */

/** A limit algorithm of {@link adaptiveConcurrency}: one instance per policy. */
export interface LimitAlgorithm {
  /** The estimate of the limit, always within the policy's `[minLimit, maxLimit]`. */
  readonly estimate: number;
  /** True when it learns from windows of calls (see `_sample_window.ts`), false when from each call. */
  readonly windowed: boolean;
  /**
   * Learns from one finished call: `rtt` its time in ms, `inflight` the calls
   * in flight when it started (itself included), `dropped` true when it timed
   * out or was turned away for overload. Returns the new estimate.
   */
  sample(rtt: number, inflight: number, dropped: boolean): number;
}

/** `value` forced into `[min, max]` (NaN gives `min`). */
export function clamp(value: number, min: number, max: number): number {
  // Math.min and Math.max, not comparisons: a comparison's `>`/`>=` differ
  // only where both branches give the same value, which no test can tell.
  return Number.isNaN(value) ? min : Math.min(Math.max(value, min), max);
}

/** max(1, ⌊log10(n)⌋): the step of Vegas's thresholds and changes. */
export function log10Step(n: number): number {
  return Math.max(1, Math.floor(Math.log10(n)));
}
