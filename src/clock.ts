/**
 * Time as the policies see it: a {@link Clock} interface, the {@link realClock}
 * every policy uses by default, and {@link ManualClock}, which tests advance by
 * hand so that no test ever waits for a backoff in real time.
 *
 * @module
 */

/**
 * The source of time and timers for every policy. Pass your own to a policy's
 * `clock` option; the default is {@link realClock}.
 *
 * @example Using a manual clock in a test
 * ```ts
 * import { ManualClock, type Clock } from "@faultline/faultline";
 *
 * const clock: Clock = new ManualClock();
 * clock.now(); // 0
 * ```
 */
export interface Clock {
  /** Milliseconds on a clock that never goes backwards. */
  now(): number;
  /** Calls `callback` after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a callback scheduled with {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
  /**
   * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon
   * as `signal` aborts. Leaves no timer or listener behind either way.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Shared by both clocks so that an abort during a sleep ends the wait at once
 * and removes both the timer and the listener.
 */
function sleepOn(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal!.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// performance.now() is monotonic; adding timeOrigin keeps values comparable
// across processes, which matters when a breaker's state is exported.
const origin = typeof performance !== "undefined" ? performance.timeOrigin : 0;

/**
 * The clock of the real world: `performance` for time and the global
 * `setTimeout` for timers. Every policy uses it unless given another.
 *
 * @example
 * ```ts
 * import { realClock } from "@faultline/faultline";
 *
 * const start = realClock.now();
 * await realClock.sleep(1);
 * console.log(realClock.now() >= start);
 * ```
 */
export const realClock: Clock = {
  now: typeof performance !== "undefined" ? () => origin + performance.now() : () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  sleep(ms, signal) {
    return sleepOn(realClock, ms, signal);
  },
};

interface ManualTimer {
  due: number;
  seq: number;
  callback: () => void;
}

/**
 * How many microtask turns {@link drain} gives: far more than any chain of
 * awaits a timer starts in faultline (a retry's whole next attempt takes a
 * handful), and still only microseconds.
 */
const DRAIN_TURNS = 512;

/**
 * Lets every promise chain that a fired timer started run before the next one
 * fires. Microtask turns only, never a macrotask: the host gets no turn in
 * which a rejection the caller is about to await counts as unhandled.
 */
async function drain(): Promise<void> {
  for (let i = 0; i < DRAIN_TURNS; i++) await undefined;
}

/**
 * A clock that moves only when told to. Timers fire in order of their due time
 * (ties in the order they were set) during {@link ManualClock.advance}, which
 * also lets the promises waiting on them run before it returns.
 *
 * @example Testing a backoff without waiting
 * ```ts
 * import { ManualClock } from "@faultline/faultline";
 *
 * const clock = new ManualClock();
 * let woke = false;
 * clock.sleep(1000).then(() => (woke = true));
 * await clock.advance(999);
 * console.log(woke); // false
 * await clock.advance(1);
 * console.log(woke); // true
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  /** Starts the clock at `startMs` (default 0). */
  constructor(startMs = 0) {
    if (typeof startMs !== "number" || !Number.isFinite(startMs)) {
      throw new TypeError(
        `Cannot create ManualClock as 'startMs' must be a finite number: current value is ${
          String(startMs)
        }`,
      );
    }
    this.#now = startMs;
  }

  /** The clock's current time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** How many timers are waiting to fire: a test can check that none is left behind. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Schedules `callback` to run when the clock reaches `now() + ms`. */
  setTimeout(callback: () => void, ms: number): unknown {
    const timer: ManualTimer = {
      due: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0),
      seq: this.#seq++,
      callback,
    };
    this.#timers.push(timer);
    return timer;
  }

  /** Cancels a timer set with {@link ManualClock.setTimeout}. */
  clearTimeout(handle: unknown): void {
    const index = this.#timers.indexOf(handle as ManualTimer);
    if (index !== -1) this.#timers.splice(index, 1);
  }

  /** Resolves when the clock has been advanced by `ms`; rejects at once if `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /**
   * Moves the clock forward by `ms`, firing every timer that falls due on the
   * way, in order, and letting the work each one starts run before the next
   * fires (so a retry's next backoff, set while advancing, fires too if due).
   */
  async advance(ms: number): Promise<void> {
    if (typeof ms !== "number" || !(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeError(
        `Cannot advance ManualClock as 'ms' must be a finite non-negative number: current value is ${
          String(ms)
        }`,
      );
    }
    const target = this.#now + ms;
    await drain();
    for (;;) {
      const next = this.#earliest(target);
      if (next === undefined) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = next.due;
      next.callback();
      await drain();
    }
    this.#now = target;
  }

  /** Advances to the next timer that is due and fires it; resolves false if none is set. */
  async next(): Promise<boolean> {
    const next = this.#earliest(Infinity);
    if (next === undefined) return false;
    await this.advance(next.due - this.#now);
    return true;
  }

  #earliest(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.#timers) {
      if (timer.due > limit) continue;
      if (!best || timer.due < best.due || (timer.due === best.due && timer.seq < best.seq)) {
        best = timer;
      }
    }
    return best;
  }
}
