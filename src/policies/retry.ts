/**
 * {@link retry}: runs an operation again when it fails with a connection
 * error worth retrying (or returns a result worth retrying), waiting a
 * {@link Backoff} between attempts, within an optional total `deadline` and
 * an optional {@link RetryBudget} shared with other policies.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { AnyConnectionError } from "../errors/connection_error.ts";
import type { Normalizer, Recognize } from "../errors/normalize_error.ts";
import { CONNECTION_ERROR_KINDS, type ConnectionErrorKind } from "../errors/kinds.ts";
import { type Backoff, exponentialBackoff, MAX_DELAY_MS } from "./backoff.ts";
import { Context } from "./context.ts";
import { Emitter, type Event } from "./events.ts";
import { type Inner, registerFused, settleFrom, type Sink } from "./fused.ts";
import { cancelledBy } from "./outgoing.ts";
import type { RetryBudget } from "./retry_budget.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import {
  clock as checkClock,
  duration,
  fn as checkFn,
  optionsObject,
  rangeError,
  typeError,
  normalizer,
} from "./validate.ts";

/**
 * Decides whether a failed attempt is retried: `error` is what the operation
 * threw, `normalized` its {@link ConnectionError} when it is a recognized
 * connection failure (else `undefined`). A predicate that throws rejects the
 * call with what it threw.
 *
 * @example
 * ```ts
 * import { retry, type RetryPredicate } from "@faultline/faultline";
 *
 * class HttpError extends Error {
 *   status: number;
 *   constructor(status: number) {
 *     super(`HTTP ${status}`);
 *     this.status = status;
 *   }
 * }
 * const on: RetryPredicate = (error, normalized) =>
 *   normalized?.retryable === true || (error instanceof HttpError && error.status === 503);
 * const policy = retry({ on });
 * ```
 */
export type RetryPredicate = (
  error: unknown,
  normalized: AnyConnectionError | undefined,
) => boolean;

/**
 * What the `delay` option of {@link retry} is told about the retry to come.
 *
 * @example
 * ```ts
 * import { retry, type RetryDelayInfo } from "@faultline/faultline";
 *
 * const delay = (info: RetryDelayInfo): number | undefined =>
 *   info.result instanceof Response ? Number(info.result.headers.get("retry-after")) * 1000 : undefined;
 * const policy = retry({ handleResult: (r) => r instanceof Response && r.status === 503, delay });
 * ```
 */
export interface RetryDelayInfo {
  /** The attempt that just failed, counting from 1. */
  readonly attempt: number;
  /** The error it failed with, as the policy would rethrow it (absent for a result). */
  readonly error?: unknown;
  /** The result that `handleResult` asked to retry (absent for an error). */
  readonly result?: unknown;
  /** What the backoff computed for this retry, in ms. */
  readonly backoffDelay: number;
}

/**
 * Why {@link RetryPolicy} stopped retrying:
 * - `"attempts"`: `maxAttempts` attempts were made;
 * - `"deadline"`: the next wait would end after the `deadline`;
 * - `"budget"`: the shared {@link RetryBudget} had no retry left;
 * - `"not_retryable"`: the error was not one to retry (see `on`);
 * - `"cancelled"`: the caller's signal aborted.
 *
 * @example
 * ```ts
 * import type { RetryGiveUpReason } from "@faultline/faultline";
 *
 * const alarming: RetryGiveUpReason[] = ["budget", "deadline"];
 * ```
 */
export type RetryGiveUpReason = "attempts" | "deadline" | "budget" | "not_retryable" | "cancelled";

/**
 * The event {@link RetryPolicy.onRetry} gives before each retry's wait.
 *
 * @example
 * ```ts
 * import { retry, type RetryEvent } from "@faultline/faultline";
 *
 * retry().onRetry((e: RetryEvent) => console.log(`attempt ${e.attempt} failed; retrying in ${e.delay} ms`));
 * ```
 */
export interface RetryEvent {
  /** The attempt that failed, counting from 1: the next one is `attempt + 1`. */
  readonly attempt: number;
  /** How long the policy waits before the next attempt, in ms. */
  readonly delay: number;
  /** The error, as the policy would rethrow it (absent when a result is retried). */
  readonly error?: unknown;
  /** The result that `handleResult` asked to retry (absent for an error). */
  readonly result?: unknown;
}

