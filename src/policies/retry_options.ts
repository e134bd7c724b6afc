/**
 * The options of {@link retry} and the events a {@link RetryPolicy} gives.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { AnyConnectionError } from "../errors/connection_error.ts";
import type { Normalizer } from "../errors/normalize_error.ts";
import type { ConnectionErrorKind } from "../errors/kinds.ts";
import type { Backoff } from "./backoff.ts";
import type { RetryBudget } from "./retry_budget.ts";

/**
 * Decides whether a failed attempt is retried: `error` is what the operation
 * threw, `normalized` its {@link ConnectionError} when it is a recognized
 * connection failure (else `undefined`). A predicate that throws rejects the
 * call with what it threw.
 *
 * @example
 * ```ts
 * import { retry, type RetryPredicate } from "@faultline/faultline";
 *
 * class HttpError extends Error {
 *   status: number;
 *   constructor(status: number) {
 *     super(`HTTP ${status}`);
 *     this.status = status;
 *   }
 * }
 * const on: RetryPredicate = (error, normalized) =>
 *   normalized?.retryable === true || (error instanceof HttpError && error.status === 503);
 * const policy = retry({ on });
 * ```
 */
export type RetryPredicate = (
  error: unknown,
  normalized: AnyConnectionError | undefined,
) => boolean;

/**
 * What the `delay` option of {@link retry} is told about the retry to come.
 *
 * @example
 * ```ts
 * import { retry, type RetryDelayInfo } from "@faultline/faultline";
 *
 * const delay = (info: RetryDelayInfo): number | undefined =>
 *   info.result instanceof Response ? Number(info.result.headers.get("retry-after")) * 1000 : undefined;
 * const policy = retry({ handleResult: (r) => r instanceof Response && r.status === 503, delay });
 * ```
 */
export interface RetryDelayInfo {
  /** The attempt that just failed, counting from 1. */
  readonly attempt: number;
  /** The error it failed with, as the policy would rethrow it (absent for a result). */
  readonly error?: unknown;
  /** The result that `handleResult` asked to retry (absent for an error). */
  readonly result?: unknown;
  /** What the backoff computed for this retry, in ms. */
  readonly backoffDelay: number;
}

/**
 * Why {@link RetryPolicy} stopped retrying:
 * - `"attempts"`: `maxAttempts` attempts were made;
 * - `"deadline"`: the next wait would end after the `deadline`;
 * - `"budget"`: the shared {@link RetryBudget} had no retry left;
 * - `"not_retryable"`: the error was not one to retry (see `on`);
 * - `"cancelled"`: the caller's signal aborted.
 *
 * @example
 * ```ts
 * import type { RetryGiveUpReason } from "@faultline/faultline";
 *
 * const alarming: RetryGiveUpReason[] = ["budget", "deadline"];
 * ```
 */
export type RetryGiveUpReason = "attempts" | "deadline" | "budget" | "not_retryable" | "cancelled";

/**
 * The event {@link RetryPolicy.onRetry} gives before each retry's wait.
 *
 * @example
 * ```ts
 * import { retry, type RetryEvent } from "@faultline/faultline";
 *
 * retry().onRetry((e: RetryEvent) => console.log(`attempt ${e.attempt} failed; retrying in ${e.delay} ms`));
 * ```
 */
export interface RetryEvent {
  /** The attempt that failed, counting from 1: the next one is `attempt + 1`. */
  readonly attempt: number;
  /** How long the policy waits before the next attempt, in ms. */
  readonly delay: number;
  /** The error, as the policy would rethrow it (absent when a result is retried). */
  readonly error?: unknown;
  /** The result that `handleResult` asked to retry (absent for an error). */
  readonly result?: unknown;
}

/**
 * The event {@link RetryPolicy.onGiveUp} gives when a call ends without success.
 *
 * @example
 * ```ts
 * import { retry, type RetryGiveUpEvent } from "@faultline/faultline";
 *
 * retry().onGiveUp((e: RetryGiveUpEvent) => console.log(`gave up after ${e.attempts}: ${e.reason}`));
 * ```
 */
export interface RetryGiveUpEvent {
  /** How many attempts were made. */
  readonly attempts: number;
  /** Why it stopped. */
  readonly reason: RetryGiveUpReason;
  /** The error the call rejects with (absent when it returns a result). */
  readonly error?: unknown;
  /** The last result, which the call returns (absent for an error). */
  readonly result?: unknown;
}

/**
 * The event {@link RetryPolicy.onSuccess} gives when a call returns a result
 * that `handleResult` accepts.
 *
 * @example
 * ```ts
 * import { retry, type RetrySuccessEvent } from "@faultline/faultline";
 *
 * retry().onSuccess((e: RetrySuccessEvent) => e.attempts > 1 && console.log("recovered"));
 * ```
 */
export interface RetrySuccessEvent {
  /** How many attempts it took, counting the one that succeeded. */
  readonly attempts: number;
}

/**
 * Options of {@link retry}.
 *
 * @example
 * ```ts
 * import { exponentialBackoff, retry, type RetryOptions } from "@faultline/faultline";
 *
 * const options: RetryOptions = {
 *   maxAttempts: 4,
 *   backoff: exponentialBackoff({ initial: 200, max: 5_000 }),
 *   on: ["refused", "reset", "timeout"],
 *   deadline: 10_000,
 * };
 * const policy = retry(options);
 * ```
 */
export interface RetryOptions {
  /**
   * How many attempts in all, the first one included: `1` never retries.
   * A positive integer, or `Infinity` to retry until success, a
   * non-retryable error, the `deadline`, the `budget` or the signal. Default 3.
   */
  maxAttempts?: number;
  /** The waits between attempts. Default `exponentialBackoff()` (100 ms doubling to 30 s, full jitter). */
  backoff?: Backoff;
  /**
   * Which errors to retry: a list of kinds, or a {@link RetryPredicate}.
   * Default: the recognized connection errors that are `retryable` — never
   * `cancelled`, never an unrecognized error. In a list, `"unknown"` stands
   * for the errors that are not recognized as connection failures.
   */
  on?: ConnectionErrorKind | readonly ConnectionErrorKind[] | RetryPredicate;
  /**
   * Which results to retry (an HTTP 503 response, say), without throwing
   * them away: when the attempts run out, the call returns the last result.
   * A predicate that throws rejects the call with what it threw.
   */
  handleResult?: (result: unknown) => boolean;
  /**
   * Overrides the backoff's delay (to honour a Retry-After, say): return a
   * number of ms, or `undefined` to keep `info.backoffDelay`. A negative
   * number means 0, more than {@link MAX_DELAY_MS} means that; NaN or a
   * non-number keeps the backoff's delay. The `deadline` still applies. A
   * function that throws rejects the call with what it threw.
   */
  delay?: (info: RetryDelayInfo) => number | undefined;
  /**
   * A total time budget in ms, measured on `clock` from the start of
   * `execute`: no retry is started whose wait would end after it; the call
   * gives up at once with the last error instead. It does not cut an attempt
   * short: put a `timeout` outside the retry for that. Default `Infinity`.
   */
  deadline?: number;
  /** A {@link RetryBudget} shared with other policies. Default: none. */
  budget?: RetryBudget;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer} that knows your clients. Default
   * {@link normalizeError}.
   */
  normalize?: Normalizer;
  /** The source of time and timers. Default `realClock`. */
  clock?: Clock;
  /** The random numbers in `[0, 1)` given to the backoff's jitter. Default `Math.random`. */
  random?: () => number;
}
