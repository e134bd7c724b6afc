/**
 * {@link rateLimit}: at most `limit` calls per `windowMs`, smoothly (a GCRA:
 * one call every `windowMs / limit` ms, with up to `burst` at once), waiting
 * up to `maxWaitMs` for a turn, else a {@link RateLimitedError} that says
 * when to come back. With `fleet`, the limit holds across every process that
 * shares the store and key.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Judge, Normalizer } from "../errors/normalize_error.ts";
import type { AbortSource } from "./_engine.ts";
import { type Call, executeSolo, signalOf, type Sink, STRATEGY, Strategy } from "./_engine.ts";
import { Emitter, type Event } from "./events.ts";
import { EPSILON, Gcra } from "./_gcra.ts";
import { RateLimitedError } from "./rate_limited_error.ts";
import { cancelledBy, onward } from "./_outgoing.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import {
  clock as checkClock,
  duration,
  fn as checkFunction,
  judge as checkJudge,
  optionsObject,
  positiveInteger,
  rangeError,
  typeError,
} from "./_validate.ts";
import type { FleetErrorEvent, FleetOptions } from "../fleet/store.ts";
import { fleetSettings } from "../fleet/_sync.ts";
import { ALONE, RateLease } from "../fleet/_rate_lease.ts";

/**
 * Options of {@link rateLimit}.
 *
 * @example
 * ```ts
 * import { rateLimit, type RateLimitOptions } from "@faultline/faultline";
 *
 * const options: RateLimitOptions = { limit: 100, windowMs: 1_000, burst: 20, maxWaitMs: 250 };
 * const limiter = rateLimit(options);
 * ```
 */
export interface RateLimitOptions {
  /** How many calls per window: a positive integer. Required. */
  limit: number;
  /** The window, in ms: finite, above 0. Required. */
  windowMs: number;
  /** How many calls may go at once after a quiet spell: a positive integer, default `limit`. */
  burst?: number;
  /**
   * How long a call may wait for its turn, in ms (finite, ≥ 0). Default 0:
   * a call over the limit is refused at once.
   */
  maxWaitMs?: number;
  /** Share the limit with every process that uses the same store and key. */
  fleet?: FleetOptions;
  /** A listener subscribed to {@link RateLimitPolicy.onRejected} at construction. */
  onRejected?: (event: RateLimitedEvent) => void;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer} that knows your clients. Default
   * {@link normalizeError}.
   */
  normalize?: Normalizer;
  /** The source of time and timers. Default `realClock`. */
  clock?: Clock;
}

/**
 * What {@link RateLimitPolicy.onRejected} listeners receive.
 *
 * @example
 * ```ts
 * import { rateLimit, type RateLimitedEvent } from "@faultline/faultline";
 *
 * const limiter = rateLimit({ limit: 10, windowMs: 1_000 });
 * limiter.onRejected((e: RateLimitedEvent) => console.warn(`over the limit; back in ${e.retryAfterMs} ms`));
 * ```
 */
export interface RateLimitedEvent {
  /** How long until a call would be let through, in ms. */
  readonly retryAfterMs: number;
  /** The error the call rejected with. */
  readonly error: RateLimitedError;
}

/** A call waiting for its turn: its own timer callback and abort listener. */
class Waiter {
  readonly core: RateLimitCore;
  readonly call: Call;
  readonly index: number;
  readonly ctx: ExecutionContext;
  readonly sink: Sink;
  readonly signal: AbortSource | undefined;
  readonly tat: number;
  readonly source: number;
  timer: unknown = undefined;
  readonly fire = (): void => {
    this.signal?.removeEventListener("abort", this);
    this.core.waiting--;
    this.core.start(this.call, this.index, this.ctx, this.sink);
  };

  constructor(
    core: RateLimitCore,
    call: Call,
    index: number,
    ctx: ExecutionContext,
    sink: Sink,
    signal: AbortSource | undefined,
    tat: number,
    source: number,
  ) {
    this.core = core;
    this.call = call;
    this.index = index;
    this.ctx = ctx;
    this.sink = sink;
    this.signal = signal;
    this.tat = tat;
    this.source = source;
  }

