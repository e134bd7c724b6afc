/**
 * The old name of `@faultline/faultline/http`: the same exports, the same
 * objects. It stays, as an alias, until the next major version.
 *
 * {@link resilientFetch}: a drop-in `fetch` with retries that are safe for
 * HTTP, `Retry-After`, one circuit breaker per origin, an optional timeout
 * per attempt, and network failures as typed `ConnectionError`s.
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

export * from "../http/mod.ts";
