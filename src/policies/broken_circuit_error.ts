/**
 * {@link BrokenCircuitError}: what a circuit breaker rejects a call with
 * while it does not let calls through.
 *
 * @module
 */

import { brandFor, carries, REFUSAL } from "../errors/_brand.ts";

const BROKEN: unique symbol = brandFor("BrokenCircuitError") as never;

/**
 * The error a breaker rejects with while it does not let a call through.
 *
 * The ones a breaker throws are made without running the `Error` constructor:
 * an error's stack trace is nearly all the cost of a rejection (in Deno a
 * detailed trace is captured whatever `Error.stackTraceLimit` says), and the
 * stack of this error would only show the breaker itself. They are
 * `instanceof BrokenCircuitError` and `instanceof Error`, with `name`,
 * `message` and a one-line `stack`, but `Error.isError()` is false for them.
 *
 * @example
 * ```ts
 * import { BrokenCircuitError, circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 5_000 });
 * breaker.isolate();
 * try {
 *   await breaker.execute(() => 42);
 * } catch (e) {
 *   if (e instanceof BrokenCircuitError) console.log(e.state); // "isolated"
 * }
 * ```
 */
export class BrokenCircuitError extends Error {
  /** The breaker's state when it refused the call. */
  readonly state: "open" | "half_open" | "isolated";
  /** How long until it half-opens (open only), else `undefined`. */
  readonly retryAfterMs: number | undefined;
  /** The key of a keyed breaker's breaker, else `undefined`. */
  readonly key: string | undefined;

  /** Made by the breaker; `message` defaults to one naming the state. */
  constructor(
    state: "open" | "half_open" | "isolated",
    retryAfterMs?: number,
    key?: string,
    message?: string,
  ) {
    // Where the engine allows it, skip the stack here too.
    const E = Error as { stackTraceLimit?: number };
    const limit = E.stackTraceLimit;
    if (typeof limit === "number") E.stackTraceLimit = 0;
    super(message ?? brokenMessage(state, retryAfterMs, key));
    if (typeof limit === "number") E.stackTraceLimit = limit;
    this.state = state;
    this.retryAfterMs = retryAfterMs;
    this.key = key;
  }

  /** The brand that `instanceof` looks for, so that another copy of faultline's errors pass too. */
  get [BROKEN](): true {
    return true;
  }

  /** Marks a policy's refusal: never searched as a connection failure. */
  get [REFUSAL](): true {
    return true;
  }

  /**
   * True for any faultline `BrokenCircuitError`, even one made by another copy of the
   * library; subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== BrokenCircuitError) {
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
    return carries(value, BROKEN);
  }

  static {
    // Shared by every instance, so the breaker's own ones need set only their fields.
    Object.defineProperty(this.prototype, "name", {
      value: "BrokenCircuitError",
      writable: true,
      configurable: true,
    });
    // Worked out when read, but assignable as on any Error (code that
    // prefixes a message or rewrites a stack must not throw on a refusal).
    Object.defineProperty(this.prototype, "message", {
      get(this: BrokenCircuitError): string {
        return brokenMessage(this.state, this.retryAfterMs, this.key);
      },
      set: own("message"),
      configurable: true,
    });
    Object.defineProperty(this.prototype, "stack", {
      get(this: BrokenCircuitError): string {
        return `${this.name}: ${this.message}`;
      },
      set: own("stack"),
      configurable: true,
    });
  }
}

/** A setter that gives the instance its own `key`, as assigning it to a plain Error would. */
function own(key: "message" | "stack"): (this: object, value: unknown) => void {
  return function (value) {
    Object.defineProperty(this, key, { value, writable: true, configurable: true });
  };
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A {@link BrokenCircuitError} made without the cost of an `Error` construction. */
export function refusal(
  state: "open" | "half_open" | "isolated",
  retryAfterMs: number | undefined,
  key: string | undefined,
): BrokenCircuitError {
  const error = Object.create(BrokenCircuitError.prototype) as Writable<BrokenCircuitError>;
  error.state = state;
  error.retryAfterMs = retryAfterMs;
  error.key = key;
  return error;
}

function brokenMessage(
  state: string,
  retryAfterMs: number | undefined,
  key: string | undefined,
): string {
  const of = key === undefined ? "" : ` for "${key}"`;
  switch (state) {
    case "open":
      return `The circuit${of} is open: call refused, it half-opens in ${
        Math.ceil(retryAfterMs ?? 0)
      } ms`;
    case "half_open":
      return `The circuit${of} is half-open and its probes are busy: call refused`;
    default:
      return `The circuit${of} is isolated: call refused until reset()`;
  }
}
