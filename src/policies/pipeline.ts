/**
 * {@link pipeline}: several policies as one, the first argument outermost.
 *
 * @module
 */

import { Context } from "./context.ts";
import type { FallbackPolicy } from "./fallback.ts";
import { type FusedRun, fusedRunOf, type Inner, settleFrom, type Sink } from "./fused.ts";
import { cancelledBy, outgoing } from "./outgoing.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import { show } from "./validate.ts";

/** What {@link pipeline} accepts: any {@link Policy}, and a {@link FallbackPolicy}. */
export type PipelineMember = Policy | FallbackPolicy<unknown>;

type Operation = (ctx: ExecutionContext) => unknown;

/** The faultline execute protocol: a hidden third parameter carries the attempt inward. */
type Executor = {
  execute(
    fn: Operation,
    signal?: AbortSignal,
    attempt?: number,
    parent?: ExecutionContext,
  ): Promise<unknown>;
};

/** `pipeline()` with no policy: runs the operation as a policy would, and nothing more. */
class PassThrough implements Policy {
  execute<T>(
    fn: (ctx: ExecutionContext) => T | Promise<T>,
    signal?: AbortSignal,
    attempt?: number,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(cancelledBy(signal));
    try {
      const value = fn(new Context(signal, attempt ?? 1));
      return Promise.resolve(value).catch(rethrowOutgoing);
    } catch (error) {
      return Promise.reject(outgoing(error));
    }
  }
}

function rethrowOutgoing(error: unknown): never {
  throw outgoing(error);
}

class Pipeline implements Policy {
  /** The brand `isPipeline` checks: unlike `instanceof`, it runs no trap of a Proxy. */
  readonly #pipeline = true;
  readonly layers: readonly Executor[];
  /** Each layer's fused run, or undefined for a layer run through its `execute`. */
  readonly runs: readonly (FusedRun | undefined)[];

  static isPipeline(value: object): value is Pipeline {
    return #pipeline in value;
  }

  constructor(layers: Executor[]) {
    this.layers = layers;
    this.runs = layers.map(fusedRunOf);
  }

  execute<T>(
    fn: (ctx: ExecutionContext) => T | Promise<T>,
    signal?: AbortSignal,
    attempt?: number,
  ): Promise<T> {
    if (typeof fn !== "function") {
      return Promise.reject(
        new TypeError(
          `Cannot execute pipeline as 'fn' must be a function: current value is ${show(fn)}`,
        ),
      );
    }
    const call = new PipelineCall(this, fn);
    capturing = call;
    const promise = new Promise<T>(capture);
    capturing = undefined;
    try {
      call.enter(0, signal, attempt ?? 1, undefined, call);
    } catch (error) {
      call.fail(error); // a fused run does not throw; this is the last guard
    }
    return promise;
  }
}

let capturing: PipelineCall | undefined;
// A shared executor (no closure per call) that hands the call's promise's
// resolve and reject to the call being started.
function capture(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturing!.resolve = resolve as (value: unknown) => void;
  capturing!.reject = reject;
}

/**
 * One call of a pipeline: the {@link Inner} its fused layers run the rest
 * through, and the {@link Sink} of its outermost layer, which settles the one
 * promise the call returns.
 */
class PipelineCall implements Inner, Sink {
  readonly #pipeline: Pipeline;
  readonly #fn: Operation;
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((error: unknown) => void) | undefined = undefined;

  constructor(pipeline: Pipeline, fn: Operation) {
    this.#pipeline = pipeline;
    this.#fn = fn;
  }

  ok(value: unknown): void {
    this.resolve!(value);
  }

  fail(error: unknown): void {
    this.reject!(error);
  }

