/**
 * The {@link Policy} interface every policy implements, and what an operation
 * is given when a policy calls it.
 *
 * @module
 */

/**
 * What a policy passes to the operation it runs.
 *
 * @example
 * ```ts
 * import { retry, type ExecutionContext } from "@faultline/faultline";
 *
 * await retry().execute((ctx: ExecutionContext) => fetch("http://127.0.0.1:1/", { signal: ctx.signal }))
 *   .catch(() => {});
 * ```
 */
export interface ExecutionContext {
  /** Aborts when the caller's signal aborts or a policy (a timeout) gives up on this attempt. */
  readonly signal: AbortSignal;
  /** Which attempt this is, counting from 1. */
  readonly attempt: number;
}

/**
 * A resilience policy: something that runs an operation on the caller's
 * behalf. Errors that {@link normalizeError} recognizes leave a policy as
 * {@link ConnectionError}s; any other error leaves it untouched.
 *
 * @example
 * ```ts
 * import { type Policy, retry } from "@faultline/faultline";
 *
 * const policy: Policy = retry({ maxAttempts: 2 });
 * console.log(await policy.execute(() => 42)); // 42
 * ```
 */
export interface Policy {
  /** Runs `fn` under this policy; `signal` cancels the call and everything it waits on. */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T>;
}
