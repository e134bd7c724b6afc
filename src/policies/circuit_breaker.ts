/**
 * The circuit breaker: stops calling a dependency that keeps failing, and
 * lets a few probes through now and then to find out when it is back.
 *
 * States: `closed` (calls go through and are counted), `open` (calls are
 * rejected with {@link BrokenCircuitError} without running), `half_open`
 * (at most `halfOpenMaxProbes` calls at a time go through as probes; the rest
 * are rejected), `isolated` (opened by hand with `isolate()`, until `reset()`).
 *
 * The breaker keeps no timer: the move from `open` to `half_open` happens
 * when a call (or a read of `state`) finds that `halfOpenAfter` has passed.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { AnyConnectionError } from "../errors/connection_error.ts";
import { CONNECTION_ERROR_KINDS, type ConnectionErrorKind } from "../errors/kinds.ts";
import { type Normalizer, normalizeError, type Recognize } from "../errors/normalize_error.ts";
import { Context } from "./context.ts";
import { Emitter, type Event } from "./events.ts";
import { registerFused, settleFrom, type Sink } from "./fused.ts";
import { cancelledBy } from "./outgoing.ts";
import type { TripCounter, TripSnapshot, TripStrategy } from "./breaker_strategies.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import {
  clock as checkClock,
  duration,
  normalizer,
  optionsObject,
  positiveInteger,
  rangeError,
  show,
  typeError,
} from "./validate.ts";

/**
 * The state of a {@link CircuitBreaker}.
 *
 * @example
 * ```ts
 * import { circuitBreaker, type CircuitState, consecutiveFailures } from "@faultline/faultline";
 *
 * const state: CircuitState = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 })
 *   .state;
 * console.log(state); // "closed"
 * ```
 */
export type CircuitState = "closed" | "open" | "half_open" | "isolated";

/**
 * A backoff for `halfOpenAfter`: the wait before the `openings`-th half-open
 * since the breaker was last closed. Any `Backoff` (such as
 * `exponentialBackoff()`) fits: it is called as `delay(openings, previousDelay, Math.random)`.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures, type HalfOpenBackoff } from "@faultline/faultline";
 *
 * const doubling: HalfOpenBackoff = { delay: (openings) => Math.min(60_000, 1_000 * 2 ** (openings - 1)) };
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: doubling });
 * ```
 */
export interface HalfOpenBackoff {
  /** The wait in ms; `openings` is 1 the first time the breaker opens after being closed. */
  delay(openings: number, previous: number, random: () => number): number;
}

/**
 * Which errors count as failures: a list of kinds, or a predicate given the
 * error as thrown and its normalized {@link ConnectionError} (kind `"unknown"`
 * when not recognized).
 *
 * @example
 * ```ts
 * import type { BreakerOn } from "@faultline/faultline";
 *
 * const on: BreakerOn = ["refused", "timeout", "reset"];
 * ```
 */
export type BreakerOn =
  | readonly ConnectionErrorKind[]
  | ((error: unknown, normalized: AnyConnectionError) => boolean);

/**
 * Options of {@link circuitBreaker}.
 *
 * @example
 * ```ts
 * import { type CircuitBreakerOptions, consecutiveFailures } from "@faultline/faultline";
 *
 * const options: CircuitBreakerOptions = { trip: consecutiveFailures(5), halfOpenAfter: 10_000 };
 * ```
 */
export interface CircuitBreakerOptions {
  /** When to open: `consecutiveFailures(n)` or `failureRate({...})`. Required. */
  trip: TripStrategy;
  /**
   * How long it stays open before probing, in ms (finite, ≥ 0); or a function
   * `(openings) => ms`, or a backoff, for waits that grow while the dependency
   * stays down (`openings` counts the openings since it was last closed, from 1).
   * A function or backoff that returns NaN, a negative number or throws gives 0;
   * its result is capped at 2 147 483 647 ms. Required.
   */
  halfOpenAfter: number | ((openings: number) => number) | HalfOpenBackoff;
  /** Which errors count as failures. Default: every connection failure but `cancelled` (and unrecognized errors). */
  on?: BreakerOn;
  /** How many probes may run at once in `half_open`: a positive integer, default 1. */
  halfOpenMaxProbes?: number;
  /** How many successful probes close it: a positive integer, default 1. */
  halfOpenSuccesses?: number;
  /**
   * How long a probe may hold its slot, in ms (≥ 0, or `Infinity`), default
   * 60 000. When every slot is held by probes older than this, the next call
   * counts them as failed and opens the breaker again, so a probe that never
   * settles cannot keep it half-open for ever.
   */
  probeTimeout?: number;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer} that knows your clients. Default
   * {@link normalizeError}.
   */
  normalize?: Normalizer;
  /** The source of time. Default `realClock`. */
  clock?: Clock;
}

