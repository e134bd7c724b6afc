/**
 * The one way faultline's policies run, alone or in a {@link pipeline}.
 * Internal: not exported from the package.
 *
 * Each policy's semantics live in one {@link Strategy}: its `run` is given
 * the context of the layer outside it and a {@link Sink} to report to, runs
 * everything inside it through {@link Call.next}, and learns how that ended
 * by a plain method call on its own sink: an outcome, not a rethrown error
 * (Polly v8's `ExecuteCore` over `Outcome<T>`). `policy.execute(fn)` is that
 * run as a one-layer pipeline; `pipeline()` chains the runs. So the
 * operation's promise gets one reaction, however many layers there are, and
 * nothing between the layers can throw past them; unless a layer may end the
 * call before the operation does (a timeout, say), the promise of that
 * reaction is the call's: a call costs what `op().then(f)` does, plus the
 * layers' own bookkeeping. A failure passes through the layers as it was
 * thrown (each decides on a cheap verdict, see `Judge`) and becomes a
 * `ConnectionError` once, where it leaves the call.
 *
 * A layer that has nothing to do on success and needs state of its own only
 * once something fails (a retry) may defer that state to the first failure
 * ({@link Call.defer}, `Strategy.recover`); alone, it runs without a call
 * until then (`startDeferred`), as `op().then(undefined, onFailure)`.
 *
 * A layer that is not one of faultline's own policies (a third-party
 * `Policy`, a subclass, an instance whose `execute` was replaced) runs
 * through its `execute`, with the layers inside it as its operation.
 *
 * A layer hears the end of its caller's call through {@link signalOf}: the
 * caller's `AbortSignal`, or the context of a timeout or hedge attempt
 * outside it ({@link Watched}), whose `AbortSignal` is made only when the
 * operation (or code outside the layers, through {@link givenSignal}) reads it.
 *
 * @module
 */

import { recognize } from "../errors/normalize_error.ts";
import { cancelledBy } from "./_outgoing.ts";
import { Context } from "./_context.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import { show } from "./_validate.ts";

/**
 * Where a layer hears how the layers inside it ended: exactly one of the
 * two, once, possibly before `run` returns.
 */
export interface Sink {
  ok(value: unknown): void;
  fail(error: unknown): void;
  /**
   * True when `ok(value)` does nothing but hand `value` on to a sink that
   * passes it too, up to the call: then an operation's value needs no
   * handler at all, and a success costs what `op().then(undefined, f)` does.
   * Read once, when the operation has returned.
   */
  readonly passes?: boolean;
}

/** The key under which a policy keeps its {@link Strategy}. */
export const STRATEGY: unique symbol = Symbol("faultline.strategy");

/** One policy's semantics, written once. */
export abstract class Strategy {
  /**
   * The prototype of the public class that owns this strategy: an instance
   * of a subclass (which may override `execute`) runs through `execute`.
   */
  readonly owner: object;
  /** The API named in a bad-argument error of its `execute`: "retry". */
  readonly name: string;

  constructor(owner: object, name: string) {
    this.owner = owner;
    this.name = name;
  }

  /**
   * Runs this layer of `call`: what is inside it runs through
   * `call.next(index + 1, ctx, sink)`. `ctx` is what the layer outside gave.
   * Reports to `sink` exactly once. Must not throw: anything a user's
   * callback throws is reported to `sink` instead. A layer that may report
   * while the layers inside it still run (at a deadline, on an abort, when
   * another attempt wins) calls `call.own()` before `call.next`.
   */
  abstract run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void;

  /**
   * Only for a layer that {@link Call.defer}s: the first failure of the
   * layers inside it, `error`, reported to the call. `ctx` is what `run` was
   * given; `sync` is true when the failure came before `run` returned.
   * Reports to `call` as its sink.
   */
  recover?(call: Call, index: number, ctx: ExecutionContext, error: unknown, sync: boolean): void;

  /**
   * Only for a layer that {@link Call.defer}s: whether this call may, i.e.
   * the layer has nothing to do on success and nothing to start. No side
   * effects. A layer that may runs alone without a call at all until its
   * first failure (see `startDeferred`).
   */
  deferrable?(): boolean;

  /** Only for a layer that {@link Call.defer}s: what its `run` does first, on every call. */
  enter?(): void;
}

/** What carries a strategy: every faultline policy. */
interface Carrier {
  readonly [STRATEGY]?: unknown;
}

/**
 * The strategy of `policy` when it can run fused: one of faultline's own
 * classes, not a subclass, with its class's own `execute`.
 */
