/**
 * {@link fallback}: when an operation fails in a way it handles, a fallback
 * gives a value instead (a cached answer, a default, a degraded result).
 *
 * @module
 */

import type { AnyConnectionError } from "../errors/connection_error.ts";
import type { ConnectionErrorKind } from "../errors/kinds.ts";
import {
  type Judge,
  normalizeError,
  type Normalizer,
  type Verdict,
} from "../errors/normalize_error.ts";
import { brandFor, carries } from "../errors/_brand.ts";
import { BrokenCircuitError } from "./broken_circuit_error.ts";
import { BulkheadRejectedError } from "./bulkhead.ts";
import { type Call, executeSolo, settle, type Sink, STRATEGY, Strategy } from "./_engine.ts";
import { Emitter, type Event } from "./events.ts";
import { parseOn } from "./_on.ts";
import { onward, outgoing } from "./_outgoing.ts";
import type { ExecutionContext } from "./types.ts";
import { fn as checkFunction, judge, optionsObject } from "./_validate.ts";

/**
 * Which errors a {@link fallback} handles: a kind, a list of kinds, or a
 * predicate given the error as thrown and as {@link normalizeError} sees it
 * (`kind: "unknown"` for what it does not recognize).
 */
export type FallbackOn =
  | ConnectionErrorKind
  | readonly ConnectionErrorKind[]
  | ((error: unknown, normalized: AnyConnectionError) => boolean);

/** Options for {@link fallback}. */
export interface FallbackOptions {
  /**
   * Which errors to handle. By default: every recognized connection failure
   * except `"cancelled"`, plus the refusals of a full bulkhead or adaptive
   * limit ({@link BulkheadRejectedError}), an open circuit
   * (`BrokenCircuitError`), a throttle (`ThrottledError`) and a rate limit
   * (`RateLimitedError`): the load was shed before the call was made, what a
   * fallback is for. Not the caller's own cancellation, not a bug.
   */
  on?: FallbackOn;
  /** A listener subscribed to {@link FallbackPolicy.onFallback} at construction. */
  onFallback?: (event: FallbackEvent) => void;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer} that knows your clients. Default
   * {@link normalizeError}.
   */
  normalize?: Normalizer;
}

/**
 * What {@link FallbackPolicy.onFallback} listeners receive.
 *
 * @example
 * ```ts
 * import { fallback, type FallbackEvent } from "@faultline/faultline";
 *
 * const policy = fallback([]);
 * policy.onFallback((e: FallbackEvent) => console.warn("served the fallback after", e.error));
 * ```
 */
export interface FallbackEvent {
  /** The error that was handled, as it would have left the policy. */
  readonly error: unknown;
  /** The attempt (from a retry outside the fallback), counting from 1. */
  readonly attempt: number;
}

/**
 * The default `on`: connection failures but the caller's own cancellation,
 * and the rejections of an open circuit or a full bulkhead. The breaker's
 * error is known by name so this file does not depend on the breaker.
 */
const THROTTLED = brandFor("ThrottledError");
const RATE_LIMITED = brandFor("RateLimitedError");

function handledByDefault(error: unknown, verdict: Verdict | undefined): boolean {
  if (verdict !== undefined) return verdict.kind !== "cancelled";
  return error instanceof BulkheadRejectedError || error instanceof BrokenCircuitError ||
    // Load shed before the call was made: a throttle's or a rate limit's
    // refusal, known by brand so that this file pulls in neither policy.
    carries(error, THROTTLED) || carries(error, RATE_LIMITED);
}

type Decide = (error: unknown) => boolean;

function decider(on: unknown, judge: Judge, normalize: Normalizer): Decide {
  if (on === undefined) return (error) => handledByDefault(error, judge.classify(error));
  if (typeof on === "function") {
    const predicate = on as (error: unknown, normalized: AnyConnectionError) => boolean;
    return (error) => predicate(error, normalize(error)) === true;
  }
  const set = parseOn("fallback", on).kinds!;
  return (error) => {
    const kind = judge.classify(error)?.kind;
    return kind !== undefined && set.has(kind);
  };
}

/** The semantics of {@link fallback}, written once. */
class FallbackCore extends Strategy {
  readonly value: unknown;
  readonly isFunction: boolean;
  readonly decide: Decide;
  readonly judge: Judge;
  readonly served: Emitter<FallbackEvent> = new Emitter<FallbackEvent>();

  constructor(value: unknown, decide: Decide, judge: Judge) {
    super(FallbackPolicy.prototype, "fallback");
    this.value = value;
    this.isFunction = typeof value === "function";
    this.decide = decide;
    this.judge = judge;
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    call.next(index + 1, ctx, new FallbackCall(this, ctx.attempt, sink));
  }
}

