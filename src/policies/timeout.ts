/**
 * {@link timeout}: gives up on an operation after a fixed time, aborts the
 * signal it was given, and rejects with a {@link ConnectionError} of kind
 * `"timeout"` (which a {@link retry} outside it retries by default).
 *
 * All calls of one timeout policy share one clock timer (see
 * `deadline_queue.ts`), and a call allocates an AbortController only if its
 * operation reads `ctx.signal`.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { CONNECTION_OPERATIONS, type ConnectionOperation } from "../errors/kinds.ts";
import type { Judge, Normalizer } from "../errors/normalize_error.ts";
import { detectRuntime } from "../runtime.ts";
import { type DeadlineEntry, DeadlineQueue, UNSTAMPED } from "./_deadline_queue.ts";
import { Emitter, type Event } from "./events.ts";
import type { AbortListener, AbortSource, Call, Sink } from "./_engine.ts";
import {
  CONTROLLER,
  executeSolo,
  LISTENERS,
  signalOf,
  STRATEGY,
  Strategy,
  Watched,
} from "./_engine.ts";
import { cancelledBy, onward } from "./_outgoing.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import {
  clock as checkClock,
  fn as checkFunction,
  judge,
  optionsObject,
  rangeError,
  typeError,
} from "./_validate.ts";

/** Options for {@link timeout}. */
export interface TimeoutOptions {
  /** The clock that measures the time; {@link realClock} by default. */
  clock?: Clock;
  /** Stored as `operation` on the timeout errors, e.g. `"connect"` or `"fetch"`. */
  operation?: ConnectionOperation;
  /** A listener subscribed to {@link TimeoutPolicy.onTimeout} at construction. */
  onTimeout?: (event: TimeoutEvent) => void;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer} that knows your clients. Default
   * {@link normalizeError}.
   */
  normalize?: Normalizer;
}

/**
 * What {@link TimeoutPolicy.onTimeout} listeners receive.
 *
 * @example
 * ```ts
 * import { timeout, type TimeoutEvent } from "@faultline/faultline";
 *
 * const policy = timeout(1000);
 * policy.onTimeout((e: TimeoutEvent) => console.warn(`attempt ${e.attempt} timed out after ${e.timeoutMs} ms`));
 * ```
 */
export interface TimeoutEvent {
  /** The limit that ran out. */
  readonly timeoutMs: number;
  /** The attempt that timed out (from a retry outside the timeout), counting from 1. */
  readonly attempt: number;
  /** The error the call rejects with and the abort reason of its signal. */
  readonly error: ConnectionError<"timeout">;
}

/** Internal, for tests: the deadline queue behind a timeout policy's calls. */
export function queueOf(policy: TimeoutPolicy): DeadlineQueue {
  return policy[STRATEGY].queue;
}

/** The semantics of {@link timeout}, written once: what its calls share. */
class TimeoutCore extends Strategy {
  readonly ms: number;
  readonly clock: Clock;
  readonly operation: ConnectionOperation | undefined;
  readonly judge: Judge;
  readonly queue: DeadlineQueue;
  readonly emitter: Emitter<TimeoutEvent> = new Emitter<TimeoutEvent>();

  constructor(
    ms: number,
    clock: Clock,
    operation: ConnectionOperation | undefined,
    judge: Judge,
  ) {
    super(TimeoutPolicy.prototype, "timeout");
    this.ms = ms;
    this.clock = clock;
    this.operation = operation;
    this.judge = judge;
    this.queue = new DeadlineQueue(clock, ms);
  }

  /** Builds the error for a call that ran out of time. */
  timeoutError(): ConnectionError<"timeout"> {
    return new ConnectionError("timeout", {
      message: `Timed out after ${this.ms} ms`,
      timeoutMs: this.ms,
      operation: this.operation,
      runtime: detectRuntime(),
    });
  }

  /** Tells the listeners, if any. */
  emitTimeout(attempt: number, error: ConnectionError<"timeout">): void {
    if (this.emitter.has) this.emitter.emit({ timeoutMs: this.ms, attempt, error });
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    const caller = signalOf(ctx);
    call.own(); // the call may end at the deadline, before the operation does
    const timed = new TimeoutCall(this, caller, ctx.attempt, sink);
    call.next(index + 1, timed, timed);
    // Once the operation has returned: listen for the caller's signal (which
    // the operation itself may have aborted), and join the queue after the
    // operation's own reaction, so that the queue's first look (a microtask
    // from now) finds a call that settled at once done, and arms no timer.
    if (timed.settled) return;
    timed.listen();
    if (caller?.aborted) timed.handleEvent();
    else this.queue.add(timed);
  }
}

/**
 * One call: its own execution context and sink (so no other object is made
 * for it), its entry in the deadline queue, and, as `handleEvent`, the
 * listener on the caller's signal (an object listener needs no closure).
 * A layer inside listens to it as {@link Watched}.
 */
class TimeoutCall extends Watched implements DeadlineEntry, Sink {
  override [CONTROLLER]: AbortController | undefined = undefined;
  override [LISTENERS]: AbortListener | AbortListener[] | undefined = undefined;
  deadline: number = UNSTAMPED;
  readonly attempt: number;
  /** Not in the queue (see {@link DeadlineEntry.queueState}) until `run` adds it. */
  queueState = 1;
  readonly #core: TimeoutCore;
  readonly #caller: AbortSource | undefined;
  readonly #sink: Sink;
  /** Ended by the deadline, the caller or a broken clock: `#reason` says why. */
  #ended = false;
  #reason: unknown = undefined;
  #listening = false;
  #settled = false;

  constructor(core: TimeoutCore, caller: AbortSource | undefined, attempt: number, sink: Sink) {
    super();
    this.#core = core;
    this.#caller = caller;
    this.attempt = attempt;
    this.#sink = sink;
  }