  /** The caller's signal aborted while waiting: give the turn back. */
  handleEvent(): void {
    const core = this.core;
    core.clock.clearTimeout(this.timer);
    this.signal!.removeEventListener("abort", this);
    core.waiting--;
    core.gcra.giveBack(this.tat);
    core.lease?.giveBack(this.source);
    this.sink.fail(cancelledBy(this.signal!));
  }
}

/** The semantics of {@link rateLimit}, written once. */
class RateLimitCore extends Strategy {
  readonly gcra: Gcra;
  readonly maxWaitMs: number;
  readonly clock: Clock;
  readonly judge: Judge;
  readonly lease: RateLease | undefined;
  waiting = 0;
  readonly rejected: Emitter<RateLimitedEvent> = new Emitter<RateLimitedEvent>();
  readonly fleetErrors: Emitter<FleetErrorEvent> = new Emitter<FleetErrorEvent>();

  constructor(
    gcra: Gcra,
    maxWaitMs: number,
    clock: Clock,
    judge: Judge,
    fleet: ReturnType<typeof fleetSettings>,
  ) {
    super(RateLimitPolicy.prototype, "rateLimit");
    this.gcra = gcra;
    this.maxWaitMs = maxWaitMs;
    this.clock = clock;
    this.judge = judge;
    this.lease = fleet === undefined
      ? undefined
      : new RateLease(gcra, fleet, clock, this.fleetErrors);
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    const now = this.clock.now();
    const lease = this.lease;
    let wait: number;
    if (lease === undefined) {
      wait = this.gcra.wait(now);
      if (wait <= EPSILON) wait = 0;
      else if (wait > this.maxWaitMs) wait = -wait;
    } else {
      wait = lease.admit(now, this.maxWaitMs);
    }
    if (wait < 0) {
      const error = new RateLimitedError(Math.ceil(-wait));
      if (this.rejected.has) this.rejected.emit({ retryAfterMs: error.retryAfterMs, error });
      sink.fail(error);
      return;
    }
    const tat = this.gcra.take(now);
    if (wait === 0) {
      this.start(call, index, ctx, sink);
      return;
    }
    const signal = signalOf(ctx);
    if (signal?.aborted) {
      this.gcra.giveBack(tat);
      lease?.giveBack(lease.source);
      sink.fail(cancelledBy(signal));
      return;
    }
    const waiter = new Waiter(this, call, index, ctx, sink, signal, tat, lease?.source ?? ALONE);
    this.waiting++;
    waiter.timer = this.clock.setTimeout(waiter.fire, wait);
    signal?.addEventListener("abort", waiter);
  }

  start(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    call.next(index + 1, ctx, new Passing(this.judge, sink));
  }
}

/** How the layers inside ended, passed on (errors as the policy rethrows them). */
class Passing implements Sink {
  /** A success is the call's as it is: see {@link Sink.passes}. */
  readonly passes: boolean;
  readonly #judge: Judge;
  readonly #sink: Sink;

  constructor(judge: Judge, sink: Sink) {
    this.#judge = judge;
    this.#sink = sink;
    this.passes = sink.passes === true;
  }

  ok(value: unknown): void {
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    this.#sink.fail(onward(error, this.#judge));
  }
}

/**
 * The policy {@link rateLimit} returns.
 *
 * @example
 * ```ts
 * import { rateLimit, type RateLimitPolicy } from "@faultline/faultline";
 *
 * const limiter: RateLimitPolicy = rateLimit({ limit: 5, windowMs: 1_000 });
 * await limiter.execute(() => "ok");
 * console.log(limiter.available); // 4
 * ```
 */
export class RateLimitPolicy implements Policy, Disposable {
  /** Calls per window. */
  readonly limit: number;
  /** The window, in ms. */
  readonly windowMs: number;
  /** Calls that may go at once. */
  readonly burst: number;
  /** How long a call may wait for its turn, in ms. */
  readonly maxWaitMs: number;
  /** @ignore */
  readonly [STRATEGY]: RateLimitCore;
  /** Subscribes to refusals: a listener is told of each call turned away. */
  readonly onRejected: Event<RateLimitedEvent>;
  /** Subscribes to failed fleet store requests (with `fleet` only). */
  readonly onFleetError: Event<FleetErrorEvent>;

