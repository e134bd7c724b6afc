/**
 * The semantics of {@link hedge}, written once: the policy's settings, one
 * call's attempts and the timer for the next one. Internal.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { type AnyConnectionError, ConnectionError } from "../errors/connection_error.ts";
import { type Judge, retryable } from "../errors/normalize_error.ts";
import { detectRuntime } from "../runtime.ts";
import { MAX_DELAY_MS } from "./backoff.ts";
import { type DeadlineEntry, DeadlineQueue } from "./_deadline_queue.ts";
import {
  type AbortListener,
  type AbortSource,
  type Call,
  CONTROLLER,
  LISTENERS,
  signalOf,
  type Sink,
  Strategy,
  Watched,
} from "./_engine.ts";
import { Emitter } from "./events.ts";
import type { HedgeEvent } from "./hedge_options.ts";
import type { LatencyWindow } from "./_latency_window.ts";
import { cancelledBy, onward } from "./_outgoing.ts";
import type { RetryBudget } from "./retry_budget.ts";
import type { ExecutionContext } from "./types.ts";

/** How the delay is given: a number, a function, or a percentile. */
export const FIXED = 0;
export const FUNCTION = 1;
export const PERCENTILE = 2;

/** The semantics of {@link hedge}, written once. */
export class HedgeCore extends Strategy {
  maxAttempts = 2;
  mode = FIXED;
  fixedMs = 0;
  delayFn: ((info: { readonly attempt: number }) => number) | undefined = undefined;
  window: LatencyWindow | undefined = undefined;
  min = 0;
  max = Infinity;
  /** The percentile delay in force: `max` until enough calls are known. */
  current = Infinity;
  kinds: ReadonlySet<string> | undefined = undefined;
  predicate: ((error: unknown, normalized: AnyConnectionError | undefined) => boolean) | undefined =
    undefined;
  budget: RetryBudget | undefined = undefined;
  clock!: Clock;
  judge!: Judge;
  readonly hedged: Emitter<HedgeEvent> = new Emitter<HedgeEvent>();
  /** The shared timer of the calls waiting `d` ms, one per delay in use. */
  readonly #queues = new Map<number, DeadlineQueue>();

  constructor(owner: object) {
    super(owner, "hedge");
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    const caller = signalOf(ctx);
    if (caller?.aborted) {
      sink.fail(cancelledBy(caller));
      return;
    }
    this.budget?.recordCall(); // a budget that throws rejects the call (nothing has started)
    call.own(); // the first attempt's outcome is not the call's: another may win
    new HedgeCall(this, call, index, caller, sink).begin();
  }

  /** The wait after attempt `n` starts before the next one: 0, a finite delay or Infinity. */
  delayAfter(n: number): number {
    let ms: number;
    if (this.mode === FIXED) ms = this.fixedMs;
    else if (this.mode === PERCENTILE) ms = this.current;
    else {
      const chosen: unknown = this.delayFn!({ attempt: n });
      ms = typeof chosen === "number" && !Number.isNaN(chosen) ? Math.max(0, chosen) : Infinity;
    }
    return ms > MAX_DELAY_MS ? Infinity : ms;
  }

  /** The queue of the calls waiting `ms`: timers shared by every call of one delay. */
  queueFor(ms: number): DeadlineQueue | undefined {
    if (this.mode === FUNCTION) return undefined;
    let queue = this.#queues.get(ms);
    if (queue === undefined) this.#queues.set(ms, queue = new DeadlineQueue(this.clock, ms));
    return queue;
  }

  /** A call succeeded after `ms`: the percentile delay learns from it. */
  learn(ms: number): void {
    const window = this.window!;
    if (window.record(ms)) {
      const p = window.value;
      this.current = p < this.min ? this.min : p > this.max ? this.max : p;
    }
  }

