/**
 * The faultline benchmark: faultline side by side with cockatiel, opossum and
 * p-retry, in one process, in whatever runtime runs this file (Node ≥ 22.18,
 * Deno, Bun). `node bench/run_all.mjs` (`npm run bench`) runs it under all four
 * runtimes and writes bench/RESULTS.md.
 *
 * By hand:
 *   node --expose-gc bench/run.ts
 *   deno run -A --v8-flags=--expose-gc bench/run.ts
 *   bun bench/run.ts
 * `BENCH_QUICK=1` runs fewer, shorter rounds (for trying the script out).
 *
 * Method: every timed case runs `await run()` in a loop, a batch of calls per
 * sample (calibrated so a sample takes ~SAMPLE_MS, far above the timer's
 * resolution), after a warm-up. The cases of one section take turns within
 * each round (the starting case rotates), so load from other processes falls
 * on all of them alike; the figure reported is the median of the rounds, with
 * the quartiles beside it. GC runs between sections when the runtime allows.
 * Timers are counted by wrapping `globalThis.setTimeout` in a separate,
 * untimed pass, so the counting never slows a timed sample.
 *
 * @module
 */

import {
  adaptiveConcurrency,
  adaptiveThrottle,
  circuitBreaker,
  type Clock,
  consecutiveFailures,
  constantBackoff,
  hedge,
  pipeline,
  realClock,
  retry,
  timeout,
} from "../mod.ts";
import {
  circuitBreaker as cockatielBreaker,
  ConsecutiveBreaker,
  ConstantBackoff,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap,
} from "cockatiel";
import CircuitBreaker from "opossum";
import { createNoopMeter, trace } from "@opentelemetry/api";
import { instrument } from "../src/otel/mod.ts";
import pRetry from "p-retry";
import { rateLimit } from "../src/policies/rate_limit.ts";
import { MemoryFleetStore } from "../tests/support/fleet_memory_store.ts";

// ---------------------------------------------------------------- the host

interface Host {
  Deno?: {
    version: { deno: string; v8: string };
    memoryUsage(): { heapUsed: number };
    env: { get(key: string): string | undefined };
  };
  Bun?: { version: string; gc(force: boolean): void };
  process?: {
    versions: Record<string, string | undefined>;
    memoryUsage(): { heapUsed: number };
    env: Record<string, string | undefined>;
    platform: string;
    arch: string;
  };
  gc?: () => void;
  setTimeout: (callback: (...args: unknown[]) => void, ms?: number, ...rest: unknown[]) => unknown;
  clearTimeout: (handle: unknown) => void;
}
const host = globalThis as unknown as Host;

function env(name: string): string | undefined {
  try {
    return host.Deno ? host.Deno.env.get(name) : host.process?.env[name];
  } catch {
    return undefined;
  }
}

function runtimeName(): string {
  if (host.Deno) return `Deno ${host.Deno.version.deno} (V8 ${host.Deno.version.v8})`;
  if (host.Bun) return `Bun ${host.Bun.version} (JavaScriptCore)`;
  const v = host.process?.versions ?? {};
  return `Node ${v.node} (V8 ${v.v8})`;
}

const RUNTIME = runtimeName();
const QUICK = env("BENCH_QUICK") === "1";
/** Target length of one timed sample. */
const SAMPLE_MS = QUICK ? 4 : 15;
/** Timed samples per case (the median is reported). */
const ROUNDS = QUICK ? 5 : 21;
/** Warm-up per case before the timed rounds, so that every case runs optimized code. */
const WARM_MS = QUICK ? 20 : 150;
/** Calls for the heap-growth section. */
const HEAP_CALLS = QUICK ? 100_000 : 1_000_000;
/** Breakers for the retained-memory section. */
const BREAKERS = 10_000;
/** Calls in flight for the concurrent-timeouts section. */
const IN_FLIGHT = 10_000;

const realSetTimeout = host.setTimeout;
const realClearTimeout = host.clearTimeout;
/** A wait on a real timer that the timer counting never sees. */
const pause = (ms: number) =>
  new Promise<void>((resolve) => realSetTimeout.call(globalThis, () => resolve(), ms));

