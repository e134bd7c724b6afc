/**
 * OpenTelemetry for faultline: {@link instrument} gives a policy or a
 * pipeline the counter `faultline.events`, the histograms
 * `faultline.attempt.duration` and `faultline.pipeline.duration` (seconds),
 * and a span per call with the policies' events on it. The meter and the
 * tracer are OpenTelemetry's own, passed in and used by shape: this entry
 * point imports no package, and nothing is paid where nothing is
 * instrumented.
 *
 * @example
 * ```ts
 * import { pipeline, retry, timeout } from "@faultline/faultline";
 * import { instrument, type SpanLike, type TracerLike } from "@faultline/faultline/otel";
 *
 * // In an application: `trace.getTracer("faultline")` from @opentelemetry/api.
 * const span: SpanLike = {
 *   addEvent: (name, attributes) => console.log(name, attributes),
 *   setAttribute: () => {},
 *   setStatus: () => {},
 *   end: () => {},
 * };
 * const tracer: TracerLike = { startActiveSpan: (_name, _options, fn) => fn(span) };
 * const policy = instrument(pipeline(retry({ maxAttempts: 2 }), timeout(1000)), { name: "search", tracer });
 * let calls = 0;
 * const result = await policy.execute(() => {
 *   if (++calls === 1) throw Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
 *   return "found";
 * });
 * console.log(result); // "found", after the event faultline.retry { "faultline.policy": "retry", "error.type": "reset", ... }
 * ```
 *
 * @module
 */

export { instrument, InstrumentedPolicy } from "./instrument.ts";
export type {
  Attributes,
  CounterLike,
  HistogramLike,
  InstrumentOptions,
  InstrumentOptionsLike,
  MeterLike,
  SpanLike,
  SpanOptionsLike,
  TracerLike,
} from "./types.ts";
