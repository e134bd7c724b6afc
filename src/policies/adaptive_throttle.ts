/**
 * {@link adaptiveThrottle}: client-side throttling from Google's SRE book
 * ("Handling Overload"): when the backend has been turning requests away,
 * turn some away locally, before they cost it anything, in proportion to how
 * many it is refusing.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { AnyConnectionError } from "../errors/connection_error.ts";
import type { ConnectionErrorKind } from "../errors/kinds.ts";
import type { Normalizer, Recognize } from "../errors/normalize_error.ts";
import type { AbortSource } from "./_engine.ts";
import { type Call, executeSolo, signalOf, type Sink, STRATEGY, Strategy } from "./_engine.ts";
import { Emitter, type Event } from "./events.ts";
import { parseOn } from "./_on.ts";
import { ThrottledError } from "./throttled_error.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import {
  clock as checkClock,
  duration,
  fn as checkFn,
  normalizer,
  optionsObject,
  rangeError,
  typeError,
} from "./_validate.ts";

export { ThrottledError } from "./throttled_error.ts";

/**
 * Which failures mean the backend did not accept a request: a kind or a
 * non-empty list of kinds (`"unknown"` standing for errors that are not
 * recognized connection failures), or a predicate given the error as thrown and its {@link ConnectionError}
 * when recognized.
 *
 * @example
 * ```ts
 * import type { ThrottleOn } from "@faultline/faultline";
 *
 * class HttpError extends Error {
 *   status: number;
 *   constructor(status: number) {
 *     super(`HTTP ${status}`);
 *     this.status = status;
 *   }
 * }
 * // Connection failures but DNS and TLS (not overload), and the answers that say "too busy".
 * const on: ThrottleOn = (error, normalized) =>
 *   (normalized !== undefined && normalized.kind !== "dns" && normalized.kind !== "tls") ||
 *   (error instanceof HttpError && (error.status === 429 || error.status === 503));
 * ```
 */
export type ThrottleOn =
  | ConnectionErrorKind
  | readonly ConnectionErrorKind[]
  | ((error: unknown, normalized: AnyConnectionError | undefined) => boolean);

/**
 * Options of {@link adaptiveThrottle}.
 *
 * @example
 * ```ts
 * import { adaptiveThrottle, type AdaptiveThrottleOptions } from "@faultline/faultline";
 *
 * const options: AdaptiveThrottleOptions = { k: 1.5, windowMs: 60_000 };
 * const policy = adaptiveThrottle(options);
 * ```
 */
export interface AdaptiveThrottleOptions {
  /**
   * How many requests per accepted one the backend may be sent before local
   * rejection starts: a finite number ≥ 1. Lower is more aggressive. Default 2.
   */
  k?: number;
  /** The window the counts cover, in ms: finite and > 0. Default 120 000 (two minutes). */
  windowMs?: number;
  /**
   * Which failures mean the backend did not accept the request. Default:
   * every connection failure (any kind but `cancelled`). Any other failure
   * (an error of your own, a 404) is an answer: the backend accepted it. The
   * caller's cancel is never counted.
   */
  on?: ThrottleOn;
  /** Random numbers in `[0, 1)`, to draw rejections. Default `Math.random`. */
  random?: () => number;
  /** A listener subscribed to {@link AdaptiveThrottlePolicy.onThrottled} at construction. */
  onThrottled?: (event: ThrottledEvent) => void;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer}. Default {@link normalizeError}.
   */
  normalize?: Normalizer;
  /** The source of time. Default `realClock`. */
  clock?: Clock;
}

/**
 * What {@link AdaptiveThrottlePolicy.onThrottled} listeners receive.
 *
 * @example
 * ```ts
 * import { adaptiveThrottle, type ThrottledEvent } from "@faultline/faultline";
 *
 * adaptiveThrottle().onThrottled((e: ThrottledEvent) => console.warn(`shed at p=${e.probability}`));
 * ```
 */
export interface ThrottledEvent {
  /** The rejection probability the call was drawn at. */
  readonly probability: number;
  /** The error the call rejects with. */
  readonly error: ThrottledError;
}

/** The window is kept in this many buckets: memory is fixed; it slides in steps of windowMs/10. */
const BUCKETS = 10;

