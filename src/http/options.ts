/**
 * What {@link resilientFetch} takes and gives: its options, the function it
 * returns, and the default lists of methods and statuses it retries.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Normalizer } from "../errors/normalize_error.ts";
import type { Backoff } from "../policies/backoff.ts";
import type { HalfOpenBackoff } from "../policies/breaker_options.ts";
import type { Event } from "../policies/events.ts";
import type { KeyedCircuitBreaker } from "../policies/keyed_breaker.ts";
import type { RetryEvent } from "../policies/retry.ts";
import type { TripStrategy } from "../policies/trip/types.ts";
import type { Policy } from "../policies/types.ts";

/**
 * The methods {@link resilientFetch} retries by default: the idempotent ones
 * of RFC 9110 §9.2.2 (GET, HEAD, OPTIONS, PUT, DELETE, TRACE).
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY_METHODS, resilientFetch } from "@faultline/faultline/http";
 *
 * const http = resilientFetch({ retryMethods: [...DEFAULT_RETRY_METHODS, "PATCH"] });
 * ```
 */
export const DEFAULT_RETRY_METHODS: readonly string[] = Object.freeze([
  "GET",
  "HEAD",
  "OPTIONS",
  "PUT",
  "DELETE",
  "TRACE",
]);

/**
 * The statuses {@link resilientFetch} retries by default: 429 Too Many
 * Requests, 502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY_STATUSES, resilientFetch } from "@faultline/faultline/http";
 *
 * const http = resilientFetch({ retryStatuses: [...DEFAULT_RETRY_STATUSES, 500] });
 * ```
 */
export const DEFAULT_RETRY_STATUSES: readonly number[] = Object.freeze([429, 502, 503, 504]);

/**
 * The statuses a per-origin breaker of {@link resilientFetch} counts as
 * failures by default: 502, 503 and 504, the answers that say the origin (or
 * what stands behind it) is unavailable.
 *
 * @example
 * ```ts
 * import { DEFAULT_BREAKER_STATUSES, resilientFetch } from "@faultline/faultline/http";
 *
 * const http = resilientFetch({ breaker: { statuses: [...DEFAULT_BREAKER_STATUSES, 500] } });
 * ```
 */
export const DEFAULT_BREAKER_STATUSES: readonly number[] = Object.freeze([502, 503, 504]);

/**
 * A function with the shape of the global `fetch`.
 *
 * @example
 * ```ts
 * import type { FetchFunction } from "@faultline/faultline/http";
 *
 * const plain: FetchFunction = (input, init) => fetch(input, init);
 * ```
 */
export type FetchFunction = (
  input: Request | string | URL,
  init?: RequestInit,
) => Promise<Response>;

/**
 * The per-origin circuit breakers of {@link resilientFetch}.
 *
 * @example
 * ```ts
 * import { consecutiveFailures } from "@faultline/faultline";
 * import { resilientFetch, type ResilientFetchBreakerOptions } from "@faultline/faultline/http";
 *
 * const breaker: ResilientFetchBreakerOptions = { trip: consecutiveFailures(3), halfOpenAfter: 5_000 };
 * const http = resilientFetch({ breaker });
 * ```
 */
export interface ResilientFetchBreakerOptions {
  /** When an origin's breaker opens. Default `consecutiveFailures(5)`. */
  trip?: TripStrategy;
  /** How long it stays open before one probe, in ms, or a function/backoff of the openings. Default 10 000. */
  halfOpenAfter?: number | ((openings: number) => number) | HalfOpenBackoff;
  /** Probes at once while half-open: a positive integer, default 1. */
  halfOpenMaxProbes?: number;
  /** Successful probes that close it: a positive integer, default 1. */
  halfOpenSuccesses?: number;
  /** How long a probe may hold its slot, in ms (or `Infinity`). Default 60 000. */
  probeTimeout?: number;
  /**
   * The response statuses that count as failures, besides every connection
   * failure (every kind but `cancelled` and `unknown`). Default
   * {@link DEFAULT_BREAKER_STATUSES}: `[502, 503, 504]`. Pass `[]` to count
   * connection failures only.
   */
  statuses?: readonly number[];
  /** The most origins whose breaker is kept (least recently used closed ones go first). Default 1 000. */
  maxOrigins?: number;
}