  /**
   * True when `error` starts the next attempt at once. A verdict is enough to
   * decide, so no ConnectionError is built for it unless a predicate (which
   * is given one) decides.
   */
  hedgeable(error: unknown): boolean {
    if (this.predicate !== undefined) {
      return this.predicate(error, this.judge.recognize(error)) === true;
    }
    const verdict = this.judge.classify(error);
    if (this.kinds !== undefined) return this.kinds.has(verdict?.kind ?? "unknown");
    return verdict !== undefined && retryable(verdict);
  }
}

/**
 * One attempt: its context (with a signal made on first read, and heard as
 * {@link Watched} by a layer inside) and its sink.
 */
class Attempt extends Watched implements Sink {
  override [CONTROLLER]: AbortController | undefined = undefined;
  override [LISTENERS]: AbortListener | AbortListener[] | undefined = undefined;
  readonly attempt: number;
  readonly #owner: HedgeCall;
  /** Settled, or abandoned: nothing it reports counts any more. */
  done = false;
  #abandoned = false;

  constructor(owner: HedgeCall, attempt: number) {
    super();
    this.#owner = owner;
    this.attempt = attempt;
  }

  /** Whether its signal is aborted (or would be, once made): the call abandoned it. */
  get aborted(): boolean {
    return this.#abandoned;
  }

  /** Why its signal aborts, once abandoned. */
  get reason(): unknown {
    return this.#abandoned ? this.#owner.abandonReason() : undefined;
  }

  ok(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.#owner.won(value);
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.#owner.failed(error);
  }

  /** The call no longer needs this attempt: its signal aborts. */
  abandon(): void {
    if (this.done) return;
    this.done = true;
    this.#abandoned = true;
    this.abort(this.#owner.abandonReason());
  }
}

/** One call: its attempts, the timer for the next one, and the listener on the caller's signal. */
class HedgeCall implements DeadlineEntry {
  deadline = 0;
  queueState = 1;
  readonly #core: HedgeCore;
  readonly #call: Call;
  readonly #index: number;
  readonly #caller: AbortSource | undefined;
  readonly #sink: Sink;
  #first: Attempt | undefined = undefined;
  #more: Attempt[] | undefined = undefined;
  #started = 0;
  #running = 0;
  #settled = false;
  /** No hedge may start any more (the budget said no, or a delay function threw). */
  #stopped = false;
  #queue: DeadlineQueue | undefined = undefined;
  #timer: unknown = undefined;
  #waited = 0;
  #listening = false;
  #start = 0;
  #reason: unknown = undefined;

  constructor(
    core: HedgeCore,
    call: Call,
    index: number,
    caller: AbortSource | undefined,
    sink: Sink,
  ) {
    this.#core = core;
    this.#call = call;
    this.#index = index;
    this.#caller = caller;
    this.#sink = sink;
  }

