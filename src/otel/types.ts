/**
 * The parts of the OpenTelemetry API that {@link instrument} uses, described
 * by shape: a `Meter` and a `Tracer` from `@opentelemetry/api` fit them, and
 * faultline imports nothing.
 *
 * @module
 */

import type { Clock } from "../clock.ts";

/**
 * Attributes of a measurement or a span event, as OpenTelemetry takes them.
 *
 * @example
 * ```ts
 * import type { Attributes } from "@faultline/faultline/otel";
 *
 * const attributes: Attributes = { "faultline.pipeline": "db", "error.type": "refused" };
 * ```
 */
export type Attributes = Record<string, string | number | boolean>;

/**
 * What {@link instrument} needs of a counter: OpenTelemetry's `Counter`.
 *
 * @example
 * ```ts
 * import type { CounterLike } from "@faultline/faultline/otel";
 *
 * const counter: CounterLike = { add: (value, attributes) => console.log(value, attributes) };
 * ```
 */
export interface CounterLike {
  /** Adds `value` for these attributes. */
  add(value: number, attributes?: Attributes): void;
}

/**
 * What {@link instrument} needs of a histogram: OpenTelemetry's `Histogram`.
 *
 * @example
 * ```ts
 * import type { HistogramLike } from "@faultline/faultline/otel";
 *
 * const histogram: HistogramLike = { record: (value) => console.log(`${value} s`) };
 * ```
 */
export interface HistogramLike {
  /** Records `value` for these attributes. */
  record(value: number, attributes?: Attributes): void;
}

/**
 * The options {@link instrument} creates its instruments with, as
 * OpenTelemetry's `MetricOptions` takes them.
 *
 * @example
 * ```ts
 * import type { InstrumentOptionsLike } from "@faultline/faultline/otel";
 *
 * const options: InstrumentOptionsLike = { unit: "s", description: "How long it took" };
 * ```
 */
export interface InstrumentOptionsLike {
  /** What the instrument measures. */
  description?: string;
  /** Its unit, in UCUM: `s`, `{event}`. */
  unit?: string;
  /** The bucket boundaries a histogram should use unless a view says otherwise. */
  advice?: { explicitBucketBoundaries?: number[] };
}

/**
 * What {@link instrument} needs of a meter: OpenTelemetry's `Meter`
 * (`metrics.getMeter("faultline")`).
 *
 * @example
 * ```ts
 * import type { MeterLike } from "@faultline/faultline/otel";
 *
 * // A meter that drops everything, as OpenTelemetry's API does with no SDK registered.
 * const meter: MeterLike = {
 *   createCounter: () => ({ add() {} }),
 *   createHistogram: () => ({ record() {} }),
 * };
 * ```
 */
export interface MeterLike {
  /** Creates a counter. */
  createCounter(name: string, options?: InstrumentOptionsLike): CounterLike;
  /** Creates a histogram. */
  createHistogram(name: string, options?: InstrumentOptionsLike): HistogramLike;
}

/**
 * What {@link instrument} needs of a span: OpenTelemetry's `Span`.
 *
 * @example
 * ```ts
 * import type { SpanLike } from "@faultline/faultline/otel";
 *
 * const span: SpanLike = {
 *   addEvent: (name) => console.log(name),
 *   setAttribute: () => {},
 *   setStatus: () => {},
 *   end: () => {},
 * };
 * ```
 */
export interface SpanLike {
  /** Adds an event with attributes. */
  addEvent(name: string, attributes?: Attributes): unknown;
  /** Sets an attribute. */
  setAttribute(key: string, value: string | number | boolean): unknown;
  /** Sets the status: code 2 is ERROR. */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Records an exception as an event, when the span can. */
  recordException?(exception: Error | string): unknown;
  /** Ends the span. */
  end(): unknown;
}

/**
 * The options {@link instrument} starts a span with, as OpenTelemetry's
 * `SpanOptions` takes them.
 *
 * @example
 * ```ts
 * import type { SpanOptionsLike } from "@faultline/faultline/otel";
 *
 * const options: SpanOptionsLike = { kind: 0, attributes: { "faultline.pipeline": "db" } };
 * ```
 */
export interface SpanOptionsLike {
  /** The span kind: 0 is INTERNAL. */
  kind?: number;
  /** Attributes known when the span starts. */
  attributes?: Attributes;
}

/**
 * What {@link instrument} needs of a tracer: OpenTelemetry's `Tracer`
 * (`trace.getTracer("faultline")`).
 *
 * @example
 * ```ts
 * import type { SpanLike, TracerLike } from "@faultline/faultline/otel";
 *
 * const span: SpanLike = { addEvent() {}, setAttribute() {}, setStatus() {}, end() {} };
 * const tracer: TracerLike = { startActiveSpan: (_name, _options, fn) => fn(span) };
 * ```
 */
export interface TracerLike {
  /**
   * Starts a span, makes it the active span while `fn` runs (so spans the
   * operation starts are its children), and returns what `fn` returns.
   */
  startActiveSpan(name: string, options: SpanOptionsLike, fn: (span: SpanLike) => unknown): unknown;
}

/**
 * Options of {@link instrument}: a name, and a meter, a tracer or both.
 *
 * @example
 * ```ts
 * import type { InstrumentOptions } from "@faultline/faultline/otel";
 *
 * const options: InstrumentOptions = {
 *   name: "orders-db",
 *   meter: { createCounter: () => ({ add() {} }), createHistogram: () => ({ record() {} }) },
 * };
 * ```
 */
export interface InstrumentOptions {
  /**
   * The pipeline's name: the `faultline.pipeline` attribute of every
   * measurement, and the name of its spans. Keep it low in cardinality
   * (`"orders-db"`, not a URL).
   */
  name: string;
  /** Where the counter and the histograms go. */
  meter?: MeterLike;
  /** Where the spans go: one per call, with the policies' events on it. */
  tracer?: TracerLike;
  /** The clock durations are measured on. Default `realClock`. */
  clock?: Clock;
}