const canGC = typeof host.gc === "function" || host.Bun !== undefined;
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    if (typeof host.gc === "function") host.gc();
    else host.Bun?.gc(true);
    await pause(0);
  }
}

function heapUsed(): number {
  return host.Deno ? host.Deno.memoryUsage().heapUsed : host.process!.memoryUsage().heapUsed;
}

// ------------------------------------------------------------ timer counting

let timersCreated = 0;
const liveTimers = new Set<unknown>();

/** Counts `setTimeout` calls (and which timers are still pending) until `restoreTimers()`. */
function countTimers(): void {
  timersCreated = 0;
  liveTimers.clear();
  host.setTimeout = function (callback, ms, ...rest) {
    timersCreated++;
    const handle: unknown = realSetTimeout.call(
      globalThis,
      (...args: unknown[]) => {
        liveTimers.delete(handle);
        callback(...args);
      },
      ms,
      ...rest,
    );
    liveTimers.add(handle);
    return handle;
  };
  host.clearTimeout = function (handle) {
    liveTimers.delete(handle);
    realClearTimeout.call(globalThis, handle);
  };
}

function restoreTimers(): void {
  host.setTimeout = realSetTimeout;
  host.clearTimeout = realClearTimeout;
}

// ------------------------------------------------------------------ timing

interface Case {
  id: string;
  label: string;
  run: () => Promise<unknown>;
  /** What one call must do, checked once before timing. */
  expect: "resolve" | "reject";
}

interface Timed {
  id: string;
  label: string;
  median: number;
  q1: number;
  q3: number;
  timersPerCall: number;
}

/** Milliseconds for `n` calls, one after the other. */
async function batch(run: () => Promise<unknown>, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    try {
      await run();
    } catch {
      // the rejection cases: a rejected call is the measured work
    }
  }
  return performance.now() - t0;
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

async function check(c: Case): Promise<void> {
  let outcome: string;
  try {
    const value = await c.run();
    outcome = value === 42 ? "resolve" : `resolve with ${String(value)}`;
  } catch (error) {
    outcome = "reject";
    if (c.expect === "resolve") console.error(`${c.label}:`, error);
  }
  if (outcome !== c.expect) {
    throw new Error(`bench case '${c.label}' should ${c.expect} 42, but did ${outcome}`);
  }
}

/** Runs the cases of one section in turns and gives each one's median ns per call. */
async function timeSection(cases: Case[]): Promise<Timed[]> {
  for (const c of cases) await check(c);
  // Calibrate (this doubles as the first warm-up): calls per sample ≈ SAMPLE_MS.
  const sizes: number[] = [];
  for (const c of cases) {
    let n = 8;
    let ms = await batch(c.run, n);
    while (ms < SAMPLE_MS / 4) {
      n *= 2;
      ms = await batch(c.run, n);
    }
    sizes.push(Math.max(1, Math.round(n * SAMPLE_MS / Math.max(ms, 0.001))));
  }
  // Warm-up: full-size samples until WARM_MS have passed for each case.
  for (let i = 0; i < cases.length; i++) {
    let spent = 0;
    while (spent < WARM_MS) spent += await batch(cases[i]!.run, sizes[i]!);
  }
  const samples: number[][] = cases.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + round) % cases.length;
      const ms = await batch(cases[i]!.run, sizes[i]!);
      samples[i]!.push(ms * 1e6 / sizes[i]!);
    }
  }
  // Timers per call, in an untimed pass.
  const timers: number[] = [];
  for (const c of cases) {
    const n = 200;
    countTimers();
    try {
      await batch(c.run, n);
      await pause(5); // lets 0 ms timers fire, so their count is complete
    } finally {
      restoreTimers();
    }
    timers.push(timersCreated / n);
  }
  return cases.map((c, i) => {
    const s = samples[i]!.slice().sort((a, b) => a - b);
    return {
      id: c.id,
      label: c.label,
      median: quantile(s, 0.5),
      q1: quantile(s, 0.25),
      q3: quantile(s, 0.75),
      timersPerCall: timers[i]!,
    };
  });
}

