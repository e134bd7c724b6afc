/**
 * The windows of {@link failureRate}: a time window of rotating buckets and a
 * count window of the last N outcomes. Internal: a breaker gets one from
 * `FailureRate.create()`.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { badSnapshot, snapshotCounts, snapshotObject } from "./_snapshot.ts";
import type { TripCounter, TripSnapshot } from "./types.ts";

/** What a window needs of its {@link FailureRate}: its sizes and its rule. */
export interface WindowRule {
  readonly windowMs: number | undefined;
  readonly buckets: number | undefined;
  readonly windowCalls: number | undefined;
  /** True when `failures` of `calls` must open the breaker. */
  trips(failures: number, calls: number): boolean;
}

/**
 * `counts[i]` holds the counted calls of bucket `i`, `counts[n + i]` its
 * failures: one typed array, and no running totals (a failure sums the
 * buckets), so a breaker stays small.
 */
export class TimeWindow implements TripCounter {
  readonly #rule: WindowRule;
  readonly #clock: Clock;
  readonly #counts: number[];
  /** The number of the newest bucket: floor(time / bucket width). */
  #head = -1;

  constructor(rule: WindowRule, clock: Clock) {
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
export class CountWindow implements TripCounter {
  readonly #rule: WindowRule;
  readonly #bits: number[];
  #next = 0;
  #size = 0;
  #failures = 0;

  constructor(rule: WindowRule) {
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
