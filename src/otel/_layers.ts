/**
 * The layers {@link instrument} runs around and between a policy's own: the
 * outermost measures the call and holds its span, the innermost measures
 * each attempt, and, when tracing, one between each two layers marks which
 * call is passing, so that an event a policy emits lands on the span of its
 * own call, without OpenTelemetry's context (no context manager is needed)
 * and without importing the API. Internal.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { recognize } from "../errors/normalize_error.ts";
import { errorType, report, spanEventAttributes } from "./_attributes.ts";
import { type Call, type Sink, Strategy } from "../policies/_engine.ts";
import type { ExecutionContext } from "../policies/types.ts";
import type {
  Attributes,
  CounterLike,
  HistogramLike,
  MeterLike,
  SpanLike,
  SpanOptionsLike,
  TracerLike,
} from "./types.ts";

/** The API named in a bad call: `Cannot execute instrument as ...`. */
export const API = "instrument";
/** Bucket boundaries in seconds: what OpenTelemetry's conventions advise for request durations. */
const BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const SPAN_KIND_INTERNAL = 0;
const STATUS_ERROR = 2;
/** Events not counted: another says the same (state_change), or it comes with every call. */
export const SKIPPED: ReadonlySet<string> = new Set([
  "onSuccess",
  "onBreak",
  "onHalfOpen",
  "onReset",
]);

/** An event a policy emitted outside any call's layers, kept until the call's next layer hears it. */
interface Pending {
  readonly telemetry: Telemetry;
  /** The last run started when it was emitted: a run started later cannot be its call. */
  readonly serial: number;
  readonly name: string;
  readonly attributes: Attributes;
}

/** The call whose layers are running now (tracing only). */
let current: Run | undefined;
/** The call whose span the tracer is starting: what {@link Telemetry.onSpan} runs. */
let starting:
  | { run: Run; call: Call; index: number; ctx: ExecutionContext }
  | undefined;
/** Numbers the runs in the order they start. */
let lastRun = 0;
/** Events emitted outside a call's layers this turn, for the first layer of theirs to run. */
let pending: Pending[] = [];
let clearing = false;

function defer(event: Pending): void {
  pending.push(event);
  if (clearing) return;
  clearing = true;
  // An event that no call took by the end of this turn belonged to none (a breaker reset by hand).
  queueMicrotask(() => {
    pending = [];
    clearing = false;
  });
}

/** Hands the run the events emitted for it just before its layer was reached. */
function drain(run: Run): void {
  if (pending.length === 0) return;
  const kept: Pending[] = [];
  for (const event of pending) {
    if (event.telemetry === run.telemetry && run.serial <= event.serial) {
      run.addEvent(event.name, event.attributes);
    } else {
      kept.push(event);
    }
  }
  pending = kept;
}

/** Passes an outcome on with `run` marked as the call running. */
function forward(run: Run, sink: Sink, failed: boolean, outcome: unknown): void {
  const previous = current;
  current = run;
  drain(run);
  try {
    if (failed) sink.fail(outcome);
    else sink.ok(outcome);
  } finally {
    current = previous;
  }
}

/** Runs the layer at `index` with `run` marked as the call running. */
function descend(run: Run, call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
  const previous = current;
  current = run;
  drain(run);
  try {
    call.next(index, ctx, sink);
  } finally {
    current = previous;
  }
}

/** What one `instrument()` shares between its calls: the instruments and the attributes. */
export class Telemetry {
  readonly name: string;
  readonly clock: Clock;
  readonly events: CounterLike | undefined;
  readonly attempts: HistogramLike | undefined;
  readonly calls: HistogramLike | undefined;
  readonly tracer: TracerLike | undefined;
  readonly spanOptions: SpanOptionsLike;
  /** The attributes of a success. */
  readonly ok: Attributes;
  readonly #failed = new Map<string, Attributes>();
  /**
   * Each call's run while it lasts (tracing only), for a layer reached when
   * no layer of the call's is on the stack (a retry's next attempt).
   */
  readonly runs = new Map<Call, Run>();
  /** Starts the layers in the span the tracer made (one function for every call). */
  readonly onSpan = (span: SpanLike | undefined): void => {
    const s = starting;
    starting = undefined;
    if (s === undefined) return; // called twice, or late: the call runs already
    s.run.span = span;
    descend(s.run, s.call, s.index, s.ctx, s.run);
  };

