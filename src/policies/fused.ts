/**
 * How {@link pipeline} runs faultline's own policies without a promise per
 * layer. Internal; not exported from the package.
 *
 * Through `execute`, each layer of `pipeline(retry, breaker, timeout)` waits on
 * the promise of the layer inside it: on success, three promise reactions in a
 * row before the caller's `await` sees the value, and three promises made. A
 * fused layer is told instead, by a plain method call, how the layers inside it
 * ended: the operation's promise has one reaction, whose result runs through
 * every layer's bookkeeping at once, and the pipeline makes one promise.
 *
 * A policy class opts in by registering a {@link FusedRun} for itself (retry,
 * circuitBreaker, timeout, fallback and bulkhead do); any other layer (a
 * third-party policy, a subclass, an instance whose `execute` was replaced, a
 * Proxy) is run through its `execute`, with the layers inside it as its
 * operation.
 *
 * @module
 */

import type { ExecutionContext } from "./types.ts";

/**
 * Where a fused layer reports how the layers inside it ended. A layer calls
 * exactly one of the two, once; possibly before its run returns.
 */
export interface Sink {
  ok(value: unknown): void;
  fail(error: unknown): void;
}

/** The layers inside a fused layer, and the operation at the end. */
export interface Inner {
  /**
   * Runs the layer at `index` (the operation when past the last layer) as the
   * inside of a layer that made `ctx` from `signal`, and reports to `sink`.
   */
  step(index: number, ctx: ExecutionContext, signal: AbortSignal | undefined, sink: Sink): void;
  /** The same as an operation that returns a promise: for a layer's slower paths. */
  operation(index: number, signal: AbortSignal | undefined): (ctx: ExecutionContext) => unknown;
}

/**
 * Runs `policy` as the layer at `index` of a pipeline: with the signal,
 * attempt and context (`parent`) of the layer outside it, running the rest
 * through `inner.step(index + 1, ...)`, and reporting to `sink`. It must not
 * throw.
 */
export type FusedRun = (
  policy: never,
  inner: Inner,
  index: number,
  signal: AbortSignal | undefined,
  attempt: number,
  parent: ExecutionContext | undefined,
  sink: Sink,
) => void;

interface Registration {
  readonly run: FusedRun;
  readonly execute: unknown;
  readonly owns: (policy: object) => boolean;
}

const registry = new Map<unknown, Registration>();

/**
 * Registers how instances of `type` run fused. `owns` is the class's brand
 * check (`#field in policy`): a Proxy of an instance is not one.
 */
export function registerFused(
  type: abstract new (...args: never[]) => { execute: unknown },
  run: FusedRun,
  owns: (policy: object) => boolean,
): void {
  registry.set(type, { run, execute: type.prototype.execute, owns });
}

/**
 * The fused run of `policy`: only for a genuine instance of a registered
 * class whose `execute` is the class's own, so that an `execute` replaced on
 * the instance (a spy, a wrapper) or a Proxy is run through `execute`.
 */
export function fusedRunOf(policy: object): FusedRun | undefined {
  try {
    const found = registry.get(Object.getPrototypeOf(policy)?.constructor);
    if (
      found === undefined || (policy as { execute?: unknown }).execute !== found.execute ||
      !found.owns(policy)
    ) return undefined;
    return found.run;
  } catch {
    return undefined; // a Proxy whose trap throws is run through its execute
  }
}

/** Reports to `sink` how the promise `start` returns ends: a layer's slower paths. */
export function settleFrom(start: () => PromiseLike<unknown>, sink: Sink): void {
  let promise: Promise<unknown>;
  try {
    promise = Promise.resolve(start());
  } catch (error) {
    sink.fail(error);
    return;
  }
  promise.then((value) => sink.ok(value), (error) => sink.fail(error));
}
