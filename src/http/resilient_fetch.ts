/**
 * {@link resilientFetch}: a `fetch` under the policies, built on their public
 * API only (`retry()`, `keyedCircuitBreaker()`, `timeout()`, and any
 * {@link Policy} the caller adds), each layer the operation of the one
 * outside it.
 *
 * @module
 */

import type { Event, Subscription } from "../policies/events.ts";
import { keyedCircuitBreaker } from "../policies/keyed_breaker.ts";
import { retry, type RetryEvent } from "../policies/retry.ts";
import { timeout } from "../policies/timeout.ts";
import { consecutiveFailures } from "../policies/trip/consecutive_failures.ts";
import type { ExecutionContext } from "../policies/types.ts";
import { checkFetchOptions } from "./_options.ts";
import {
  addressed,
  cancelBody,
  countsForBreaker,
  type FetchContext,
  hasIdempotencyKey,
  isRequest,
  signalFor,
  StatusOutcome,
  unwrap,
  urlOf,
} from "./_request.ts";
import type { FetchFunction, ResilientFetch, ResilientFetchOptions } from "./options.ts";
import { parseRetryAfter } from "./retry_after.ts";

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
  const {
    fetch: underlying,
    maxAttempts,
    backoff,
    deadline,
    retryMethods,
    retryStatuses,
    maxRetryAfter,
    timeout: timeoutMs,
    breaker: breakerOptions,
    policy,
    clock,
    random,
    normalize,
    recognize,
  } = checkFetchOptions(options);

  const breakers = breakerOptions === undefined ? undefined : keyedCircuitBreaker({
    trip: breakerOptions.trip ?? consecutiveFailures(5),
    halfOpenAfter: breakerOptions.halfOpenAfter ?? 10_000,
    halfOpenMaxProbes: breakerOptions.halfOpenMaxProbes,
    halfOpenSuccesses: breakerOptions.halfOpenSuccesses,
    probeTimeout: breakerOptions.probeTimeout,
    clock,
    on: countsForBreaker,
    normalize,
  }, { maxKeys: breakerOptions.maxOrigins });
  const breakerStatuses = breakerOptions?.statuses ?? new Set<number>();
  const timeoutPolicy = timeoutMs === undefined
    ? undefined
    : timeout(timeoutMs, { clock, operation: "fetch", normalize });

  const common = { maxAttempts, backoff, deadline, clock, random, normalize };
  // Requests that may run twice: connection failures worth retrying, and the retry statuses.
  const safeRetry = retry({
    ...common,
    handleResult: (r) => retryStatuses.has((r as Response).status),
    delay: ({ result }) => {
      if (result === undefined) return undefined;
      const ms = parseRetryAfter((result as Response).headers.get("retry-after"), clock.now());
      return ms === undefined ? undefined : Math.min(ms, maxRetryAfter);
    },
  });
  // Requests that must not run twice: only failures that prove nothing was sent.
  const unsafeRetry = retry({
    ...common,
    on: (_error, n) => n?.retryable === true && n.sent === false,
  });
  // A body that is a stream cannot be sent twice.
  const once = retry({ maxAttempts: 1, clock });
  // The response a retry drops: free its connection, before any listener of the caller's runs.
  const dropped = (event: RetryEvent) => {
    if (event.result !== undefined) cancelBody(event.result);
  };
  safeRetry.onRetry(dropped);
  unsafeRetry.onRetry(dropped);
  // One event over both retries: a listener subscribes to each.
  const onRetry: Event<RetryEvent> = (listener) => {
    const subscriptions: Subscription[] = [safeRetry.onRetry(listener)];
    subscriptions.push(unsafeRetry.onRetry(listener));
    const dispose = () => {
      for (const s of subscriptions) s.dispose();
    };
    return { dispose, [Symbol.dispose]: dispose };
  };

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
    // Built on the policies' public API only: each layer is the operation of
    // the one outside it, and `attempt` is the retry's.
    const timed = timeoutPolicy === undefined
      ? (ctx: ExecutionContext, attempt: number) => send(ctx.signal, attempt)
      : (ctx: ExecutionContext, attempt: number) =>
        timeoutPolicy.execute((c) => send(c.signal, attempt), ctx.signal).catch(
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
        breaker.execute(async (c) => {
          const response = await inner(c, ctx.attempt);
          if (breakerStatuses.has(response.status)) throw new StatusOutcome(response);
          return response;
        }, ctx.signal).catch(unwrap);

    if (streamed) return once.execute(attempt, caller);
    const safe = retryMethods.has(method) || hasIdempotencyKey(init, request);
    return (safe ? safeRetry : unsafeRetry).execute(attempt, caller);
  };

  return Object.defineProperties(call, {
    breakers: { value: breakers, enumerable: true },
    onRetry: { value: onRetry, enumerable: true },
  }) as ResilientFetch;
}
