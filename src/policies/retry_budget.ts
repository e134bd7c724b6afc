/**
 * A retry budget: a cap on retries, shared by many {@link retry} policies,
 * as a ratio of the calls made over a sliding window plus a small floor.
 *
 * Why: a retry policy alone multiplies load on a service that is already
 * failing — with `maxAttempts: 3` at every layer of a three-layer stack, one
 * user request becomes up to 27 calls at the bottom. A budget keeps the extra
 * load bounded (by default 10% on top of the normal traffic, plus a floor so
 * that a quiet client can still retry), whatever the number of policies and
 * their settings. This is Finagle's `RetryBudget`, and what gRPC's retry
 * throttling does.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import {
  clock as checkClock,
  duration,
  optionsObject,
  rangeError,
  typeError,
} from "./_validate.ts";
import { Emitter, type Event } from "./events.ts";
import type { FleetErrorEvent, FleetOptions } from "../fleet/store.ts";
import { fleetSettings } from "../fleet/_sync.ts";
import { BudgetLease } from "../fleet/_budget_lease.ts";

/**
 * What {@link retry} asks before each retry, through its `budget` option.
 * {@link retryBudget} makes the standard one; implement this interface to
 * share a budget in another way (across processes, say).
 *
 * @example Sharing one budget between the policies of a service
 * ```ts
 * import { retry, retryBudget } from "@faultline/faultline";
 *
 * // Over any 10 s, retries may add 10% to the calls, plus 10 retries a second.
 * const budget = retryBudget({ ratio: 0.1, minRetriesPerSecond: 10, windowMs: 10_000 });
 * const db = retry({ maxAttempts: 3, budget });
 * const cache = retry({ maxAttempts: 5, budget });
 * ```
 */
export interface RetryBudget {
  /** Counts one call (not a retry): each call earns the budget `ratio` retries. */
  recordCall(): void;
  /** Takes one retry from the budget: true if it was allowed (and counted), false if exhausted. */
  tryRetry(): boolean;
  /** How many retries the budget would allow right now (0 when exhausted). */
  readonly available: number;
}

/**
 * Options of {@link retryBudget}.
 *
 * @example
 * ```ts
 * import { retryBudget, type RetryBudgetOptions } from "@faultline/faultline";
 *
 * const options: RetryBudgetOptions = { ratio: 0.2, minRetriesPerSecond: 5, windowMs: 30_000 };
 * const budget = retryBudget(options);
 * ```
 */
export interface RetryBudgetOptions {
  /** Retries allowed per call in the window: finite, ≥ 0 (may exceed 1). Default 0.1. */
  ratio?: number;
  /**
   * Retries allowed per second regardless of traffic, so that a client making
   * few calls can still retry: finite, ≥ 0. Default 10.
   */
  minRetriesPerSecond?: number;
  /** The length of the sliding window in ms: finite, > 0. Default 10 000. */
  windowMs?: number;
  /** The source of time. Default `realClock`. */
  clock?: Clock;
  /**
   * Share the budget with every process that uses the same store and key:
   * retries are then a share of the fleet's calls (see {@link FleetOptions}).
   */
  fleet?: FleetOptions;
}

/** The window is kept in this many buckets: memory is fixed, and it slides in steps of windowMs/10. */
const BUCKETS = 10;

/**
 * The budget {@link retryBudget} returns: a {@link RetryBudget} over a sliding
 * window, optionally shared by a fleet.
 *
 * @example
 * ```ts
 * import { retryBudget, type SlidingRetryBudget } from "@faultline/faultline";
 *
 * const budget: SlidingRetryBudget = retryBudget({ ratio: 0.1 });
 * budget.recordCall();
 * console.log(budget.available); // 100
 * ```
 */
export class SlidingRetryBudget implements RetryBudget, Disposable {
  readonly #ratio: number;
  readonly #floor: number;
  readonly #bucketMs: number;
  readonly #clock: Clock;
  // Bucket i holds the counts of the time slot whose index is #slot[i].
  readonly #slot = new Float64Array(BUCKETS).fill(-Infinity);
  readonly #calls = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #latest = -Infinity;
  #totalCalls = 0;
  #totalRetries = 0;
  readonly #lease: BudgetLease | undefined;
  readonly #fleetErrors: Emitter<FleetErrorEvent> = new Emitter<FleetErrorEvent>();
  /** Subscribes to failed fleet store requests (with `fleet` only). */
  readonly onFleetError: Event<FleetErrorEvent> = this.#fleetErrors.subscribe;

