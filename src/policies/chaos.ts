/**
 * {@link chaos}: breaks things on purpose, so that the policies around it
 * and the caller's own error handling can be seen to work. At a given rate
 * it fails an attempt with a real {@link ConnectionError}, whose `cause` is
 * shaped as the current runtime would throw it, or delays the attempt.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { AnyConnectionError } from "../errors/connection_error.ts";
import { detectRuntime } from "../runtime.ts";
import { CHAOS_FAULTS, type ChaosFault, type FaultTarget, injectedError } from "./_fault_shapes.ts";
import type { AbortSource } from "./_engine.ts";
import { type Call, executeSolo, signalOf, type Sink, STRATEGY, Strategy } from "./_engine.ts";
import { Emitter, type Event } from "./events.ts";
import { cancelledBy } from "./_outgoing.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import {
  clock as checkClock,
  duration,
  fn as checkFunction,
  nonNegativeInteger,
  optionsObject,
  rangeError,
  ratio,
  typeError,
} from "./_validate.ts";

export type { ChaosFault } from "./_fault_shapes.ts";

/** Options for {@link chaos}. */
export interface ChaosOptions {
  /** The share of attempts to break, from 0 to 1. Required. */
  rate: number;
  /** The kind of {@link ConnectionError} to fail the attempt with. */
  fault?: ChaosFault;
  /**
   * How long to delay the attempt, in ms, before it runs (or, with `fault`,
   * before it fails). Default 0.
   */
  latencyMs?: number;
  /**
   * Whether to break anything: a boolean, or a function read on every
   * attempt (chaos acts when it returns `true`), to switch chaos on and off
   * at run time. Default `true`.
   */
  enabled?: boolean | (() => boolean);
  /** Random numbers in `[0, 1)`: an attempt is broken when one is below `rate`. Default `Math.random`. */
  random?: () => number;
  /** The clock the latency waits on. Default `realClock`. */
  clock?: Clock;
  /** The host named in the injected error (as the runtime would name it). */
  host?: string;
  /** The port named in the injected error. */
  port?: number;
}

/**
 * What {@link ChaosPolicy.onFaultInjected} listeners receive.
 *
 * @example
 * ```ts
 * import { chaos, type ChaosFaultEvent } from "@faultline/faultline";
 *
 * const policy = chaos({ rate: 0.1, fault: "reset" });
 * policy.onFaultInjected((e: ChaosFaultEvent) => console.log(`broke attempt ${e.attempt}: ${e.error.kind}`));
 * ```
 */
export interface ChaosFaultEvent {
  /** The attempt that was failed (from a retry outside), counting from 1. */
  readonly attempt: number;
  /** The error the attempt failed with. */
  readonly error: AnyConnectionError;
}

/**
 * What {@link ChaosPolicy.onLatencyInjected} listeners receive.
 *
 * @example
 * ```ts
 * import { chaos, type ChaosLatencyEvent } from "@faultline/faultline";
 *
 * const policy = chaos({ rate: 0.1, latencyMs: 500 });
 * policy.onLatencyInjected((e: ChaosLatencyEvent) => console.log(`slowed attempt ${e.attempt}`));
 * ```
 */
export interface ChaosLatencyEvent {
  /** The attempt that was delayed, counting from 1. */
  readonly attempt: number;
  /** How long it was delayed, in ms. */
  readonly latencyMs: number;
}

/** The semantics of {@link chaos}, written once. */
class ChaosCore extends Strategy {
  readonly rate: number;
  readonly fault: ChaosFault | undefined;
  readonly latencyMs: number;
  readonly enabled: boolean | (() => boolean);
  readonly random: () => number;
  readonly clock: Clock;
  readonly target: FaultTarget;
  readonly faulted: Emitter<ChaosFaultEvent> = new Emitter<ChaosFaultEvent>();
  readonly delayed: Emitter<ChaosLatencyEvent> = new Emitter<ChaosLatencyEvent>();