  constructor(
    name: string,
    clock: Clock,
    meter: MeterLike | undefined,
    tracer: TracerLike | undefined,
  ) {
    this.name = name;
    this.clock = clock;
    this.tracer = tracer;
    this.ok = Object.freeze({ "faultline.pipeline": name });
    this.spanOptions = Object.freeze({ kind: SPAN_KIND_INTERNAL, attributes: this.ok });
    if (meter === undefined) return;
    this.events = meter.createCounter("faultline.events", {
      description: "Events of faultline's policies: retries, give-ups, circuit state changes, " +
        "timeouts, fallbacks, rejections, injected faults",
      unit: "{event}",
    });
    const histogram = (what: string) => ({
      description: what,
      unit: "s",
      advice: { explicitBucketBoundaries: BOUNDARIES },
    });
    this.attempts = meter.createHistogram(
      "faultline.attempt.duration",
      histogram("Duration of each attempt of the operation run through a faultline pipeline"),
    );
    this.calls = meter.createHistogram(
      "faultline.pipeline.duration",
      histogram("Duration of a call through a faultline pipeline, retries and waits included"),
    );
  }

  /** The run of `call`: the one on the stack when it is the call's, else the one kept for it. */
  runOf(call: Call): Run | undefined {
    const run = current;
    return run !== undefined && run.call === call ? run : this.runs.get(call);
  }

  /** The attributes of a failure of this `error.type`, made once per type. */
  failed(type: string): Attributes {
    let attributes = this.#failed.get(type);
    if (attributes === undefined) {
      attributes = Object.freeze({ "faultline.pipeline": this.name, "error.type": type });
      this.#failed.set(type, attributes);
    }
    return attributes;
  }

  /** Records a duration since `start`, in seconds. */
  record(histogram: HistogramLike, start: number, error: unknown, failed: boolean): void {
    try {
      const seconds = (this.clock.now() - start) / 1000;
      histogram.record(seconds, failed ? this.failed(errorType(error)) : this.ok);
    } catch (thrown) {
      report(thrown);
    }
  }

  /** A policy's event: counted, and added to the span of the call it belongs to. */
  event(policy: string, event: string, payload: unknown, counted: Map<string, Attributes>): void {
    const p = (typeof payload === "object" && payload !== null ? payload : {}) as Record<
      string,
      unknown
    >;
    const type = "error" in p && p.error !== undefined ? errorType(p.error) : undefined;
    const state = typeof p.to === "string" ? p.to : undefined;
    if (this.events !== undefined) {
      const key = `${type ?? ""}\u0000${state ?? ""}`;
      let attributes = counted.get(key);
      if (attributes === undefined) {
        const a: Attributes = {
          "faultline.pipeline": this.name,
          "faultline.policy": policy,
          "faultline.event": event,
        };
        if (type !== undefined) a["error.type"] = type;
        if (state !== undefined) a["faultline.circuit.state"] = state;
        attributes = Object.freeze(a);
        counted.set(key, attributes);
      }
      this.events.add(1, attributes);
    }
    if (this.tracer === undefined) return;
    const name = `faultline.${event}`;
    const attributes = spanEventAttributes(policy, type, p);
    const run = current;
    if (run !== undefined && run.telemetry === this) run.addEvent(name, attributes);
    else defer({ telemetry: this, serial: lastRun, name, attributes });
  }
}

/** One call: its start, its span, and the sink it reports to in the end. */
class Run implements Sink {
  readonly telemetry: Telemetry;
  /** The call, when tracing. */
  readonly call: Call | undefined;
  /** When it started, among the runs. */
  readonly serial: number = ++lastRun;
  readonly #sink: Sink;
  readonly #start: number;
  span: SpanLike | undefined = undefined;

  constructor(telemetry: Telemetry, call: Call | undefined, sink: Sink, start: number) {
    this.telemetry = telemetry;
    this.call = call;
    this.#sink = sink;
    this.#start = start;
  }

  addEvent(name: string, attributes: Attributes): void {
    try {
      this.span?.addEvent(name, attributes);
    } catch (thrown) {
      report(thrown);
    }
  }

