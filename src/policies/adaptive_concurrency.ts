/**
 * {@link adaptiveConcurrency}: a bulkhead whose limit is learnt from the
 * latency of the calls it lets through, as TCP learns a congestion window:
 * it falls when the dependency slows down under load and grows back when it
 * recovers, so a client never needs to guess the right limit.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Recognize } from "../errors/normalize_error.ts";
import type { AbortSource } from "./_engine.ts";
import { type Call, executeSolo, signalOf, type Sink, STRATEGY, Strategy } from "./_engine.ts";
import { Waiters } from "./_waiters.ts";
import { BulkheadRejectedError, type BulkheadRejectedEvent } from "./bulkhead.ts";
import { Emitter, type Event } from "./events.ts";
import { cancelledBy, outgoing } from "./_outgoing.ts";
import { Aimd } from "./limit/_aimd.ts";
import { Gradient2 } from "./limit/_gradient2.ts";
import { SampleWindow } from "./limit/_sample_window.ts";
import type { LimitAlgorithm } from "./limit/_types.ts";
import { Vegas } from "./limit/_vegas.ts";
import { ThrottledError } from "./throttled_error.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import type {
  AdaptiveAlgorithm,
  AdaptiveConcurrencyOptions,
  LimitChangeEvent,
} from "./adaptive_concurrency_options.ts";
import {
  clock as checkClock,
  fn as checkFn,
  nonNegativeInteger,
  normalizer,
  optionsObject,
  positiveInteger,
  rangeError,
  typeError,
} from "./_validate.ts";

export type {
  AdaptiveAlgorithm,
  AdaptiveConcurrencyOptions,
  LimitChangeEvent,
} from "./adaptive_concurrency_options.ts";

const ALGORITHMS: Record<
  AdaptiveAlgorithm,
  new (i: number, min: number, max: number) => LimitAlgorithm
> = {
  gradient2: Gradient2,
  vegas: Vegas,
  aimd: Aimd,
};

/** How a call ended, for the algorithm. */
const IGNORED = 0;
const MEASURED = 1;
const DROPPED = 2;

/** The semantics of {@link adaptiveConcurrency}, written once. */
class AdaptiveCore extends Strategy {
  readonly algorithm: LimitAlgorithm;
  readonly window: SampleWindow | undefined;
  limit: number;
  readonly queue: number;
  readonly clock: Clock;
  readonly recognize: Recognize;
  inFlight = 0;
  readonly waiters: Waiters = new Waiters();
  readonly changed: Emitter<LimitChangeEvent> = new Emitter<LimitChangeEvent>();
  readonly rejected: Emitter<BulkheadRejectedEvent> = new Emitter<BulkheadRejectedEvent>();

  constructor(
    algorithm: LimitAlgorithm,
    queue: number,
    clock: Clock,
    recognize: Recognize,
  ) {
    super(AdaptiveConcurrencyPolicy.prototype, "adaptiveConcurrency");
    this.algorithm = algorithm;
    this.window = algorithm.windowed ? new SampleWindow() : undefined;
    this.limit = Math.floor(algorithm.estimate);
    this.queue = queue;
    this.clock = clock;
    this.recognize = recognize;
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    if (this.inFlight < this.limit) {
      this.inFlight++;
      this.start(call, index, ctx, sink);
    } else if (this.waiters.size < this.queue) {
      this.waiters.add(call, index, ctx, sink);
    } else {
      const error = new BulkheadRejectedError(this.limit, this.queue);
      if (this.rejected.has) this.rejected.emit({ limit: this.limit, queue: this.queue, error });
      sink.fail(error);
    }
  }

  /** Runs a call whose slot is already counted in `inFlight`. */
  start(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    let now: number;
    try {
      now = this.clock.now();
    } catch (error) {
      this.release(0, 0, 0, IGNORED);
      sink.fail(error);
      return;
    }
    call.next(index + 1, ctx, new LimitedCall(this, sink, now, this.inFlight, signalOf(ctx)));
  }