  constructor(
    rate: number,
    fault: ChaosFault | undefined,
    latencyMs: number,
    enabled: boolean | (() => boolean),
    random: () => number,
    clock: Clock,
    target: FaultTarget,
  ) {
    super(ChaosPolicy.prototype, "chaos");
    this.rate = rate;
    this.fault = fault;
    this.latencyMs = latencyMs;
    this.enabled = enabled;
    this.random = random;
    this.clock = clock;
    this.target = target;
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    let inject: boolean;
    try {
      const enabled = this.enabled;
      inject = (typeof enabled === "function" ? enabled() === true : enabled) &&
        this.random() < this.rate;
    } catch (thrown) {
      sink.fail(thrown); // an `enabled` or `random` of the caller's that throws fails the call
      return;
    }
    if (!inject) {
      call.next(index + 1, ctx, sink);
      return;
    }
    if (this.latencyMs > 0) {
      new Delay(this, call, index, ctx, sink).start();
      return;
    }
    this.fail(ctx.attempt, sink);
  }

  /** Fails the attempt with the fault. */
  fail(attempt: number, sink: Sink): void {
    let error: AnyConnectionError;
    try {
      error = injectedError(this.fault!, detectRuntime(), this.target);
    } catch (thrown) {
      sink.fail(thrown);
      return;
    }
    if (this.faulted.has) this.faulted.emit({ attempt, error });
    sink.fail(error);
  }
}

/**
 * An attempt held back by the injected latency: a clock timer, and (as
 * `handleEvent`) the listener on the signal, both gone however it ends.
 */
class Delay {
  readonly #core: ChaosCore;
  readonly #call: Call;
  readonly #index: number;
  readonly #ctx: ExecutionContext;
  readonly #sink: Sink;
  readonly #signal: AbortSource | undefined;
  #timer: unknown = undefined;

  constructor(core: ChaosCore, call: Call, index: number, ctx: ExecutionContext, sink: Sink) {
    this.#core = core;
    this.#call = call;
    this.#index = index;
    this.#ctx = ctx;
    this.#sink = sink;
    this.#signal = signalOf(ctx);
  }