/** One call: a success passes straight out; a failure it handles is served the fallback. */
class FallbackCall implements Sink {
  /** A success is the call's as it is: see {@link Sink.passes}. */
  readonly passes: boolean;
  readonly #core: FallbackCore;
  readonly #attempt: number;
  readonly #sink: Sink;

  constructor(core: FallbackCore, attempt: number, sink: Sink) {
    this.#core = core;
    this.#attempt = attempt;
    this.#sink = sink;
    this.passes = sink.passes === true;
  }

  ok(value: unknown): void {
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    const core = this.#core;
    const sink = this.#sink;
    let handled: boolean;
    try {
      handled = core.decide(error);
    } catch (thrown) {
      sink.fail(thrown); // a predicate that throws is a bug in the caller's code
      return;
    }
    if (!handled) {
      sink.fail(onward(error, core.judge));
      return;
    }
    // Handled: the listeners and the fallback function see the error as it would have left.
    const out = outgoing(error, core.judge.recognize);
    if (core.served.has) core.served.emit({ error: out, attempt: this.#attempt });
    if (!core.isFunction) {
      sink.ok(core.value);
      return;
    }
    let value: unknown;
    try {
      value = (core.value as (error: unknown) => unknown)(out);
    } catch (fallbackError) {
      sink.fail(onward(fallbackError, core.judge));
      return;
    }
    settle(value, { ok: (v) => sink.ok(v), fail: (e) => sink.fail(onward(e, core.judge)) });
  }
}

/**
 * The policy {@link fallback} returns; `R` is the type of the fallback value.
 *
 * @example
 * ```ts
 * import { fallback, type FallbackPolicy } from "@faultline/faultline";
 *
 * const policy: FallbackPolicy<string> = fallback("offline");
 * console.log(await policy.execute(() => Promise.reject(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))));
 * // "offline"
 * ```
 */
export class FallbackPolicy<R> {
  /** @ignore */
  readonly [STRATEGY]: Strategy;

  /** Subscribes to fallbacks: a listener is told each time the fallback value is served. */
  readonly onFallback: Event<FallbackEvent>;

  /** Use {@link fallback}. */
  constructor(valueOrFn: R | ((error: unknown) => R | Promise<R>), options?: FallbackOptions) {
    const opts = optionsObject<FallbackOptions>("fallback", options);
    const on = opts.on;
    const onFallback = opts.onFallback;
    const normalize = opts.normalize;
    const j = judge("fallback", normalize);
    const core = new FallbackCore(valueOrFn, decider(on, j, normalize ?? normalizeError), j);
    if (onFallback !== undefined) {
      core.served.subscribe(
        checkFunction<(event: FallbackEvent) => void>("fallback", "onFallback", onFallback),
      );
    }
    this[STRATEGY] = core;
    this.onFallback = core.served.subscribe;
  }

  /**
   * Runs `fn`; when it fails with an error this policy handles, resolves with
   * the fallback value (calling the fallback function with the error) instead.
   * Other errors leave as {@link ConnectionError} when recognized, else as
   * thrown.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T | R> {
    return executeSolo(this, fn, signal);
  }
}

/**
 * A policy that serves a fallback when the operation fails with an error it
 * handles (see {@link FallbackOptions.on}; by default every connection
 * failure but the caller's own cancellation, an open circuit and a full
 * bulkhead). `valueOrFn` is the value itself, or a function given the error
 * (a {@link ConnectionError} when recognized) that returns the value or a
 * promise of it. A function is always called: to fall back to a function
 * value, wrap it, `fallback(() => myFunction)`. Errors it does not handle
 * leave as {@link ConnectionError} when recognized, else as thrown.
 *
 * In a {@link pipeline}, put it first (outermost) so it sees what every other
 * policy gave up on.
 *
 * @example
 * ```ts
 * import { connect, fallback, pipeline, retry, timeout } from "@faultline/faultline";
 *
 * const cached = { price: 42 };
 * const policy = pipeline(fallback(() => cached), retry({ maxAttempts: 2 }), timeout(1000));
 * const quote = await policy.execute(async ({ signal }) => {
 *   // Nothing listens on port 1: refused twice, then the fallback answers.
 *   await using conn = await connect({ hostname: "127.0.0.1", port: 1, signal });
 *   return { price: conn.remoteAddr.port };
 * });
 * console.log(quote.price); // 42
 * ```
 */
export function fallback<R>(
  valueOrFn: R | ((error: unknown) => R | Promise<R>),
  options?: FallbackOptions,
): FallbackPolicy<R> {
  return new FallbackPolicy<R>(valueOrFn, options);
}
