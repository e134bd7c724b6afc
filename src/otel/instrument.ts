/**
 * {@link instrument}: a pipeline's telemetry, in OpenTelemetry's terms. The
 * instrumented policy runs the wrapped policy's layers with layers of its
 * own around and between them (`_layers.ts`), and listens to the policies'
 * events. A policy that is not instrumented runs none of this.
 *
 * @module
 */

import { Plan, runPlan, STRATEGY, Strategy, strategyOf } from "../policies/_engine.ts";
import type { Subscription } from "../policies/events.ts";
import { layersOf, type PipelineMember } from "../policies/pipeline.ts";
import type { ExecutionContext, Policy } from "../policies/types.ts";
import { clock as checkClock, optionsObject, typeError } from "../policies/_validate.ts";
import { API, Between, Inner, Outer, SKIPPED, Telemetry } from "./_layers.ts";
import type { Attributes, InstrumentOptions } from "./types.ts";

/** `circuitBreaker` → `circuit_breaker`: the `faultline.policy` of a layer, from its API name. */
function policyName(layer: object): string | undefined {
  try {
    const strategy = (layer as { [STRATEGY]?: unknown })[STRATEGY];
    if (!(strategy instanceof Strategy)) return undefined;
    return strategy.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  } catch {
    return undefined; // a Proxy whose trap throws: a layer we cannot see into
  }
}

/** The names of a policy's `onX` events, own and inherited. */
function eventNames(layer: object): string[] {
  const names = new Set<string>();
  for (
    let o: object | null = layer;
    o !== null && o !== Object.prototype;
    o = Object.getPrototypeOf(o)
  ) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (/^on[A-Z]/.test(key) && !SKIPPED.has(key)) names.add(key);
    }
  }
  return [...names];
}

/** `onGiveUp` → `give_up`. */
function eventValue(key: string): string {
  return key.slice(2).replace(/(?!^)[A-Z]/g, (c) => `_${c}`).toLowerCase();
}

function check(value: unknown, methods: readonly string[]): boolean {
  return typeof value === "object" && value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === "function");
}

/**
 * A policy with telemetry: {@link instrument} returns it. It runs the same
 * layers as the policy it wraps, and records what they do.
 *
 * @example
 * ```ts
 * import { retry } from "@faultline/faultline";
 * import { instrument, type InstrumentedPolicy } from "@faultline/faultline/otel";
 *
 * const meter = { createCounter: () => ({ add() {} }), createHistogram: () => ({ record() {} }) };
 * const policy: InstrumentedPolicy = instrument(retry(), { name: "orders-db", meter });
 * console.log(await policy.execute(() => "rows")); // "rows"
 * policy.dispose();
 * ```
 */
export class InstrumentedPolicy implements Policy {
  /** The pipeline's name: `faultline.pipeline`. */
  readonly name: string;
  readonly #plan: Plan;
  #subscriptions: Subscription[] = [];

  /** Use {@link instrument}. */
  constructor(policy: PipelineMember, options: InstrumentOptions) {
    const p = policy as unknown;
    if (
      (typeof p !== "object" && typeof p !== "function") || p === null ||
      typeof (p as Partial<Policy>).execute !== "function"
    ) {
      typeError(API, "policy", "a Policy (an object with an execute method)", policy);
    }
    const opts = optionsObject<InstrumentOptions>(API, options);
    const name = opts.name;
    if (typeof name !== "string" || name === "") {
      typeError(API, "name", "a non-empty string", name);
    }
    const meter = opts.meter;
    const tracer = opts.tracer;
    if (meter !== undefined && !check(meter, ["createCounter", "createHistogram"])) {
      typeError(API, "meter", "a Meter (an object with createCounter and createHistogram)", meter);
    }
    if (tracer !== undefined && !check(tracer, ["startActiveSpan"])) {
      typeError(API, "tracer", "a Tracer (an object with startActiveSpan)", tracer);
    }
    if (meter === undefined && tracer === undefined) {
      typeError(API, "meter", "a Meter, or 'tracer' a Tracer: neither is given", meter);
    }
    const clock = checkClock(API, opts.clock);
    this.name = name;
    const t = new Telemetry(name, clock, meter, tracer);

    const layers = layersOf(policy as object);
    const planLayers: object[] = [];
    const strategies: (Strategy | undefined)[] = [];
    const add = (layer: object, strategy: Strategy | undefined) => {
      planLayers.push(layer);
      strategies.push(strategy);
    };
    const outer = new Outer(t);
    add(outer, outer);
    layers.forEach((layer, i) => {
      if (i > 0 && tracer !== undefined) {
        const between = new Between(t);
        add(between, between);
      }
      add(layer, strategyOf(layer));
    });
    const inner = new Inner(t);
    add(inner, inner);
    this.#plan = new Plan(planLayers, strategies, API);

    const seen = new Set<object>();
    for (const layer of layers) {
      const policyValue = policyName(layer);
      if (policyValue === undefined || seen.has(layer)) continue;
      seen.add(layer);
      for (const key of eventNames(layer)) {
        const event = eventValue(key);
        const counted = new Map<string, Attributes>();
        const listener = (payload: unknown) => t.event(policyValue, event, payload, counted);
        let sub: Partial<Subscription> | undefined;
        try {
          const subscribe = (layer as Record<string, unknown>)[key];
          if (typeof subscribe === "function") sub = subscribe.call(layer, listener);
        } catch {
          continue; // not an event after all (a subclass's own onX method)
        }
        if (typeof sub?.dispose === "function") this.#subscriptions.push(sub as Subscription);
      }
    }
  }