export function strategyOf(policy: object): Strategy | undefined {
  try {
    const s = (policy as Carrier)[STRATEGY];
    if (!(s instanceof Strategy)) return undefined;
    if (Object.getPrototypeOf(policy) !== s.owner || Object.hasOwn(policy, "execute")) {
      return undefined;
    }
    return s;
  } catch {
    return undefined; // a Proxy whose trap throws runs through its execute
  }
}

/** The layers of a pipeline, each with its strategy or `undefined` (run through `execute`). */
export class Plan {
  readonly layers: readonly object[];
  readonly strategies: readonly (Strategy | undefined)[];
  /** The API named in a bad-argument error: "retry", "pipeline". */
  readonly name: string;

  constructor(
    layers: readonly object[],
    strategies: readonly (Strategy | undefined)[],
    name: string,
  ) {
    this.layers = layers;
    this.strategies = strategies;
    this.name = name;
  }
}

/** The `execute` of every faultline policy: its strategy, run as a pipeline of one. */
export function executeSolo<T>(policy: object, fn: unknown, signal: unknown): Promise<T> {
  let strategy: Strategy;
  try {
    strategy = (policy as Carrier)[STRATEGY] as Strategy;
    if (!(strategy instanceof Strategy)) {
      throw new TypeError("Cannot execute: not a faultline policy");
    }
  } catch (error) {
    return Promise.reject(error);
  }
  return start<T>(undefined, strategy, strategy.name, fn, signal);
}

type Operation = (ctx: ExecutionContext) => unknown;

let capturing: Call | undefined;
// One executor for every call (no closure each time): it hands the call's
// promise's resolve and reject to the call that asked for one.
function capture(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturing!.resolve = resolve as (value: unknown) => void;
  capturing!.reject = reject;
}

/**
 * Runs `fn` through every layer of `plan`. Never throws: a bad argument or
 * an already-aborted signal rejects.
 */
export function runPlan<T>(plan: Plan, fn: unknown, signal: unknown): Promise<T> {
  return start<T>(plan, undefined, plan.name, fn, signal);
}

/** A call of a plan, or of one strategy alone (no plan: a policy keeps no arrays for it). */
function start<T>(
  plan: Plan | undefined,
  solo: Strategy | undefined,
  name: string,
  fn: unknown,
  signal: unknown,
): Promise<T> {
  if (typeof fn !== "function") {
    return Promise.reject(
      new TypeError(
        `Cannot execute ${name} as 'fn' must be a function: current value is ${show(fn)}`,
      ),
    );
  }
  const s = signal as AbortSignal | undefined;
  if (s !== undefined && s !== null && s.aborted === true) return Promise.reject(cancelledBy(s));
  if (solo !== undefined && solo.deferrable?.() === true) {
    return startDeferred(solo, fn as Operation, s ?? undefined) as Promise<T>;
  }
  const call = new Call(plan, solo, fn as Operation);
  call.next(0, s === undefined || s === null ? UNSIGNALLED : new Context(s, 1), call);
  return call.handOut() as Promise<T>;
}

/**
 * A layer that defers, alone: what `Call.defer` does, without a call. The
 * operation's promise gets one reaction, to its failure, which makes the
 * call then and gives the layer that failure as the call's first, so a call
 * that succeeds at once costs what `op().then(undefined, f)` does.
 */
function startDeferred(
  strategy: Strategy,
  fn: Operation,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  try {
    strategy.enter!();
  } catch (error) {
    return Promise.reject(recognize(error) ?? error); // as a call's first layer would reject
  }
  const ctx = new Context(signal, 1);
  let value: unknown;
  try {
    value = fn(ctx);
  } catch (error) {
    return recovered(strategy, fn, ctx, error, true).handOut();
  }
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    return Promise.resolve(value);
  }
  // A `then` of the operation's own may call back before it returns.
  let sync = true;
  let promise: Promise<unknown>;
  try {
    promise = Promise.resolve(value).then(
      undefined,
      (error) => recovered(strategy, fn, ctx, error, sync).result(),
    );
  } catch (error) {
    return recovered(strategy, fn, ctx, error, true).handOut(); // a constructor getter that throws
  }
  sync = false;
  return promise;
}

/** The call of a deferred layer alone, made at its first failure, `error`. */
function recovered(
  strategy: Strategy,
  fn: Operation,
  ctx: ExecutionContext,
  error: unknown,
  sync: boolean,
): Call {
  const call = new Call(undefined, strategy, fn);
  // Heard in a reaction, the call is as `Call.#watch` leaves it: the
  // reaction's promise is the call's until a layer asks for one of its own.
  if (!sync) call.watched();
  strategy.recover!(call, 0, ctx, error, sync);
  return call;
}

