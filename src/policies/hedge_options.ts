/**
 * The options and events of {@link hedge}.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { AnyConnectionError } from "../errors/connection_error.ts";
import type { ConnectionErrorKind } from "../errors/kinds.ts";
import type { Normalizer } from "../errors/normalize_error.ts";
import type { RetryBudget } from "./retry_budget.ts";

/**
 * An adaptive hedge delay: the `percentile` (0 < p < 100) of the latencies of
 * recent successful calls, kept within `[min, max]` (defaults 0 and
 * `Infinity`). Until 20 calls have succeeded, the delay is `max`.
 *
 * @example
 * ```ts
 * import { hedge, type HedgePercentileDelay } from "@faultline/faultline";
 *
 * const delay: HedgePercentileDelay = { percentile: 95, min: 5, max: 500 };
 * const policy = hedge({ delay });
 * ```
 */
export interface HedgePercentileDelay {
  /** Which percentile of recent successful latencies, above 0 and below 100. */
  percentile: number;
  /** The least delay, in ms. Default 0. */
  min?: number;
  /** The greatest delay, in ms (also the delay before enough calls are known). Default `Infinity`. */
  max?: number;
}

/**
 * Which failed attempts start the next one at once: a kind or a non-empty
 * list of kinds (`"unknown"` standing for errors that are not recognized
 * connection failures), or a predicate given the error as thrown and its
 * {@link ConnectionError} when recognized.
 *
 * @example
 * ```ts
 * import type { HedgeOn } from "@faultline/faultline";
 *
 * const on: HedgeOn = ["refused", "reset", "timeout"];
 * ```
 */
export type HedgeOn =
  | ConnectionErrorKind
  | readonly ConnectionErrorKind[]
  | ((error: unknown, normalized: AnyConnectionError | undefined) => boolean);

/**
 * Options of {@link hedge}.
 *
 * @example
 * ```ts
 * import { hedge, type HedgeOptions, retryBudget } from "@faultline/faultline";
 *
 * const options: HedgeOptions = { maxHedges: 2, delay: 50, budget: retryBudget({ ratio: 0.05 }) };
 * const policy = hedge(options);
 * ```
 */
export interface HedgeOptions {
  /**
   * How long the newest attempt may run before another starts beside it, in
   * ms: a number (`0` starts every attempt at once; `Infinity` hedges only on
   * failures), a function of the attempt just started (return `Infinity` for
   * no further hedge), or a {@link HedgePercentileDelay}. Required.
   */
  delay: number | ((info: { readonly attempt: number }) => number) | HedgePercentileDelay;
  /** How many attempts may run beside the first: a positive integer, default 1. */
  maxHedges?: number;
  /**
   * Which failures start the next attempt at once. Default: the connection
   * failures that are `retryable`. Any other failure is the call's answer:
   * it rejects with it and abandons the other attempts.
   */
  on?: HedgeOn;
  /**
   * A {@link RetryBudget} each hedge takes from (each call counts as a call),
   * so that a slow dependency is not sent twice its load. Default: none.
   */
  budget?: RetryBudget;
  /** A listener subscribed to {@link HedgePolicy.onHedge} at construction. */
  onHedge?: (event: HedgeEvent) => void;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer} that knows your clients. Default
   * {@link normalizeError}.
   */
  normalize?: Normalizer;
  /** The source of time and timers. Default `realClock`. */
  clock?: Clock;
}

/**
 * What {@link HedgePolicy.onHedge} listeners receive when an attempt starts
 * beside the others.
 *
 * @example
 * ```ts
 * import { hedge, type HedgeEvent } from "@faultline/faultline";
 *
 * hedge({ delay: 100 }).onHedge((e: HedgeEvent) => console.log(`attempt ${e.attempt} (${e.reason})`));
 * ```
 */
export interface HedgeEvent {
  /** The attempt being started: 2 for the first hedge. */
  readonly attempt: number;
  /** `"delay"`: the newest attempt ran longer than the delay; `"failure"`: an attempt failed. */
  readonly reason: "delay" | "failure";
  /** For `"delay"`: the delay that ran out, in ms. */
  readonly delay?: number;
  /** For `"failure"`: the error of the attempt that failed. */
  readonly error?: unknown;
}