/**
 * The event {@link RetryPolicy.onGiveUp} gives when a call ends without success.
 *
 * @example
 * ```ts
 * import { retry, type RetryGiveUpEvent } from "@faultline/faultline";
 *
 * retry().onGiveUp((e: RetryGiveUpEvent) => console.log(`gave up after ${e.attempts}: ${e.reason}`));
 * ```
 */
export interface RetryGiveUpEvent {
  /** How many attempts were made. */
  readonly attempts: number;
  /** Why it stopped. */
  readonly reason: RetryGiveUpReason;
  /** The error the call rejects with (absent when it returns a result). */
  readonly error?: unknown;
  /** The last result, which the call returns (absent for an error). */
  readonly result?: unknown;
}

/**
 * The event {@link RetryPolicy.onSuccess} gives when a call returns a result
 * that `handleResult` accepts.
 *
 * @example
 * ```ts
 * import { retry, type RetrySuccessEvent } from "@faultline/faultline";
 *
 * retry().onSuccess((e: RetrySuccessEvent) => e.attempts > 1 && console.log("recovered"));
 * ```
 */
export interface RetrySuccessEvent {
  /** How many attempts it took, counting the one that succeeded. */
  readonly attempts: number;
}

/**
 * Options of {@link retry}.
 *
 * @example
 * ```ts
 * import { exponentialBackoff, retry, type RetryOptions } from "@faultline/faultline";
 *
 * const options: RetryOptions = {
 *   maxAttempts: 4,
 *   backoff: exponentialBackoff({ initial: 200, max: 5_000 }),
 *   on: ["refused", "reset", "timeout"],
 *   deadline: 10_000,
 * };
 * const policy = retry(options);
 * ```
 */
export interface RetryOptions {
  /**
   * How many attempts in all, the first one included: `1` never retries.
   * A positive integer, or `Infinity` to retry until success, a
   * non-retryable error, the `deadline`, the `budget` or the signal. Default 3.
   */
  maxAttempts?: number;
  /** The waits between attempts. Default `exponentialBackoff()` (100 ms doubling to 30 s, full jitter). */
  backoff?: Backoff;
  /**
   * Which errors to retry: a list of kinds, or a {@link RetryPredicate}.
   * Default: the recognized connection errors that are `retryable` — never
   * `cancelled`, never an unrecognized error. In a list, `"unknown"` stands
   * for the errors that are not recognized as connection failures.
   */
  on?: readonly ConnectionErrorKind[] | RetryPredicate;
  /**
   * Which results to retry (an HTTP 503 response, say), without throwing
   * them away: when the attempts run out, the call returns the last result.
   * A predicate that throws rejects the call with what it threw.
   */
  handleResult?: (result: unknown) => boolean;
  /**
   * Overrides the backoff's delay (to honour a Retry-After, say): return a
   * number of ms, or `undefined` to keep `info.backoffDelay`. A negative
   * number means 0, more than {@link MAX_DELAY_MS} means that; NaN or a
   * non-number keeps the backoff's delay. The `deadline` still applies. A
   * function that throws rejects the call with what it threw.
   */
  delay?: (info: RetryDelayInfo) => number | undefined;
  /**
   * A total time budget in ms, measured on `clock` from the start of
   * `execute`: no retry is started whose wait would end after it; the call
   * gives up at once with the last error instead. It does not cut an attempt
   * short: put a `timeout` outside the retry for that. Default `Infinity`.
   */
  deadline?: number;
  /** A {@link RetryBudget} shared with other policies. Default: none. */
  budget?: RetryBudget;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer} that knows your clients. Default
   * {@link normalizeError}.
   */
  normalize?: Normalizer;
  /** The source of time and timers. Default `realClock`. */
  clock?: Clock;
  /** The random numbers in `[0, 1)` given to the backoff's jitter. Default `Math.random`. */
  random?: () => number;
}

