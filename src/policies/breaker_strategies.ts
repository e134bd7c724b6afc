/**
 * When a {@link circuitBreaker} opens: its trip strategies.
 *
 * A strategy is a plain, frozen description (`consecutiveFailures(5)`) that can
 * be shared by any number of breakers. Each breaker calls
 * {@link TripStrategy.create} once and keeps the counter it gets for itself,
 * so two breakers made from one options object never share their counts (a
 * bug opossum and cockatiel both had).
 *
 * Strategies see only the calls the breaker counts: a success, or a failure
 * its `on` option selects. Other errors are recorded nowhere. Only a failure
 * can open the breaker.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import {
  duration,
  optionsObject,
  positiveInteger,
  rangeError,
  ratio,
  show,
  typeError,
} from "./validate.ts";

/**
 * The state one breaker keeps for its strategy. Made by
 * {@link TripStrategy.create}; never shared between breakers.
 *
 * @example A strategy of your own: open on the third failure in a row of a slow kind
 * ```ts
 * import { circuitBreaker, type TripCounter, type TripStrategy } from "@faultline/faultline";
 *
 * const threeStrikes: TripStrategy = {
 *   create(): TripCounter {
 *     let failures = 0;
 *     return {
 *       success: () => void (failures = 0),
 *       failure: () => ++failures >= 3,
 *       reset: () => void (failures = 0),
 *       toJSON: () => ({ type: "threeStrikes", failures }),
 *       restore: (s) => void (failures = Number((s as { failures: number }).failures)),
 *     };
 *   },
 * };
 * const breaker = circuitBreaker({ trip: threeStrikes, halfOpenAfter: 1_000 });
 * ```
 */
export interface TripCounter {
  /** Records a counted success. */
  success(): void;
  /** Records a counted failure; returns true when the breaker must open. */
  failure(): boolean;
  /** Forgets every call recorded (the breaker closed, or was reset). */
  reset(): void;
  /** A plain, JSON-safe copy of the counts, with a `type`. */
  toJSON(): TripSnapshot;
  /**
   * Takes the counts from a {@link TripCounter.toJSON} result; throws a
   * `TypeError` or `RangeError` (and changes nothing) when it does not fit.
   */
  restore(snapshot: unknown): void;
}

/**
 * What a breaker's `trip` option takes: a factory of {@link TripCounter}s.
 * Made by {@link consecutiveFailures} and {@link failureRate}.
 *
 * @example
 * ```ts
 * import { consecutiveFailures, type TripStrategy } from "@faultline/faultline";
 *
 * const trip: TripStrategy = consecutiveFailures(5);
 * ```
 */
export interface TripStrategy {
  /** Makes fresh counts for one breaker, which reads the time from `clock`. */
  create(clock: Clock): TripCounter;
}

/**
 * The JSON form of a strategy's counts, inside a breaker's snapshot.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures, type TripSnapshot } from "@faultline/faultline";
 *
 * const trip: TripSnapshot = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 100 })
 *   .toJSON().trip;
 * console.log(trip); // { type: "consecutiveFailures", failures: 0 }
 * ```
 */
export interface TripSnapshot {
  /** Which strategy wrote it. */
  type: string;
  /** Its counts. */
  [field: string]: unknown;
}

/** Throws the error for a snapshot field that does not fit. */
function badSnapshot(field: string, rule: string, value: unknown, range = false): never {
  const Ctor = range ? RangeError : TypeError;
  throw new Ctor(
    `Cannot restore circuit breaker as 'snapshot.${field}' must be ${rule}: current value is ${
      show(value)
    }`,
  );
}

function snapshotObject(snapshot: unknown, type: string): Record<string, unknown> {
  if (typeof snapshot !== "object" || snapshot === null || Array.isArray(snapshot)) {
    badSnapshot("trip", "an object", snapshot);
  }
  const s = snapshot as Record<string, unknown>;
  if (s.type !== type) {
    badSnapshot("trip.type", `"${type}", the strategy of this breaker`, s.type, true);
  }
  return s;
}

function snapshotCount(s: Record<string, unknown>, field: string, max: number): number {
  const v = s[field];
  if (typeof v !== "number") badSnapshot(`trip.${field}`, "a non-negative integer", v);
  if (!Number.isInteger(v) || v < 0 || v > max) {
    badSnapshot(`trip.${field}`, `an integer from 0 to ${max}`, v, true);
  }
  return v;
}

