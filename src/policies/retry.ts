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
import { type Call, executeSolo, signalOf, type Sink, Strategy, STRATEGY } from "./_engine.ts";
import { Context } from "./_context.ts";
import { Emitter, type Event } from "./events.ts";
import { cancelledBy } from "./_outgoing.ts";
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
} from "./_validate.ts";

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
const KIND_SET: ReadonlySet<string> = new Set(CONNECTION_ERROR_KINDS);

/** A delay any backoff may return, forced into [0, MAX_DELAY_MS]; NaN is 0. */
function clampDelay(ms: unknown): number {
  return typeof ms === "number" && ms > 0 ? (ms < MAX_DELAY_MS ? ms : MAX_DELAY_MS) : 0;
}

/** The semantics of {@link retry}, written once: its options and events. */
class RetryCore extends Strategy {
  maxAttempts = 3;
  backoff: Backoff = DEFAULT_BACKOFF;
  kinds: ReadonlySet<string> | undefined = undefined;
  predicate: RetryPredicate | undefined = undefined;
  handleResult: ((result: unknown) => boolean) | undefined = undefined;
  delay: ((info: RetryDelayInfo) => number | undefined) | undefined = undefined;
  deadline = Infinity;
  budget: RetryBudget | undefined = undefined;
  clock!: Clock;
  recognize!: Recognize;
  random: () => number = Math.random;
  readonly retried: Emitter<RetryEvent> = new Emitter<RetryEvent>();
  readonly gaveUp: Emitter<RetryGiveUpEvent> = new Emitter<RetryGiveUpEvent>();
  readonly succeeded: Emitter<RetrySuccessEvent> = new Emitter<RetrySuccessEvent>();

  constructor() {
    super(RetryPolicy.prototype, "retry");
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    this.budget?.recordCall(); // a budget of the caller's making that throws rejects the call
    const start = this.deadline === Infinity ? 0 : this.clock.now();
    new RetryCall(this, call, index, signalOf(ctx), start, sink).begin();
  }

  shouldRetry(error: unknown, normalized: AnyConnectionError | undefined): boolean {
    const predicate = this.predicate;
    if (predicate !== undefined) return predicate(error, normalized) === true;
    if (this.kinds !== undefined) return this.kinds.has(normalized?.kind ?? "unknown");
    return normalized?.retryable === true;
  }

  giveUp(
    attempts: number,
    reason: RetryGiveUpReason,
    error: unknown,
    result: unknown,
    failed: boolean,
  ): void {
    if (!this.gaveUp.has) return;
    this.gaveUp.emit(failed ? { attempts, reason, error } : { attempts, reason, result });
  }

  /** The error to reject with when `signal` aborted after `attempts` attempts; fires onGiveUp. */
  cancel(signal: AbortSignal, attempts: number): unknown {
    const error = cancelledBy(signal);
    this.giveUp(attempts, "cancelled", error, undefined, true);
    return error;
  }
}

/** One call: its attempts, each run through the layers inside, and the waits between them. */
class RetryCall implements Sink {
  readonly #core: RetryCore;
  readonly #call: Call;
  readonly #index: number;
  readonly #signal: AbortSignal | undefined;
  readonly #start: number;
  readonly #sink: Sink;
  #attempt = 1;
  /** The backoff's own last delay, for decorrelated jitter (a Retry-After does not skew it). */
  #previous = 0;

  constructor(
    core: RetryCore,
    call: Call,
    index: number,
    signal: AbortSignal | undefined,
    start: number,
    sink: Sink,
  ) {
    this.#core = core;
    this.#call = call;
    this.#index = index;
    this.#signal = signal;
    this.#start = start;
    this.#sink = sink;
  }

  begin(): void {
    this.#call.next(this.#index + 1, new Context(this.#signal, this.#attempt), this);
  }

