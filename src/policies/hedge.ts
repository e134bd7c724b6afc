/**
 * {@link hedge}: when an attempt is slow (or fails in a way worth another
 * try), start another one beside it rather than after it, and take whichever
 * succeeds first. The tail latency of a call becomes about that of the faster
 * of two attempts, for a few percent more load.
 *
 * @module
 */

import { executeSolo, STRATEGY } from "./_engine.ts";
import type { Event } from "./events.ts";
import { FIXED, FUNCTION, HedgeCore, PERCENTILE } from "./_hedge_core.ts";
import type { HedgeEvent, HedgeOptions, HedgePercentileDelay } from "./hedge_options.ts";
import { LatencyWindow } from "./_latency_window.ts";
import { parseOn } from "./_on.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import {
  budget as checkBudget,
  clock as checkClock,
  duration,
  fn as checkFn,
  judge,
  optionsObject,
  positiveInteger,
  rangeError,
  typeError,
} from "./_validate.ts";

export type { HedgeEvent, HedgeOn, HedgeOptions, HedgePercentileDelay } from "./hedge_options.ts";

/**
 * The policy {@link hedge} returns.
 *
 * @example
 * ```ts
 * import { hedge, type HedgePolicy } from "@faultline/faultline";
 *
 * const policy: HedgePolicy = hedge({ delay: 50 });
 * console.log(await policy.execute((ctx) => `attempt ${ctx.attempt}`)); // "attempt 1"
 * ```
 */
export class HedgePolicy implements Policy {
  /** How many attempts may run beside the first. */
  readonly maxHedges: number;
  /** @ignore */
  readonly [STRATEGY]: HedgeCore;
  /** Each time an attempt starts beside the others. */
  readonly onHedge: Event<HedgeEvent>;

  /** Use {@link hedge}. */
  constructor(options: HedgeOptions) {
    const api = "hedge";
    const o = optionsObject<HedgeOptions>(api, options);
    const maxHedges = o.maxHedges;
    const delay = o.delay;
    const on = o.on;
    const budget = o.budget;
    const onHedge = o.onHedge;
    const normalize = o.normalize;
    const clock = o.clock;
    const core = new HedgeCore(HedgePolicy.prototype);

    this.maxHedges = maxHedges === undefined ? 1 : positiveInteger(api, "maxHedges", maxHedges);
    core.maxAttempts = this.maxHedges + 1;

    if (typeof delay === "number") {
      core.mode = FIXED;
      core.fixedMs = duration(api, "delay", delay, true);
    } else if (typeof delay === "function") {
      core.mode = FUNCTION;
      core.delayFn = delay;
    } else if (typeof delay === "object" && delay !== null) {
      const percentile = (delay as HedgePercentileDelay).percentile;
      const min = (delay as HedgePercentileDelay).min;
      const max = (delay as HedgePercentileDelay).max;
      const rule = "a number above 0 and below 100";
      if (typeof percentile !== "number") typeError(api, "delay.percentile", rule, percentile);
      if (!(percentile > 0 && percentile < 100)) {
        rangeError(api, "delay.percentile", rule, percentile);
      }
      core.min = min === undefined ? 0 : duration(api, "delay.min", min);
      core.max = max === undefined ? Infinity : duration(api, "delay.max", max, true);
      if (core.max < core.min) rangeError(api, "delay.max", "at least delay.min", max);
      core.mode = PERCENTILE;
      core.window = new LatencyWindow(percentile);
      core.current = core.max;
    } else {
      typeError(
        api,
        "delay",
        "a number of milliseconds, a function or { percentile, min, max }",
        delay,
      );
    }

    const parsed = parseOn<HedgeCore["predicate"]>(api, on);
    core.kinds = parsed.kinds;
    core.predicate = parsed.predicate;

    core.budget = checkBudget(api, budget);
    core.clock = checkClock(api, clock);
    core.judge = judge(api, normalize);
    if (onHedge !== undefined) {
      core.hedged.subscribe(checkFn<(event: HedgeEvent) => void>(api, "onHedge", onHedge));
    }
    this[STRATEGY] = core;
    this.onHedge = core.hedged.subscribe;
  }

  /**
   * Runs `fn`, and runs it again beside the first attempt when that one is
   * slower than the delay (or fails in a way listed in `on`), up to
   * `maxHedges` more times. Resolves with the first success, and aborts
   * every other attempt's `ctx.signal`; rejects with the last failure when
   * every attempt failed, with a failure not in `on` at once, or with a
   * `"cancelled"` {@link ConnectionError} at once when `signal` aborts.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return executeSolo(this, fn, signal);
  }
}

/**
 * A hedging policy (Polly's and failsafe-go's hedging; "The Tail at Scale").
 * The first attempt starts at once; when the newest attempt has not settled
 * after `delay` ms, another starts beside it, up to `maxHedges` of them. The
 * first attempt to succeed wins: the call resolves with it and every other
 * attempt's `ctx.signal` aborts. An attempt that fails with an error in `on`
 * (by default, a retryable connection failure) starts the next at once
 * (fallback mode); any other failure is the call's answer. When every
 * attempt has failed, the call rejects with the last failure.
 *
 * `delay: 0` starts every attempt at once (parallel mode); `delay: Infinity`
 * hedges only on failures; `{ percentile: 95, max: 1000 }` adapts the delay
 * to the 95th percentile of recent successful calls, from a fixed window of
 * the last 256, at no allocation per call. Give it a `budget` (a
 * {@link retryBudget}) so that hedges add at most a share of the load.
 * `ctx.attempt` counts this policy's attempts, from 1. Only idempotent
 * operations should be hedged: two attempts may both reach the server.
 *
 * @example Hedge a slow read after 50 ms, at most 10% extra load
 * ```ts
 * import { hedge, pipeline, retryBudget, timeout } from "@faultline/faultline";
 *
 * const policy = pipeline(
 *   hedge({ delay: 50, budget: retryBudget({ ratio: 0.1, minRetriesPerSecond: 1 }) }),
 *   timeout(1_000),
 * );
 * const sleep = (ms: number, signal: AbortSignal) =>
 *   new Promise<void>((resolve, reject) => {
 *     const timer = setTimeout(resolve, ms);
 *     signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
 *   });
 * const value = await policy.execute(async ({ attempt, signal }) => {
 *   await sleep(attempt === 1 ? 200 : 5, signal); // the first attempt is slow: the hedge wins
 *   return `answered by attempt ${attempt}`;
 * });
 * console.log(value); // "answered by attempt 2"
 * ```
 */
export function hedge(options: HedgeOptions): HedgePolicy {
  return new HedgePolicy(options);
}