/** The semantics of {@link adaptiveThrottle}, written once: its counts over the window. */
class ThrottleCore extends Strategy {
  readonly k: number;
  readonly bucketMs: number;
  readonly clock: Clock;
  readonly random: () => number;
  readonly recognize: Recognize;
  readonly kinds: ReadonlySet<string> | undefined;
  readonly predicate:
    | ((error: unknown, normalized: AnyConnectionError | undefined) => boolean)
    | undefined;
  readonly throttled: Emitter<ThrottledEvent> = new Emitter<ThrottledEvent>();
  readonly #slot = new Float64Array(BUCKETS).fill(-Infinity);
  readonly #requests = new Float64Array(BUCKETS);
  readonly #accepts = new Float64Array(BUCKETS);
  #latest = -Infinity;
  #at = 0;
  requests = 0;
  accepts = 0;

  constructor(
    k: number,
    windowMs: number,
    clock: Clock,
    random: () => number,
    recognize: Recognize,
    kinds: ReadonlySet<string> | undefined,
    predicate:
      | ((error: unknown, normalized: AnyConnectionError | undefined) => boolean)
      | undefined,
  ) {
    super(AdaptiveThrottlePolicy.prototype, "adaptiveThrottle");
    this.k = k;
    this.bucketMs = windowMs / BUCKETS;
    this.clock = clock;
    this.random = random;
    this.recognize = recognize;
    this.kinds = kinds;
    this.predicate = predicate;
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    let p: number;
    let drawn: number;
    try {
      this.advance();
      p = this.probability();
      drawn = p > 0 ? this.random() : 1;
    } catch (error) {
      sink.fail(error); // a clock or a random source that throws
      return;
    }
    if (drawn < p) {
      this.count(false);
      const error = new ThrottledError(p, this.requests, this.accepts);
      if (this.throttled.has) this.throttled.emit({ probability: p, error });
      sink.fail(error);
      return;
    }
    call.next(index + 1, ctx, new ThrottledCall(this, signalOf(ctx), sink));
  }

  /** max(0, (requests − k·accepts) / (requests + 1)) over the window as of the last clock read. */
  probability(): number {
    const excess = this.requests - this.k * this.accepts;
    return excess > 0 ? excess / (this.requests + 1) : 0;
  }

  /** Counts a request (accepted or not) in the bucket of the last clock read. */
  count(accepted: boolean): void {
    const i = this.#at;
    this.#requests[i]! += 1;
    this.requests += 1;
    if (accepted) {
      this.#accepts[i]! += 1;
      this.accepts += 1;
    }
  }

  /** True when `error` means the backend did not accept the request. */
  refused(error: unknown, normalized: AnyConnectionError | undefined): boolean {
    if (this.predicate !== undefined) return this.predicate(error, normalized) === true;
    if (normalized === undefined) return this.kinds?.has("unknown") === true;
    return this.kinds !== undefined ? this.kinds.has(normalized.kind) : true;
  }

