/**
 * {@link RateLimitedError}: how a {@link rateLimit} refuses a call.
 *
 * @module
 */

import { brandFor, carries, REFUSAL } from "../errors/_brand.ts";

const LIMITED: unique symbol = brandFor("RateLimitedError") as never;

/**
 * The error of a call refused by a {@link rateLimit}: over the limit, and its
 * turn would come later than `maxWaitMs`. It is not a connection failure: the
 * operation was never called. Made without a stack trace, as refusals can be
 * many.
 *
 * @example
 * ```ts
 * import { rateLimit, RateLimitedError } from "@faultline/faultline";
 *
 * const limiter = rateLimit({ limit: 1, windowMs: 1_000 });
 * await limiter.execute(() => "first");
 * try {
 *   await limiter.execute(() => "second");
 * } catch (e) {
 *   if (e instanceof RateLimitedError) console.log(e.retryAfterMs); // 1000
 * }
 * ```
 */
export class RateLimitedError extends Error {
  /** How long until a call would be let through, in whole ms (rounded up). */
  readonly retryAfterMs: number;

  /** Made by the rate limiter. */
  constructor(retryAfterMs: number) {
    const E = Error as { stackTraceLimit?: number };
    const limit = E.stackTraceLimit;
    if (typeof limit === "number") E.stackTraceLimit = 0;
    super(`Rate limit exceeded: retry after ${retryAfterMs} ms`);
    if (typeof limit === "number") E.stackTraceLimit = limit;
    this.name = "RateLimitedError";
    this.retryAfterMs = retryAfterMs;
  }

  /** The brand that `instanceof` looks for, so that another copy of faultline's errors pass too. */
  get [LIMITED](): true {
    return true;
  }

  /** Marks a policy's refusal: never searched as a connection failure. */
  get [REFUSAL](): true {
    return true;
  }

  /**
   * True for any faultline `RateLimitedError`, even one made by another copy of the
   * library; subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== RateLimitedError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return carries(value, LIMITED);
  }
}
