/**
 * The one timer behind every call of a {@link TimeoutPolicy}: a FIFO of
 * deadlines served by a single clock timer armed for the earliest live one.
 * Internal; not exported from the package.
 *
 * Why a queue and not a timer per call: a real timer costs a few hundred
 * nanoseconds to set and clear in Node and Bun, and microseconds in Deno, which
 * is more than the whole success path may cost. All calls of one policy share
 * one `ms`, and the clock never goes backwards, so deadlines arrive in order and
 * a plain array is already sorted.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { MAX_DELAY_MS } from "./backoff.ts";

/** Something with a deadline in a {@link DeadlineQueue}. */
export interface DeadlineEntry {
  /** When `expire` is due, on the queue's clock; set by the queue ({@link UNSTAMPED} until then). */
  deadline: number;
  /** 0 while in the queue and live; anything else once removed or expired. */
  queueState: number;
  /** Called once, from the timer, when the deadline has passed. */
  expire(): void;
  /**
   * Called once instead of `expire` when the queue's clock threw (a clock of
   * the caller's making): the deadline cannot be kept, and `error` is why.
   */
  broken(error: unknown): void;
}

/**
 * A new entry's deadline until the queue stamps it. Reading the clock costs
 * 60 to 170 ns a call (performance.now() in Deno most of it), so entries are
 * stamped in batches: when the timer is armed, and once per microtask after.
 * A deadline may so start a few microtasks late, never early.
 */
export const UNSTAMPED = -1;

const LIVE = 0;
/** Removed or expired. */
const DONE = 1;

// Node clamps a delay above 2^31 - 1 ms to 1 ms; a longer deadline is reached
// by re-arming from the timer until it is due.
const MAX_DELAY = MAX_DELAY_MS;

// Settled entries are dropped in place once they are both this many and more
// than the live ones, so the work is amortized O(1) per call and the array
// never holds more than about twice the live calls.
const COMPACT_MIN = 32;

// How many microtask turns a call must outlive before the timer is armed. A call
// that settles within them (an operation that never leaves the microtask queue)
// never costs a timer at all; a call that waits on I/O or a timer outlives them
// at once, and its deadline is stamped then, a few microtasks late, never early.
const ARM_AFTER_TURNS = 4;

// A turn of the microtask queue through a resolved promise: in Node,
// queueMicrotask costs several times more (it wraps the callback for async_hooks).
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A FIFO of deadlines that must be added in non-decreasing order, served by at
 * most one timer, which is cleared as soon as no live entry is left.
 */
export class DeadlineQueue {
  #clock: Clock;
  #entries: DeadlineEntry[] = [];
  #head = 0;
  /** Entries at or after `#head` that are no longer live. */
  #dead = 0;
  #live = 0;
  #timer: unknown = undefined;
  #armed = false;
  #checking = false;
  #turns = 0;
  #ms: number;
  #stamping = false;

  constructor(clock: Clock, ms: number) {
    this.#clock = clock;
    this.#ms = ms;
  }

  /** Live entries: calls still waiting for their deadline. */
  get live(): number {
    return this.#live;
  }

  /** Entries the queue holds, live or not yet compacted away: bounded by about twice `live`. */
  get size(): number {
    return this.#entries.length;
  }

  /** True while a clock timer is set. */
  get armed(): boolean {
    return this.#armed;
  }