  /** Drops the buckets that fell out of the window and makes the current one current. */
  advance(): void {
    let slot = Math.floor(this.clock.now() / this.bucketMs);
    if (!(slot >= this.#latest)) slot = this.#latest; // a clock that steps back, or NaN
    if (slot === this.#latest) return;
    this.#latest = slot;
    for (let j = 0; j < BUCKETS; j++) {
      if (this.#slot[j]! <= slot - BUCKETS) {
        this.requests -= this.#requests[j]!;
        this.accepts -= this.#accepts[j]!;
        this.#requests[j] = 0;
        this.#accepts[j] = 0;
        this.#slot[j] = -Infinity;
      }
    }
    const i = ((slot % BUCKETS) + BUCKETS) % BUCKETS;
    this.#slot[i] = slot;
    this.#at = i;
  }
}

/** A call sent to the backend: counts how it ended. */
class ThrottledCall implements Sink {
  readonly #core: ThrottleCore;
  readonly #signal: AbortSource | undefined;
  readonly #sink: Sink;

  constructor(core: ThrottleCore, signal: AbortSource | undefined, sink: Sink) {
    this.#core = core;
    this.#signal = signal;
    this.#sink = sink;
  }

  ok(value: unknown): void {
    this.#core.count(true);
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    const core = this.#core;
    let normalized: AnyConnectionError | undefined;
    try {
      normalized = core.recognize(error);
      // The caller's cancel, or a cancel at all, says nothing about the backend: not counted.
      if (!this.#signal?.aborted && normalized?.kind !== "cancelled") {
        core.count(!core.refused(error, normalized));
      }
    } catch {
      // a predicate that throws counts nothing and must not replace the caller's error
    }
    this.#sink.fail(normalized ?? error);
  }
}

/**
 * The policy {@link adaptiveThrottle} returns.
 *
 * @example
 * ```ts
 * import { adaptiveThrottle, type AdaptiveThrottlePolicy } from "@faultline/faultline";
 *
 * const policy: AdaptiveThrottlePolicy = adaptiveThrottle();
 * await policy.execute(() => "ok");
 * console.log(policy.probability); // 0
 * ```
 */
export class AdaptiveThrottlePolicy implements Policy {
  /** The multiplier of accepted requests. */
  readonly k: number;
  /** The window, in ms. */
  readonly windowMs: number;
  /** @ignore */
  readonly [STRATEGY]: ThrottleCore;
  /** Each call turned away locally. */
  readonly onThrottled: Event<ThrottledEvent>;

  /** Use {@link adaptiveThrottle}. */
  constructor(options?: AdaptiveThrottleOptions) {
    const api = "adaptiveThrottle";
    const o = optionsObject<AdaptiveThrottleOptions>(api, options);
    const k = o.k;
    const windowMs = o.windowMs;
    const on = o.on;
    const random = o.random;
    const onThrottled = o.onThrottled;
    const normalize = o.normalize;
    const clock = o.clock;
    if (k === undefined) {
      this.k = 2;
    } else {
      const rule = "a finite number of at least 1";
      if (typeof k !== "number") typeError(api, "k", rule, k);
      if (!(k >= 1) || !Number.isFinite(k)) rangeError(api, "k", rule, k);
      this.k = k;
    }
    this.windowMs = windowMs === undefined ? 120_000 : duration(api, "windowMs", windowMs);
    if (this.windowMs === 0) {
      rangeError(api, "windowMs", "a finite positive number of milliseconds", 0);
    }
    const parsed = parseOn<ThrottleCore["predicate"]>(api, on);
    const core = new ThrottleCore(
      this.k,
      this.windowMs,
      checkClock(api, clock),
      random === undefined ? Math.random : checkFn(api, "random", random),
      normalizer(api, normalize),
      parsed.kinds,
      parsed.predicate,
    );
    if (onThrottled !== undefined) {
      core.throttled.subscribe(
        checkFn<(e: ThrottledEvent) => void>(api, "onThrottled", onThrottled),
      );
    }
    this[STRATEGY] = core;
    this.onThrottled = core.throttled.subscribe;
  }

  /** The probability that a call made now is turned away locally. */
  get probability(): number {
    const core = this[STRATEGY];
    core.advance();
    return core.probability();
  }

  /** Requests counted in the window, the locally rejected ones included. */
  get requests(): number {
    this[STRATEGY].advance();
    return this[STRATEGY].requests;
  }

  /** Requests in the window that the backend accepted. */
  get accepts(): number {
    this[STRATEGY].advance();
    return this[STRATEGY].accepts;
  }

  /**
   * Runs `fn`, unless the draw says to turn it away locally: then rejects
   * with a {@link ThrottledError} without calling it.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return executeSolo(this, fn, signal);
  }
}

/**
 * Client-side adaptive throttling (Google SRE, "Handling Overload";
 * failsafe-go's adaptive throttler). Over a sliding window of `windowMs`, it
 * counts the requests made (those it turned away included) and those the
 * backend accepted, and turns each new call away locally, with a
 * {@link ThrottledError}, with probability
 *
 *     max(0, (requests − k × accepts) / (requests + 1))
 *
 * So while the backend accepts at least 1 request in `k`, nothing is
 * rejected; past that, the client sheds the excess itself, and the backend
 * spends nothing on requests it would refuse, yet still sees enough of them
 * to show when it has recovered. By default any connection failure (not the
 * caller's cancel) counts as not accepted; with `on`, choose which (an HTTP
 * 503 of your own, say). No timer: the window moves as calls come.
 *
 * @example Shed load on a struggling backend
 * ```ts
 * import { adaptiveThrottle, connect, fallback, pipeline, timeout } from "@faultline/faultline";
 *
 * const throttle = adaptiveThrottle({ k: 2 });
 * throttle.onThrottled(({ probability }) => console.warn(`throttling ${Math.round(probability * 100)}%`));
 * const policy = pipeline(fallback(null), throttle, timeout(1_000));
 * const greeting = await policy.execute(async ({ signal }) => {
 *   await using conn = await connect({ hostname: "127.0.0.1", port: 1, signal });
 *   return `connected to ${conn.remoteAddr.hostname}`;
 * });
 * console.log(greeting); // null: refused, and counted as not accepted
 * ```
 */
export function adaptiveThrottle(options?: AdaptiveThrottleOptions): AdaptiveThrottlePolicy {
  return new AdaptiveThrottlePolicy(options);
}