  /** Whether its signal is aborted (or would be, once made). */
  get aborted(): boolean {
    return this.#ended || this.#caller?.aborted === true;
  }

  /** Why its signal aborts: the timeout's error, the caller's reason or the clock's error. */
  get reason(): unknown {
    return this.#ended ? this.#reason : this.#caller?.reason;
  }

  /** True once the call has settled (or expired). */
  get settled(): boolean {
    return this.#settled;
  }

  /** Listens for the caller's signal to abort. */
  listen(): void {
    const caller = this.#caller;
    if (caller !== undefined) {
      caller.addEventListener("abort", this);
      this.#listening = true;
    }
  }

  /** Ends the call's bookkeeping; true the first time only. */
  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#core.queue.remove(this);
    if (this.#listening) {
      this.#listening = false;
      this.#caller!.removeEventListener("abort", this);
    }
    return true;
  }

  /** The layers inside fulfilled. */
  ok(value: unknown): void {
    if (this.#finish()) this.#sink.ok(value);
  }

  /** The layers inside failed. */
  fail(error: unknown): void {
    if (this.#finish()) this.#sink.fail(onward(error, this.#core.judge));
  }

  /** The deadline passed. */
  expire(): void {
    if (this.#settled) return;
    const error = this.#core.timeoutError();
    this.#finish();
    // Abort first, so that the operation sees the reason it is given up for.
    this.#abort(error);
    this.#core.emitTimeout(this.attempt, error);
    this.#sink.fail(error);
  }

  /** The clock threw while the deadline was being set: the call rejects with that error. */
  broken(error: unknown): void {
    if (!this.#finish()) return;
    this.#abort(error);
    this.#sink.fail(error);
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    if (!this.#finish()) return;
    const caller = this.#caller!;
    this.#abort(caller.reason);
    this.#sink.fail(cancelledBy(caller));
  }

  /** Ends its context: its signal (if made) aborts, and the layers inside hear it. */
  #abort(reason: unknown): void {
    this.#ended = true;
    this.#reason = reason;
    this.abort(reason);
  }
}

/**
 * The policy {@link timeout} returns.
 *
 * @example
 * ```ts
 * import { connect, timeout, type TimeoutPolicy } from "@faultline/faultline";
 *
 * const policy: TimeoutPolicy = timeout(2000);
 * const outcome = await policy.execute(async ({ signal }) => {
 *   await using conn = await connect({ hostname: "127.0.0.1", port: 1, signal });
 *   return `connected to ${conn.remoteAddr.hostname}`;
 * }).catch((e) => String(e));
 * ```
 */
export class TimeoutPolicy implements Policy {
  /** The limit, in milliseconds. */
  readonly ms: number;
  /** @ignore */
  readonly [STRATEGY]: TimeoutCore;

  /**
   * Subscribes to timeouts: a listener gets a {@link TimeoutEvent} each time
   * a call runs out of time.
   */
  readonly onTimeout: Event<TimeoutEvent>;

  /** Use {@link timeout}. */
  constructor(ms: number, options?: TimeoutOptions) {
    const opts = optionsObject<TimeoutOptions>("timeout", options);
    if (typeof ms !== "number") {
      typeError("timeout", "ms", "a finite positive number of milliseconds", ms);
    }
    if (!(ms > 0) || !Number.isFinite(ms)) {
      rangeError("timeout", "ms", "a finite positive number of milliseconds", ms);
    }
    this.ms = ms;
    // Each option read once: later changes to the options object change nothing.
    const clock = checkClock("timeout", opts.clock);
    const operation = opts.operation;
    if (operation !== undefined && !CONNECTION_OPERATIONS.includes(operation)) {
      typeError("timeout", "operation", `one of ${CONNECTION_OPERATIONS.join(", ")}`, operation);
    }
    const onTimeout = opts.onTimeout;
    const core = new TimeoutCore(ms, clock, operation, judge("timeout", opts.normalize));
    if (onTimeout !== undefined) {
      core.emitter.subscribe(
        checkFunction<(event: TimeoutEvent) => void>("timeout", "onTimeout", onTimeout),
      );
    }
    this[STRATEGY] = core;
    this.onTimeout = core.emitter.subscribe;
  }

  /**
   * Runs `fn`, rejecting with a `"timeout"` {@link ConnectionError} (the
   * abort reason of `ctx.signal` too) if it has not settled after `ms`, and
   * with a `"cancelled"` one at once if `signal` aborts. An operation that
   * ignores its signal is not waited for: the call rejects at the deadline.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return executeSolo(this, fn, signal);
  }
}

/**
 * A policy that gives up on an operation after `ms` milliseconds: it aborts
 * `ctx.signal` with, and rejects with, one {@link ConnectionError} of kind
 * `"timeout"` (`timeoutMs` set), so a `fetch` given the signal rejects with
 * that same error. When the caller's signal aborts first, the call rejects
 * at once with a `"cancelled"` error. The timer and the listener on the
 * caller's signal are gone when the call settles.
 *
 * `ms` must be a finite number above 0. Put it inside a {@link retry} for a
 * limit per attempt, outside it for a limit on the whole call.
 *
 * @example
 * ```ts
 * import { isConnectionError, timeout } from "@faultline/faultline";
 *
 * const policy = timeout(50);
 * try {
 *   await policy.execute(({ signal }) => new Promise((_, reject) => {
 *     signal.addEventListener("abort", () => reject(signal.reason));
 *   }));
 * } catch (e) {
 *   if (isConnectionError(e, "timeout")) console.log(e.timeoutMs); // 50
 * }
 * ```
 */
export function timeout(ms: number, options?: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(ms, options);
}