  /** Adds `entry`, whose deadline must be at or after every deadline added before. */
  add(entry: DeadlineEntry): void {
    entry.queueState = LIVE;
    entry.deadline = UNSTAMPED;
    this.#entries.push(entry);
    this.#live++;
    if (this.#armed) {
      if (!this.#stamping) {
        this.#stamping = true;
        RESOLVED.then(this.#stamp);
      }
    } else if (!this.#checking) {
      this.#checking = true;
      this.#turns = 0;
      RESOLVED.then(this.#check);
    }
  }

  /** Takes `entry` out; a no-op when it has expired or was removed already. */
  remove(entry: DeadlineEntry): void {
    if (entry.queueState !== LIVE) return;
    entry.queueState = DONE;
    if (--this.#live === 0) {
      this.#reset();
      return;
    }
    this.#dead++;
    this.#maybeCompact();
  }

  #check = (): void => {
    if (this.#live === 0 || this.#armed) {
      this.#checking = false;
      return;
    }
    if (++this.#turns < ARM_AFTER_TURNS) {
      RESOLVED.then(this.#check);
      return;
    }
    this.#checking = false;
    this.#arm();
  };

  /** Stamps every new entry (a suffix of the array, in arrival order) with one clock read. */
  #stamp = (): void => {
    this.#stamping = false;
    const entries = this.#entries;
    let i = entries.length - 1;
    if (i < 0 || entries[i]!.deadline !== UNSTAMPED) return;
    let deadline: number;
    try {
      deadline = this.#clock.now() + this.#ms;
    } catch (error) {
      this.#break(error);
      return;
    }
    for (; i >= 0 && entries[i]!.deadline === UNSTAMPED; i--) entries[i]!.deadline = deadline;
  };

  #arm(): void {
    this.#stamp();
    if (this.#live === 0) return; // the clock threw: every entry was told
    const entries = this.#entries;
    while (entries[this.#head]!.queueState !== LIVE) {
      this.#head++;
      this.#dead--;
    }
    try {
      const delay = entries[this.#head]!.deadline - this.#clock.now();
      this.#timer = this.#clock.setTimeout(this.#fire, Math.min(Math.max(0, delay), MAX_DELAY));
    } catch (error) {
      this.#break(error);
      return;
    }
    this.#armed = true;
  }

  /**
   * The clock threw, in a microtask or a timer where nobody would hear it:
   * every live entry is told instead, and the queue is left empty.
   */
  #break(error: unknown): void {
    const entries = this.#entries;
    const broken: DeadlineEntry[] = [];
    for (let i = this.#head; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.queueState !== LIVE) continue;
      entry.queueState = DONE;
      broken.push(entry);
    }
    this.#live = 0;
    try {
      this.#reset(); // clears the timer last, if one is set
    } catch {
      // a clock whose clearTimeout throws too: nothing is left to tell
    }
    for (const entry of broken) {
      try {
        entry.broken(error);
      } catch {
        // broken() does not throw; a throwing abort listener must not stop the others.
      }
    }
  }

  #fire = (): void => {
    this.#armed = false;
    this.#timer = undefined;
    this.#stamp();
    if (this.#live === 0) return; // the clock threw: every entry was told
    let now: number;
    try {
      now = this.#clock.now();
    } catch (error) {
      this.#break(error);
      return;
    }
    const entries = this.#entries;
    let due: DeadlineEntry[] | undefined;
    while (this.#head < entries.length) {
      const entry = entries[this.#head]!;
      if (entry.queueState !== LIVE) {
        this.#head++;
        this.#dead--;
        continue;
      }
      if (entry.deadline > now) break;
      this.#head++;
      entry.queueState = DONE;
      this.#live--;
      (due ??= []).push(entry);
    }
    // The queue is consistent before any entry expires: expiring aborts signals,
    // whose listeners are user code that may start or settle other calls.
    if (this.#live === 0) this.#reset();
    else {
      this.#maybeCompact();
      this.#arm();
    }
    if (due) {
      for (const entry of due) {
        try {
          entry.expire();
        } catch {
          // expire() does not throw; a throwing abort listener must not stop the others.
        }
      }
    }
  };

  #maybeCompact(): void {
    const garbage = this.#head + this.#dead;
    if (garbage < COMPACT_MIN || garbage <= this.#live) return;
    const entries = this.#entries;
    let j = 0;
    for (let i = this.#head; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.queueState === LIVE) entries[j++] = entry;
    }
    entries.length = j;
    this.#head = 0;
    this.#dead = 0;
  }

  #reset(): void {
    const entries = this.#entries;
    // Popping a few is cheaper than truncating; a big array is dropped whole.
    if (entries.length <= 8) { while (entries.length > 0) entries.pop(); }
    else this.#entries = [];
    this.#head = 0;
    this.#dead = 0;
    if (this.#armed) {
      this.#armed = false;
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