/**
 * Options of {@link resilientFetch}. Every one is checked when
 * `resilientFetch()` is called: a bad one throws a `TypeError`/`RangeError`
 * naming it, before any request.
 *
 * @example
 * ```ts
 * import { exponentialBackoff } from "@faultline/faultline";
 * import { resilientFetch, type ResilientFetchOptions } from "@faultline/faultline/http";
 *
 * const options: ResilientFetchOptions = {
 *   maxAttempts: 4,
 *   backoff: exponentialBackoff({ initial: 200, max: 5_000 }),
 *   timeout: 10_000,
 *   maxRetryAfter: 20_000,
 * };
 * const http = resilientFetch(options);
 * ```
 */
export interface ResilientFetchOptions {
  /**
   * The fetch to call. Default: the global `fetch`, looked up at each call
   * (so a test's or a platform's replacement of it is honoured).
   */
  fetch?: FetchFunction;
  /** Attempts in all, the first included: a positive integer or `Infinity`. Default 3. */
  maxAttempts?: number;
  /** The waits between attempts. Default `exponentialBackoff()` (100 ms doubling to 30 s, full jitter). */
  backoff?: Backoff;
  /**
   * A total budget in ms for one call, measured from its start: no retry
   * starts whose wait would end after it (the call ends with the last
   * response or error instead). Default `Infinity`.
   */
  deadline?: number;
  /**
   * The methods that are retried (case-insensitive). Default
   * {@link DEFAULT_RETRY_METHODS}. A request of another method is retried
   * only when it carries an `Idempotency-Key` header, or when its connection
   * was refused (nothing was sent).
   */
  retryMethods?: readonly string[];
  /** The response statuses that are retried. Default {@link DEFAULT_RETRY_STATUSES}. */
  retryStatuses?: readonly number[];
  /**
   * The longest `Retry-After` honoured, in ms: a longer one is cut to this.
   * The `deadline` still applies. Default 30 000.
   */
  maxRetryAfter?: number;
  /**
   * A limit on each attempt, in ms, until the response's headers arrive (not
   * the reading of the body): it ends as a `timeout` ConnectionError, which
   * is retried. Default: none (the runtime's own limits).
   */
  timeout?: number;
  /**
   * Per-origin circuit breakers, or `false` for none. Default: one breaker
   * per origin with `consecutiveFailures(5)` and `halfOpenAfter: 10_000`.
   */
  breaker?: false | ResilientFetchBreakerOptions;
  /**
   * One more policy around each attempt (a bulkhead, say), inside the
   * breaker and outside the `timeout`.
   */
  policy?: Policy;
  /**
   * The clock of the retries, the breakers and the timeout. An HTTP-date in
   * `Retry-After` is measured against `clock.now()`, so a clock of your own
   * must count Unix-epoch milliseconds for dates to mean anything. Default
   * `realClock`.
   */
  clock?: Clock;
  /** The random numbers in `[0, 1)` given to the backoff's jitter. Default `Math.random`. */
  random?: () => number;
  /**
   * How to tell a connection failure from any other error, in the retries,
   * the breakers and the errors this function rejects with: a normalizer
   * from {@link createNormalizer}. Default {@link normalizeError}.
   */
  normalize?: Normalizer;
}

/**
 * What {@link resilientFetch} returns: a function with the shape of `fetch`,
 * plus its per-origin breakers and its retry event.
 *
 * @example
 * ```ts
 * import { resilientFetch, type ResilientFetch } from "@faultline/faultline/http";
 *
 * const http: ResilientFetch = resilientFetch();
 * http.onRetry(({ attempt, delay, result, error }) =>
 *   console.warn(`attempt ${attempt}: ${result instanceof Response ? result.status : error}; again in ${delay} ms`)
 * );
 * console.log(http.breakers?.size); // 0
 * ```
 */
export interface ResilientFetch {
  /** Fetches like `fetch`, under the policies. */
  (input: Request | string | URL, init?: RequestInit): Promise<Response>;
  /** The breakers, one per origin (`"https://api.example.com"`), or `undefined` with `breaker: false`. */
  readonly breakers: KeyedCircuitBreaker | undefined;
  /**
   * Before each retry's wait. A retried response's body has already been
   * cancelled: read its status and headers, not its body.
   */
  readonly onRetry: Event<RetryEvent>;
}
