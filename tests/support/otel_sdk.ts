// The real OpenTelemetry SDK, wired as a collector would receive it: a
// MeterProvider whose reader is collected by hand (as a pull exporter such as
// Prometheus would) and a tracer provider exporting finished spans to memory.
// For the tests of src/otel/.
import assert from "node:assert/strict";
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";

/** A reader collected by hand, as a pull exporter (Prometheus) would. */
class Reader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Point {
  name: string;
  unit: string;
  attributes: Record<string, unknown>;
  value: number | { count: number; sum: number };
}

export function otel() {
  const reader = new Reader();
  const meter = new MeterProvider({ readers: [reader] }).getMeter("faultline-test");
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    .getTracer("faultline-test");
  return {
    meter,
    tracer,
    spans: (): ReadableSpan[] => exporter.getFinishedSpans(),
    async points(): Promise<Point[]> {
      const { resourceMetrics } = await reader.collect();
      const out: Point[] = [];
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          for (const p of metric.dataPoints as DataPoint<number | Histogram>[]) {
            const v = p.value;
            out.push({
              name: metric.descriptor.name,
              unit: metric.descriptor.unit,
              attributes: p.attributes,
              value: typeof v === "number" ? v : { count: v.count, sum: round(v.sum ?? 0) },
            });
          }
        }
      }
      return out;
    },
  };
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;

export function find(
  points: Point[],
  name: string,
  attributes: Record<string, unknown>,
): Point["value"] {
  const found = points.filter((p) =>
    p.name === name &&
    JSON.stringify(Object.entries(p.attributes).sort()) ===
      JSON.stringify(Object.entries(attributes).sort())
  );
  assert.equal(
    found.length,
    1,
    `${name} ${JSON.stringify(attributes)} in ${JSON.stringify(points)}`,
  );
  return found[0]!.value;
}

export const refused = (): Error =>
  Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