  step(index: number, ctx: ExecutionContext, signal: AbortSignal | undefined, sink: Sink): void {
    if (index === this.#pipeline.layers.length) {
      runOperation(this.#fn, ctx, sink);
      return;
    }
    // A faultline `Context` carries the signal its policy was given, so that
    // signal is passed on as is (reading `ctx.signal` of a Context without
    // one would make an AbortController). The context itself goes inward
    // too: a policy that would only copy its signal and attempt into a new
    // Context hands it on instead.
    this.enter(index, ctx instanceof Context ? signal : ctx.signal, ctx.attempt ?? 1, ctx, sink);
  }

  /** Runs the layer at `index` with what the layer outside it passes in. */
  enter(
    index: number,
    signal: AbortSignal | undefined,
    attempt: number,
    parent: ExecutionContext | undefined,
    sink: Sink,
  ): void {
    const pipeline = this.#pipeline;
    const run = pipeline.runs[index];
    if (run !== undefined) {
      run(pipeline.layers[index] as never, this, index, signal, attempt, parent, sink);
      return;
    }
    const layer = pipeline.layers[index]!;
    // The last layer runs the operation itself, as it would outside a pipeline.
    const rest = index + 1 === pipeline.layers.length
      ? this.#fn
      : this.operation(index + 1, signal);
    settleFrom(() => layer.execute(rest, signal, attempt, parent), sink);
  }

  operation(index: number, signal: AbortSignal | undefined): Operation {
    return (ctx) =>
      new Promise((resolve, reject) => {
        this.step(index, ctx, signal, { ok: resolve, fail: reject });
      });
  }
}

/** Runs the operation itself and reports how it ends. */
function runOperation(fn: Operation, ctx: ExecutionContext, sink: Sink): void {
  let value: unknown;
  try {
    value = fn(ctx);
  } catch (error) {
    sink.fail(error);
    return;
  }
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    try {
      // Promise.resolve adopts a thenable once, however often it calls back.
      Promise.resolve(value).then((v) => sink.ok(v), (e) => sink.fail(e));
    } catch (error) {
      sink.fail(error); // a promise whose `constructor` getter throws
    }
  } else {
    sink.ok(value);
  }
}

/**
 * Combines policies into one; the first argument is the outermost, as in
 * Polly v8: in `pipeline(fallback(x), retry(), circuitBreaker(...), timeout(1000))`
 * the timeout limits each attempt, the breaker counts each attempt, the retry
 * tries again, and the fallback serves `x` when everything else gave up. Each
 * policy passes its `ctx.signal` and `ctx.attempt` inward, so the operation
 * sees the attempt number of the retry around it and a signal that aborts
 * when any timeout around it runs out or the caller aborts.
 *
 * Order matters: `pipeline(retry(), timeout(100))` gives each attempt 100 ms;
 * `pipeline(timeout(1000), retry())` gives the whole call, backoffs included,
 * 1000 ms. A pipeline inside a pipeline is flattened. With no policy, the
 * pipeline just runs the operation (so a list of policies built from
 * configuration may be empty).
 *
 * The result type is the operation's: a {@link fallback} in a pipeline should
 * serve a value of that type.
 *
 * @example
 * ```ts
 * import {
 *   circuitBreaker,
 *   connect,
 *   consecutiveFailures,
 *   fallback,
 *   pipeline,
 *   retry,
 *   timeout,
 * } from "@faultline/faultline";
 *
 * const policy = pipeline(
 *   fallback(null),
 *   retry({ maxAttempts: 3 }),
 *   circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 10_000 }),
 *   timeout(1000),
 * );
 * const greeting = await policy.execute(async ({ signal, attempt }) => {
 *   await using conn = await connect({ hostname: "127.0.0.1", port: 1, signal });
 *   return `connected on attempt ${attempt}`;
 * });
 * console.log(greeting); // null: refused 3 times, then the fallback
 * ```
 */
export function pipeline(...policies: PipelineMember[]): Policy {
  const layers: Executor[] = [];
  for (let i = 0; i < policies.length; i++) {
    const policy = policies[i] as unknown;
    if (
      (typeof policy !== "object" && typeof policy !== "function") || policy === null ||
      typeof (policy as Partial<Executor>).execute !== "function"
    ) {
      throw new TypeError(
        `Cannot create pipeline as 'policies[${i}]' must be a Policy (an object with an execute method): current value is ${
          describe(policy)
        }`,
      );
    }
    if (Pipeline.isPipeline(policy as object)) layers.push(...(policy as Pipeline).layers);
    else layers.push(policy as Executor);
  }
  if (layers.length === 0) return new PassThrough();
  if (layers.length === 1) return layers[0] as unknown as Policy;
  return new Pipeline(layers);
}

function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) return "an object without execute";
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
