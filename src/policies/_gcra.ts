/**
 * The generic cell rate algorithm (GCRA) of {@link rateLimit}: one number,
 * the theoretical arrival time (TAT) of the next call, instead of a bucket of
 * tokens refilled by a timer. A call at `now` conforms while
 * `TAT - now ≤ (burst - 1) × interval`, and moves TAT on by `interval`. So in
 * any span of `t` ms at most `burst + t / interval` calls conform. Internal.
 *
 * The TAT is kept as `base + booked × interval`, `base` being when the
 * limiter last went idle, and never as one sum: a real clock reads about
 * 1.7e12 ms, where a double is only good to 0.00024 ms, so a TAT summed
 * there turns two calls at the same instant into a wait of a few
 * nanoseconds (and a refusal, with `maxWaitMs: 0`). Measured from `base`,
 * the rounding is that of numbers the size of one busy spell.
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
  /** When the calls booked since the limiter was last idle began. */
  #base = -Infinity;
  /** How many calls were booked from `base` on: the TAT is `base + booked × interval`. */
  #booked = 0;

  constructor(interval: number, burst: number) {
    this.interval = interval;
    this.burst = burst;
    this.tolerance = (burst - 1) * interval;
  }

  /** How far the TAT is ahead of `now` (≤ 0: idle). */
  #ahead(now: number): number {
    return (this.#base - now) + this.#booked * this.interval;
  }

  /** How long a call at `now` must wait to conform (≤ EPSILON: it conforms now). */
  wait(now: number): number {
    const ahead = this.#ahead(now);
    // One product, (booked - burst + 1) × interval, rather than a difference of two.
    return ahead > 0
      ? (this.#base - now) + (this.#booked - this.burst + 1) * this.interval
      : -this.tolerance;
  }

  /**
   * Counts one call at `now` (conforming now or later). Returns the call's
   * TAT, which {@link giveBack} takes to give it back.
   */
  take(now: number): number {
    if (this.#ahead(now) > 0) this.#booked++;
    else {
      this.#base = now;
      this.#booked = 1;
    }
    return this.#base + this.#booked * this.interval;
  }

  /**
   * Gives back the call whose {@link take} returned `tat`, when no call was
   * counted after it: a later one keeps the slot it was given, so an earlier
   * give-back can never bunch two calls together.
   */
  giveBack(tat: number): void {
    // A call still waiting has its TAT ahead of now, so no rebase has passed
    // it: an equal TAT is its own, and `booked` is at least 1.
    if (this.#base + this.#booked * this.interval === tat) this.#booked--;
  }

  /** How many calls would conform now, one after the other. */
  available(now: number): number {
    if (this.#ahead(now) <= 0) return this.burst;
    // Busy, so `now - base < booked × interval`: n is at most `burst`.
    const n = Math.floor((now - this.#base) / this.interval + EPSILON) + this.burst - this.#booked;
    return n < 0 ? 0 : n;
  }
}
