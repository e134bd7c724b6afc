/**
 * The old name of `@faultline/faultline/http`: the same exports, the same
 * objects. It stays, as an alias, until the next major version.
 *
 * {@link resilientFetch}: a drop-in `fetch` with retries that are safe for
 * HTTP, `Retry-After`, one circuit breaker per origin, an optional timeout
 * per attempt, and network failures as typed {@link ConnectionError}s.
 *
 * It uses only the standard globals (`fetch`, `Request`, `Response`,
 * `Headers`, `URL`, `AbortSignal`), so the same file runs in Deno, Bun,
 * Node ≥ 22, workerd and browsers.
 *
 * @example
 * ```ts
 * import { resilientFetch } from "@faultline/faultline/http";
 *
 * const http = resilientFetch({ timeout: 5_000, maxAttempts: 3 });
 * const response = await http("http://127.0.0.1:2/health").catch((e) => e);
 * console.log(response instanceof Response ? response.status : `${response.kind}`); // "refused"
 * ```
 *
 * @deprecated Use "./http" (`@faultline/faultline/http`, `faultline/http` on npm): it exports
 * the same. This subpath stays as an alias until the next major version.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { type AnyConnectionError, ConnectionError } from "../errors/connection_error.ts";
import type { ConnectionOperation } from "../errors/kinds.ts";
import type { Normalizer } from "../errors/normalize_error.ts";
import type { Backoff } from "../policies/backoff.ts";
import { consecutiveFailures, type TripStrategy } from "../policies/breaker_strategies.ts";
import type { HalfOpenBackoff } from "../policies/circuit_breaker.ts";
import { Emitter, type Event } from "../policies/events.ts";
import { KeyedCircuitBreaker } from "../policies/keyed_breaker.ts";
import { type RetryEvent, RetryPolicy } from "../policies/retry.ts";
import { TimeoutPolicy } from "../policies/timeout.ts";
import type { ExecutionContext, Policy } from "../policies/types.ts";
import {
  clock as checkClock,
  duration,
  fn as checkFn,
  normalizer,
  optionsObject,
  positiveInteger,
  rangeError,
  typeError,
} from "../policies/validate.ts";

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

/**
 * How long a `Retry-After` header value asks to wait, in ms: delta-seconds
 * (`"120"`) or an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`, measured
 * against `nowMs`, never negative). `undefined` for a missing or malformed
 * value.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "@faultline/faultline/http";
 *
 * console.log(parseRetryAfter("2", 0)); // 2000
 * const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
 * console.log(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now)); // 30000
 * console.log(parseRetryAfter("soon", now)); // undefined
 * ```
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  if (typeof value !== "string") return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with a day name:
  // this keeps Date.parse's leniency ("1.5" is a date to V8) out.
  if (!/^[A-Za-z]{3,9},? /.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** A response whose status a breaker counts: thrown through the breaker, unwrapped after it. */
class StatusOutcome {
  readonly response: Response;
  constructor(response: Response) {
    this.response = response;
  }
}

const API = "resilientFetch";

function statusList(option: string, value: unknown): ReadonlySet<number> {
  const rule = "a list of HTTP status codes (integers from 100 to 599)";
  if (!Array.isArray(value)) typeError(API, option, rule, value);
  const out = new Set<number>();
  for (let i = 0; i < value.length; i++) {
    const s: unknown = value[i];
    if (typeof s !== "number") typeError(API, `${option}[${i}]`, rule, s);
    if (!Number.isInteger(s) || s < 100 || s > 599) rangeError(API, `${option}[${i}]`, rule, s);
    out.add(s);
  }
  return out;
}

function methodList(value: unknown): ReadonlySet<string> {
  const rule = "a list of HTTP method names";
  if (!Array.isArray(value)) typeError(API, "retryMethods", rule, value);
  const out = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const m: unknown = value[i];
    if (typeof m !== "string") typeError(API, `retryMethods[${i}]`, rule, m);
    // An HTTP token (RFC 9110 §5.6.2).
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(m)) {
      rangeError(API, `retryMethods[${i}]`, "an HTTP method name (a token)", m);
    }
    out.add(m.toUpperCase());
  }
  return out;
}

function isRequest(input: unknown): input is Request {
  return typeof Request === "function" && input instanceof Request;
}