/**
 * The context of every call made without a signal, while only layers read
 * it: they ask it for the caller's signal through {@link signalOf} (there is
 * none) and for its attempt (1). An operation is never handed it, but a
 * context of its own (see `Call.#operate`), so that listeners it adds to
 * `ctx.signal` stay with its call. One allocation fewer per call.
 */
const UNSIGNALLED: Context = new Context(undefined, 1);

/** What a layer listens to for the end of its call: `handleEvent` is called once. */
export interface AbortListener {
  handleEvent(): void;
}

/**
 * What cancels a layer's call, as far as a layer asks: an `AbortSignal`, or
 * a {@link Watched} context of an outer layer, heard without making it one.
 */
export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: AbortListener): void;
  removeEventListener(type: "abort", listener: AbortListener): void;
}

/** Where a {@link Watched} context keeps its controller, once made. */
export const CONTROLLER: unique symbol = Symbol("faultline.controller");
/** Where a {@link Watched} context keeps one listener, or once a second is added, all of them in order. */
export const LISTENERS: unique symbol = Symbol("faultline.listeners");

/**
 * A context of a layer's own (a timeout's, a hedge attempt's) whose signal is
 * made only when read. A layer inside listens to the context itself: an
 * `AbortController` and a listener on its signal cost more than the rest of
 * a call (~0.4 µs and ~0.3 µs in Node and Bun), and most operations never
 * read the signal.
 *
 * Each subclass defines the two fields below as its own, set to `undefined`:
 * a base class with fields of its own makes every construction run a second
 * initializer, measured at ~10 ns a call in V8 (a tenth of a timeout's whole
 * bookkeeping).
 */
export abstract class Watched implements ExecutionContext, AbortSource {
  abstract readonly attempt: number;
  /** Whether its signal is aborted (or would be, once made). */
  abstract readonly aborted: boolean;
  /** Why its signal aborts, once aborted. */
  abstract readonly reason: unknown;
  declare [CONTROLLER]: AbortController | undefined;
  declare [LISTENERS]: AbortListener | AbortListener[] | undefined;

  /** Made on first read, aborted already if the context is. */
  get signal(): AbortSignal {
    if (this[CONTROLLER] === undefined) {
      this[CONTROLLER] = new AbortController();
      if (this.aborted) this[CONTROLLER].abort(this.reason);
    }
    return this[CONTROLLER].signal;
  }

  addEventListener(_type: "abort", listener: AbortListener): void {
    const listeners = this[LISTENERS];
    if (listeners === undefined) this[LISTENERS] = listener;
    else if (Array.isArray(listeners)) listeners.push(listener);
    else this[LISTENERS] = [listeners, listener];
  }

  removeEventListener(_type: "abort", listener: AbortListener): void {
    const listeners = this[LISTENERS];
    if (listeners === listener) this[LISTENERS] = undefined;
    else if (Array.isArray(listeners)) {
      const i = listeners.indexOf(listener);
      if (i !== -1) listeners.splice(i, 1);
    }
  }

  /**
   * Aborts the signal, if made, then tells each listener once, as an abort of
   * the signal would. Called once `aborted` and `reason` say so.
   */
  protected abort(reason: unknown): void {
    this[CONTROLLER]?.abort(reason);
    const listeners = this[LISTENERS];
    if (listeners === undefined) return;
    if (!Array.isArray(listeners)) {
      this[LISTENERS] = undefined;
      listeners.handleEvent();
      return;
    }
    for (const listener of listeners.slice()) {
      // One that an earlier listener removed is skipped, as a signal skips it.
      if (listeners.includes(listener)) listener.handleEvent();
    }
    this[LISTENERS] = undefined;
  }
}

/**
 * What cancels a layer's call, without making a signal: a {@link Context}
 * made from no signal has none, and a {@link Watched} context is its own.
 * Only for listening: what is handed to code outside faultline's layers is
 * {@link givenSignal}.
 */
export function signalOf(ctx: ExecutionContext): AbortSource | undefined {
  return ctx instanceof Context ? ctx.given : ctx instanceof Watched ? ctx : ctx.signal;
}

/** The `AbortSignal` of `ctx` for code outside the layers (a clock, an operation), if any. */
export function givenSignal(ctx: ExecutionContext): AbortSignal | undefined {
  return ctx instanceof Context ? ctx.given : ctx.signal;
}

