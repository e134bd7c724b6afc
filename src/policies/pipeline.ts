/**
 * {@link pipeline}: several policies as one, the first argument outermost.
 *
 * @module
 */

import { Context } from "./context.ts";
import type { FallbackPolicy } from "./fallback.ts";
import { cancelledBy, outgoing } from "./outgoing.ts";
import type { ExecutionContext, Policy } from "./types.ts";

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
  readonly layers: readonly Executor[];
  #last: number;

  constructor(layers: Executor[]) {
    this.layers = layers;
    this.#last = layers.length - 1;
  }

  execute<T>(
    fn: (ctx: ExecutionContext) => T | Promise<T>,
    signal?: AbortSignal,
    attempt?: number,
  ): Promise<T> {
    return this.#run(0, fn, signal, attempt, undefined) as Promise<T>;
  }

  #run(
    index: number,
    fn: Operation,
    signal: AbortSignal | undefined,
    attempt: number | undefined,
    parent: ExecutionContext | undefined,
  ): Promise<unknown> {
    const layer = this.layers[index]!;
    if (index === this.#last) return layer.execute(fn, signal, attempt, parent);
    // One closure per layer and attempt: the inner layer's signal is known only
    // once the outer one has made its context. A faultline `Context` carries the
    // signal its policy was given, so it is passed on as is (reading
    // `ctx.signal` of a Context without one would make an AbortController).
    // The outer layer's context goes inward too: a policy that would only
    // copy its signal and attempt into a new Context hands it on instead.
    return layer.execute(
      (ctx) =>
        this.#run(index + 1, fn, ctx instanceof Context ? signal : ctx.signal, ctx.attempt, ctx),
      signal,
      attempt,
      parent,
    );
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
    if (policy instanceof Pipeline) layers.push(...policy.layers);
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
