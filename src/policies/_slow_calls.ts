/**
 * The breaker's slow-call rule (resilience4j's slow-call rate): the share of
 * recent calls slower than `durationMs`, over a time window of rotating
 * buckets, opens the breaker once it reaches `threshold` with at least
 * `minimumCalls` in the window. Internal.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { SlowCallOptions } from "./breaker_options.ts";
import { TimeWindow } from "./trip/_windows.ts";
import { duration, optionsObject, positiveInteger, ratio } from "./_validate.ts";

const BUCKETS = 10;

/** The validated rule, shared by every breaker of a keyed breaker. */
export class SlowCallRule {
  readonly durationMs: number;
  readonly threshold: number;
  readonly minimumCalls: number;
  readonly windowMs: number;
  readonly buckets: number = BUCKETS;
  readonly windowCalls: undefined = undefined;

  constructor(api: string, value: unknown) {
    const o = optionsObject<SlowCallOptions>(api, value);
    const durationMs = o.durationMs;
    const threshold = o.threshold;
    const minimumCalls = o.minimumCalls;
    const windowMs = o.windowMs;
    this.durationMs = duration(api, "slowCall.durationMs", durationMs);
    this.threshold = ratio(api, "slowCall.threshold", threshold, true);
    this.minimumCalls = minimumCalls === undefined
      ? 10
      : positiveInteger(api, "slowCall.minimumCalls", minimumCalls);
    this.windowMs = windowMs === undefined ? 60_000 : duration(api, "slowCall.windowMs", windowMs);
    if (this.windowMs < BUCKETS) {
      throw new RangeError(
        `Cannot create ${api} as 'slowCall.windowMs' must be at least ${BUCKETS} milliseconds: current value is ${this.windowMs}`,
      );
    }
    Object.freeze(this);
  }

  /** A rule for {@link TimeWindow}: its "failures" are the slow calls. */
  trips(slow: number, calls: number): boolean {
    return calls >= this.minimumCalls && slow / calls >= this.threshold;
  }

  /** One breaker's window. */
  window(clock: Clock): SlowCalls {
    return new SlowCalls(this, clock);
  }
}

/** One breaker's recent calls: how many, and how many were slow. */
export class SlowCalls {
  readonly #rule: SlowCallRule;
  readonly #window: TimeWindow;

  constructor(rule: SlowCallRule, clock: Clock) {
    this.#rule = rule;
    this.#window = new TimeWindow(rule, clock);
  }

  /** Records a call that took `ms`; true when the share of slow calls now opens the breaker. */
  record(ms: number): boolean {
    if (ms >= this.#rule.durationMs) return this.#window.failure();
    this.#window.success();
    return false;
  }

  reset(): void {
    this.#window.reset();
  }
}