  /** Use {@link retryBudget}, which is the same. */
  constructor(options?: RetryBudgetOptions) {
    const api = "retryBudget";
    const o = optionsObject<RetryBudgetOptions>(api, options);
    const ratioOption = o.ratio;
    const minOption = o.minRetriesPerSecond;
    const windowOption = o.windowMs;
    const clockOption = o.clock;
    const fleetOption = o.fleet;
    const ratio = ratioOption === undefined ? 0.1 : finiteNonNegative(api, "ratio", ratioOption);
    const perSecond = minOption === undefined
      ? 10
      : finiteNonNegative(api, "minRetriesPerSecond", minOption);
    const windowMs = windowOption === undefined ? 10_000 : duration(api, "windowMs", windowOption);
    if (windowMs === 0) rangeError(api, "windowMs", "a finite positive number of milliseconds", 0);
    const clock = checkClock(api, clockOption);
    const fleet = fleetSettings(api, fleetOption, "retryBudget");
    this.#ratio = ratio;
    this.#floor = perSecond * windowMs / 1000;
    this.#bucketMs = windowMs / BUCKETS;
    this.#clock = clock;
    this.#lease = fleet === undefined ? undefined : new BudgetLease(
      { windowMs, buckets: BUCKETS, ratio, floor: this.#floor },
      fleet,
      clock,
      this.#fleetErrors,
    );
  }

  /** Counts one call (not a retry): each call earns the budget `ratio` retries. */
  recordCall(): void {
    this.#calls[this.#advance()]! += 1;
    this.#totalCalls += 1;
    this.#lease?.recordCall();
  }

  /** Takes one retry from the budget: true if it was allowed (and counted), false if exhausted. */
  tryRetry(): boolean {
    const i = this.#advance();
    const fleet = this.#lease?.tryRetry();
    if (fleet === false) return false;
    if (
      fleet === undefined && this.#totalRetries + 1 > this.#ratio * this.#totalCalls + this.#floor
    ) {
      return false;
    }
    this.#retries[i]! += 1;
    this.#totalRetries += 1;
    return true;
  }

  /** How many retries the budget would allow right now (0 when exhausted). */
  get available(): number {
    const fleet = this.#lease?.available();
    if (fleet !== undefined) return fleet;
    this.#advance();
    const left = Math.floor(this.#ratio * this.#totalCalls + this.#floor - this.#totalRetries);
    return left > 0 ? left : 0;
  }

  /**
   * Stops talking to the fleet store (with `fleet`) and clears its timer;
   * the budget goes on alone. Without `fleet` it does nothing.
   */
  close(): void {
    this.#lease?.sync.close();
  }

  /** The same as {@link SlidingRetryBudget.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Drops the buckets that fell out of the window; returns the current bucket's index. */
  #advance(): number {
    let slot = Math.floor(this.#clock.now() / this.#bucketMs);
    // A clock that steps back (or a NaN) keeps counting in the latest slot.
    if (!(slot >= this.#latest)) slot = this.#latest;
    const i = ((slot % BUCKETS) + BUCKETS) % BUCKETS;
    if (slot !== this.#latest) {
      this.#latest = slot;
      // Any bucket from a slot older than the window is stale: subtract it.
      for (let j = 0; j < BUCKETS; j++) {
        if (this.#slot[j]! <= slot - BUCKETS) {
          this.#totalCalls -= this.#calls[j]!;
          this.#totalRetries -= this.#retries[j]!;
          this.#calls[j] = 0;
          this.#retries[j] = 0;
          this.#slot[j] = -Infinity;
        }
      }
      this.#slot[i] = slot;
    }
    return i;
  }
}

/**
 * A {@link RetryBudget} over a sliding window of `windowMs` (in 10 buckets,
 * with no background timer): a retry is allowed while, over the window,
 * `retries ≤ ratio × calls + minRetriesPerSecond × windowMs / 1000`.
 * Share one budget between the retry policies that call the same service;
 * when it is exhausted, {@link retry} gives up at once with the last error and
 * its `onGiveUp` event says `reason: "budget"`. As the window slides past the
 * retries, the budget recovers by itself.
 *
 * @example A fleet-safe retry
 * ```ts
 * import { retry, retryBudget } from "@faultline/faultline";
 *
 * // 20% extra load at most, and 1 retry a second even when traffic is low.
 * const budget = retryBudget({ ratio: 0.2, minRetriesPerSecond: 1 });
 * const policy = retry({ maxAttempts: 4, budget });
 * policy.onGiveUp((e) => {
 *   if (e.reason === "budget") console.warn("retry budget exhausted: the service is struggling");
 * });
 * await policy.execute(() => fetch("http://127.0.0.1:1/")).catch(() => {});
 * ```
 */
export function retryBudget(options?: RetryBudgetOptions): SlidingRetryBudget {
  return new SlidingRetryBudget(options);
}

function finiteNonNegative(api: string, option: string, value: unknown): number {
  const rule = "a finite non-negative number";
  if (typeof value !== "number") typeError(api, option, rule, value);
  if (!(value >= 0) || !Number.isFinite(value)) rangeError(api, option, rule, value);
  return value;
}
