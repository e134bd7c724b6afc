/**
 * The options and events of {@link adaptiveConcurrency}.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Normalizer } from "../errors/normalize_error.ts";
import type { BulkheadRejectedEvent } from "./bulkhead.ts";

/**
 * The algorithms of {@link adaptiveConcurrency}:
 * - `"gradient2"`: the limit follows the ratio of the long-term latency to
 *   the latest one (Netflix's Gradient2): it falls when latency climbs at a
 *   steady load and grows back when latency recovers;
 * - `"vegas"`: the limit follows how many calls seem to queue at the
 *   dependency, judged against the least latency seen (TCP Vegas);
 * - `"aimd"`: latency plays no part: +1 per call at load, ×0.9 on a timeout
 *   or an overload rejection (TCP's additive increase, multiplicative decrease).
 *
 * @example
 * ```ts
 * import { type AdaptiveAlgorithm, adaptiveConcurrency } from "@faultline/faultline";
 *
 * const algorithm: AdaptiveAlgorithm = "vegas";
 * const policy = adaptiveConcurrency({ algorithm });
 * ```
 */
export type AdaptiveAlgorithm = "gradient2" | "vegas" | "aimd";

/**
 * Options of {@link adaptiveConcurrency}.
 *
 * @example
 * ```ts
 * import { adaptiveConcurrency, type AdaptiveConcurrencyOptions } from "@faultline/faultline";
 *
 * const options: AdaptiveConcurrencyOptions = { algorithm: "aimd", minLimit: 2, maxLimit: 50, queue: 10 };
 * const policy = adaptiveConcurrency(options);
 * ```
 */
export interface AdaptiveConcurrencyOptions {
  /** How the limit adapts. Default `"gradient2"`. */
  algorithm?: AdaptiveAlgorithm;
  /** The limit to start from: an integer in `[minLimit, maxLimit]`. Default 20 (kept within them). */
  initialLimit?: number;
  /** The least the limit may fall to: a positive integer. Default 1. */
  minLimit?: number;
  /** The most the limit may grow to: an integer ≥ `minLimit`. Default 200. */
  maxLimit?: number;
  /** How many calls may wait for a slot; 0 (the default) rejects at once when all are taken. */
  queue?: number;
  /** A listener subscribed to {@link AdaptiveConcurrencyPolicy.onLimitChange} at construction. */
  onLimitChange?: (event: LimitChangeEvent) => void;
  /** A listener subscribed to {@link AdaptiveConcurrencyPolicy.onRejected} at construction. */
  onRejected?: (event: BulkheadRejectedEvent) => void;
  /**
   * How to tell a connection failure from any other error (a timeout is a
   * drop): a normalizer from {@link createNormalizer}. Default {@link normalizeError}.
   */
  normalize?: Normalizer;
  /** The source of time. Default `realClock`. */
  clock?: Clock;
}

/**
 * What {@link AdaptiveConcurrencyPolicy.onLimitChange} listeners receive.
 *
 * @example
 * ```ts
 * import { adaptiveConcurrency, type LimitChangeEvent } from "@faultline/faultline";
 *
 * adaptiveConcurrency().onLimitChange((e: LimitChangeEvent) => console.log(`limit ${e.previous} → ${e.limit}`));
 * ```
 */
export interface LimitChangeEvent {
  /** The new limit. */
  readonly limit: number;
  /** The limit before. */
  readonly previous: number;
  /** The latency of the call that moved it, in ms. */
  readonly rtt: number;
  /** Calls in flight when it moved (the call that moved it no longer counted). */
  readonly inFlight: number;
}
