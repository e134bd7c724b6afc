/**
 * {@link pipeline}: several policies as one, the first argument outermost.
 *
 * @module
 */

import { brandFor, carries } from "../errors/_brand.ts";
import { Plan, runPlan, strategyOf } from "./_engine.ts";
import type { FallbackPolicy } from "./fallback.ts";
import { outgoing } from "./_outgoing.ts";
import type { ExecutionContext, Policy } from "./types.ts";

/** What {@link pipeline} accepts: any {@link Policy}, and a {@link FallbackPolicy}. */
export type PipelineMember = Policy | FallbackPolicy<unknown>;

const PIPELINE: unique symbol = brandFor("Pipeline") as never;

/** The layers of a pipeline to flatten into another, if `value` is one. */
function nestedLayers(value: object): readonly object[] | undefined {
  if (!carries(value, PIPELINE)) return undefined;
  try {
    const layers = (value as Pipeline).plan.layers;
    // A Proxy may claim any brand: only a real list of layers is taken.
    return Array.isArray(layers) ? layers : undefined;
  } catch {
    return undefined;
  }
}

class Pipeline implements Policy {
  readonly plan: Plan;

  /** The brand a nested pipeline is flattened by. */
  get [PIPELINE](): true {
    return true;
  }

  constructor(layers: object[]) {
    this.plan = new Plan(layers, layers.map(strategyOf), "pipeline");
  }

  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    const promise = runPlan<T>(this.plan, fn, signal);
    // With no policy, nothing else turns a recognized error into a ConnectionError.
    return this.plan.layers.length === 0 ? promise.catch(rethrowOutgoing) : promise;
  }
}

function rethrowOutgoing(error: unknown): never {
  throw outgoing(error);
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
  const layers: object[] = [];
  for (let i = 0; i < policies.length; i++) {
    const policy = policies[i] as unknown;
    if (
      (typeof policy !== "object" && typeof policy !== "function") || policy === null ||
      typeof (policy as Partial<Policy>).execute !== "function"
    ) {
      throw new TypeError(
        `Cannot create pipeline as 'policies[${i}]' must be a Policy (an object with an execute method): current value is ${
          describe(policy)
        }`,
      );
    }
    const nested = nestedLayers(policy as object);
    if (nested !== undefined) layers.push(...nested);
    else layers.push(policy as object);
  }
  if (layers.length === 1) return layers[0] as unknown as Policy;
  return new Pipeline(layers);
}

/** Internal, for `instrument`: the layers of `policy`, outermost first (`[policy]` alone). */
export function layersOf(policy: object): readonly object[] {
  return nestedLayers(policy) ?? [policy];
}

function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) return "an object without execute";
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