  ok(value: unknown): void {
    this.#end(undefined, false);
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    // Built once, here, as the call would: the span records what the caller gets.
    const out = recognize(error) ?? error;
    this.#end(out, true);
    this.#sink.fail(out);
  }

  #end(error: unknown, failed: boolean): void {
    const t = this.telemetry;
    if (t.calls !== undefined) t.record(t.calls, this.#start, error, failed);
    if (this.call !== undefined) t.runs.delete(this.call);
    const span = this.span;
    if (span === undefined) return;
    drain(this);
    try {
      if (failed) {
        span.setAttribute("error.type", errorType(error));
        const message = (error as { message?: unknown } | null)?.message;
        span.setStatus({
          code: STATUS_ERROR,
          message: typeof message === "string" ? message : String(error),
        });
        if (error instanceof Error || typeof error === "string") span.recordException?.(error);
      }
      span.end();
    } catch (thrown) {
      report(thrown);
    }
  }
}

/** The outermost layer: starts the call's measurement and span. */
export class Outer extends Strategy {
  readonly telemetry: Telemetry;

  constructor(telemetry: Telemetry) {
    super(Telemetry.prototype, API);
    this.telemetry = telemetry;
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    const t = this.telemetry;
    const start = t.calls === undefined ? 0 : t.clock.now();
    const tracer = t.tracer;
    if (tracer === undefined) {
      call.next(index + 1, ctx, new Run(t, undefined, sink, start));
      return;
    }
    const run = new Run(t, call, sink, start);
    t.runs.set(call, run);
    const outer = starting;
    starting = { run, call, index: index + 1, ctx };
    try {
      // Active while the layers start: spans the operation starts are its children.
      tracer.startActiveSpan(t.name, t.spanOptions, t.onSpan);
    } catch (thrown) {
      report(thrown);
    }
    t.onSpan(undefined); // a tracer that did not call back: the call runs all the same
    starting = outer;
  }
}

/** Between two layers (tracing only): marks the call as running, both ways. */
export class Between extends Strategy {
  readonly telemetry: Telemetry;

  constructor(telemetry: Telemetry) {
    super(Telemetry.prototype, API);
    this.telemetry = telemetry;
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    const run = this.telemetry.runOf(call);
    if (run === undefined) call.next(index + 1, ctx, sink); // an attempt after its call ended
    else descend(run, call, index + 1, ctx, new Marked(run, sink));
  }
}

/** A sink that passes the outcome on with its call marked as running. */
class Marked implements Sink {
  readonly #run: Run;
  readonly #sink: Sink;

  constructor(run: Run, sink: Sink) {
    this.#run = run;
    this.#sink = sink;
  }

  ok(value: unknown): void {
    forward(this.#run, this.#sink, false, value);
  }

  fail(error: unknown): void {
    forward(this.#run, this.#sink, true, error);
  }
}

/** The innermost layer: measures each attempt of the operation. */
export class Inner extends Strategy {
  readonly telemetry: Telemetry;

  constructor(telemetry: Telemetry) {
    super(Telemetry.prototype, API);
    this.telemetry = telemetry;
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    const t = this.telemetry;
    const run = t.tracer === undefined ? undefined : t.runOf(call);
    const attempt = new Attempt(t, run, sink, t.attempts === undefined ? 0 : t.clock.now());
    if (run === undefined) call.next(index + 1, ctx, attempt);
    else descend(run, call, index + 1, ctx, attempt);
  }
}

/** One attempt: recorded when it ends. */
class Attempt implements Sink {
  readonly #telemetry: Telemetry;
  readonly #run: Run | undefined;
  readonly #sink: Sink;
  readonly #start: number;

  constructor(telemetry: Telemetry, run: Run | undefined, sink: Sink, start: number) {
    this.#telemetry = telemetry;
    this.#run = run;
    this.#sink = sink;
    this.#start = start;
  }

  ok(value: unknown): void {
    this.#end(false, value);
  }

  fail(error: unknown): void {
    this.#end(true, error);
  }

  #end(failed: boolean, outcome: unknown): void {
    const t = this.#telemetry;
    if (t.attempts !== undefined) t.record(t.attempts, this.#start, outcome, failed);
    if (this.#run !== undefined) forward(this.#run, this.#sink, failed, outcome);
    else if (failed) this.#sink.fail(outcome);
    else this.#sink.ok(outcome);
  }
}