// How a call's promise comes to be. Most calls need no promise of their own:
// the operation's promise gets one reaction, and the promise that reaction
// makes is the call's, its handler returning the outcome the layers decided
// (so a call costs what `op().then(f)` does). A layer that may end the call
// while the operation still runs (a timeout, an abort listener, a hedge) asks
// for a promise of the call's own first (`Call.own`), as does a call whose
// layers are still at work when the reaction has run (a retry waiting).
/** `start` is still running the layers: no operation has a reaction yet. */
const FRESH = 0;
/** The reaction to the first operation's promise (in `slot`) is the call's promise. */
const WATCHING = 1;
/** The call has a promise of its own (in `slot`), which `ok` and `fail` settle. */
const OWNED = 2;
/** Not owned, and the layers decided: fulfilled with `slot`. */
const FULFILLED = 3;
/** Not owned, and the layers decided: rejected with `slot`. */
const REJECTED = 4;

/** One call of a plan: runs its layers in turn, and settles its promise as the outermost sink. */
export class Call implements Sink {
  /** The call's own `ok` settles nothing that its promise does not already follow (see {@link Sink.passes}). */
  readonly passes: boolean;
  readonly #plan: Plan | undefined;
  readonly #solo: Strategy | undefined;
  readonly #fn: Operation;
  #state: number;
  /** The call's promise, or, once decided and not owned, the outcome (see the states above). */
  #slot: unknown;
  resolve: ((value: unknown) => void) | undefined;
  reject: ((error: unknown) => void) | undefined;
  /** The layer that {@link defer}red, until it hears a failure or the call ends. */
  #deferred: Strategy | undefined;
  #deferredIndex: number;
  #deferredCtx: ExecutionContext | undefined;
  /** True while the deferred layer's `next` runs: a failure heard then came synchronously. */
  #deferredRunning: boolean;

  constructor(plan: Plan | undefined, solo: Strategy | undefined, fn: Operation) {
    this.#plan = plan;
    this.#solo = solo;
    this.#fn = fn;
    // Assigned here, not as field initializers: measurably cheaper per call in V8.
    this.passes = true;
    this.#state = FRESH;
    this.#slot = undefined;
    this.resolve = undefined;
    this.reject = undefined;
    this.#deferred = undefined;
    this.#deferredIndex = 0;
    this.#deferredCtx = undefined;
    this.#deferredRunning = false;
  }

  /** Whether the layer given `sink` may {@link defer}: `sink` is this call, and no layer has. */
  defers(sink: Sink): boolean {
    return sink === this && this.#deferred === undefined;
  }

  /**
   * Runs the layers inside `index`, in `next`, with this call as their sink:
   * for a layer that {@link defers}, lets every success pass unchanged, and
   * needs an object of its own only once something fails (a retry's first
   * attempt). The first failure goes to `strategy.recover` (which such a
   * layer has) instead of ending the call, so a call that succeeds at once
   * never makes that object.
   */
  defer(strategy: Strategy, index: number, ctx: ExecutionContext, next: ExecutionContext): void {
    this.#deferred = strategy;
    this.#deferredIndex = index;
    this.#deferredCtx = ctx;
    this.#deferredRunning = true;
    this.next(index + 1, next, this);
    this.#deferredRunning = false;
  }

  ok(value: unknown): void {
    const state = this.#state;
    if (state === OWNED) this.resolve!(value);
    else if (state < OWNED) {
      this.#state = FULFILLED;
      this.#slot = value;
    }
  }