const DEFAULT_BACKOFF = exponentialBackoff();
/** Marks "the first attempt has not run yet" for the retry loop. */
const NO_FAILURE: unique symbol = Symbol("no failure");
const KIND_SET: ReadonlySet<string> = new Set(CONNECTION_ERROR_KINDS);

/** A delay any backoff may return, forced into [0, MAX_DELAY_MS]; NaN is 0. */
function clampDelay(ms: unknown): number {
  return typeof ms === "number" && ms > 0 ? (ms < MAX_DELAY_MS ? ms : MAX_DELAY_MS) : 0;
}

let loop: (
  retry: RetryPolicy,
  fn: (ctx: ExecutionContext) => unknown,
  signal: AbortSignal | undefined,
  first: unknown,
) => Promise<unknown>;

/**
 * A retry's first attempt in a pipeline: a success passes straight out; a
 * failure starts the retry loop, whose attempts run the layers inside again.
 */
class RetryRun implements Sink {
  readonly #retry: RetryPolicy;
  readonly #inner: Inner;
  readonly #index: number;
  readonly #signal: AbortSignal | undefined;
  readonly #sink: Sink;

  constructor(
    retry: RetryPolicy,
    inner: Inner,
    index: number,
    signal: AbortSignal | undefined,
    sink: Sink,
  ) {
    this.#retry = retry;
    this.#inner = inner;
    this.#index = index;
    this.#signal = signal;
    this.#sink = sink;
  }