  start(): void {
    const signal = this.#signal;
    if (signal?.aborted) {
      this.#sink.fail(cancelledBy(signal));
      return;
    }
    try {
      this.#timer = this.#core.clock.setTimeout(() => this.#due(), this.#core.latencyMs);
    } catch (thrown) {
      this.#sink.fail(thrown); // a clock of the caller's that throws
      return;
    }
    signal?.addEventListener("abort", this);
    const core = this.#core;
    if (core.delayed.has) {
      core.delayed.emit({ attempt: this.#ctx.attempt, latencyMs: core.latencyMs });
    }
  }

  #due(): void {
    this.#signal?.removeEventListener("abort", this);
    const core = this.#core;
    if (core.fault !== undefined) core.fail(this.#ctx.attempt, this.#sink);
    else this.#call.next(this.#index + 1, this.#ctx, this.#sink);
  }

  /** The signal aborted during the delay. */
  handleEvent(): void {
    const signal = this.#signal!;
    signal.removeEventListener("abort", this);
    try {
      this.#core.clock.clearTimeout(this.#timer);
    } catch {
      // A clock of the caller's that throws: the call still ends here.
    }
    this.#sink.fail(cancelledBy(signal));
  }
}

/**
 * The policy {@link chaos} returns.
 *
 * @example
 * ```ts
 * import { chaos, type ChaosPolicy } from "@faultline/faultline";
 *
 * const policy: ChaosPolicy = chaos({ rate: 0, fault: "refused" });
 * console.log(await policy.execute(() => "untouched")); // "untouched"
 * ```
 */
export class ChaosPolicy implements Policy {
  /** The share of attempts it breaks. */
  readonly rate: number;
  /** The kind it fails attempts with, if any. */
  readonly fault: ChaosFault | undefined;
  /** How long it delays an attempt it breaks, in ms. */
  readonly latencyMs: number;
  /** @ignore */
  readonly [STRATEGY]: ChaosCore;
  /** Subscribes to injected faults: a listener is told of each attempt failed on purpose. */
  readonly onFaultInjected: Event<ChaosFaultEvent>;
  /** Subscribes to injected latency: a listener is told of each attempt delayed on purpose. */
  readonly onLatencyInjected: Event<ChaosLatencyEvent>;

  /** Use {@link chaos}. */
  constructor(options: ChaosOptions) {
    const api = "chaos";
    const opts = optionsObject<ChaosOptions>(api, options);
    // Each option is read exactly once.
    this.rate = ratio(api, "rate", opts.rate);
    const fault = opts.fault;
    if (fault !== undefined && !CHAOS_FAULTS.includes(fault)) {
      typeError(api, "fault", `one of ${CHAOS_FAULTS.join(", ")}`, fault);
    }
    this.fault = fault;
    const latencyMs = opts.latencyMs;
    this.latencyMs = latencyMs === undefined ? 0 : duration(api, "latencyMs", latencyMs);
    if (fault === undefined && this.latencyMs === 0) {
      typeError(api, "fault", "a kind to inject when 'latencyMs' is not above 0", fault);
    }
    const enabled = opts.enabled;
    if (enabled !== undefined && typeof enabled !== "boolean" && typeof enabled !== "function") {
      typeError(api, "enabled", "a boolean or a function returning one", enabled);
    }
    const random = opts.random;
    const clock = checkClock(api, opts.clock);
    const host = opts.host;
    if (host !== undefined && typeof host !== "string") typeError(api, "host", "a string", host);
    const port = opts.port;
    if (port !== undefined) {
      nonNegativeInteger(api, "port", port);
      if (port > 65535) rangeError(api, "port", "an integer from 0 to 65535", port);
    }
    const core = new ChaosCore(
      this.rate,
      fault,
      this.latencyMs,
      enabled ?? true,
      random === undefined ? Math.random : checkFunction<() => number>(api, "random", random),
      clock,
      { host, port },
    );
    this[STRATEGY] = core;
    this.onFaultInjected = core.faulted.subscribe;
    this.onLatencyInjected = core.delayed.subscribe;
  }

  /**
   * Runs `fn`, unless this attempt is one to break: then it waits
   * `latencyMs` first (rejecting at once with a `"cancelled"`
   * {@link ConnectionError} if `signal` aborts meanwhile), and fails with a
   * `fault` {@link ConnectionError} instead of calling `fn` when `fault` is set.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return executeSolo(this, fn, signal);
  }
}

/**
 * A policy that breaks things on purpose. For each attempt, when `enabled`
 * and a draw of `random` falls below `rate`, it waits `latencyMs` (on
 * `clock`, honouring the signal), then fails the attempt with a
 * {@link ConnectionError} of kind `fault` without calling the operation, or,
 * with no `fault`, runs the operation late. Other attempts run untouched.
 *
 * The injected error is what production would show: its `cause` is the
 * error the current runtime throws for that failure (Node's `Error` with
 * `code`, `errno`, `syscall` and the address; an error named as Deno's
 * `Deno.errors.*` class; Bun's own wording), shaped as recorded from each
 * runtime, and it is normalized as a real one would be. A kind a runtime
 * never reports (workerd says only `connect_failed`) takes Node's shape.
 *
 * Put it innermost in a {@link pipeline}, where the operation is, to test
 * the policies outside it. `enabled` may be a function, read on every
 * attempt, to switch chaos at run time (from an environment variable in
 * staging, a feature flag). At least one of `fault` and `latencyMs` is
 * required; `rate` is from 0 to 1.
 *
 * @example Chaos innermost: the retry around it is seen to recover
 * ```ts
 * import { chaos, constantBackoff, pipeline, retry } from "@faultline/faultline";
 *
 * let draws = 0;
 * const policy = pipeline(
 *   retry({ maxAttempts: 3, backoff: constantBackoff(0) }),
 *   // Breaks the first attempt of every call: `random` stands in for Math.random.
 *   chaos({ rate: 0.5, fault: "reset", random: () => (draws++ % 2 === 0 ? 0 : 0.9) }),
 * );
 * const answer = await policy.execute(({ attempt }) => `answered on attempt ${attempt}`);
 * console.log(answer); // "answered on attempt 2"
 * ```
 *
 * @example Switched at run time: on in staging when an environment variable says so
 * ```ts
 * import { chaos, pipeline, retry, timeout } from "@faultline/faultline";
 *
 * const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
 * const policy = pipeline(
 *   retry({ maxAttempts: 3 }),
 *   timeout(1000),
 *   // Read on every attempt: flipping the variable (or a feature flag) needs no restart.
 *   chaos({ rate: 0.05, fault: "reset", enabled: () => env?.FAULTLINE_CHAOS === "on" }),
 * );
 * console.log(await policy.execute(() => "ok")); // "ok" unless FAULTLINE_CHAOS=on broke it 3 times
 * ```
 */
export function chaos(options: ChaosOptions): ChaosPolicy {
  return new ChaosPolicy(options);
}