function snapshotCounts(
  s: Record<string, unknown>,
  field: string,
  length: number,
  max: number,
): number[] {
  const v = s[field];
  if (!Array.isArray(v)) badSnapshot(`trip.${field}`, `an array of ${length} counts`, v);
  if (v.length !== length) {
    badSnapshot(`trip.${field}`, `an array of ${length} counts, as this breaker keeps`, v, true);
  }
  for (let i = 0; i < length; i++) {
    const n = v[i];
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) {
      badSnapshot(`trip.${field}[${i}]`, `an integer from 0 to ${max}`, n, typeof n === "number");
    }
  }
  return v as number[];
}

// ---------------------------------------------------------------- consecutive

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

// ---------------------------------------------------------------- failure rate

/**
 * Options of {@link failureRate}: give exactly one of `windowMs` (a sliding
 * time window) and `windowCalls` (the last N counted calls).
 *
 * @example
 * ```ts
 * import { failureRate, type FailureRateOptions } from "@faultline/faultline";
 *
 * const options: FailureRateOptions = { threshold: 0.5, minimumCalls: 20, windowMs: 30_000 };
 * const trip = failureRate(options);
 * ```
 */
export interface FailureRateOptions {
  /** The share of failures, above 0 and at most 1, at which the breaker opens. */
  threshold: number;
  /** No decision before this many counted calls are in the window: a positive integer. Default 10. */
  minimumCalls?: number;
  /** A time window in ms (finite, above 0), kept in `buckets` slices. */
  windowMs?: number;
  /** How many slices the time window is kept in: a positive integer, default 10. Only with `windowMs`. */
  buckets?: number;
  /** A count window: the last this many counted calls (a positive integer, at least `minimumCalls`). */
  windowCalls?: number;
}

/**
 * Opens the breaker when, on a counted failure, at least `minimumCalls`
 * counted calls are in the window and the share of failures among them is at
 * least `threshold`. Create it with {@link failureRate}.
 *
 * The time window is kept in a fixed number of buckets that rotate lazily as
 * calls are recorded, so it needs no timer; it covers between
 * `windowMs - windowMs / buckets` and `windowMs` of history.
 *
 * @example
 * ```ts
 * import { failureRate } from "@faultline/faultline";
 *
 * const trip = failureRate({ threshold: 0.5, minimumCalls: 20, windowMs: 10_000 });
 * console.log(trip.threshold, trip.windowMs, trip.buckets); // 0.5 10000 10
 * ```
 */
export class FailureRate implements TripStrategy {
  /** The share of failures at which the breaker opens. */
  readonly threshold: number;
  /** Calls needed in the window before a decision. */
  readonly minimumCalls: number;
  /** The time window in ms, or `undefined` for a count window. */
  readonly windowMs: number | undefined;
  /** How many buckets the time window is kept in (`undefined` for a count window). */
  readonly buckets: number | undefined;
  /** The count window, or `undefined` for a time window. */
  readonly windowCalls: number | undefined;

  /** Prefer {@link failureRate}, which validates the same way. */
  constructor(options: FailureRateOptions) {
    const api = "failureRate";
    if (options === undefined) typeError(api, "options", "an object", options);
    const o = optionsObject<FailureRateOptions>(api, options);
    // Each option is read once, so a getter or a later change has no effect.
    const threshold = o.threshold;
    const minimumCalls = o.minimumCalls;
    const windowMs = o.windowMs;
    const buckets = o.buckets;
    const windowCalls = o.windowCalls;
    this.threshold = ratio(api, "threshold", threshold, true);
    this.minimumCalls = minimumCalls === undefined
      ? 10
      : positiveInteger(api, "minimumCalls", minimumCalls);
    if (windowMs === undefined && windowCalls === undefined) {
      typeError(api, "windowMs", "a number of milliseconds, or 'windowCalls' given", windowMs);
    }
    if (windowMs !== undefined && windowCalls !== undefined) {
      typeError(api, "windowCalls", "left out when 'windowMs' is given", windowCalls);
    }
    if (windowMs !== undefined) {
      const ms = duration(api, "windowMs", windowMs);
      if (ms === 0) rangeError(api, "windowMs", "a finite number of milliseconds above 0", ms);
      this.windowMs = ms;
      this.buckets = buckets === undefined ? 10 : positiveInteger(api, "buckets", buckets);
      if (this.buckets > 1000) rangeError(api, "buckets", "at most 1000", this.buckets);
      this.windowCalls = undefined;
    } else {
      if (buckets !== undefined) typeError(api, "buckets", "left out with 'windowCalls'", buckets);
      const n = positiveInteger(api, "windowCalls", windowCalls);
      if (n < this.minimumCalls) {
        rangeError(api, "windowCalls", `at least 'minimumCalls' (${this.minimumCalls})`, n);
      }
      this.windowMs = undefined;
      this.buckets = undefined;
      this.windowCalls = n;
    }
    Object.freeze(this);
  }

