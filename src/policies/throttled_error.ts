/**
 * {@link ThrottledError}: what {@link adaptiveThrottle} rejects a call with
 * when it turns it away locally.
 *
 * @module
 */

import { brandFor, carries, REFUSAL } from "../errors/_brand.ts";

const THROTTLED: unique symbol = brandFor("ThrottledError") as never;

/**
 * The error of a call that {@link adaptiveThrottle} turned away locally: the
 * backend has been refusing requests, and this one was never sent. Not a
 * connection failure: a {@link retry} does not retry it by default.
 *
 * @example
 * ```ts
 * import { adaptiveThrottle, ThrottledError } from "@faultline/faultline";
 *
 * const policy = adaptiveThrottle({ random: () => 0 });
 * for (let i = 0; i < 5; i++) {
 *   await policy.execute(() => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:1"))).catch(() => {});
 * }
 * try {
 *   await policy.execute(() => "not sent");
 * } catch (e) {
 *   if (e instanceof ThrottledError) console.log(e.probability.toFixed(2)); // "0.83"
 * }
 * ```
 */
export class ThrottledError extends Error {
  /** The probability of local rejection when this call was turned away. */
  readonly probability: number;
  /** Requests counted in the window (the rejected ones included). */
  readonly requests: number;
  /** Requests the backend accepted in the window. */
  readonly accepts: number;

  /** Made by the throttle. */
  constructor(probability: number, requests: number, accepts: number) {
    super(
      `Throttled locally: the backend accepted ${accepts} of the last ${requests} requests, so ${
        Math.round(probability * 100)
      }% of calls are not sent`,
    );
    this.name = "ThrottledError";
    this.probability = probability;
    this.requests = requests;
    this.accepts = accepts;
  }

  /** The brand that `instanceof` looks for, so that another copy of faultline's errors pass too. */
  get [THROTTLED](): true {
    return true;
  }

  /** Marks a policy's refusal: never searched as a connection failure. */
  get [REFUSAL](): true {
    return true;
  }

  /**
   * True for any faultline `ThrottledError`, even one made by another copy of
   * the library; subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ThrottledError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return carries(value, THROTTLED);
  }
}