// ------------------------------------------------------------------- cases

// deno-lint-ignore require-await
const op = async () => 42;

/** One error object for every failed attempt: what is timed is the libraries' handling of it. */
const REFUSED = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
  code: "ECONNREFUSED",
  errno: -111,
  syscall: "connect",
  address: "127.0.0.1",
  port: 1,
});

/** A fresh operation that fails twice (a refused connection), then returns 42. */
function flaky(): () => Promise<number> {
  let attempts = 0;
  // deno-lint-ignore require-await
  return async () => {
    if (++attempts < 3) throw REFUSED;
    return 42;
  };
}

const flBreakerOptions = () => ({ trip: consecutiveFailures(5), halfOpenAfter: 10_000 });
const ckBreaker = () =>
  cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });

// cockatiel's maxAttempts counts retries, faultline's counts attempts: both allow 3 attempts.
const flRetry = retry({ maxAttempts: 3, backoff: constantBackoff(0) });
const ckRetry = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(0) });

const flBreaker = circuitBreaker(flBreakerOptions());
const flTimeout = timeout(1000);
const flPipeline = pipeline(
  retry({ maxAttempts: 3, backoff: constantBackoff(0) }),
  circuitBreaker(flBreakerOptions()),
  timeout(1000),
);
const flPipelineRb = pipeline(
  retry({ maxAttempts: 3, backoff: constantBackoff(0) }),
  circuitBreaker(flBreakerOptions()),
);
// The same pipeline under instrument(): with the no-op meter (and tracer) that
// OpenTelemetry's API gives when no SDK is registered, the cost of the layers alone.
const flPipelineOf = () =>
  pipeline(
    retry({ maxAttempts: 3, backoff: constantBackoff(0) }),
    circuitBreaker(flBreakerOptions()),
    timeout(1000),
  );
const flMetered = instrument(flPipelineOf(), { name: "bench", meter: createNoopMeter() });
const flTraced = instrument(flPipelineOf(), {
  name: "bench",
  meter: createNoopMeter(),
  tracer: trace.getTracer("bench"),
});
const ckWrap = wrap(
  cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(0) }),
  ckBreaker(),
  cockatielTimeout(1000, TimeoutStrategy.Aggressive),
);
const opBreaker = new CircuitBreaker(op, { timeout: 1000 });
const opossumAll: CircuitBreaker[] = [opBreaker];

const id = (v: number) => v;

// Latency-aware policies on the success path: a hedge whose delay never comes
// (the call settles in microtasks: no timer), a limit and a throttle with room.
const flHedge = hedge({ delay: 1000 });
const flAdaptive = adaptiveConcurrency();
const flThrottle = adaptiveThrottle();
const flHedgeTimeout = pipeline(hedge({ delay: 1000 }), timeout(1000));
// Polly's standard order: a total timeout outside the retry, one per attempt inside the breaker.
const flStandard = pipeline(
  timeout(5000),
  retry({ maxAttempts: 3, backoff: constantBackoff(0) }),
  circuitBreaker(flBreakerOptions()),
  timeout(1000),
);

// The fleet (issue 13) on the success path: the same breaker and a rate limit
// with `fleet`, on a store in this process (no I/O: the success path never
// waits on the store anyway; bench/fleet.ts measures it against Redis).
const flFleetStore = new MemoryFleetStore(realClock);
const flFleet = { store: flFleetStore, key: "bench", syncMs: 100 };
const flBreakerFleet = circuitBreaker({ ...flBreakerOptions(), fleet: flFleet });
const flRate = rateLimit({ limit: 1e9, windowMs: 1_000 });
const flRateFleet = rateLimit({ limit: 1e9, windowMs: 1_000, fleet: flFleet });

// For the floor of a timeout: its one look, a microtask after the call starts.
const RESOLVED = Promise.resolve();
let looks = 0;
function look(): void {
  looks++;
}