  /** Fresh counts for one breaker. */
  create(clock: Clock): TripCounter {
    return this.windowMs === undefined ? new CountWindow(this) : new TimeWindow(this, clock);
  }

  /** True when `failures` of `calls` must open the breaker. */
  trips(failures: number, calls: number): boolean {
    return calls >= this.minimumCalls && failures >= this.threshold * calls;
  }
}

/**
 * `counts[i]` holds the counted calls of bucket `i`, `counts[n + i]` its
 * failures: one typed array, and no running totals (a failure sums the
 * buckets), so a breaker stays small.
 */
class TimeWindow implements TripCounter {
  readonly #rule: FailureRate;
  readonly #clock: Clock;
  readonly #counts: number[];
  /** The number of the newest bucket: floor(time / bucket width). */
  #head = -1;

  constructor(rule: FailureRate, clock: Clock) {
    this.#rule = rule;
    this.#clock = clock;
    this.#counts = new Array<number>(2 * rule.buckets!).fill(0);
  }

  /** Moves the window to now, emptying the buckets that fell out; gives the current index. */
  #rotate(): number {
    const n = this.#rule.buckets!;
    const bucket = Math.floor(this.#clock.now() / (this.#rule.windowMs! / n));
    const head = this.#head;
    // A clock that went backwards (a snapshot from elsewhere) keeps the newest bucket.
    if (bucket > head) {
      const counts = this.#counts;
      if (head < 0 || bucket - head >= n) {
        counts.fill(0);
      } else {
        for (let b = head + 1; b <= bucket; b++) {
          counts[b % n] = 0;
          counts[n + (b % n)] = 0;
        }
      }
      this.#head = bucket;
      return bucket % n;
    }
    return head % n;
  }

  success(): void {
    const i = this.#rotate();
    this.#counts[i] = this.#counts[i]! + 1;
  }

  failure(): boolean {
    const i = this.#rotate();
    const counts = this.#counts;
    const n = this.#rule.buckets!;
    // Not `counts[i]!++`: Stryker's instrumenter cannot mutate an update of a non-null assertion.
    counts[i] = counts[i]! + 1;
    counts[n + i] = counts[n + i]! + 1;
    let calls = 0;
    let failures = 0;
    for (let k = 0; k < n; k++) {
      calls += counts[k]!;
      failures += counts[n + k]!;
    }
    return this.#rule.trips(failures, calls);
  }

  reset(): void {
    this.#counts.fill(0);
    this.#head = -1;
  }

  toJSON(): TripSnapshot {
    const n = this.#rule.buckets!;
    return {
      type: "failureRate",
      windowMs: this.#rule.windowMs,
      head: this.#head < 0 ? null : this.#head,
      calls: this.#counts.slice(0, n),
      failures: this.#counts.slice(n),
    };
  }

  restore(snapshot: unknown): void {
    const s = snapshotObject(snapshot, "failureRate");
    const n = this.#rule.buckets!;
    if (s.windowMs !== this.#rule.windowMs) {
      badSnapshot(
        "trip.windowMs",
        `${this.#rule.windowMs}, the window of this breaker`,
        s.windowMs,
        true,
      );
    }
    const head = s.head;
    if (head !== null && (typeof head !== "number" || !Number.isSafeInteger(head) || head < 0)) {
      badSnapshot("trip.head", "a non-negative integer or null", head, typeof head === "number");
    }
    const calls = snapshotCounts(s, "calls", n, 0xffffffff);
    const failures = snapshotCounts(s, "failures", n, 0xffffffff);
    for (let i = 0; i < n; i++) {
      if (failures[i]! > calls[i]!) {
        badSnapshot(`trip.failures[${i}]`, `at most calls[${i}] (${calls[i]})`, failures[i], true);
      }
    }
    for (let i = 0; i < n; i++) {
      this.#counts[i] = calls[i]!;
      this.#counts[n + i] = failures[i]!;
    }
    this.#head = head === null ? -1 : head;
  }
}