  /**
   * Frees a slot, teaches the algorithm (for a call that ended at `now`, or
   * at the end of its window), and lets waiters into the slots there now are.
   */
  release(now: number, rtt: number, inflight: number, how: number): void {
    this.inFlight--;
    const window = this.window;
    if (
      how !== IGNORED && (window === undefined || window.add(now, rtt, inflight, how === DROPPED))
    ) {
      const previous = this.limit;
      const estimate = window === undefined
        ? this.algorithm.sample(rtt, inflight, how === DROPPED)
        : this.algorithm.sample(window.rtt, window.inflight, window.dropped);
      const limit = Math.floor(estimate);
      if (limit !== previous) {
        this.limit = limit;
        if (this.changed.has) {
          this.changed.emit({ limit, previous, rtt, inFlight: this.inFlight });
        }
      }
    }
    while (this.waiters.size > 0 && this.inFlight < this.limit) {
      const next = this.waiters.shift()!;
      this.inFlight++;
      // Started after the caller whose slot it takes has heard its outcome.
      queueMicrotask(() => {
        if (next.signal?.aborted) {
          this.release(0, 0, 0, IGNORED);
          next.sink.fail(cancelledBy(next.signal));
          return;
        }
        this.start(next.call, next.index, next.ctx, next.sink);
      });
    }
  }

  /** True when `error` says the call was dropped: it timed out or was turned away for overload. */
  dropped(error: unknown): boolean {
    if (error instanceof BulkheadRejectedError) return true;
    if (error instanceof ThrottledError) return true;
    return this.recognize(error)?.kind === "timeout";
  }
}

/** A call holding a slot: measures it, and frees the slot however it ends. */
class LimitedCall implements Sink {
  readonly #core: AdaptiveCore;
  readonly #sink: Sink;
  readonly #start: number;
  readonly #inflight: number;
  readonly #signal: AbortSource | undefined;

  constructor(
    core: AdaptiveCore,
    sink: Sink,
    start: number,
    inflight: number,
    signal: AbortSource | undefined,
  ) {
    this.#core = core;
    this.#sink = sink;
    this.#start = start;
    this.#inflight = inflight;
    this.#signal = signal;
  }

  #end(how: number): void {
    const core = this.#core;
    let now = 0;
    if (how !== IGNORED) {
      try {
        now = core.clock.now();
      } catch {
        how = IGNORED; // a clock that throws measures nothing
      }
    }
    core.release(now, now - this.#start, this.#inflight, how);
  }

  ok(value: unknown): void {
    this.#end(MEASURED);
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    const core = this.#core;
    let how = IGNORED;
    try {
      // The caller's own cancel says nothing about the dependency.
      if (!this.#signal?.aborted && core.dropped(error)) how = DROPPED;
    } catch {
      how = IGNORED;
    }
    this.#end(how);
    this.#sink.fail(outgoing(error, core.recognize));
  }
}

/**
 * The policy {@link adaptiveConcurrency} returns.
 *
 * @example
 * ```ts
 * import { adaptiveConcurrency, type AdaptiveConcurrencyPolicy } from "@faultline/faultline";
 *
 * const policy: AdaptiveConcurrencyPolicy = adaptiveConcurrency({ initialLimit: 10 });
 * await policy.execute(async () => "ok");
 * console.log(policy.limit, policy.inFlight); // 10 0
 * ```
 */
export class AdaptiveConcurrencyPolicy implements Policy {
  /** The algorithm that moves the limit. */
  readonly algorithm: AdaptiveAlgorithm;
  /** The least the limit may fall to. */
  readonly minLimit: number;
  /** The most the limit may grow to. */
  readonly maxLimit: number;
  /** How many calls may wait for a slot. */
  readonly queue: number;
  /** @ignore */
  readonly [STRATEGY]: AdaptiveCore;
  /** Each time the limit changes. */
  readonly onLimitChange: Event<LimitChangeEvent>;
  /** Each call turned away because every slot and queue place was taken. */
  readonly onRejected: Event<BulkheadRejectedEvent>;