const successCases: Case[] = [
  { id: "bare", label: "bare `await op()`", run: op, expect: "resolve" },
  {
    // The least any wrapper that sees the outcome can cost: one reaction on the operation's promise.
    id: "floor",
    label: "floor `await op().then(id)`",
    run: () => op().then(id),
    expect: "resolve",
  },
  {
    // What a wrapper that may settle before its operation (a timeout) cannot do
    // without: a promise of its own besides the operation's reaction.
    id: "floor_own",
    label: "floor with a promise of its own `new Promise` + `op().then(resolve, reject)`",
    run: () => {
      let resolve!: (v: unknown) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise((ok, fail) => {
        resolve = ok;
        reject = fail;
      });
      op().then(resolve, reject);
      return promise;
    },
    expect: "resolve",
  },
  {
    // The least a layer that may end a call before its operation can do
    // without a timer of its own per call, as faultline's timeout works: a
    // promise of its own, a reaction that tells the layer the operation has
    // ended, and one microtask to see whether the call outlived its turn (a
    // timer is armed only for one that has). Any timeout costs at least this.
    // Written out like the row above, not shared: a helper's call would be timed too.
    id: "floor_timeout",
    label:
      "the least a timeout can do: the above, a reaction that marks the call done, one microtask",
    run: () => {
      let resolve!: (v: unknown) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise((ok, fail) => {
        resolve = ok;
        reject = fail;
      });
      const entry = { done: false };
      op().then((v) => {
        entry.done = true;
        resolve(v);
      }, (e) => {
        entry.done = true;
        reject(e);
      });
      RESOLVED.then(look);
      return promise;
    },
    expect: "resolve",
  },
  {
    id: "fl_retry",
    label: "faultline retry",
    run: () => flRetry.execute(op),
    expect: "resolve",
  },
  {
    id: "ck_retry",
    label: "cockatiel retry",
    run: () => ckRetry.execute(op),
    expect: "resolve",
  },
  {
    id: "p_retry",
    label: "p-retry `pRetry(op, { retries: 2 })`",
    run: () => pRetry(op, { retries: 2 }),
    expect: "resolve",
  },
  {
    id: "fl_breaker",
    label: "faultline circuitBreaker alone",
    run: () => flBreaker.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_breaker_fleet",
    label: "faultline circuitBreaker alone, with `fleet` (store in process)",
    run: () => flBreakerFleet.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_rate",
    label: "faultline rateLimit alone",
    run: () => flRate.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_rate_fleet",
    label: "faultline rateLimit alone, with `fleet` (store in process)",
    run: () => flRateFleet.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_timeout",
    label: "faultline timeout(1000) alone",
    run: () => flTimeout.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_pipeline",
    label: "faultline `pipeline(retry, circuitBreaker, timeout(1000))`",
    run: () => flPipeline.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_pipeline_rb",
    label: "faultline `pipeline(retry, circuitBreaker)` (no layer that ends a call early)",
    run: () => flPipelineRb.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_pipeline_metered",
    label: "faultline the same pipeline, `instrument()`ed with a no-op meter",
    run: () => flMetered.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_pipeline_traced",
    label: "faultline the same pipeline, `instrument()`ed with a no-op meter and tracer",
    run: () => flTraced.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_hedge",
    label: "faultline hedge({ delay: 1000 }) alone",
    run: () => flHedge.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_adaptive",
    label: "faultline adaptiveConcurrency() alone",
    run: () => flAdaptive.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_throttle",
    label: "faultline adaptiveThrottle() alone",
    run: () => flThrottle.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_hedge_timeout",
    label: "faultline `pipeline(hedge({ delay: 1000 }), timeout(1000))`",
    run: () => flHedgeTimeout.execute(op),
    expect: "resolve",
  },
  {
    id: "fl_standard",
    label: "faultline `pipeline(timeout(5000), retry, circuitBreaker, timeout(1000))`",
    run: () => flStandard.execute(op),
    expect: "resolve",
  },
  {
    id: "ck_wrap",
    label: "cockatiel `wrap(retry, circuitBreaker, timeout(1000))`",
    run: () => ckWrap.execute(op),
    expect: "resolve",
  },
  {
    id: "opossum_fire",
    label: "opossum `fire()` (timeout 1000)",
    run: () => opBreaker.fire(),
    expect: "resolve",
  },
];

