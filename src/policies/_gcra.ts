/**
 * The generic cell rate algorithm (GCRA) of {@link rateLimit}: one number,
 * the theoretical arrival time (TAT) of the next call, instead of a bucket of
 * tokens refilled by a timer. A call at `now` conforms while
 * `TAT - now ≤ (burst - 1) × interval`, and moves TAT on by `interval`. So in
 * any span of `t` ms at most `burst + t / interval` calls conform. Internal.
 *
 * @module
 */

/** Below this a wait is float noise (an interval of 1000/3 ms added up), not a wait. */
export const EPSILON = 1e-9;

/** One GCRA: `interval` ms per call, `burst` calls at once. */
export class Gcra {
  /** Milliseconds per call: `windowMs / limit`. */
  readonly interval: number;
  /** How far ahead of now the TAT may be: `(burst - 1) × interval`. */
  readonly tolerance: number;
  readonly burst: number;
  /** The theoretical arrival time: when the bucket would be back to empty. */
  tat = -Infinity;

  constructor(interval: number, burst: number) {
    this.interval = interval;
    this.burst = burst;
    this.tolerance = (burst - 1) * interval;
  }

  /** How long a call at `now` must wait to conform (≤ EPSILON: it conforms now). */
  wait(now: number): number {
    return (this.tat > now ? this.tat : now) - now - this.tolerance;
  }

  /** Counts one call at `now` (conforming now or later); returns the new TAT. */
  take(now: number): number {
    return this.tat = (this.tat > now ? this.tat : now) + this.interval;
  }

  /**
   * Gives back the call whose {@link take} returned `tat`, when no call was
   * counted after it: a later one keeps the slot it was given, so an earlier
   * give-back can never bunch two calls together.
   */
  giveBack(tat: number): void {
    if (this.tat === tat) this.tat -= this.interval;
  }

  /** How many calls would conform now, one after the other. */
  available(now: number): number {
    const n = Math.floor(
      (now + this.tolerance - (this.tat > now ? this.tat : now)) / this.interval + EPSILON,
    ) + 1;
    return n < 0 ? 0 : n > this.burst ? this.burst : n;
  }
}