  /** Use {@link adaptiveConcurrency}. */
  constructor(options?: AdaptiveConcurrencyOptions) {
    const api = "adaptiveConcurrency";
    const o = optionsObject<AdaptiveConcurrencyOptions>(api, options);
    const algorithm = o.algorithm;
    const initialLimit = o.initialLimit;
    const minLimit = o.minLimit;
    const maxLimit = o.maxLimit;
    const queue = o.queue;
    const onLimitChange = o.onLimitChange;
    const onRejected = o.onRejected;
    const normalize = o.normalize;
    const clock = o.clock;

    const rule = 'one of "gradient2", "vegas", "aimd"';
    if (algorithm !== undefined && typeof algorithm !== "string") {
      typeError(api, "algorithm", rule, algorithm);
    }
    if (algorithm !== undefined && !Object.hasOwn(ALGORITHMS, algorithm)) {
      rangeError(api, "algorithm", rule, algorithm);
    }
    this.algorithm = algorithm ?? "gradient2";
    this.minLimit = minLimit === undefined ? 1 : positiveInteger(api, "minLimit", minLimit);
    this.maxLimit = maxLimit === undefined ? 200 : positiveInteger(api, "maxLimit", maxLimit);
    if (this.maxLimit < this.minLimit) {
      rangeError(api, "maxLimit", `at least minLimit (${this.minLimit})`, maxLimit);
    }
    let initial: number;
    if (initialLimit === undefined) {
      initial = Math.min(Math.max(20, this.minLimit), this.maxLimit);
    } else {
      initial = positiveInteger(api, "initialLimit", initialLimit);
      if (initial < this.minLimit || initial > this.maxLimit) {
        rangeError(
          api,
          "initialLimit",
          `from minLimit to maxLimit (${this.minLimit} to ${this.maxLimit})`,
          initialLimit,
        );
      }
    }
    this.queue = queue === undefined ? 0 : nonNegativeInteger(api, "queue", queue);
    const core = new AdaptiveCore(
      new ALGORITHMS[this.algorithm](initial, this.minLimit, this.maxLimit),
      this.queue,
      checkClock(api, clock),
      normalizer(api, normalize),
    );
    if (onLimitChange !== undefined) {
      core.changed.subscribe(
        checkFn<(e: LimitChangeEvent) => void>(api, "onLimitChange", onLimitChange),
      );
    }
    if (onRejected !== undefined) {
      core.rejected.subscribe(
        checkFn<(e: BulkheadRejectedEvent) => void>(api, "onRejected", onRejected),
      );
    }
    this[STRATEGY] = core;
    this.onLimitChange = core.changed.subscribe;
    this.onRejected = core.rejected.subscribe;
  }

  /** How many calls may run at once now. */
  get limit(): number {
    return this[STRATEGY].limit;
  }

  /** Calls running now. */
  get inFlight(): number {
    return this[STRATEGY].inFlight;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this[STRATEGY].waiters.size;
  }

  /**
   * Runs `fn` when a slot is free: at once, after waiting in the queue, or
   * not at all (a {@link BulkheadRejectedError}) when the queue is full too.
   * An abort of `signal` while waiting leaves the queue at once and rejects
   * with a `"cancelled"` {@link ConnectionError}.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return executeSolo(this, fn, signal);
  }
}

/**
 * A bulkhead whose limit adapts to the dependency (Netflix's
 * concurrency-limits, for JavaScript): at most `limit` calls at once, `queue`
 * more waiting, and a {@link BulkheadRejectedError} beyond (which
 * {@link fallback} handles by default). Each call that succeeds teaches the
 * `algorithm` its latency and the load it ran under; a call that times out
 * (a `"timeout"` {@link ConnectionError}) or is turned away for overload by a
 * layer inside (a `BulkheadRejectedError` or `ThrottledError`) is a drop;
 * other failures and the caller's cancel teach nothing. `"gradient2"` and
 * `"vegas"` learn once per window of calls (twice the least latency, from
 * 100 ms to 1 s, at least 10 calls) from its 90th-percentile latency, as
 * Netflix's `WindowedLimit` does; `"aimd"` learns from every call. While
 * fewer than half the slots are in use, the limit holds: there is nothing
 * to learn about load then. The limit never leaves `[minLimit, maxLimit]`;
 * it sets no timer and reads the clock twice a call.
 *
 * Put it outermost, so that a call it turns away costs nothing else; one
 * instance per dependency, shared by every caller of it.
 *
 * @example
 * ```ts
 * import { adaptiveConcurrency, fallback, pipeline, timeout } from "@faultline/faultline";
 *
 * const limiter = adaptiveConcurrency({ algorithm: "gradient2", minLimit: 2, maxLimit: 100 });
 * limiter.onLimitChange(({ previous, limit }) => console.log(`limit ${previous} → ${limit}`));
 * const policy = pipeline(fallback("busy, try later"), limiter, timeout(1_000));
 * const answers = await Promise.all(
 *   Array.from({ length: 30 }, () => policy.execute(() => new Promise((r) => setTimeout(() => r("ok"), 5)))),
 * );
 * console.log(answers.filter((a) => a === "busy, try later").length); // 10: 20 at a time at first
 * ```
 */
export function adaptiveConcurrency(
  options?: AdaptiveConcurrencyOptions,
): AdaptiveConcurrencyPolicy {
  return new AdaptiveConcurrencyPolicy(options);
}