const twoRetryCases: Case[] = [
  {
    id: "fl_2retries",
    label: "faultline retry",
    run: () => flRetry.execute(flaky()),
    expect: "resolve",
  },
  {
    id: "ck_2retries",
    label: "cockatiel retry",
    run: () => ckRetry.execute(flaky()),
    expect: "resolve",
  },
  {
    id: "p_2retries",
    label: "p-retry (`minTimeout: 0`)",
    run: () => pRetry(flaky(), { retries: 2, minTimeout: 0 }),
    expect: "resolve",
  },
];

const flIsolated = circuitBreaker(flBreakerOptions());
flIsolated.isolate();
const flTripped = circuitBreaker(flBreakerOptions());
const ckIsolated = ckBreaker();
ckIsolated.isolate();
const opOpen = new CircuitBreaker(op, { timeout: 1000 });
opOpen.open();
opossumAll.push(opOpen);

const openCases: Case[] = [
  {
    id: "fl_open",
    label: "faultline, `isolate()`d",
    run: () => flIsolated.execute(op),
    expect: "reject",
  },
  {
    id: "fl_tripped",
    label: "faultline, tripped open (5 failures)",
    run: () => flTripped.execute(op),
    expect: "reject",
  },
  {
    id: "ck_open",
    label: "cockatiel, `isolate()`d",
    run: () => ckIsolated.execute(op),
    expect: "reject",
  },
  {
    id: "opossum_open",
    label: "opossum, `open()`ed",
    run: () => opOpen.fire(),
    expect: "reject",
  },
];

// -------------------------------------------------------------- memory

interface Retained {
  id: string;
  label: string;
  created: number;
  used: number;
}

/** Bytes retained per object: made BREAKERS times and kept; then after one call on each. */
async function retained(
  id: string,
  label: string,
  make: () => unknown,
  use: (x: never) => Promise<unknown>,
  dispose?: (x: never) => void,
): Promise<Retained> {
  const created: number[] = [];
  const used: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const kept: unknown[] = new Array(BREAKERS).fill(null);
    await collect();
    const h0 = heapUsed();
    for (let i = 0; i < BREAKERS; i++) kept[i] = make();
    await collect();
    const h1 = heapUsed();
    for (let i = 0; i < BREAKERS; i++) await use(kept[i] as never);
    await collect();
    const h2 = heapUsed();
    created.push((h1 - h0) / BREAKERS);
    used.push((h2 - h0) / BREAKERS);
    if (dispose) { for (const x of kept) dispose(x as never); }
    kept.length = 0;
  }
  const med = (xs: number[]) => quantile(xs.slice().sort((a, b) => a - b), 0.5);
  return { id, label, created: med(created), used: med(used) };
}

interface Growth {
  id: string;
  label: string;
  calls: number;
  before: number;
  /** After the first half of the calls. */
  middle: number;
  after: number;
}

/** Heap after GC before and after `calls` sequential calls (after a warm-up). */
async function heapGrowth(
  id: string,
  label: string,
  run: () => Promise<unknown>,
  calls: number,
): Promise<Growth> {
  await batch(run, Math.min(100_000, calls));
  await collect();
  const before = heapUsed();
  await batch(run, calls / 2);
  await collect();
  const middle = heapUsed();
  await batch(run, calls / 2);
  await collect();
  const after = heapUsed();
  return { id, label, calls, before, middle, after };
}

// ------------------------------------------------- concurrent timeouts

interface InFlight {
  id: string;
  label: string;
  timers: number;
  clockTimers?: number;
  pendingAfter: number;
  nsPerCall: number;
}

