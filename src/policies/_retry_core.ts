/**
 * The semantics of `retry()`, written once: its options and events
 * (`RetryCore`) and one call's attempts and waits (`RetryCall`). Internal;
 * `RetryPolicy` is its public face.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { type Judge, retryable } from "../errors/normalize_error.ts";
import { type Backoff, exponentialBackoff, MAX_DELAY_MS } from "./backoff.ts";
import { type Call, givenSignal, type Sink, Strategy, Watched } from "./_engine.ts";
import { Context } from "./_context.ts";
import { Emitter } from "./events.ts";
import { cancelledBy, onward } from "./_outgoing.ts";
import type { RetryBudget } from "./retry_budget.ts";
import type {
  RetryDelayInfo,
  RetryEvent,
  RetryGiveUpEvent,
  RetryGiveUpReason,
  RetryPredicate,
  RetrySuccessEvent,
} from "./retry_options.ts";
import type { ExecutionContext } from "./types.ts";

const DEFAULT_BACKOFF: Backoff = exponentialBackoff();

/** A delay any backoff may return, forced into [0, MAX_DELAY_MS]; NaN is 0. */
function clampDelay(ms: unknown): number {
  return typeof ms === "number" && ms > 0 ? (ms < MAX_DELAY_MS ? ms : MAX_DELAY_MS) : 0;
}

/** The semantics of `retry()`, written once: its options and events. */
export class RetryCore extends Strategy {
  maxAttempts = 3;
  backoff: Backoff = DEFAULT_BACKOFF;
  kinds: ReadonlySet<string> | undefined = undefined;
  predicate: RetryPredicate | undefined = undefined;
  handleResult: ((result: unknown) => boolean) | undefined = undefined;
  delay: ((info: RetryDelayInfo) => number | undefined) | undefined = undefined;
  deadline = Infinity;
  budget: RetryBudget | undefined = undefined;
  clock!: Clock;
  judge!: Judge;
  random: () => number = Math.random;
  readonly retried: Emitter<RetryEvent> = new Emitter<RetryEvent>();
  readonly gaveUp: Emitter<RetryGiveUpEvent> = new Emitter<RetryGiveUpEvent>();
  readonly succeeded: Emitter<RetrySuccessEvent> = new Emitter<RetrySuccessEvent>();

  /** `owner`: the prototype of the public class, `RetryPolicy`. */
  constructor(owner: object) {
    super(owner, "retry");
  }

  override enter(): void {
    this.budget?.recordCall(); // a budget of the caller's making that throws rejects the call
  }

  /** With nothing to check or tell on success and no deadline to start timing. */
  override deferrable(): boolean {
    return this.deadline === Infinity && this.handleResult === undefined && !this.succeeded.has;
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    // Decided as the call starts, before the budget hears of it (as
    // `startDeferred` decides): whether it may defer, and whether onSuccess
    // is told (a call that starts with no listener does no work for one).
    const deferrable = this.deferrable();
    const tell = this.succeeded.has;
    this.enter();
    // The first attempt can run in the context it was given when that one
    // already says attempt 1 and carries the caller's signal as is (a
    // timeout's or a hedge attempt's, whose signal is made only if read).
    const first = (ctx instanceof Context || ctx instanceof Watched) && ctx.attempt === 1
      ? ctx
      : undefined;
    // A call that succeeds at once needs no RetryCall: it is made on the first failure.
    if (deferrable && call.defers(sink)) {
      call.defer(this, index, ctx, first ?? new Context(givenSignal(ctx), 1));
      return;
    }
    const start = this.deadline === Infinity ? 0 : this.clock.now();
    new RetryCall(this, call, index, ctx, start, sink, tell).begin(first);
  }