  begin(): void {
    const core = this.#core;
    if (core.window !== undefined) this.#start = core.clock.now();
    this.#launch();
    const caller = this.#caller;
    if (this.#settled || caller === undefined) return;
    // Listens once the first attempt has returned (as timeout does); an abort
    // during that attempt's synchronous part is seen here.
    caller.addEventListener("abort", this);
    this.#listening = true;
    if (caller.aborted) this.handleEvent();
  }

  /** Starts the next attempt, then arms the wait for the one after it (or starts it, for 0 ms). */
  #launch(): void {
    const core = this.#core;
    const n = ++this.#started;
    const attempt = new Attempt(this, n);
    if (n === 1) this.#first = attempt;
    else (this.#more ??= []).push(attempt);
    this.#running++;
    this.#call.next(this.#index + 1, attempt, attempt);
    // Settled, or a failure already started the next one, or none is left to start.
    if (this.#settled || this.#started !== n || n >= core.maxAttempts || this.#stopped) return;
    let ms: number;
    try {
      ms = core.delayAfter(n);
    } catch (thrown) {
      this.#settle(undefined, thrown, false);
      return;
    }
    // A delay function is the caller's code: it may have aborted the caller's
    // signal (heard at once, or by `begin` when this is still the first launch).
    if (this.#settled || ms === Infinity || this.#caller?.aborted) return;
    if (ms === 0) {
      this.#hedge("delay", 0, undefined);
      return;
    }
    this.#waited = ms;
    const queue = core.queueFor(ms);
    if (queue !== undefined) {
      this.#queue = queue;
      queue.add(this);
      return;
    }
    try {
      this.#timer = core.clock.setTimeout(() => {
        this.#timer = undefined;
        this.expire();
      }, ms);
    } catch (thrown) {
      this.#settle(undefined, thrown, false); // a clock that throws
    }
  }

  /** The clock threw while the wait was being set: the call rejects with that error. */
  broken(error: unknown): void {
    this.#queue = undefined;
    this.#settle(undefined, error, false);
  }

  /** The newest attempt ran longer than the delay. */
  expire(): void {
    this.#queue = undefined;
    if (!this.#settled) this.#hedge("delay", this.#waited, undefined);
  }

  /** Starts a hedge if the attempts and the budget allow; false if none started. */
  #hedge(reason: "delay" | "failure", waited: number, error: unknown): boolean {
    const core = this.#core;
    if (this.#started >= core.maxAttempts || this.#stopped) return false;
    const budget = core.budget;
    if (budget !== undefined) {
      let allowed: boolean;
      try {
        allowed = budget.tryRetry() === true;
      } catch (thrown) {
        this.#settle(undefined, thrown, false);
        return true;
      }
      if (!allowed) {
        this.#stopped = true;
        return false;
      }
    }
    if (core.hedged.has) {
      const attempt = this.#started + 1;
      // Listeners see the failure as the call would reject with it: built for them only.
      core.hedged.emit(
        reason === "delay"
          ? { attempt, reason, delay: waited }
          : { attempt, reason, error: core.judge.recognize(error) ?? error },
      );
      if (this.#settled) return true; // a listener aborted the caller's signal
    }
    this.#launch();
    return true;
  }

  won(value: unknown): void {
    if (this.#settled) return;
    this.#running--;
    const core = this.#core;
    if (core.window !== undefined) {
      try {
        core.learn(core.clock.now() - this.#start);
      } catch (thrown) {
        this.#settle(undefined, thrown, false);
        return;
      }
    }
    this.#settle(value, undefined, true);
  }

  failed(error: unknown): void {
    if (this.#settled) return;
    this.#running--;
    const core = this.#core;
    let again: boolean;
    try {
      again = core.hedgeable(error);
    } catch (thrown) {
      this.#settle(undefined, thrown, false); // a predicate that throws rejects the call with it
      return;
    }
    if (again) {
      this.#disarm();
      if (this.#hedge("failure", 0, error) || this.#running > 0) return;
    }
    this.#settle(undefined, error, false);
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    if (!this.#settled) this.#settle(undefined, cancelledBy(this.#caller!), false);
  }

  /** Why abandoned attempts' signals abort: the caller's reason, or that the call is over. */
  abandonReason(): unknown {
    if (this.#reason !== undefined) return this.#reason;
    const caller = this.#caller;
    return this.#reason = caller?.aborted ? caller.reason : new ConnectionError("cancelled", {
      message: "Hedged attempt abandoned: the call has settled",
      runtime: detectRuntime(),
    });
  }

  /** Ends the call once: no timer, no listener, every other attempt abandoned. */
  #settle(value: unknown, error: unknown, ok: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#disarm();
    if (this.#listening) {
      this.#listening = false;
      this.#caller!.removeEventListener("abort", this);
    }
    this.#first!.abandon();
    const more = this.#more;
    if (more !== undefined) { for (const attempt of more) attempt.abandon(); }
    if (ok) this.#sink.ok(value);
    else this.#sink.fail(onward(error, this.#core.judge));
  }

  #disarm(): void {
    if (this.#queue !== undefined) {
      this.#queue.remove(this);
      this.#queue = undefined;
    }
    if (this.#timer !== undefined) {
      this.#core.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