/** The URL a fetch input names, or `undefined` when it cannot be parsed. */
function urlOf(input: Request | string | URL): URL | undefined {
  const href = typeof input === "string"
    ? input
    : input instanceof URL
    ? input.href
    : isRequest(input)
    ? input.url
    : String(input);
  // A relative URL means what it means to fetch: relative to the page (or Deno's --location).
  const base = (globalThis as { location?: { href?: unknown } }).location?.href;
  try {
    return new URL(href, typeof base === "string" ? base : undefined);
  } catch {
    return undefined;
  }
}

function cancelBody(response: unknown): void {
  const body = (response as Response | undefined)?.body;
  if (body && typeof body.cancel === "function" && !body.locked) body.cancel().catch(() => {});
}

type AnySignal = typeof AbortSignal & { any?: (signals: AbortSignal[]) => AbortSignal };

/**
 * The signal fetch gets. With no caller's signal, the attempt's. Else one
 * made for this attempt that follows both the caller's signal and the
 * attempt's: the caller's must still cancel the body after the attempt is
 * over (when a timeout made the attempt's signal its own), and a runtime's
 * fetch may leave its abort listener on the signal it is given until the
 * request is garbage-collected (Node's does), which must not pile up on a
 * caller's long-lived signal. `AbortSignal.any` adds no event listener to
 * its sources.
 */
function signalFor(attempt: AbortSignal, caller: AbortSignal | undefined): AbortSignal {
  if (caller === undefined) return attempt;
  const any = (AbortSignal as AnySignal).any;
  if (typeof any !== "function") return attempt;
  return any.call(AbortSignal, caller === attempt ? [caller] : [caller, attempt]);
}

/**
 * A `fetch` that retries what is safe to retry, honours `Retry-After`, keeps
 * one circuit breaker per origin and reports network failures as
 * {@link ConnectionError}s. Options are checked here, once; the function it
 * returns can be shared by every caller (its breakers are the point).
 *
 * Why a `fetch`-shaped function and not `withPolicy(fetch, policy)`: the
 * decisions that make retrying HTTP safe need the request and the response —
 * the method and an `Idempotency-Key` to know whether a retry may run the
 * request twice, the status to retry a 503 without throwing the response
 * away, the headers for `Retry-After`, the body to cancel when a response is
 * dropped, the origin to pick a breaker. A generic {@link Policy} sees none
 * of them, so a pipeline wrapped around fetch would retry POSTs, lose 503
 * bodies and leak their sockets. This function owns those decisions and
 * still takes any policy per attempt (`policy`); and being shaped like
 * `fetch`, it can be handed to any library that accepts a `fetch`.
 *
 * Each call runs: retry → the origin's breaker → `policy` → `timeout` →
 * fetch, with the caller's signal (`init.signal`, else the Request's) as the
 * outer signal and the attempt's signal given to fetch.
 *
 * - **Retries**: network failures that are `retryable` (refused, reset,
 *   closed, timeout, ...) and the `retryStatuses` (429, 502, 503, 504), for
 *   the `retryMethods` (the idempotent ones) and for requests with an
 *   `Idempotency-Key` header. Any other request is retried only when its
 *   connection was refused or its name did not resolve for a temporary
 *   reason: nothing was sent. A body that is a `ReadableStream` cannot be
 *   sent twice, so such a request is never retried; a `Request` with a body
 *   is cloned for each attempt but the last.
 * - **Responses** are never errors, whatever their status. A retried one has
 *   its body cancelled (so its connection is freed); when the retries run out
 *   (attempts, `deadline`), the call resolves with the last response, body
 *   intact.
 * - **Retry-After** (seconds or HTTP-date) on a retried response replaces the
 *   backoff's wait, cut to `maxRetryAfter`; the `deadline` still applies.
 * - **Breakers**: one per origin. A connection failure counts (every kind
 *   but `cancelled` and `unknown`), and so does a response whose status is in
 *   `breaker.statuses` (502, 503, 504 by default: the origin or its upstream
 *   is unavailable). A 500 does not count by default, because one broken
 *   route should not cut off a whole origin; a 429 does not, because
 *   `Retry-After` already paces it. An open breaker rejects with
 *   `BrokenCircuitError`, which is not retried.
 * - **Errors**: a network failure rejects as a {@link ConnectionError} with
 *   `operation: "fetch"` and the URL's host and port; the caller's abort as
 *   kind `cancelled`; anything else (a bad URL, a used body) as thrown.
 * - **Bodies**: reading the body happens after the call, outside the
 *   policies. An error while reading it is the runtime's own; turn it into a
 *   ConnectionError with `normalizeError(error, { operation: "fetch" })`
 *   (a truncated body is `closed` in Node and Deno and `reset` in Bun).
 * - A URL that is not `http:`/`https:` (`data:`, `blob:`), or that cannot be
 *   parsed, goes straight to fetch, without the policies.
 *
 * @example Typical use
 * ```ts
 * import { isConnectionError, normalizeError } from "@faultline/faultline";
 * import { resilientFetch } from "@faultline/faultline/http";
 *
 * const http = resilientFetch({ timeout: 5_000, maxAttempts: 3, deadline: 20_000 });
 * try {
 *   const response = await http("http://127.0.0.1:2/items", { signal: AbortSignal.timeout(30_000) });
 *   if (!response.ok) console.log(`HTTP ${response.status}`); // a 503 that outlived the retries
 *   const text = await response.text().catch((e) => {
 *     throw normalizeError(e, { operation: "fetch" }); // a body cut short: "closed" or "reset"
 *   });
 *   console.log(text);
 * } catch (error) {
 *   if (isConnectionError(error)) console.log(error.kind, error.hint); // "refused" ...
 * }
 * ```
 *
 * @example A POST that is safe to retry
 * ```ts
 * import { resilientFetch } from "@faultline/faultline/http";
 *
 * const http = resilientFetch();
 * await http("http://127.0.0.1:2/payments", {
 *   method: "POST",
 *   headers: { "Idempotency-Key": crypto.randomUUID() },
 *   body: JSON.stringify({ amount: 100 }),
 * }).catch(() => {});
 * ```
 */