  override recover(
    call: Call,
    index: number,
    ctx: ExecutionContext,
    error: unknown,
    sync: boolean,
  ): void {
    new RetryCall(this, call, index, ctx, 0, call, false).failFirst(error, sync);
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
  /** Nothing to check or tell on success: see {@link Sink.passes}. */
  readonly passes: boolean;
  readonly #core: RetryCore;
  readonly #call: Call;
  readonly #index: number;
  /** The context the call came with, until its signal is first needed. */
  #ctx: ExecutionContext | undefined;
  #signal: AbortSignal | undefined = undefined;
  readonly #start: number;
  readonly #sink: Sink;
  #attempt = 1;
  /** True while an attempt is being started: an outcome heard then came synchronously. */
  #starting = false;
  /** The backoff's own last delay, for decorrelated jitter (a Retry-After does not skew it). */
  #previous = 0;
  /** Whether onSuccess had a listener when the call started. */
  readonly #tell: boolean;

  constructor(
    core: RetryCore,
    call: Call,
    index: number,
    ctx: ExecutionContext,
    start: number,
    sink: Sink,
    tell: boolean,
  ) {
    this.#core = core;
    this.#call = call;
    this.#index = index;
    this.#ctx = ctx;
    this.#start = start;
    this.#sink = sink;
    this.#tell = tell;
    this.passes = core.handleResult === undefined && !tell && sink.passes === true;
  }

  begin(ctx?: ExecutionContext): void {
    this.#starting = true;
    this.#call.next(this.#index + 1, ctx ?? new Context(this.#given(), this.#attempt), this);
    this.#starting = false;
  }

  /** The first attempt, run by the call for a deferred retry, failed with `error`. */
  failFirst(error: unknown, sync: boolean): void {
    this.#starting = sync;
    this.fail(error);
    this.#starting = false;
  }

  /** The caller's signal, read (and so made, for a timeout's context) only once a retry needs it. */
  #given(): AbortSignal | undefined {
    const ctx = this.#ctx;
    if (ctx !== undefined) {
      this.#ctx = undefined;
      this.#signal = givenSignal(ctx);
    }
    return this.#signal;
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
    if (this.#tell) core.succeeded.emit({ attempts: this.#attempt });
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    const core = this.#core;
    let out: unknown = error;
    let retry: boolean;
    try {
      if (core.predicate !== undefined) {
        // The predicate is given the ConnectionError: build it now, once.
        const normalized = core.judge.recognize(error);
        out = normalized ?? error;
        retry = core.predicate(error, normalized) === true;
      } else {
        // A verdict is enough to decide: no ConnectionError is built for an
        // attempt that is retried and never seen.
        const verdict = core.judge.classify(error);
        retry = core.kinds !== undefined
          ? core.kinds.has(verdict?.kind ?? "unknown")
          : verdict !== undefined && retryable(verdict);
      }
    } catch (thrown) {
      this.#sink.fail(thrown); // a predicate that throws rejects the call with it
      return;
    }
    if (!retry) {
      if (core.gaveUp.has) {
        out = this.#seen(out);
        core.giveUp(this.#attempt, "not_retryable", out, undefined, true);
      }
      this.#sink.fail(onward(out, core.judge));
      return;
    }
    this.#again(out, undefined, true);
  }

  /** The error as the policy would reject with it: what listeners and `delay` are shown. */
  #seen(error: unknown): unknown {
    return this.#core.judge.recognize(error) ?? error;
  }

  /** A retry is due, of the error `out` or of `result`: wait, then run the next attempt. */
  #again(out: unknown, result: unknown, failed: boolean): void {
    const core = this.#core;
    const signal = this.#given();
    const attempt = this.#attempt;
    if (signal?.aborted) {
      this.#sink.fail(core.cancel(signal, attempt));
      return;
    }
    // Listeners and `delay` see the error as it would leave: built only for them.
    if (failed && (core.retried.has || core.gaveUp.has || core.delay !== undefined)) {
      out = this.#seen(out);
    }
    let wait: number;
    try {
      wait = this.#nextWait(out, result, failed);
    } catch (thrown) {
      this.#sink.fail(thrown); // a backoff or `delay` that throws rejects the call with it
      return;
    }
    if (wait < 0) {
      if (failed) this.#sink.fail(onward(out, core.judge));
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
    } else if (this.#starting) {
      // No timer for a 0 ms wait, but a turn of the microtask queue, so that
      // an operation that fails synchronously cannot grow the stack.
      queueMicrotask(() => this.#next());
    } else {
      // The failure came from a reaction, on a stack of its own: go on now.
      this.#next();
    }
  }

  #next(): void {
    const signal = this.#given();
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
