/**
 * HTTP over the policies: {@link resilientFetch}, a drop-in `fetch` with
 * retries that are safe for HTTP (idempotent methods, `Idempotency-Key`, a
 * refused connection), `Retry-After`, one circuit breaker per origin, an
 * optional timeout per attempt, and network failures as typed
 * `ConnectionError`s.
 *
 * It uses only the standard globals (`fetch`, `Request`, `Response`,
 * `Headers`, `URL`, `AbortSignal`), so it runs in Deno, Bun, Node ≥ 22,
 * workerd and browsers. `@faultline/faultline/adapters/fetch`, its old name,
 * exports the same objects until the next major version.
 *
 * Where it lives: `resilient_fetch.ts` (the function and how a call runs),
 * `options.ts` (its options and defaults), `retry_after.ts`
 * ({@link parseRetryAfter}); the option checks and the request helpers are
 * internal (`_options.ts`, `_request.ts`).
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
 * @module
 */

export * from "./options.ts";
export * from "./resilient_fetch.ts";
export * from "./retry_after.ts";