/** IN_FLIGHT calls started together on an operation that waits; then all released. */
async function inFlight(
  id: string,
  label: string,
  start: (operation: () => Promise<number>) => Promise<unknown>,
  clockCount?: () => number,
): Promise<InFlight> {
  let release!: (value: number) => void;
  const gate = new Promise<number>((resolve) => (release = resolve));
  const operation = () => gate;
  const calls: Promise<unknown>[] = new Array(IN_FLIGHT);
  const clockBefore = clockCount?.() ?? 0;
  countTimers();
  let timers: number;
  let pendingAfter: number;
  let ms: number;
  try {
    const t0 = performance.now();
    for (let i = 0; i < IN_FLIGHT; i++) calls[i] = start(operation);
    const t1 = performance.now();
    await pause(20); // the calls are now really in flight: past any microtask grace period
    timers = timersCreated;
    const t2 = performance.now();
    release(42);
    const results = await Promise.allSettled(calls);
    const t3 = performance.now();
    const bad = results.find((r) => r.status !== "fulfilled" || r.value !== 42);
    if (bad) {
      throw new Error(`in-flight case '${label}' did not resolve 42: ${JSON.stringify(bad)}`);
    }
    await pause(5);
    pendingAfter = liveTimers.size;
    ms = (t1 - t0) + (t3 - t2);
  } finally {
    restoreTimers();
  }
  return {
    id,
    label,
    timers,
    clockTimers: clockCount ? clockCount() - clockBefore : undefined,
    pendingAfter,
    nsPerCall: ms * 1e6 / IN_FLIGHT,
  };
}

