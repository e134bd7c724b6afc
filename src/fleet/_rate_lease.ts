/**
 * The fleet side of {@link rateLimit}: tokens leased from the store's GCRA in
 * small batches, so that a call spends a local token and never waits on the
 * store. Internal.
 *
 * - Every call also goes through the instance's own GCRA (the full limit): no
 *   instance alone ever exceeds the limit, and when the store is down (or has
 *   not answered yet) that is all there is.
 * - A batch is about what the instance used over the last `syncMs`, times 1.5
 *   (at least 1, at most a quarter of `burst`); the next is asked for when half is spent,
 *   at most once per `syncMs`, so the store sees at most `1000 / syncMs`
 *   requests a second per instance, whatever the call rate.
 * - A call that finds no token goes through on credit, counted by the fleet
 *   with the next request, so a refill still on its way costs no call: as
 *   many as the instance's own GCRA allows when the last reply had room to
 *   spare (the next batch is then larger), one call when it had run out
 *   (until a time now past). When the last reply said the fleet ran out,
 *   calls wait or are refused until the time it gave, and past that one
 *   call, until the next reply (unless the store keeps that reply waiting
 *   longer than `syncMs`: then the instance goes on alone).
 * - Tokens not used within `2 × syncMs` of their grant are dropped (a token
 *   granted long ago cannot make a burst later) and given back to the fleet
 *   with the next request.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { EPSILON, type Gcra } from "../policies/_gcra.ts";
import type { Emitter } from "../policies/events.ts";
import { type FleetSettings, FleetSync } from "./_sync.ts";
import type { FleetErrorEvent, FleetRateReply } from "./store.ts";

/** How a call was let through: on a leased token, on credit, or alone (store down). */
export const TOKEN = 0;
export const CREDIT = 1;
export const ALONE = 2;

/** The fleet part of one rate limiter. */
export class RateLease {
  readonly gcra: Gcra;
  readonly sync: FleetSync<FleetRateReply>;
  readonly syncMs: number;
  tokens = 0;
  #expiresAt = -Infinity;
  /** Calls let through on credit since the last request. */
  #credit = 0;
  /** Credit in the request in flight. */
  #sentCredit = 0;
  /** Tokens asked for in the request in flight. */
  #asked = 0;
  /**
   * The batch size: at first what the whole limit allows in one `syncMs`,
   * and never more than a quarter of the burst, so that one instance cannot
   * take it all.
   */
  want: number;
  /** Leased tokens that expired unused: given back with the next request. */
  #unused = 0;
  #sentUnused = 0;
  /** A call found the batch too small since the last request. */
  #short = false;
  /** The last reply granted less than asked. */
  #contended = false;
  /** Until when the fleet has no token, by its last reply (this instance's clock). */
  #blockedUntil = -Infinity;
  /** Calls seen since the last request, and when that was. */
  #seen = 0;
  #since = -Infinity;
  /** How the last admitted call was let through (for a give-back). */
  source = ALONE;