  /**
   * Runs `fn` through the wrapped policy, recording the call, each attempt,
   * and the policies' events.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return runPlan<T>(this.#plan, fn, signal);
  }

  /**
   * Stops listening to the wrapped policies' events, for an instrumented
   * policy dropped while its policies live on (a shared circuit breaker).
   */
  dispose(): void {
    const subscriptions = this.#subscriptions;
    this.#subscriptions = [];
    for (const sub of subscriptions) sub.dispose();
  }

  /** The same as {@link InstrumentedPolicy.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Adds OpenTelemetry metrics and traces to a policy or a pipeline, in
 * OpenTelemetry's semantic-convention style. `meter` and `tracer` are the
 * API's own objects (`metrics.getMeter("faultline")`,
 * `trace.getTracer("faultline")`), used by shape: faultline depends on no
 * package. At least one is required.
 *
 * With a meter, it records:
 * - `faultline.events` (counter, `{event}`): each event of the policies
 *   inside, with `faultline.pipeline` (`name`), `faultline.policy` (the
 *   policy's API name in snake case: `retry`, `circuit_breaker`, `timeout`,
 *   `fallback`, `bulkhead`, `hedge`, `chaos`…), `faultline.event` (its
 *   event in snake case: `retry` for `onRetry`, `give_up`, `state_change`,
 *   `timeout`, `fallback`, `rejected`, `hedge`, `fault_injected`…; not
 *   `onSuccess`, nor the breaker's `onBreak`, `onHalfOpen`, `onReset`),
 *   `error.type` (the {@link ConnectionError} kind, else the error's name)
 *   when the event has an error, and `faultline.circuit.state` (the new
 *   state) for a state change;
 * - `faultline.attempt.duration` (histogram, `s`): each attempt of the
 *   operation, with `faultline.pipeline`, and `error.type` when it failed;
 * - `faultline.pipeline.duration` (histogram, `s`): each call, retries and
 *   waits included, with `faultline.pipeline`, and `error.type` when it failed.
 *
 * With a tracer, each call is a span named `name` (kind INTERNAL), active
 * while the layers start, so the spans the operation starts are its
 * children. The policies' events are events on it (`faultline.retry`,
 * `faultline.state_change`, …), and a call that fails sets `error.type`,
 * the ERROR status and the exception on it.
 *
 * The returned policy runs the same layers; the policy given runs as
 * before wherever else it is used, and a policy that is never instrumented
 * pays nothing.
 *
 * @example
 * ```ts
 * import { circuitBreaker, consecutiveFailures, pipeline, retry, timeout } from "@faultline/faultline";
 * import { instrument, type MeterLike } from "@faultline/faultline/otel";
 *
 * // In an application: `metrics.getMeter("faultline")` from @opentelemetry/api.
 * const meter: MeterLike = {
 *   createCounter: (name) => ({ add: (n, attributes) => console.log(name, n, attributes) }),
 *   createHistogram: (name) => ({ record: (s, attributes) => console.log(name, s, attributes) }),
 * };
 * const db = instrument(
 *   pipeline(retry({ maxAttempts: 2 }), circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 10_000 }), timeout(1000)),
 *   { name: "orders-db", meter },
 * );
 * await db.execute(() => "rows");
 * // faultline.attempt.duration 0.0001 { "faultline.pipeline": "orders-db" }
 * // faultline.pipeline.duration 0.0002 { "faultline.pipeline": "orders-db" }
 * ```
 */
export function instrument(policy: PipelineMember, options: InstrumentOptions): InstrumentedPolicy {
  return new InstrumentedPolicy(policy, options);
}