/**
 * A ring of the last `windowCalls` outcomes, one bit each (1 for a failure),
 * 30 to a number so that every word stays a small integer.
 */
class CountWindow implements TripCounter {
  readonly #rule: FailureRate;
  readonly #bits: number[];
  #next = 0;
  #size = 0;
  #failures = 0;

  constructor(rule: FailureRate) {
    this.#rule = rule;
    this.#bits = new Array<number>(Math.ceil(rule.windowCalls! / 30)).fill(0);
  }

  #at(i: number): number {
    return (this.#bits[(i / 30) | 0]! >>> (i % 30)) & 1;
  }

  #record(outcome: 0 | 1): void {
    const n = this.#rule.windowCalls!;
    const i = this.#next;
    if (this.#size === n) this.#failures -= this.#at(i);
    else this.#size++;
    const w = (i / 30) | 0;
    this.#bits[w] = (this.#bits[w]! & ~(1 << (i % 30))) | (outcome << (i % 30));
    this.#failures += outcome;
    this.#next = i + 1 === n ? 0 : i + 1;
  }

  success(): void {
    this.#record(0);
  }

  failure(): boolean {
    this.#record(1);
    return this.#rule.trips(this.#failures, this.#size);
  }

  reset(): void {
    this.#bits.fill(0);
    this.#next = 0;
    this.#size = 0;
    this.#failures = 0;
  }

  toJSON(): TripSnapshot {
    const n = this.#rule.windowCalls!;
    const outcomes: number[] = [];
    const start = this.#size === n ? this.#next : 0;
    for (let k = 0; k < this.#size; k++) outcomes.push(this.#at((start + k) % n));
    return { type: "failureRate", windowCalls: n, outcomes };
  }

  restore(snapshot: unknown): void {
    const s = snapshotObject(snapshot, "failureRate");
    const n = this.#rule.windowCalls!;
    if (s.windowCalls !== n) {
      badSnapshot("trip.windowCalls", `${n}, the window of this breaker`, s.windowCalls, true);
    }
    const outcomes = s.outcomes;
    if (!Array.isArray(outcomes)) badSnapshot("trip.outcomes", "an array of 0s and 1s", outcomes);
    if (outcomes.length > n) {
      badSnapshot("trip.outcomes", `an array of at most ${n} outcomes`, outcomes.length, true);
    }
    for (let i = 0; i < outcomes.length; i++) {
      if (outcomes[i] !== 0 && outcomes[i] !== 1) {
        badSnapshot(`trip.outcomes[${i}]`, "0 or 1", outcomes[i], typeof outcomes[i] === "number");
      }
    }
    this.reset();
    for (const o of outcomes as Array<0 | 1>) this.#record(o);
  }
}

/**
 * Opens the breaker when failures make up at least `threshold` of the counted
 * calls in a window, once the window holds `minimumCalls` of them. The window
 * is either the last `windowMs` milliseconds (kept in `buckets` slices, rotated
 * as calls are recorded: no timer) or the last `windowCalls` calls.
 *
 * @example Half of the calls in the last 30 s, once there are 20 of them
 * ```ts
 * import { circuitBreaker, failureRate } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({
 *   trip: failureRate({ threshold: 0.5, minimumCalls: 20, windowMs: 30_000 }),
 *   halfOpenAfter: 5_000,
 * });
 * ```
 *
 * @example A quarter of the last 100 calls
 * ```ts
 * import { failureRate } from "@faultline/faultline";
 *
 * const trip = failureRate({ threshold: 0.25, minimumCalls: 50, windowCalls: 100 });
 * ```
 */
export function failureRate(options: FailureRateOptions): FailureRate {
  return new FailureRate(options);
}