export function resilientFetch(options?: ResilientFetchOptions): ResilientFetch {
  const o = optionsObject<ResilientFetchOptions>(API, options);
  // Each option read once.
  const fetchOption = o.fetch;
  const maxAttemptsOption = o.maxAttempts;
  const backoff = o.backoff;
  const deadline = o.deadline;
  const retryMethodsOption = o.retryMethods;
  const retryStatusesOption = o.retryStatuses;
  const maxRetryAfterOption = o.maxRetryAfter;
  const timeoutOption = o.timeout;
  const breakerOption = o.breaker;
  const policy = o.policy;
  const clockOption = o.clock;
  const random = o.random;
  const normalize = o.normalize;

  const underlying = fetchOption === undefined
    ? undefined
    : checkFn<FetchFunction>(API, "fetch", fetchOption);
  let maxAttempts = 3;
  if (maxAttemptsOption !== undefined) {
    const rule = "a positive integer or Infinity";
    if (typeof maxAttemptsOption !== "number") {
      typeError(API, "maxAttempts", rule, maxAttemptsOption);
    }
    if (maxAttemptsOption !== Infinity) positiveInteger(API, "maxAttempts", maxAttemptsOption);
    maxAttempts = maxAttemptsOption;
  }
  if (
    backoff !== undefined &&
    (typeof backoff !== "object" || backoff === null ||
      typeof (backoff as Partial<Backoff>).delay !== "function")
  ) {
    typeError(API, "backoff", "a Backoff (an object with a delay() method)", backoff);
  }
  if (deadline !== undefined) duration(API, "deadline", deadline, true);
  const retryMethods = retryMethodsOption === undefined
    ? new Set(DEFAULT_RETRY_METHODS)
    : methodList(retryMethodsOption);
  const retryStatuses = statusList("retryStatuses", retryStatusesOption ?? DEFAULT_RETRY_STATUSES);
  const maxRetryAfter = maxRetryAfterOption === undefined
    ? 30_000
    : duration(API, "maxRetryAfter", maxRetryAfterOption);
  if (timeoutOption !== undefined) {
    const rule = "a finite positive number of milliseconds";
    if (typeof timeoutOption !== "number") typeError(API, "timeout", rule, timeoutOption);
    if (!(timeoutOption > 0) || !Number.isFinite(timeoutOption)) {
      rangeError(API, "timeout", rule, timeoutOption);
    }
  }
  if (
    policy !== undefined &&
    (typeof policy !== "object" || policy === null ||
      typeof (policy as Partial<Policy>).execute !== "function")
  ) {
    typeError(API, "policy", "a Policy (an object with an execute() method)", policy);
  }
  const clock = checkClock(API, clockOption);
  if (random !== undefined) checkFn(API, "random", random);
  const recognize = normalizer(API, normalize);

  const breakers = breakerOption === false
    ? undefined
    : makeBreakers(breakerOption, clock, normalize);
  const breakerStatuses = breakers === undefined ? new Set<number>() : statusList(
    "breaker.statuses",
    (breakerOption as ResilientFetchBreakerOptions | undefined)?.statuses ??
      DEFAULT_BREAKER_STATUSES,
  );
  const timeoutPolicy = timeoutOption === undefined
    ? undefined
    : new TimeoutPolicy(timeoutOption, { clock, operation: "fetch", normalize });

  const common = { maxAttempts, backoff, deadline, clock, random, normalize };
  // Requests that may run twice: connection failures worth retrying, and the retry statuses.
  const safeRetry = new RetryPolicy({
    ...common,
    handleResult: (r) => retryStatuses.has((r as Response).status),
    delay: ({ result }) => {
      if (result === undefined) return undefined;
      const ms = parseRetryAfter((result as Response).headers.get("retry-after"), clock.now());
      return ms === undefined ? undefined : Math.min(ms, maxRetryAfter);
    },
  });
  // Requests that must not run twice: only failures that prove nothing was sent.
  const unsafeRetry = new RetryPolicy({
    ...common,
    on: (_error, n) => n?.retryable === true && n.sent === false,
  });
  // A body that is a stream cannot be sent twice.
  const once = new RetryPolicy({ maxAttempts: 1, clock });
  const retried = new Emitter<RetryEvent>();
  const onRetry = (event: RetryEvent) => {
    // The response is dropped: free its connection.
    if (event.result !== undefined) cancelBody(event.result);
    if (retried.has) retried.emit(event);
  };
  safeRetry.onRetry(onRetry);
  unsafeRetry.onRetry(onRetry);

  const call = (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    const f: FetchFunction | undefined = underlying ??
      (globalThis as { fetch?: FetchFunction }).fetch;
    if (typeof f !== "function") {
      return Promise.reject(
        new TypeError("Cannot fetch as there is no global fetch: pass one as 'fetch'"),
      );
    }
    const url = urlOf(input);
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
      try {
        return f(input, init);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const request = isRequest(input) ? input : undefined;
    const method = String(init?.method ?? request?.method ?? "GET").toUpperCase();
    const caller: AbortSignal | undefined = init !== undefined && "signal" in init
      ? init.signal ?? undefined
      : request?.signal;
    const streamed = typeof ReadableStream === "function" &&
      init?.body instanceof ReadableStream;
    const cloneRequest = request !== undefined && request.body !== null &&
      (init?.body === undefined || init.body === null);
    const context: FetchContext = {
      operation: "fetch",
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80,
    };

    const send = (signal: AbortSignal, attempt: number): Promise<Response> => {
      // The last attempt may use the Request itself; the others use a copy of its body.
      const req = cloneRequest && attempt < maxAttempts ? request!.clone() : input;
      let pending: Promise<Response>;
      try {
        pending = f(req, { ...init, signal: signalFor(signal, caller) });
      } catch (error) {
        return Promise.reject(recognize(error, context) ?? error);
      }
      return pending.then(undefined, (error: unknown) => {
        throw recognize(error, context) ?? error;
      });
    };
    const timed = timeoutPolicy === undefined
      ? (ctx: ExecutionContext, attempt: number) => send(ctx.signal, attempt)
      : (ctx: ExecutionContext, attempt: number) =>
        timeoutPolicy.execute((c) => send(c.signal, attempt), ctx.signal, attempt).catch(
          (error: unknown) => {
            throw addressed(error, context);
          },
        );
    const inner = policy === undefined
      ? timed
      : (ctx: ExecutionContext, attempt: number) =>
        policy.execute((c) => timed(c, attempt), ctx.signal);
    const breaker = breakers?.get(url.origin);
    const attempt = breaker === undefined
      ? (ctx: ExecutionContext) => inner(ctx, ctx.attempt)
      : (ctx: ExecutionContext) =>
        breaker.execute(
          async (c) => {
            const response = await inner(c, ctx.attempt);
            if (breakerStatuses.has(response.status)) throw new StatusOutcome(response);
            return response;
          },
          ctx.signal,
          ctx.attempt,
        ).catch(unwrap);

    if (streamed) return once.execute(attempt, caller);
    const safe = retryMethods.has(method) || hasIdempotencyKey(init, request);
    return (safe ? safeRetry : unsafeRetry).execute(attempt, caller);
  };

  return Object.defineProperties(call, {
    breakers: { value: breakers, enumerable: true },
    onRetry: { value: retried.subscribe, enumerable: true },
  }) as ResilientFetch;
}

interface FetchContext {
  operation: ConnectionOperation;
  host: string;
  port: number;
}

/** The timeout policy's error knows no address: give it the URL's. */
function addressed(error: unknown, context: FetchContext): unknown {
  if (!(error instanceof ConnectionError) || error.kind !== "timeout" || error.host !== undefined) {
    return error;
  }
  return new ConnectionError("timeout", {
    message: error.message,
    timeoutMs: (error as ConnectionError<"timeout">).timeoutMs,
    runtime: error.runtime,
    ...context,
  });
}

function unwrap(error: unknown): Response {
  if (error instanceof StatusOutcome) return error.response;
  throw error;
}

function hasIdempotencyKey(init: RequestInit | undefined, request: Request | undefined): boolean {
  const headers = init?.headers ?? request?.headers;
  if (headers === undefined) return false;
  try {
    return new Headers(headers).has("idempotency-key");
  } catch {
    return false;
  }
}

function makeBreakers(
  value: ResilientFetchBreakerOptions | undefined,
  clock: Clock,
  normalize: Normalizer | undefined,
): KeyedCircuitBreaker {
  if (
    value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))
  ) {
    typeError(API, "breaker", "false or an object of breaker options", value);
  }
  const b = value ?? {};
  const trip = b.trip;
  const halfOpenAfter = b.halfOpenAfter;
  const maxProbes = b.halfOpenMaxProbes;
  const successes = b.halfOpenSuccesses;
  const probeTimeout = b.probeTimeout;
  const maxOrigins = b.maxOrigins;
  if (
    trip !== undefined &&
    (typeof trip !== "object" || trip === null ||
      typeof (trip as TripStrategy).create !== "function")
  ) {
    typeError(API, "breaker.trip", "a trip strategy such as consecutiveFailures(5)", trip);
  }
  if (
    halfOpenAfter !== undefined && typeof halfOpenAfter !== "function" &&
    !(typeof halfOpenAfter === "object" && halfOpenAfter !== null &&
      typeof (halfOpenAfter as HalfOpenBackoff).delay === "function")
  ) {
    duration(API, "breaker.halfOpenAfter", halfOpenAfter);
  }
  if (maxProbes !== undefined) positiveInteger(API, "breaker.halfOpenMaxProbes", maxProbes);
  if (successes !== undefined) positiveInteger(API, "breaker.halfOpenSuccesses", successes);
  if (probeTimeout !== undefined) duration(API, "breaker.probeTimeout", probeTimeout, true);
  if (maxOrigins !== undefined) positiveInteger(API, "breaker.maxOrigins", maxOrigins);
  return new KeyedCircuitBreaker({
    trip: trip ?? consecutiveFailures(5),
    halfOpenAfter: halfOpenAfter ?? 10_000,
    halfOpenMaxProbes: maxProbes,
    halfOpenSuccesses: successes,
    probeTimeout,
    clock,
    on: countsForBreaker,
    normalize,
  }, { maxKeys: maxOrigins });
}

/** What a per-origin breaker counts: a status it was told to count, or a connection failure. */
function countsForBreaker(error: unknown, normalized: AnyConnectionError): boolean {
  if (error instanceof StatusOutcome) return true;
  return normalized.kind !== "unknown" && normalized.kind !== "cancelled";
}