  ok(value: unknown): void {
    const core = this.#core;
    const handle = core.handleResult;
    if (handle !== undefined) {
      let again: boolean;
      try {
        again = handle(value) === true;
      } catch (error) {
        this.#sink.fail(error); // a result check that throws rejects the call with it
        return;
      }
      if (again) {
        this.#again(undefined, value, false);
        return;
      }
    }
    if (core.succeeded.has) core.succeeded.emit({ attempts: this.#attempt });
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    const core = this.#core;
    let out: unknown = error;
    let retry: boolean;
    try {
      const normalized = core.recognize(error);
      out = normalized ?? error;
      retry = core.shouldRetry(error, normalized);
    } catch (thrown) {
      this.#sink.fail(thrown); // a predicate that throws rejects the call with it
      return;
    }
    if (!retry) {
      core.giveUp(this.#attempt, "not_retryable", out, undefined, true);
      this.#sink.fail(out);
      return;
    }
    this.#again(out, undefined, true);
  }

  /** A retry is due, of the error `out` or of `result`: wait, then run the next attempt. */
  #again(out: unknown, result: unknown, failed: boolean): void {
    const core = this.#core;
    const signal = this.#signal;
    const attempt = this.#attempt;
    if (signal?.aborted) {
      this.#sink.fail(core.cancel(signal, attempt));
      return;
    }
    let wait: number;
    try {
      wait = this.#nextWait(out, result, failed);
    } catch (thrown) {
      this.#sink.fail(thrown); // a backoff or `delay` that throws rejects the call with it
      return;
    }
    if (wait < 0) {
      if (failed) this.#sink.fail(out);
      else this.#sink.ok(result);
      return;
    }
    if (core.retried.has) {
      core.retried.emit(
        failed ? { attempt, delay: wait, error: out } : { attempt, delay: wait, result },
      );
    }
    if (wait > 0) {
      core.clock.sleep(wait, signal).then(
        () => this.#next(),
        (error: unknown) => this.#sink.fail(signal?.aborted ? core.cancel(signal, attempt) : error),
      );
    } else {
      // No timer for a 0 ms wait, but a turn of the microtask queue, so that
      // an operation that fails synchronously cannot grow the stack.
      queueMicrotask(() => this.#next());
    }
  }

  #next(): void {
    const signal = this.#signal;
    // An abort during the wait (a listener's, say) still ends the call.
    if (signal?.aborted) {
      this.#sink.fail(this.#core.cancel(signal, this.#attempt));
      return;
    }
    this.#attempt++;
    this.begin();
  }

  /**
   * The wait before the next attempt, or -1 to give up (having fired
   * onGiveUp). Checks the attempts, then the deadline, then the budget, so a
   * retry that will not happen never takes from the budget.
   */
  #nextWait(error: unknown, result: unknown, failed: boolean): number {
    const core = this.#core;
    const attempt = this.#attempt;
    if (attempt >= core.maxAttempts) {
      core.giveUp(attempt, "attempts", error, result, failed);
      return -1;
    }
    const backoffDelay = clampDelay(core.backoff.delay(attempt, this.#previous, core.random));
    let wait = backoffDelay;
    const override = core.delay;
    if (override !== undefined) {
      const chosen: unknown = override(
        failed ? { attempt, error, backoffDelay } : { attempt, result, backoffDelay },
      );
      if (typeof chosen === "number" && !Number.isNaN(chosen)) wait = clampDelay(chosen);
    }
    if (core.deadline !== Infinity && core.clock.now() - this.#start + wait > core.deadline) {
      core.giveUp(attempt, "deadline", error, result, failed);
      return -1;
    }
    if (core.budget !== undefined && !core.budget.tryRetry()) {
      core.giveUp(attempt, "budget", error, result, failed);
      return -1;
    }
    this.#previous = backoffDelay;
    return wait;
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
  /** @ignore */
  readonly [STRATEGY]: RetryCore;
  /** Before each retry's wait. */
  readonly onRetry: Event<RetryEvent>;
  /**
   * When a call ends without success: the attempts, the deadline or the
   * budget ran out, the error was not retryable, or the signal aborted.
   */
  readonly onGiveUp: Event<RetryGiveUpEvent>;
  /** When a call returns a result (that `handleResult` does not ask to retry). */
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
    const core = new RetryCore();
    const normalize = o.normalize;

    if (maxAttempts === undefined) {
      core.maxAttempts = 3;
    } else {
      const rule = "a positive integer or Infinity";
      if (typeof maxAttempts !== "number") typeError(api, "maxAttempts", rule, maxAttempts);
      if (maxAttempts !== Infinity && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
        rangeError(api, "maxAttempts", rule, maxAttempts);
      }
      core.maxAttempts = maxAttempts;
    }

    if (backoff === undefined) {
      core.backoff = DEFAULT_BACKOFF;
    } else {
      if (
        typeof backoff !== "object" || backoff === null ||
        typeof (backoff as Partial<Backoff>).delay !== "function"
      ) {
        typeError(api, "backoff", "a Backoff (an object with a delay() method)", backoff);
      }
      core.backoff = backoff;
    }

    if (on === undefined) {
      core.kinds = undefined;
      core.predicate = undefined;
    } else if (typeof on === "function") {
      core.kinds = undefined;
      core.predicate = on;
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
      core.kinds = kinds;
      core.predicate = undefined;
    } else {
      typeError(api, "on", "a list of connection error kinds or a predicate", on);
    }

    core.handleResult = handleResult === undefined
      ? undefined
      : checkFn(api, "handleResult", handleResult);
    core.delay = delay === undefined ? undefined : checkFn(api, "delay", delay);
    core.deadline = deadline === undefined ? Infinity : duration(api, "deadline", deadline, true);

    if (budget === undefined) {
      core.budget = undefined;
    } else {
      const b = budget as Partial<RetryBudget> | null;
      if (
        typeof b !== "object" || b === null || typeof b.recordCall !== "function" ||
        typeof b.tryRetry !== "function"
      ) {
        typeError(api, "budget", "a RetryBudget (see retryBudget())", budget);
      }
      core.budget = budget;
    }

    core.clock = checkClock(api, clock);
    core.recognize = normalizer(api, normalize);
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
