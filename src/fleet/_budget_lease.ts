/**
 * The fleet side of {@link retryBudget}: calls are counted into the store's
 * window at most every `syncMs`, and retries are leased from the fleet's
 * budget in small batches, so neither a call nor a retry waits on the store.
 * Internal.
 *
 * - A batch is about 1.5 × the retries made since the last request (at least
 *   1, at most 16); unused ones go back with the next request.
 * - A retry that finds no leased token while the last reply said the fleet
 *   had more goes ahead on credit (at most one batch, and no more than the
 *   fleet said it had), charged with the next request.
 * - While the store is down (or has not answered yet) the instance's own
 *   budget over its own calls decides.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Emitter } from "../policies/events.ts";
import { count } from "./_rate_lease.ts";
import { type FleetSettings, FleetSync } from "./_sync.ts";
import type { FleetBudgetReply, FleetErrorEvent } from "./store.ts";

const MAX_BATCH = 16;

/** The window's shape and the budget's terms, as the store is told them. */
export interface BudgetTerms {
  readonly windowMs: number;
  readonly buckets: number;
  readonly ratio: number;
  readonly floor: number;
}

/** The fleet part of one retry budget. */
export class BudgetLease {
  readonly sync: FleetSync<FleetBudgetReply>;
  tokens = 0;
  #calls = 0;
  #credit = 0;
  #sentCredit = 0;
  #retries = 0;
  #want = 1;
  /** What the fleet's budget had left at the last reply. */
  #fleetAvailable = 0;

  constructor(
    terms: BudgetTerms,
    settings: FleetSettings,
    clock: Clock,
    errors: Emitter<FleetErrorEvent>,
  ) {
    const store = settings.store;
    const key = settings.key;
    this.sync = new FleetSync<FleetBudgetReply>(settings, clock, errors, {
      send: () => {
        const w = Math.ceil(this.#retries * 1.5);
        this.#want = w < 1 ? 1 : w > MAX_BATCH ? MAX_BATCH : w;
        const request = {
          windowMs: terms.windowMs,
          buckets: terms.buckets,
          ratio: terms.ratio,
          floor: terms.floor,
          calls: this.#calls,
          charge: this.#credit,
          returned: this.tokens,
          want: this.#want,
        };
        this.#sentCredit = this.#credit;
        this.#calls =
          this.#credit =
          this.#retries =
          this.tokens =
            0;
        return store.retryBudget(key, request);
      },
      received: (reply) => {
        const granted = count(reply?.granted);
        this.tokens += granted < this.#want ? granted : this.#want;
        this.#fleetAvailable = count(reply?.available);
        this.#sentCredit = 0;
      },
      lost: () => {
        this.#credit += this.#sentCredit;
        this.#sentCredit = 0;
        this.#fleetAvailable = 0;
      },
    });
  }

  /** Counts one call, to be added to the fleet's window. */
  recordCall(): void {
    this.#calls++;
    if (!this.sync.scheduled) this.sync.wanted(); // else the scheduled request carries it
  }

  /** Whether the fleet allows a retry now; `undefined` when the store is not up (decide alone). */
  tryRetry(): boolean | undefined {
    const sync = this.sync;
    sync.wanted();
    if (!sync.up) return undefined;
    if (this.tokens > 0) {
      this.tokens--;
      this.#retries++;
      return true;
    }
    if (this.#credit < this.#want && this.#credit < this.#fleetAvailable) {
      this.#credit++;
      this.#retries++;
      return true;
    }
    return false;
  }

  /** Retries the fleet allows this instance now; `undefined` when the store is not up. */
  available(): number | undefined {
    if (!this.sync.up) return undefined;
    const limit = this.#want < this.#fleetAvailable ? this.#want : this.#fleetAvailable;
    const credit = limit - this.#credit;
    return this.tokens + (credit > 0 ? Math.floor(credit) : 0);
  }
}
