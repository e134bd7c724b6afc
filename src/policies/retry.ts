/**
 * {@link retry}: runs an operation again when it fails with a connection
 * error worth retrying (or returns a result worth retrying), waiting a
 * {@link Backoff} between attempts, within an optional total `deadline` and
 * an optional {@link RetryBudget} shared with other policies.
 *
 * @module
 */

import type { Backoff } from "./backoff.ts";
import { RetryCore } from "./_retry_core.ts";
import { executeSolo, STRATEGY } from "./_engine.ts";
import type { Event } from "./events.ts";
import { parseOn } from "./_on.ts";
import type {
  RetryEvent,
  RetryGiveUpEvent,
  RetryOptions,
  RetryPredicate,
  RetrySuccessEvent,
} from "./retry_options.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import {
  budget as checkBudget,
  clock as checkClock,
  duration,
  fn as checkFn,
  judge,
  optionsObject,
  rangeError,
  typeError,
} from "./_validate.ts";
export type {
  RetryDelayInfo,
  RetryEvent,
  RetryGiveUpEvent,
  RetryGiveUpReason,
  RetryOptions,
  RetryPredicate,
  RetrySuccessEvent,
} from "./retry_options.ts";

/**
 * Runs operations again when they fail in a way worth retrying. Create it
 * with {@link retry}.
 *
 * @example
 * ```ts
 * import { retry, type RetryPolicy } from "@faultline/faultline";
 *
 * const policy: RetryPolicy = retry({ maxAttempts: 3 });
 * console.log(await policy.execute((ctx) => `attempt ${ctx.attempt}`)); // "attempt 1"
 * ```
 */
export class RetryPolicy implements Policy {
  /** @ignore */
  readonly [STRATEGY]: RetryCore;
  /** Before each retry's wait. */
  readonly onRetry: Event<RetryEvent>;
  /**
   * When a call ends without success: the attempts, the deadline or the
   * budget ran out, the error was not retryable, or the signal aborted.
   */
  readonly onGiveUp: Event<RetryGiveUpEvent>;
  /**
   * When a call returns a result (that `handleResult` does not ask to retry).
   * A call tells it only if a listener was subscribed when the call started:
   * one that starts without a listener does no work for one.
   */
  readonly onSuccess: Event<RetrySuccessEvent>;

  /** Prefer {@link retry}, which validates the options the same way. */
  constructor(options?: RetryOptions) {
    const api = "retry";
    const o = optionsObject<RetryOptions>(api, options);
    // Each option is read exactly once, into a private field.
    const maxAttempts = o.maxAttempts;
    const backoff = o.backoff;
    const on = o.on;
    const handleResult = o.handleResult;
    const delay = o.delay;
    const deadline = o.deadline;
    const budget = o.budget;
    const clock = o.clock;
    const random = o.random;
    const core = new RetryCore(RetryPolicy.prototype);
    const normalize = o.normalize;

    if (maxAttempts !== undefined) {
      const rule = "a positive integer or Infinity";
      if (typeof maxAttempts !== "number") typeError(api, "maxAttempts", rule, maxAttempts);
      if (maxAttempts !== Infinity && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
        rangeError(api, "maxAttempts", rule, maxAttempts);
      }
      core.maxAttempts = maxAttempts;
    }

    if (backoff !== undefined) {
      if (typeof (backoff as Partial<Backoff> | null)?.delay !== "function") {
        typeError(api, "backoff", "a Backoff (an object with a delay() method)", backoff);
      }
      core.backoff = backoff;
    }

    const parsed = parseOn<RetryPredicate>(api, on);
    core.kinds = parsed.kinds;
    core.predicate = parsed.predicate;

    core.handleResult = handleResult === undefined
      ? undefined
      : checkFn(api, "handleResult", handleResult);
    core.delay = delay === undefined ? undefined : checkFn(api, "delay", delay);
    core.deadline = deadline === undefined ? Infinity : duration(api, "deadline", deadline, true);

    core.budget = checkBudget(api, budget);

    core.clock = checkClock(api, clock);
    core.judge = judge(api, normalize);
    core.random = random === undefined ? Math.random : checkFn(api, "random", random);
    this[STRATEGY] = core;
    this.onRetry = core.retried.subscribe;
    this.onGiveUp = core.gaveUp.subscribe;
    this.onSuccess = core.succeeded.subscribe;
  }

  /**
   * Runs `fn`, and runs it again while it fails in a way worth retrying and
   * neither the attempts, the deadline, the budget nor `signal` says stop.
   * `ctx.attempt` counts from 1. Resolves with the first accepted result (or
   * the last result, when `handleResult` still rejects it after the last
   * attempt); rejects with the last error — a {@link ConnectionError} when
   * recognized, else as thrown — or, when `signal` aborts, with a
   * `"cancelled"` ConnectionError whose `cause` is the signal's reason (the
   * reason itself when it already is a ConnectionError).
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return executeSolo(this, fn, signal);
  }
}

/**
 * A retry policy. `maxAttempts` counts every attempt, the first included
 * (`maxAttempts: 1` never retries). By default it retries the recognized
 * connection errors that are `retryable` (refused, reset, timeout, ...) and
 * nothing else: never the caller's own cancellation, never an error it does
 * not recognize (a bug, an HTTP error of your own), which leaves the policy
 * untouched. A 0 ms wait never touches a timer; an abort of the caller's
 * signal ends a wait at once, and leaves no timer or listener behind.
 *
 * @example Retry a connection, honouring the caller's signal
 * ```ts
 * import { connect, exponentialBackoff, retry } from "@faultline/faultline";
 *
 * const policy = retry({
 *   maxAttempts: 5,
 *   backoff: exponentialBackoff({ initial: 100, max: 2_000, jitter: "full" }),
 *   deadline: 10_000,
 * });
 * policy.onRetry(({ attempt, delay, error }) => console.warn(`attempt ${attempt}: ${error}; retrying in ${delay} ms`));
 * const controller = new AbortController();
 * const conn = await policy
 *   .execute((ctx) => connect({ hostname: "127.0.0.1", port: 1, signal: ctx.signal }), controller.signal)
 *   .catch(() => undefined);
 * await conn?.close();
 * ```
 *
 * @example Retry an HTTP 503 and honour its Retry-After
 * ```ts
 * import { retry } from "@faultline/faultline";
 *
 * const policy = retry({
 *   maxAttempts: 3,
 *   handleResult: (r) => r instanceof Response && r.status === 503,
 *   delay: ({ result, backoffDelay }) => {
 *     const seconds = Number((result as Response | undefined)?.headers.get("retry-after"));
 *     return Number.isFinite(seconds) ? seconds * 1000 : backoffDelay;
 *   },
 * });
 * // After 3 answers of 503, resolves with the last response rather than throwing it away.
 * const response = await policy.execute((ctx) => fetch("http://127.0.0.1:1/", { signal: ctx.signal }))
 *   .catch(() => undefined);
 * ```
 */
export function retry(options?: RetryOptions): RetryPolicy {
  return new RetryPolicy(options);
}