// ----------------------------------------------------------------- output

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ns = (n: number) => (n >= 100 ? fmt(n) : fmt(n, 1));
const ratio = (a: number, b: number) => {
  const r = a / b;
  return `${r >= 10 ? r.toFixed(1) : r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
};
const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KB`;

function timedTable(title: string, rows: Timed[], refId: string, refName: string): string {
  const ref = rows.find((r) => r.id === refId)!.median;
  const lines = [
    `**${title}**`,
    "",
    `| case | median ns/call | quartiles | vs ${refName} | timers/call |`,
    "|---|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${ns(r.median)} | ${ns(r.q1)}–${ns(r.q3)} | ${ratio(r.median, ref)} | ${
        fmt(r.timersPerCall, 2)
      } |`,
    );
  }
  return lines.join("\n");
}

// ------------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  const out: string[] = [];
  const print = (s = "") => {
    out.push(s);
    console.log(s);
  };
  print(`### ${RUNTIME}`);
  print();
  print(
    `${ROUNDS} rounds × ~${SAMPLE_MS} ms samples per case; GC between sections: ${
      canGC ? "yes" : "no (memory figures unavailable: run with --expose-gc)"
    }.`,
  );
  print();

  await collect();
  const success = await timeSection(successCases);
  print(timedTable("Success path, `op = async () => 42`", success, "bare", "bare"));
  print();

  await collect();
  const twoRetries = await timeSection(twoRetryCases);
  print(
    timedTable(
      "Two retries with a 0 ms backoff (the op fails twice with ECONNREFUSED, then returns 42)",
      twoRetries,
      "p_2retries",
      "p-retry",
    ),
  );
  print();

  await collect();
  // Trip the faultline breaker for the "tripped" case just before it is
  // timed: its halfOpenAfter (10 s) must not run out during the section.
  for (let i = 0; i < 5; i++) await flTripped.execute(flaky()).catch(() => {});
  if (flTripped.state !== "open") throw new Error(`tripped breaker is ${flTripped.state}`);
  const open = await timeSection(openCases);
  if (flTripped.state !== "open") throw new Error(`tripped breaker went ${flTripped.state}`);
  print(
    timedTable("An open breaker's rejection (ns per rejected call)", open, "ck_open", "cockatiel"),
  );
  print();

  let memory: Retained[] = [];
  let growth: Growth[] = [];
  if (canGC) {
    memory = [
      await retained(
        "fl_breaker",
        "faultline `circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 10_000 })`",
        () => circuitBreaker(flBreakerOptions()),
        (b: ReturnType<typeof circuitBreaker>) => b.execute(op),
      ),
      await retained(
        "ck_breaker",
        "cockatiel `circuitBreaker(handleAll, { breaker: new ConsecutiveBreaker(5), ... })`",
        ckBreaker,
        (b: ReturnType<typeof ckBreaker>) => b.execute(op),
      ),
      await retained(
        "opossum_breaker",
        "opossum `new CircuitBreaker(op, { timeout: 1000 })`",
        () => new CircuitBreaker(op, { timeout: 1000 }),
        (b: CircuitBreaker) => b.fire(),
        (b: CircuitBreaker) => b.shutdown(),
      ),
    ];
    print(`**Bytes retained per breaker** (${fmt(BREAKERS)} kept in an array; median of 3)`);
    print();
    print("| breaker | new | after one call each |");
    print("|---|---:|---:|");
    for (const m of memory) print(`| ${m.label} | ${fmt(m.created)} B | ${fmt(m.used)} B |`);
    print();

    const ckCalls = Math.max(10_000, HEAP_CALLS / 10);
    growth = [
      await heapGrowth(
        "fl_pipeline",
        "faultline `pipeline(retry, circuitBreaker, timeout)`",
        () => flPipeline.execute(op),
        HEAP_CALLS,
      ),
      await heapGrowth("fl_retry", "faultline retry", () => flRetry.execute(op), HEAP_CALLS),
      await heapGrowth(
        "ck_wrap",
        "cockatiel `wrap(retry, circuitBreaker, timeout)`",
        () => ckWrap.execute(op),
        ckCalls,
      ),
      // Last: opossum keeps every call's latency for its rolling window (10 s), and
      // that memory, freed later, would make the growth of a case after it negative.
      await heapGrowth(
        "opossum_fire",
        "opossum `fire()`",
        () => opBreaker.fire(),
        HEAP_CALLS,
      ),
    ];
    print("**Heap growth** (heap used after GC, before and after the calls, after a warm-up)");
    print();
    print("| case | calls | before | after | growth | per call | growth in 2nd half |");
    print("|---|---:|---:|---:|---:|---:|---:|");
    for (const g of growth) {
      const d = g.after - g.before;
      print(
        `| ${g.label} | ${fmt(g.calls)} | ${kb(g.before)} | ${kb(g.after)} | ${kb(d)} | ${
          fmt(d / g.calls, 2)
        } B | ${kb(g.after - g.middle)} |`,
      );
    }
    print();
  }

  let clockTimers = 0;
  const countingClock: Clock = {
    now: () => realClock.now(),
    setTimeout: (callback, ms) => {
      clockTimers++;
      return realClock.setTimeout(callback, ms);
    },
    clearTimeout: (handle) => realClock.clearTimeout(handle),
    sleep: (ms, signal) => realClock.sleep(ms, signal),
  };
  const flLong = timeout(60_000, { clock: countingClock });
  const ckLong = cockatielTimeout(60_000, TimeoutStrategy.Aggressive);
  const flight: InFlight[] = [];
  await collect();
  flight.push(
    await inFlight(
      "fl_timeout",
      "faultline `timeout(60_000)`",
      (operation) => flLong.execute(operation),
      () => clockTimers,
    ),
  );
  flight.push(
    await inFlight(
      "ck_timeout",
      "cockatiel `timeout(60_000, Aggressive)`",
      (operation) => ckLong.execute(operation),
    ),
  );
  // One opossum breaker for all the calls, as a user would have it.
  const opLong = new CircuitBreaker((...args: unknown[]) => (args[0] as () => Promise<number>)(), {
    timeout: 60_000,
  });
  opossumAll.push(opLong);
  flight.push(
    await inFlight(
      "opossum_timeout",
      "opossum `{ timeout: 60_000 }` (one breaker)",
      (operation) => opLong.fire(operation),
    ),
  );
  print(
    `**${fmt(IN_FLIGHT)} concurrent calls in flight** (operation waits ~20 ms, then all resolve)`,
  );
  print();
  print("| case | timers created | timers pending after settle | ns per call |");
  print("|---|---:|---:|---:|");
  for (const f of flight) {
    const clock = f.clockTimers !== undefined ? ` (clock option: ${fmt(f.clockTimers)})` : "";
    print(
      `| ${f.label} | ${fmt(f.timers)}${clock} | ${fmt(f.pendingAfter)} | ${ns(f.nsPerCall)} |`,
    );
  }
  print();

  // The figures the targets of issue 3 are about.
  const get = (rows: Timed[], id: string) => rows.find((r) => r.id === id)!;
  const bare = get(success, "bare").median;
  const floor = get(success, "floor").median;
  const targets = {
    pipelineOverBare: get(success, "fl_pipeline").median / bare,
    pipelineOverFloor: get(success, "fl_pipeline").median / floor,
    twoRetriesOverPRetry: get(twoRetries, "fl_2retries").median /
      get(twoRetries, "p_2retries").median,
    zeroBackoffTimersPerCall: get(twoRetries, "fl_2retries").timersPerCall,
    openOverCockatiel: get(open, "fl_open").median / get(open, "ck_open").median,
    breakerBytes: memory.length ? Math.max(memory[0]!.created, memory[0]!.used) : null,
    heapGrowthBytesPerCall: growth.length
      ? (growth[0]!.after - growth[0]!.before) / growth[0]!.calls
      : null,
    heapGrowthBytes: growth.length ? growth[0]!.after - growth[0]!.before : null,
    heapGrowthCalls: growth.length ? growth[0]!.calls : null,
    concurrentTimeoutTimers: flight[0]!.timers,
  };
  print("**Targets**");
  print();
  print("| target | measured | met |");
  print("|---|---:|:-:|");
  const yes = (b: boolean) => (b ? "yes" : "**no**");
  print(
    `| pipeline ≤ 2× the floor | ${ratio(targets.pipelineOverFloor, 1)} | ${
      yes(targets.pipelineOverFloor <= 2)
    } |`,
  );
  print(
    `| two retries (0 ms) ≤ 1.0× p-retry | ${ratio(targets.twoRetriesOverPRetry, 1)} | ${
      yes(targets.twoRetriesOverPRetry <= 1)
    } |`,
  );
  print(
    `| pipeline ≤ 10× bare | ${ratio(targets.pipelineOverBare, 1)} | ${
      yes(targets.pipelineOverBare <= 10)
    } |`,
  );
  print(
    `| 0 ms backoff waits on no timer | ${fmt(targets.zeroBackoffTimersPerCall, 2)} timers/call | ${
      yes(targets.zeroBackoffTimersPerCall === 0)
    } |`,
  );
  print(
    `| open breaker ≤ 0.3× cockatiel | ${ratio(targets.openOverCockatiel, 1)} | ${
      yes(targets.openOverCockatiel <= 0.3)
    } |`,
  );
  if (targets.breakerBytes !== null) {
    print(
      `| breaker retains ≤ 500 B | ${fmt(targets.breakerBytes)} B | ${
        yes(targets.breakerBytes <= 500)
      } |`,
    );
  }
  if (targets.heapGrowthBytesPerCall !== null) {
    print(
      `| no heap growth over ${fmt(targets.heapGrowthCalls!)} pipeline calls (< 0.5 B/call) | ${
        kb(targets.heapGrowthBytes!)
      } | ${yes(targets.heapGrowthBytesPerCall < 0.5)} |`,
    );
  }
  print(
    `| ${fmt(IN_FLIGHT)} concurrent timeouts: a handful of timers (≤ 10) | ${
      fmt(targets.concurrentTimeoutTimers)
    } | ${yes(targets.concurrentTimeoutTimers <= 10)} |`,
  );
  // The fleet (issue 13): a breaker with `fleet` costs at most 1.5× one without.
  const fleetOverAlone = get(success, "fl_breaker_fleet").median /
    get(success, "fl_breaker").median;
  print(
    `| fleet breaker's success path ≤ 1.5× without fleet | ${ratio(fleetOverAlone, 1)} | ${
      yes(fleetOverAlone <= 1.5)
    } |`,
  );
  print();
  print(`(${fmt((performance.now() - started) / 1000, 1)} s)`);

  for (const b of opossumAll) b.shutdown();
  flBreakerFleet.close();
  flRateFleet.close();
  // For bench/run_all.mjs.
  console.log(
    "@@BENCH_JSON@@" +
      JSON.stringify({
        runtime: RUNTIME,
        quick: QUICK,
        success,
        twoRetries,
        open,
        memory,
        growth,
        flight,
        targets,
        markdown: out.join("\n"),
      }),
  );
}

await main();