  constructor(gcra: Gcra, settings: FleetSettings, clock: Clock, errors: Emitter<FleetErrorEvent>) {
    this.gcra = gcra;
    this.syncMs = settings.syncMs;
    this.want = clampBatch(Math.ceil(settings.syncMs / gcra.interval), gcra.burst);
    const store = settings.store;
    const key = settings.key;
    this.sync = new FleetSync<FleetRateReply>(settings, clock, errors, {
      send: () => {
        const now = clock.now();
        const elapsed = now - this.#since;
        // Sized on the recent rate, so a batch lasts about 1.5 × syncMs.
        if (elapsed > 0 && elapsed < Infinity) {
          const rate = this.#seen / elapsed;
          let w = Math.ceil(rate * this.syncMs * 1.5);
          // Ran dry on credit while the fleet had room: grow geometrically.
          if (this.#short && !this.#contended && w < 2 * this.want) w = 2 * this.want;
          this.want = clampBatch(w, gcra.burst);
        }
        this.#short = false;
        this.#seen = 0;
        this.#since = now;
        this.#expire(now);
        const want = this.tokens >= this.want ? 0 : this.want - this.tokens;
        this.#asked = want;
        this.#sentCredit = this.#credit;
        this.#sentUnused = this.#unused;
        this.#credit = this.#unused = 0;
        return store.rateLimit(key, {
          intervalMs: gcra.interval,
          burst: gcra.burst,
          want,
          charge: this.#sentCredit - this.#sentUnused,
        });
      },
      received: (reply, now) => {
        const granted = Math.min(count(reply?.granted), this.#asked);
        const waitMs = count(reply?.waitMs);
        if (granted > 0) {
          this.tokens += granted;
          this.#expiresAt = now + 2 * this.syncMs;
        }
        this.#contended = granted < this.#asked;
        this.#blockedUntil = this.#contended ? now + waitMs : -Infinity;
        this.#sentCredit = 0;
      },
      lost: () => {
        // Credit taken while the store was reachable is owed; the request
        // carrying it failed, so it goes with the next one.
        this.#credit += this.#sentCredit;
        this.#sentCredit = this.#sentUnused = 0;
      },
    });
  }

  /**
   * Lets one call through at `now`: returns 0 to run now, the wait in ms for a
   * call let through later (its token taken now), or minus the time after
   * which to try again when refused. Sets {@link source}.
   */
  admit(now: number, maxWaitMs: number): number {
    const gcra = this.gcra;
    const sync = this.sync;
    this.#seen++;
    let wait = gcra.wait(now);
    if (!sync.up) {
      // Alone: the store is down or has not answered yet.
      sync.wanted();
      this.source = ALONE;
    } else {
      this.#expire(now);
      let fleetWait = 0;
      if (this.tokens > 0) {
        this.source = TOKEN;
      } else if (this.#blockedUntil > now) {
        this.source = CREDIT;
        fleetWait = this.#blockedUntil - now;
      } else if (!this.#contended || this.#credit < 1) {
        // The fleet had room at its last reply: on credit (the instance's own
        // GCRA bounds it), counted by the fleet with the next request. Or it
        // had run out until a time now past: one call's credit, as the others
        // want that token too.
        this.source = CREDIT;
        if (this.#credit >= this.want) this.#short = true;
      } else if (sync.waiting(now) > this.syncMs) {
        this.source = ALONE; // the store is slow: no call waits for it, nor fails for it
      } else {
        this.source = CREDIT;
        fleetWait = gcra.interval;
      }
      if (fleetWait > wait) wait = fleetWait;
      if ((this.source !== TOKEN || this.tokens <= this.want / 2) && !sync.scheduled) sync.wanted();
      if (wait > EPSILON && wait <= maxWaitMs && fleetWait > 0) {
        // The next caller waits for the slot after this one.
        const from = this.#blockedUntil > now ? this.#blockedUntil : now;
        this.#blockedUntil = from + gcra.interval;
      }
    }
    if (wait > maxWaitMs) return -wait;
    if (this.source === TOKEN) this.tokens--;
    else if (this.source === CREDIT) this.#credit++;
    return wait > EPSILON ? wait : 0;
  }

  /** Drops the tokens granted too long ago; they go back to the fleet with the next request. */
  #expire(now: number): void {
    if (this.tokens > 0 && now >= this.#expiresAt) {
      this.#unused += this.tokens;
      this.tokens = 0;
    }
  }

  /** Gives back a waiting call's token or credit: it will not run. */
  giveBack(source: number): void {
    if (source === TOKEN) this.tokens++;
    else if (source === CREDIT && this.#credit > 0) this.#credit--;
  }

  /** Tokens this instance may spend now without asking anyone. */
  available(now: number): number {
    const local = this.gcra.available(now);
    if (!this.sync.up) return local;
    const leased = now < this.#expiresAt ? this.tokens : 0;
    return leased < local ? leased : local;
  }
}

function clampBatch(n: number, burst: number): number {
  const max = Math.ceil(burst / 4);
  return n < 1 ? 1 : n > max ? max : n;
}

/** A count from a reply: a finite number ≥ 0, else 0. */
export function count(value: unknown): number {
  const n = typeof value === "number" ? value : Number(value);
  return n > 0 && n < Infinity ? n : 0;
}