  /** Use {@link rateLimit}. */
  constructor(options: RateLimitOptions) {
    const api = "rateLimit";
    if (options === undefined) typeError(api, "options", "an object", options);
    const o = optionsObject<RateLimitOptions>(api, options);
    const limit = o.limit;
    const windowMs = o.windowMs;
    const burst = o.burst;
    const maxWaitMs = o.maxWaitMs;
    const fleet = o.fleet;
    const onRejected = o.onRejected;
    const normalize = o.normalize;
    const clock = o.clock;
    this.limit = positiveInteger(api, "limit", limit);
    this.windowMs = duration(api, "windowMs", windowMs);
    if (this.windowMs === 0) {
      rangeError(api, "windowMs", "a finite number of milliseconds above 0", 0);
    }
    this.burst = burst === undefined ? this.limit : positiveInteger(api, "burst", burst);
    this.maxWaitMs = maxWaitMs === undefined ? 0 : duration(api, "maxWaitMs", maxWaitMs);
    const core = new RateLimitCore(
      new Gcra(this.windowMs / this.limit, this.burst),
      this.maxWaitMs,
      checkClock(api, clock),
      checkJudge(api, normalize),
      fleetSettings(api, fleet, "rateLimit"),
    );
    if (onRejected !== undefined) {
      core.rejected.subscribe(
        checkFunction<(event: RateLimitedEvent) => void>(api, "onRejected", onRejected),
      );
    }
    this[STRATEGY] = core;
    this.onRejected = core.rejected.subscribe;
    this.onFleetError = core.fleetErrors.subscribe;
  }

  /** How many calls would be let through now without waiting (as this process knows). */
  get available(): number {
    const core = this[STRATEGY];
    const now = core.clock.now();
    return core.lease === undefined ? core.gcra.available(now) : core.lease.available(now);
  }

  /** Calls waiting for their turn now. */
  get waiting(): number {
    return this[STRATEGY].waiting;
  }

  /**
   * Runs `fn` when the limit allows: at once, after waiting its turn (at most
   * `maxWaitMs`), or not at all (a {@link RateLimitedError}). An abort of
   * `signal` while waiting ends the wait at once, gives the turn back, and
   * rejects with a `"cancelled"` {@link ConnectionError}.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return executeSolo(this, fn, signal);
  }

  /**
   * Stops talking to the fleet store (with `fleet`) and clears its timer;
   * the limiter goes on alone. Without `fleet` it does nothing.
   */
  close(): void {
    this[STRATEGY].lease?.sync.close();
  }

  /** The same as {@link RateLimitPolicy.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A policy that lets at most `limit` calls through per `windowMs`, spread
 * evenly (one every `windowMs / limit` ms) with up to `burst` at once after a
 * quiet spell: in any span of `t` ms, at most `burst + t × limit / windowMs`
 * calls start. A call over the limit waits its turn if that comes within
 * `maxWaitMs`, else is refused at once with a {@link RateLimitedError} whose
 * `retryAfterMs` says when a call would be let through. The algorithm is a
 * GCRA: one number per limiter, no timer but a waiting call's own.
 *
 * With `fleet: { store, key }`, every process using that store and key
 * shares the limit: each leases tokens from the store in small batches and
 * never waits on it; when the store is down, each goes on with its own
 * limit (see {@link FleetOptions}).
 *
 * @example 100 calls a second, waiting up to 200 ms for a turn
 * ```ts
 * import { rateLimit, RateLimitedError } from "@faultline/faultline";
 *
 * const limiter = rateLimit({ limit: 100, windowMs: 1_000, maxWaitMs: 200 });
 * try {
 *   await limiter.execute(() => fetch("http://127.0.0.1:1/").catch(() => "offline"));
 * } catch (e) {
 *   if (e instanceof RateLimitedError) console.log(`come back in ${e.retryAfterMs} ms`);
 * }
 * ```
 */
export function rateLimit(options: RateLimitOptions): RateLimitPolicy {
  return new RateLimitPolicy(options);
}