  /**
   * The call failed: the error leaves as a ConnectionError when recognized.
   * This is the one place a failure becomes one, so the attempts a retry
   * made before never cost a ConnectionError (and its stack trace) each.
   */
  fail(error: unknown): void {
    const deferred = this.#deferred;
    if (deferred !== undefined) {
      this.#deferred = undefined;
      const ctx = this.#deferredCtx!;
      this.#deferredCtx = undefined;
      deferred.recover!(this, this.#deferredIndex, ctx, error, this.#deferredRunning);
      return;
    }
    const out = recognize(error) ?? error;
    const state = this.#state;
    if (state === OWNED) this.reject!(out);
    else if (state < OWNED) {
      this.#state = REJECTED;
      this.#slot = out;
    }
  }

  /**
   * Gives the call a promise of its own, settled by `ok` and `fail`: for a
   * layer that may end the call while the operation runs. Call it in `run`,
   * before `next`.
   */
  own(): Promise<unknown> {
    if (this.#state !== OWNED) {
      this.#state = OWNED;
      capturing = this;
      this.#slot = new Promise(capture);
      capturing = undefined;
    }
    return this.#slot as Promise<unknown>;
  }

  /** The call's promise, once `start` has run the layers as far as they go at once. */
  handOut(): Promise<unknown> {
    const state = this.#state;
    if (state === WATCHING || state === OWNED) return this.#slot as Promise<unknown>;
    const value = this.#slot;
    if (state === REJECTED) return Promise.reject(value);
    if (state === FULFILLED) {
      // A thenable is followed as `resolve` follows it: `Promise.resolve`
      // would read a promise's `constructor`, which may throw at once.
      if (value === null || (typeof value !== "object" && typeof value !== "function")) {
        return Promise.resolve(value);
      }
      const promise = this.own();
      this.resolve!(value);
      return promise;
    }
    return this.own(); // a layer is still at work (a bulkhead's queue, a wait)
  }

  /**
   * The reaction's result: the outcome, or, while a layer is still at work,
   * a promise of the call's own that the reaction's promise follows.
   */
  #take(): unknown {
    const state = this.#state;
    if (state === FULFILLED) return this.#slot;
    if (state === REJECTED) throw this.#slot;
    return this.own();
  }

  /** Made in a reaction outside it (see `startDeferred`), whose promise is the call's for now. */
  watched(): void {
    this.#state = WATCHING;
  }

  /** For that reaction to return: the outcome, thrown if a failure, or else the call's promise. */
  result(): unknown {
    return this.#take();
  }

  /** Runs the layer at `index` (the operation, past the last) with `ctx`, reporting to `sink`. */
  next(index: number, ctx: ExecutionContext, sink: Sink): void {
    const plan = this.#plan;
    if (plan === undefined ? index === 1 : index === plan.layers.length) {
      this.#operate(ctx, sink);
      return;
    }
    const strategy = plan === undefined ? this.#solo : plan.strategies[index];
    if (strategy !== undefined) {
      try {
        strategy.run(this, index, ctx, sink);
      } catch (error) {
        sink.fail(error); // a strategy does not throw: this is the last guard
      }
      return;
    }
    // Only a plan has layers that are not strategies. Their promise, not the
    // operation's, says how they end.
    this.own();
    const layers = plan!.layers;
    const layer = layers[index] as Policy;
    // What leaves faultline's layers for a third-party one leaves as from a call.
    const inner: Operation = index + 1 === layers.length
      ? this.#fn
      : (c) =>
        new Promise((ok, fail) =>
          this.next(index + 1, c, { ok, fail: (e) => fail(recognize(e) ?? e) })
        );
    let result: unknown;
    try {
      result = layer.execute(inner, givenSignal(ctx));
    } catch (error) {
      sink.fail(error);
      return;
    }
    settle(result, sink);
  }

  /** Runs the operation itself and reports how it ends. */
  #operate(ctx: ExecutionContext, sink: Sink): void {
    let value: unknown;
    try {
      // Called as a plain function: `this` in it is not the call.
      const fn = this.#fn;
      value = fn(ctx === UNSIGNALLED ? new Context(undefined, 1) : ctx);
    } catch (error) {
      sink.fail(error);
      return;
    }
    if (
      this.#state === FRESH && value !== null &&
      (typeof value === "object" || typeof value === "function")
    ) {
      this.#watch(value, sink);
    } else {
      settle(value, sink);
    }
  }

  // Apart from #operate, so that a call that does not take this path does
  // not pay for the scope its two closures share.
  /** Makes the reaction to the operation's promise the call's promise. */
  #watch(value: unknown, sink: Sink): void {
    try {
      // No layer needs to hear a success: the value passes through on its own.
      this.#slot = Promise.resolve(value).then(
        sink.passes === true ? undefined : (v) => {
          sink.ok(v);
          return this.#take();
        },
        (e) => {
          sink.fail(e);
          return this.#take();
        },
      );
      this.#state = WATCHING;
    } catch (error) {
      sink.fail(error); // a promise whose `constructor` getter throws
    }
  }
}

/** Reports a value, or how a thenable ends (once, however often it calls back). */
export function settle(value: unknown, sink: Sink): void {
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    try {
      Promise.resolve(value).then((v) => sink.ok(v), (e) => sink.fail(e));
    } catch (error) {
      sink.fail(error); // a promise whose `constructor` getter throws
    }
  } else {
    sink.ok(value);
  }
}