  ok(value: unknown): void {
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    const rest = this.#inner.operation(this.#index + 1, this.#signal);
    settleFrom(() => loop(this.#retry, rest, this.#signal, error), this.#sink);
  }
}

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
  readonly #maxAttempts: number;
  readonly #backoff: Backoff;
  readonly #kinds: ReadonlySet<string> | undefined;
  readonly #predicate: RetryPredicate | undefined;
  readonly #handleResult: ((result: unknown) => boolean) | undefined;
  readonly #delay: ((info: RetryDelayInfo) => number | undefined) | undefined;
  readonly #deadline: number;
  readonly #budget: RetryBudget | undefined;
  readonly #clock: Clock;
  readonly #recognize: Recognize;
  readonly #random: () => number;
  readonly #retry = new Emitter<RetryEvent>();
  readonly #giveUp = new Emitter<RetryGiveUpEvent>();
  readonly #success = new Emitter<RetrySuccessEvent>();

  /** Before each retry's wait. */
  readonly onRetry: Event<RetryEvent> = this.#retry.subscribe;
  /**
   * When a call ends without success: the attempts, the deadline or the
   * budget ran out, the error was not retryable, or the signal aborted.
   */
  readonly onGiveUp: Event<RetryGiveUpEvent> = this.#giveUp.subscribe;
  /** When a call returns a result (that `handleResult` does not ask to retry). */
  readonly onSuccess: Event<RetrySuccessEvent> = this.#success.subscribe;

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
    const normalize = o.normalize;

    if (maxAttempts === undefined) {
      this.#maxAttempts = 3;
    } else {
      const rule = "a positive integer or Infinity";
      if (typeof maxAttempts !== "number") typeError(api, "maxAttempts", rule, maxAttempts);
      if (maxAttempts !== Infinity && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
        rangeError(api, "maxAttempts", rule, maxAttempts);
      }
      this.#maxAttempts = maxAttempts;
    }

    if (backoff === undefined) {
      this.#backoff = DEFAULT_BACKOFF;
    } else {
      if (
        typeof backoff !== "object" || backoff === null ||
        typeof (backoff as Partial<Backoff>).delay !== "function"
      ) {
        typeError(api, "backoff", "a Backoff (an object with a delay() method)", backoff);
      }
      this.#backoff = backoff;
    }

    if (on === undefined) {
      this.#kinds = undefined;
      this.#predicate = undefined;
    } else if (typeof on === "function") {
      this.#kinds = undefined;
      this.#predicate = on;
    } else if (Array.isArray(on)) {
      const kinds = new Set<string>();
      const list = on as readonly unknown[];
      const rule = "a connection error kind (one of CONNECTION_ERROR_KINDS)";
      for (let i = 0; i < list.length; i++) {
        const kind = list[i];
        if (typeof kind !== "string") typeError(api, `on[${i}]`, rule, kind);
        if (!KIND_SET.has(kind)) rangeError(api, `on[${i}]`, rule, kind);
        kinds.add(kind);
      }
      this.#kinds = kinds;
      this.#predicate = undefined;
    } else {
      typeError(api, "on", "a list of connection error kinds or a predicate", on);
    }

    this.#handleResult = handleResult === undefined
      ? undefined
      : checkFn(api, "handleResult", handleResult);
    this.#delay = delay === undefined ? undefined : checkFn(api, "delay", delay);
    this.#deadline = deadline === undefined ? Infinity : duration(api, "deadline", deadline, true);

    if (budget === undefined) {
      this.#budget = undefined;
    } else {
      const b = budget as Partial<RetryBudget> | null;
      if (
        typeof b !== "object" || b === null || typeof b.recordCall !== "function" ||
        typeof b.tryRetry !== "function"
      ) {
        typeError(api, "budget", "a RetryBudget (see retryBudget())", budget);
      }
      this.#budget = budget;
    }

    this.#clock = checkClock(api, clock);
    this.#recognize = normalizer(api, normalize);
    this.#random = random === undefined ? Math.random : checkFn(api, "random", random);
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
  execute<T>(
    fn: (ctx: ExecutionContext) => T | Promise<T>,
    signal?: AbortSignal,
    _attempt?: number,
  ): Promise<T> {
    if (typeof fn !== "function") {
      return Promise.reject(
        new TypeError(
          `Cannot execute retry as 'fn' must be a function: current value is ${String(fn)}`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(this.#cancel(signal, 0));
    try {
      this.#budget?.recordCall();
    } catch (error) {
      return Promise.reject(error); // a budget of the caller's making that throws
    }
    // The success path without a result check, a success listener or a
    // deadline needs no loop and no async frame: the first attempt's promise,
    // with the loop attached only for its failure.
    if (this.#handleResult !== undefined || this.#success.has || this.#deadline !== Infinity) {
      return this.#loop(fn, signal, NO_FAILURE);
    }
    let value: T | Promise<T>;
    try {
      value = fn(new Context(signal, 1));
    } catch (error) {
      return this.#loop(fn, signal, error);
    }
    if (
      value === null || (typeof value !== "object" && typeof value !== "function") ||
      typeof (value as Promise<T>).then !== "function"
    ) return Promise.resolve(value as T);
    return Promise.resolve(value).then(
      undefined,
      (error: unknown) => this.#loop(fn, signal, error),
    );
  }

  static {
    loop = (retry, fn, signal, first) => retry.#loop(fn, signal, first);
    registerFused(
      RetryPolicy,
      (retry: RetryPolicy, inner, index, signal, _attempt, _parent, sink) => {
        if (signal?.aborted) {
          sink.fail(retry.#cancel(signal, 0));
          return;
        }
        try {
          retry.#budget?.recordCall();
        } catch (error) {
          sink.fail(error); // a budget of the caller's making that throws
          return;
        }
        if (
          retry.#handleResult !== undefined || retry.#success.has || retry.#deadline !== Infinity
        ) {
          settleFrom(
            () => retry.#loop(inner.operation(index + 1, signal), signal, NO_FAILURE),
            sink,
          );
          return;
        }
        inner.step(
          index + 1,
          new Context(signal, 1),
          signal,
          new RetryRun(retry, inner, index, signal, sink),
        );
      },
      (policy) => #deadline in policy,
    );
  }

  /** The retry loop; `first` is the first attempt's error when it already ran and failed. */
  async #loop<T>(
    fn: (ctx: ExecutionContext) => T | Promise<T>,
    signal: AbortSignal | undefined,
    first: unknown,
  ): Promise<T> {
    const deadline = this.#deadline;
    const start = deadline === Infinity ? 0 : this.#clock.now();
    let previous = 0;
    for (let attempt = 1;; attempt++) {
      let result: T;
      let failed = false;
      let out: unknown;
      try {
        if (attempt === 1 && first !== NO_FAILURE) throw first;
        result = await fn(new Context(signal, attempt));
      } catch (error) {
        const normalized = this.#recognize(error);
        out = normalized ?? error;
        if (!this.#shouldRetry(error, normalized)) {
          this.#gaveUp(attempt, "not_retryable", out, undefined, true);
          throw out;
        }
        failed = true;
        result = undefined as T;
      }
      if (!failed) {
        const handle = this.#handleResult;
        if (handle === undefined || handle(result) !== true) {
          if (this.#success.has) this.#success.emit({ attempts: attempt });
          return result;
        }
      }
      // A retry is due: of the error `out`, or of `result`.
      if (signal?.aborted) throw this.#cancel(signal, attempt);
      const wait = this.#nextWait(attempt, previous, out, result, failed, start);
      if (wait < 0) {
        if (failed) throw out;
        return result;
      }
      previous = this.#lastBackoff;
      if (this.#retry.has) {
        this.#retry.emit(
          failed ? { attempt, delay: wait, error: out } : { attempt, delay: wait, result },
        );
      }
      // A 0 ms wait never touches a timer, but an abort (by a listener, say) still ends the call.
      if (wait > 0) await this.#sleep(wait, signal, attempt);
      else if (signal?.aborted) throw this.#cancel(signal, attempt);
    }
  }

  // The backoff's own delay from the last #nextWait, handed back as `previous`
  // for decorrelated jitter (so a Retry-After does not skew the backoff).
  // Safe as an instance field: it is written after the last user code that
  // #nextWait runs and read right after it returns, with no await between.
  #lastBackoff = 0;

  /**
   * The wait before the next attempt, or -1 to give up (having fired
   * onGiveUp). Checks the attempts, then the deadline, then the budget, so a
   * retry that will not happen never takes from the budget.
   */
  #nextWait(
    attempt: number,
    previous: number,
    error: unknown,
    result: unknown,
    failed: boolean,
    start: number,
  ): number {
    if (attempt >= this.#maxAttempts) {
      this.#gaveUp(attempt, "attempts", error, result, failed);
      return -1;
    }
    const backoffDelay = clampDelay(this.#backoff.delay(attempt, previous, this.#random));
    let wait = backoffDelay;
    const override = this.#delay;
    if (override !== undefined) {
      const chosen: unknown = override(
        failed ? { attempt, error, backoffDelay } : { attempt, result, backoffDelay },
      );
      if (typeof chosen === "number" && !Number.isNaN(chosen)) wait = clampDelay(chosen);
    }
    if (this.#deadline !== Infinity && this.#clock.now() - start + wait > this.#deadline) {
      this.#gaveUp(attempt, "deadline", error, result, failed);
      return -1;
    }
    if (this.#budget !== undefined && !this.#budget.tryRetry()) {
      this.#gaveUp(attempt, "budget", error, result, failed);
      return -1;
    }
    this.#lastBackoff = backoffDelay;
    return wait;
  }

  #shouldRetry(error: unknown, normalized: AnyConnectionError | undefined): boolean {
    const predicate = this.#predicate;
    if (predicate !== undefined) return predicate(error, normalized) === true;
    if (this.#kinds !== undefined) return this.#kinds.has(normalized?.kind ?? "unknown");
    return normalized?.retryable === true;
  }

  #gaveUp(
    attempts: number,
    reason: RetryGiveUpReason,
    error: unknown,
    result: unknown,
    failed: boolean,
  ): void {
    if (!this.#giveUp.has) return;
    this.#giveUp.emit(failed ? { attempts, reason, error } : { attempts, reason, result });
  }

  /** The error to reject with when `signal` aborted after `attempts` attempts; fires onGiveUp. */
  #cancel(signal: AbortSignal, attempts: number): unknown {
    const error = cancelledBy(signal);
    this.#gaveUp(attempts, "cancelled", error, undefined, true);
    return error;
  }

  async #sleep(ms: number, signal: AbortSignal | undefined, attempts: number): Promise<void> {
    try {
      await this.#clock.sleep(ms, signal);
    } catch (error) {
      if (signal?.aborted) throw this.#cancel(signal, attempts);
      throw error;
    }
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