/**
 * `onStateChange`'s event.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures, type StateChangeEvent } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breaker.onStateChange((e: StateChangeEvent) => console.log(`${e.from} -> ${e.to}`));
 * ```
 */
export interface StateChangeEvent {
  /** The state it left. */
  readonly from: CircuitState;
  /** The state it entered. */
  readonly to: CircuitState;
}

/**
 * `onBreak`'s event: the breaker opened, or was isolated.
 *
 * @example
 * ```ts
 * import { type BreakEvent, circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breaker.onBreak((e: BreakEvent) => console.warn(`circuit ${e.reason}`, e.error));
 * ```
 */
export interface BreakEvent {
  /** `open`, or `isolated` for {@link CircuitBreaker.isolate}. */
  readonly state: "open" | "isolated";
  /** What opened it. */
  readonly reason: "tripped" | "probe_failed" | "probe_timed_out" | "isolated";
  /** The failure that opened it (as it leaves the breaker), when there was one. */
  readonly error: unknown;
  /** How long until it half-opens, or `undefined` when isolated. */
  readonly retryAfterMs: number | undefined;
}

/**
 * `onHalfOpen`'s event.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breaker.onHalfOpen((e) => console.log(`probing after opening ${e.openings} time(s)`));
 * ```
 */
export interface HalfOpenEvent {
  /** How many times it opened since it was last closed. */
  readonly openings: number;
}

/**
 * `onReset`'s event: the breaker closed.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breaker.onReset((e) => console.log(`closed: ${e.reason}`));
 * ```
 */
export interface ResetEvent {
  /** `probes_succeeded`, or `reset` for {@link CircuitBreaker.reset}. */
  readonly reason: "probes_succeeded" | "reset";
}

/**
 * `onRejected`'s event: a call was refused without running.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * let rejected = 0;
 * breaker.onRejected(() => rejected++);
 * ```
 */
export interface RejectedEvent {
  /** The error the call rejected with. */
  readonly error: BrokenCircuitError;
}

/**
 * The plain, JSON-safe state of a breaker: {@link CircuitBreaker.toJSON} gives
 * it, {@link CircuitBreaker.restore} takes it back. Times are on the breaker's
 * clock (`realClock` is comparable across processes).
 *
 * @example
 * ```ts
 * import { circuitBreaker, type CircuitBreakerSnapshot, consecutiveFailures } from "@faultline/faultline";
 *
 * const snapshot: CircuitBreakerSnapshot = circuitBreaker({
 *   trip: consecutiveFailures(3),
 *   halfOpenAfter: 1_000,
 * }).toJSON();
 * const json = JSON.stringify(snapshot);
 * ```
 */
export interface CircuitBreakerSnapshot {
  /** The format version: 1. */
  version: 1;
  /** The state. */
  state: CircuitState;
  /** When it last opened (on the clock), or `null` while it has not opened since it closed. */
  openedAt: number | null;
  /** The wait of the current opening in ms. */
  halfOpenAfterMs: number;
  /** Openings since it was last closed. */
  openings: number;
  /** Successful probes in the current half-open state. */
  probeSuccesses: number;
  /** The strategy's counts. */
  trip: TripSnapshot;
}

const INVALIDATED = "Cannot restore circuit breaker as";

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

  static {
    // Shared by every instance, so the breaker's own ones need set only their fields.
    Object.defineProperty(this.prototype, "name", {
      value: "BrokenCircuitError",
      writable: true,
      configurable: true,
    });
    Object.defineProperty(this.prototype, "message", {
      get(this: BrokenCircuitError): string {
        return brokenMessage(this.state, this.retryAfterMs, this.key);
      },
      configurable: true,
    });
    Object.defineProperty(this.prototype, "stack", {
      get(this: BrokenCircuitError): string {
        return `${this.name}: ${this.message}`;
      },
      configurable: true,
    });
  }
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A {@link BrokenCircuitError} made without the cost of an `Error` construction. */
function refusal(
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

/** Internal: what a keyed breaker hears from the breakers it owns. */
export interface BreakerParent {
  /** A breaker it owns changed state. */
  changed(key: string, from: CircuitState, to: CircuitState): void;
}

const MAX_DELAY_MS = 2_147_483_647;
const DEFAULT_KINDS: ReadonlySet<string> = new Set(
  CONNECTION_ERROR_KINDS.filter((k) => k !== "cancelled" && k !== "unknown"),
);

/** Validated options, read once: shared by every breaker of a keyed breaker. */
export class BreakerSettings {
  readonly trip: TripStrategy;
  readonly halfOpenAfter: number | ((openings: number) => number) | HalfOpenBackoff;
  readonly kinds: ReadonlySet<string> | undefined;
  readonly predicate: ((error: unknown, normalized: AnyConnectionError) => boolean) | undefined;
  readonly maxProbes: number;
  readonly successes: number;
  readonly probeTimeout: number;
  readonly clock: Clock;
  readonly recognize: Recognize;
  readonly normalize: Normalizer;

  constructor(options: unknown, api = "circuitBreaker") {
    if (options === undefined) typeError(api, "options", "an object", options);
    const o = optionsObject<CircuitBreakerOptions>(api, options);
    const trip = o.trip;
    const halfOpenAfter = o.halfOpenAfter;
    const on = o.on;
    const maxProbes = o.halfOpenMaxProbes;
    const successes = o.halfOpenSuccesses;
    const probeTimeout = o.probeTimeout;
    const clock = o.clock;
    const normalize = o.normalize;
    if (
      typeof trip !== "object" || trip === null ||
      typeof (trip as TripStrategy).create !== "function"
    ) {
      typeError(api, "trip", "a trip strategy such as consecutiveFailures(5)", trip);
    }
    this.trip = trip;
    if (typeof halfOpenAfter === "function") {
      this.halfOpenAfter = halfOpenAfter;
    } else if (
      typeof halfOpenAfter === "object" && halfOpenAfter !== null &&
      typeof (halfOpenAfter as HalfOpenBackoff).delay === "function"
    ) {
      this.halfOpenAfter = halfOpenAfter;
    } else if (typeof halfOpenAfter === "number" || halfOpenAfter === undefined) {
      this.halfOpenAfter = Math.min(duration(api, "halfOpenAfter", halfOpenAfter), MAX_DELAY_MS);
    } else {
      typeError(
        api,
        "halfOpenAfter",
        "a finite non-negative number of milliseconds, a function or a backoff",
        halfOpenAfter,
      );
    }
    if (on === undefined) {
      this.kinds = DEFAULT_KINDS;
      this.predicate = undefined;
    } else if (typeof on === "function") {
      this.kinds = undefined;
      this.predicate = on;
    } else if (Array.isArray(on)) {
      const kinds = new Set<string>();
      for (const kind of on as unknown[]) {
        if (typeof kind !== "string") typeError(api, "on", "a list of connection error kinds", on);
        if (!CONNECTION_ERROR_KINDS.includes(kind as ConnectionErrorKind)) {
          rangeError(api, "on", "a list of connection error kinds", on);
        }
        kinds.add(kind);
      }
      if (kinds.size === 0) rangeError(api, "on", "a non-empty list of connection error kinds", on);
      this.kinds = kinds;
      this.predicate = undefined;
    } else {
      typeError(api, "on", "a list of connection error kinds or a function", on);
    }
    this.maxProbes = maxProbes === undefined
      ? 1
      : positiveInteger(api, "halfOpenMaxProbes", maxProbes);
    this.successes = successes === undefined
      ? 1
      : positiveInteger(api, "halfOpenSuccesses", successes);
    this.probeTimeout = probeTimeout === undefined
      ? 60_000
      : duration(api, "probeTimeout", probeTimeout, true);
    this.clock = checkClock(api, clock);
    this.recognize = normalizer(api, normalize);
    this.normalize = normalize ?? normalizeError;
    Object.freeze(this);
  }
}

/** Internal: how a keyed breaker makes the breakers it owns. */
class Child {
  readonly settings: BreakerSettings;
  readonly parent: BreakerParent;
  readonly key: string;
  constructor(settings: BreakerSettings, parent: BreakerParent, key: string) {
    this.settings = settings;
    this.parent = parent;
    this.key = key;
  }
}

/** Internal: a breaker owned by a keyed breaker, sharing its settings. */
export function childBreaker(
  settings: BreakerSettings,
  parent: BreakerParent,
  key: string,
): CircuitBreaker {
  return new CircuitBreaker(new Child(settings, parent, key) as unknown as CircuitBreakerOptions);
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const ISOLATED = 3;
type S = 0 | 1 | 2 | 3;
const NAMES: readonly CircuitState[] = ["closed", "open", "half_open", "isolated"];

/** The state of one spell of trouble: from the first opening (or isolation) until it closes. */
class Episode {
  /** When it last opened, on the clock; -1 when it has not (isolated from closed). */
  openedAt = -1;
  /** The wait of the current opening. */
  delay = 0;
  /** Openings since it was last closed. */
  openings = 0;
  /** Probes holding a slot. */
  probes = 0;
  /** Successful probes in this half-open state. */
  probeSuccesses = 0;
  /** When the latest probe started. */
  lastProbeAt = 0;
  /** Isolation handles not yet disposed. */
  isolations = 0;
}

const IDLE: Readonly<Episode> = Object.freeze(new Episode());

/** Listeners, made on the first subscription so that a breaker without any stays small. */
class BreakerEvents {
  readonly stateChange: Emitter<StateChangeEvent> = new Emitter();
  readonly break: Emitter<BreakEvent> = new Emitter();
  readonly halfOpen: Emitter<HalfOpenEvent> = new Emitter();
  readonly reset: Emitter<ResetEvent> = new Emitter();
  readonly rejected: Emitter<RejectedEvent> = new Emitter();
}

let succeeded: (breaker: CircuitBreaker, epoch: number) => void;
let failed: (breaker: CircuitBreaker, error: unknown, epoch: number) => unknown;

/** A closed breaker's call in a pipeline: counts how the layers inside it ended. */
class BreakerRun implements Sink {
  readonly #breaker: CircuitBreaker;
  readonly #epoch: number;
  readonly #sink: Sink;

  constructor(breaker: CircuitBreaker, epoch: number, sink: Sink) {
    this.#breaker = breaker;
    this.#epoch = epoch;
    this.#sink = sink;
  }

  ok(value: unknown): void {
    try {
      succeeded(this.#breaker, this.#epoch);
    } catch (error) {
      this.#sink.fail(error); // a custom TripCounter that throws: as `execute` would reject
      return;
    }
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    let out: unknown;
    try {
      out = failed(this.#breaker, error, this.#epoch);
    } catch (thrown) {
      out = thrown; // a throwing `on` predicate: as `execute` would reject
    }
    this.#sink.fail(out);
  }
}

/**
 * A circuit breaker. Create it with {@link circuitBreaker}; it is a
 * {@link Policy}, so it goes into a `pipeline()`.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 10_000 });
 * const rows = await breaker.execute(async () => [1, 2, 3]);
 * console.log(breaker.state); // "closed"
 * ```
 */
export class CircuitBreaker implements Policy {
  readonly #settings: BreakerSettings;
  readonly #counter: TripCounter;
  #state: S = CLOSED;
  /** Bumped by every change of state: a call started in another state is not recorded. */
  #epoch = 0;
  /** Everything about the current trouble; none while closed, so a closed breaker stays small. */
  #ep: Episode | undefined = undefined;
  #events: BreakerEvents | undefined = undefined;
  readonly #parent: BreakerParent | undefined;
  readonly #key: string | undefined;

  /** Prefer {@link circuitBreaker}, which is the same. */
  constructor(options: CircuitBreakerOptions) {
    if (options instanceof Child) {
      this.#settings = options.settings;
      this.#parent = options.parent;
      this.#key = options.key;
    } else {
      this.#settings = new BreakerSettings(options);
    }
    this.#counter = this.#settings.trip.create(this.#settings.clock);
  }

  /** The state now (an `open` breaker whose wait is over reads `half_open`). */
  get state(): CircuitState {
    if (this.#state === OPEN || this.#state === HALF_OPEN) this.#tick(this.#settings.clock.now());
    return NAMES[this.#state]!;
  }

  /** Listens to every change of state. */
  get onStateChange(): Event<StateChangeEvent> {
    return this.#listeners().stateChange.subscribe;
  }

  /** Listens to the breaker opening or being isolated. */
  get onBreak(): Event<BreakEvent> {
    return this.#listeners().break.subscribe;
  }

  /** Listens to the breaker half-opening. */
  get onHalfOpen(): Event<HalfOpenEvent> {
    return this.#listeners().halfOpen.subscribe;
  }

  /** Listens to the breaker closing. */
  get onReset(): Event<ResetEvent> {
    return this.#listeners().reset.subscribe;
  }

  /** Listens to calls refused without running. */
  get onRejected(): Event<RejectedEvent> {
    return this.#listeners().rejected.subscribe;
  }

  #listeners(): BreakerEvents {
    return this.#events ??= new BreakerEvents();
  }

  /**
   * Runs `fn` unless the breaker refuses it, and counts how it ended. Refused
   * calls reject with {@link BrokenCircuitError}; an already-aborted `signal`
   * rejects with a `cancelled` {@link ConnectionError} before anything else.
   */
  execute<T>(
    fn: (ctx: ExecutionContext) => T | Promise<T>,
    signal?: AbortSignal,
    attempt?: number,
    parent?: ExecutionContext,
  ): Promise<T> {
    if (signal !== undefined && signal.aborted) return Promise.reject(cancelledBy(signal));
    if (this.#state === CLOSED) return this.#run(fn, signal, attempt ?? 1, parent);
    return this.#gate(fn, signal, attempt ?? 1);
  }

  // Not async: the success path costs one `then` and no async frame.
  #run<T>(
    fn: (ctx: ExecutionContext) => T | Promise<T>,
    signal: AbortSignal | undefined,
    attempt: number,
    parent?: ExecutionContext,
  ): Promise<T> {
    const epoch = this.#epoch;
    let value: T | Promise<T>;
    try {
      value = fn(parent ?? new Context(signal, attempt));
    } catch (error) {
      return Promise.reject(this.#failed(error, epoch));
    }
    if (
      value === null || (typeof value !== "object" && typeof value !== "function") ||
      typeof (value as Promise<T>).then !== "function"
    ) {
      this.#succeeded(epoch);
      return Promise.resolve(value as T);
    }
    return Promise.resolve(value).then((result) => {
      this.#succeeded(epoch);
      return result;
    }, (error: unknown) => {
      throw this.#failed(error, epoch);
    });
  }

  /** Counts a success, unless the breaker has moved on since the call started. */
  #succeeded(epoch: number): void {
    if (epoch === this.#epoch) this.#counter.success();
  }

  static {
    succeeded = (breaker, epoch) => breaker.#succeeded(epoch);
    failed = (breaker, error, epoch) => breaker.#failed(error, epoch);
    registerFused(
      CircuitBreaker,
      (breaker: CircuitBreaker, inner, index, signal, attempt, parent, sink) => {
        if (signal !== undefined && signal.aborted) {
          sink.fail(cancelledBy(signal));
          return;
        }
        if (breaker.#state !== CLOSED) {
          settleFrom(
            () => breaker.#gate(inner.operation(index + 1, signal), signal, attempt),
            sink,
          );
          return;
        }
        const ctx = parent ?? new Context(signal, attempt);
        inner.step(index + 1, ctx, signal, new BreakerRun(breaker, breaker.#epoch, sink));
      },
      (policy) => #state in policy,
    );
  }

  /** Counts a failure (when it counts, and the breaker has not moved on); returns what to throw. */
  #failed(error: unknown, epoch: number): unknown {
    const ce = this.#settings.recognize(error);
    if (epoch === this.#epoch && this.#counts(error, ce) && this.#counter.failure()) {
      this.#open(this.#settings.clock.now(), "tripped", ce ?? error);
    }
    return ce ?? error;
  }

  #gate<T>(
    fn: (ctx: ExecutionContext) => T | Promise<T>,
    signal: AbortSignal | undefined,
    attempt: number,
  ): Promise<T> {
    const now = this.#settings.clock.now();
    this.#tick(now);
    const state = this.#state;
    if (state === CLOSED) return this.#run(fn, signal, attempt);
    if (state === HALF_OPEN && this.#ep!.probes < this.#settings.maxProbes) {
      return this.#probe(fn, signal, attempt, now);
    }
    const error = refusal(
      state === OPEN ? "open" : state === HALF_OPEN ? "half_open" : "isolated",
      state === OPEN ? Math.max(0, this.#ep!.openedAt + this.#ep!.delay - now) : undefined,
      this.#key,
    );
    if (this.#events?.rejected.has) this.#events.rejected.emit({ error });
    return Promise.reject(error);
  }

  /**
   * A probe holds one slot until it settles or its caller aborts: an abort
   * frees the slot at once, so a probe whose operation ignores the signal
   * cannot keep the breaker half-open.
   */
  #probe<T>(
    fn: (ctx: ExecutionContext) => T | Promise<T>,
    signal: AbortSignal | undefined,
    attempt: number,
    now: number,
  ): Promise<T> {
    const epoch = this.#epoch;
    this.#ep!.probes++;
    this.#ep!.lastProbeAt = now;
    let held = true;
    const release = (): boolean => {
      if (!held) return false;
      held = false;
      if (epoch !== this.#epoch) return false;
      this.#ep!.probes--;
      return true;
    };
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        signal!.removeEventListener("abort", onAbort);
        release();
        reject(cancelledBy(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      let pending: Promise<T>;
      try {
        pending = Promise.resolve(fn(new Context(signal, attempt)));
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          signal?.removeEventListener("abort", onAbort);
          if (release()) this.#probeSucceeded();
          resolve(value);
        },
        (error: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          const ce = this.#settings.recognize(error);
          if (release() && this.#counts(error, ce)) {
            this.#open(this.#settings.clock.now(), "probe_failed", ce ?? error);
          }
          reject(ce ?? error);
        },
      );
    });
  }

  #probeSucceeded(): void {
    if (++this.#ep!.probeSuccesses >= this.#settings.successes) this.#close("probes_succeeded");
  }

  #counts(error: unknown, ce: AnyConnectionError | undefined): boolean {
    const s = this.#settings;
    if (s.kinds !== undefined) return ce !== undefined && s.kinds.has(ce.kind);
    try {
      return s.predicate!(error, ce ?? s.normalize(error)) === true;
    } catch {
      // A predicate that throws must not replace the caller's error: not counted.
      return false;
    }
  }

  /** The lazy, timer-free moves that time makes. */
  #tick(now: number): void {
    const s = this.#settings;
    if (
      this.#state === HALF_OPEN && this.#ep!.probes >= s.maxProbes &&
      now - this.#ep!.lastProbeAt >= s.probeTimeout
    ) {
      this.#open(now, "probe_timed_out", undefined);
    }
    if (this.#state === OPEN && now >= this.#ep!.openedAt + this.#ep!.delay) {
      this.#epoch++;
      this.#ep!.probes = 0;
      this.#ep!.probeSuccesses = 0;
      this.#state = HALF_OPEN;
      this.#changed(OPEN, HALF_OPEN);
      if (this.#events?.halfOpen.has) this.#events.halfOpen.emit({ openings: this.#ep!.openings });
    }
  }

  #open(now: number, reason: BreakEvent["reason"], error: unknown): void {
    const from = this.#state;
    this.#ep ??= new Episode();
    this.#epoch++;
    // The counts led here; the next closed period starts from nothing.
    this.#counter.reset();
    this.#ep.openings++;
    this.#ep!.delay = this.#halfOpenDelay();
    this.#ep!.openedAt = now;
    this.#ep!.probes = 0;
    this.#ep!.probeSuccesses = 0;
    this.#state = OPEN;
    this.#changed(from, OPEN);
    if (this.#events?.break.has) {
      this.#events.break.emit({ state: "open", reason, error, retryAfterMs: this.#ep!.delay });
    }
  }

  #halfOpenDelay(): number {
    const h = this.#settings.halfOpenAfter;
    if (typeof h === "number") return h;
    let d: unknown;
    try {
      d = typeof h === "function"
        ? h(this.#ep!.openings)
        : h.delay(this.#ep!.openings, this.#ep!.delay, Math.random);
    } catch {
      d = 0;
    }
    return typeof d === "number" && d > 0 ? (d < MAX_DELAY_MS ? d : MAX_DELAY_MS) : 0;
  }

  #close(reason: ResetEvent["reason"]): void {
    const from = this.#state;
    this.#epoch++;
    this.#counter.reset();
    this.#ep = undefined;
    if (from === CLOSED) return;
    this.#state = CLOSED;
    this.#changed(from, CLOSED);
    if (this.#events?.reset.has) this.#events.reset.emit({ reason });
  }

  #changed(from: S, to: S): void {
    if (this.#events?.stateChange.has) {
      this.#events.stateChange.emit({ from: NAMES[from]!, to: NAMES[to]! });
    }
    this.#parent?.changed(this.#key!, NAMES[from]!, NAMES[to]!);
  }

  /**
   * Opens the breaker by hand: every call is refused until {@link reset}, or
   * until every handle this returns has been disposed.
   *
   * @example
   * ```ts
   * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
   *
   * const breaker = circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 1_000 });
   * {
   *   using _maintenance = breaker.isolate();
   *   console.log(breaker.state); // "isolated"
   * }
   * console.log(breaker.state); // "closed"
   * ```
   */
  isolate(): Disposable & { dispose(): void } {
    const ep = this.#ep ??= new Episode();
    ep.isolations++;
    if (this.#state !== ISOLATED) {
      const from = this.#state;
      this.#epoch++;
      this.#ep!.probes = 0;
      this.#state = ISOLATED;
      this.#changed(from, ISOLATED);
      if (this.#events?.break.has) {
        this.#events.break.emit({
          state: "isolated",
          reason: "isolated",
          error: undefined,
          retryAfterMs: undefined,
        });
      }
    }
    const epoch = this.#epoch;
    let disposed = false;
    const dispose = () => {
      // A handle from before a reset() must not end a later isolation.
      if (disposed || epoch !== this.#epoch) return;
      disposed = true;
      if (--this.#ep!.isolations === 0) this.#close("reset");
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  /** Closes the breaker, whatever its state, and forgets every count. */
  reset(): void {
    this.#close("reset");
  }

  /**
   * A plain, JSON-safe snapshot of the state and counts; give it to
   * {@link restore} (in this process or another) to carry on from it.
   */
  toJSON(): CircuitBreakerSnapshot {
    if (this.#state === OPEN || this.#state === HALF_OPEN) this.#tick(this.#settings.clock.now());
    const ep = this.#ep ?? IDLE;
    return {
      version: 1,
      state: NAMES[this.#state]!,
      openedAt: ep.openedAt < 0 ? null : ep.openedAt,
      halfOpenAfterMs: ep.delay,
      openings: ep.openings,
      probeSuccesses: ep.probeSuccesses,
      trip: this.#counter.toJSON(),
    };
  }

  /**
   * Takes the state and counts of a {@link toJSON} snapshot. A snapshot of
   * the wrong shape (or from a breaker with another strategy or window) is
   * refused with a `TypeError` or `RangeError`, and nothing changes. Calls in
   * flight when it is restored are not counted. Probes in flight are not part
   * of a snapshot; an isolated snapshot stays isolated until `reset()`.
   *
   * @example
   * ```ts
   * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
   *
   * const options = { trip: consecutiveFailures(3), halfOpenAfter: 1_000 };
   * const saved = JSON.stringify(circuitBreaker(options).toJSON());
   * const breaker = circuitBreaker(options);
   * breaker.restore(JSON.parse(saved));
   * ```
   */
  restore(snapshot: CircuitBreakerSnapshot): void {
    const s = checkSnapshot(snapshot, this.#settings.successes);
    // The counter validates its part before it changes anything; nothing below throws.
    this.#counter.restore(s.trip);
    const from = this.#state;
    const to = NAMES.indexOf(s.state) as S;
    this.#epoch++;
    this.#state = to;
    this.#ep = to === CLOSED ? undefined : new Episode();
    // A closed breaker keeps no episode: the snapshot's other fields matter only when not closed.
    if (this.#ep !== undefined) this.#fill(this.#ep, s, to);
    if (from !== to) this.#changed(from, to);
  }

  #fill(ep: Episode, s: CircuitBreakerSnapshot, to: S): void {
    ep.openedAt = s.openedAt === null ? -1 : s.openedAt;
    ep.delay = s.halfOpenAfterMs;
    ep.openings = s.openings;
    ep.probeSuccesses = to === HALF_OPEN ? s.probeSuccesses : 0;
    ep.isolations = to === ISOLATED ? 1 : 0;
  }
}

function bad(field: string, rule: string, value: unknown, range = false): never {
  throw new (range ? RangeError : TypeError)(
    `${INVALIDATED} 'snapshot${field}' must be ${rule}: current value is ${show(value)}`,
  );
}

function checkSnapshot(snapshot: unknown, successes: number): CircuitBreakerSnapshot {
  if (typeof snapshot !== "object" || snapshot === null || Array.isArray(snapshot)) {
    bad("", "an object from toJSON()", snapshot);
  }
  const s = snapshot as Record<string, unknown>;
  if (s.version !== 1) bad(".version", "1", s.version, typeof s.version === "number");
  const state = s.state;
  if (typeof state !== "string") bad(".state", "a circuit state", state);
  if (!NAMES.includes(state as CircuitState)) {
    bad(".state", `one of ${NAMES.map((n) => `"${n}"`).join(", ")}`, state, true);
  }
  const openedAt = s.openedAt;
  if (openedAt !== null && typeof openedAt !== "number") {
    bad(".openedAt", "a finite number or null", openedAt);
  }
  if (typeof openedAt === "number" && (!Number.isFinite(openedAt) || openedAt < 0)) {
    bad(".openedAt", "a finite non-negative number or null", openedAt, true);
  }
  if ((state === "open" || state === "half_open") && openedAt === null) {
    bad(".openedAt", `a number when the state is "${state}"`, openedAt);
  }
  const delay = s.halfOpenAfterMs;
  if (typeof delay !== "number") bad(".halfOpenAfterMs", "a number of milliseconds", delay);
  if (!(delay >= 0 && delay <= MAX_DELAY_MS)) {
    bad(".halfOpenAfterMs", `a number of milliseconds from 0 to ${MAX_DELAY_MS}`, delay, true);
  }
  for (const field of ["openings", "probeSuccesses"] as const) {
    const v = s[field];
    if (typeof v !== "number") bad(`.${field}`, "a non-negative integer", v);
    if (!Number.isSafeInteger(v) || v < 0) bad(`.${field}`, "a non-negative integer", v, true);
  }
  if ((s.probeSuccesses as number) >= successes) {
    bad(".probeSuccesses", `less than 'halfOpenSuccesses' (${successes})`, s.probeSuccesses, true);
  }
  if (typeof s.trip !== "object" || s.trip === null || Array.isArray(s.trip)) {
    bad(".trip", "an object", s.trip);
  }
  return s as unknown as CircuitBreakerSnapshot;
}

/**
 * A circuit breaker: after the failures its `trip` strategy describes, it
 * opens and refuses calls with {@link BrokenCircuitError} (without running
 * them) for `halfOpenAfter` ms; then up to `halfOpenMaxProbes` calls at a
 * time go through as probes: `halfOpenSuccesses` successes close it, one
 * counted failure opens it again (for the next, possibly longer, wait).
 *
 * Counted are the errors `on` selects (by default every connection failure
 * but `cancelled`; unrecognized errors are not connection failures). Any other
 * error passes through as thrown and counts neither as a failure nor as a
 * success: it changes nothing.
 *
 * @example
 * ```ts
 * import {
 *   circuitBreaker,
 *   exponentialBackoff,
 *   failureRate,
 *   pipeline,
 *   retry,
 *   timeout,
 * } from "@faultline/faultline";
 *
 * const breaker = circuitBreaker({
 *   trip: failureRate({ threshold: 0.5, minimumCalls: 20, windowMs: 30_000 }),
 *   halfOpenAfter: exponentialBackoff({ initial: 1_000, max: 60_000, jitter: "none" }),
 * });
 * breaker.onStateChange(({ from, to }) => console.log(`breaker ${from} -> ${to}`));
 * const policy = pipeline(retry(), breaker, timeout(2_000));
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  return new CircuitBreaker(options);
}
