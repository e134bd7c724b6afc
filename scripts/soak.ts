/**
 * The soak: many concurrent clients through
 * `pipeline(fallback, retry, circuitBreaker, timeout, bulkhead)` against the
 * chaos proxy (tests/support/chaos_proxy.ts, run in a Node child process),
 * each call a real connect() + request/response through the proxy.
 *
 *   node scripts/soak.ts [--calls 1000000] [--concurrency 100] [--seed 1]
 *   node scripts/soak.ts --fleet [...]    the fleet soak: scripts/soak_fleet.ts
 *                        [--runtime node24|node22|deno|bun|self] [--max-heap-growth-mb 16]
 *                        [--max-exit-ms 5000] [--json]
 *
 * This runner starts the proxy and a worker (this same file with --worker)
 * under the chosen runtime, and checks:
 * - every call settles exactly once, with its own reply or a fallback;
 * - no reply is lost, duplicated or delivered to another call (ids are echoed);
 * - no operation runs more often than maxAttempts, nor with an attempt above it;
 * - no unhandled rejection (the detector is tested at start-up);
 * - the heap after GC is flat from after the warm-up to the end;
 * - after the last call the worker exits by itself, at once (measured here).
 * It prints calls, faults injected per kind, outcomes per kind, heap before
 * and after, and the time to exit; exit code 1 on any violation.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import {
  bulkhead,
  circuitBreaker,
  ConnectionError,
  exponentialBackoff,
  failureRate,
  fallback,
  pipeline,
  retry,
  timeout,
} from "../mod.ts";
import { request } from "../tests/support/chaos_client.ts";
import { type ChaosStats, spawnChaosProxy } from "../tests/support/chaos_proxy.ts";

const MAX_ATTEMPTS = 3;
const ATTEMPT_TIMEOUT_MS = 100;

interface Args {
  calls: number;
  concurrency: number;
  seed: number;
  runtime: string;
  maxHeapGrowthMb: number;
  maxExitMs: number;
  json: boolean;
  worker: boolean;
  port: number;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    calls: 1_000_000,
    concurrency: 100,
    seed: 1,
    runtime: "node24",
    maxHeapGrowthMb: 16,
    maxExitMs: 5000,
    json: false,
    worker: false,
    port: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new TypeError(`${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`${a} must be an integer >= 0`);
      return n;
    };
    if (a === "--calls") args.calls = int();
    else if (a === "--concurrency") args.concurrency = Math.max(1, int());
    else if (a === "--seed") args.seed = int();
    else if (a === "--runtime") args.runtime = value();
    else if (a === "--max-heap-growth-mb") args.maxHeapGrowthMb = int();
    else if (a === "--max-exit-ms") args.maxExitMs = int();
    else if (a === "--json") args.json = true;
    else if (a === "--worker") args.worker = true;
    else if (a === "--port") args.port = int();
    else if (a.startsWith("--")) throw new TypeError(`unknown option ${a}`);
  }
  return args;
}

/** What the worker reports, as one JSON line. */
interface WorkerResult {
  runtime: string;
  calls: number;
  settled: number;
  attempts: number;
  outcomes: Record<string, number>;
  violations: string[];
  unhandled: number;
  detectorWorks: boolean;
  gc: boolean;
  heapBeforeMb: number;
  heapAfterMb: number;
  durationMs: number;
}

const RESULT = "SOAK_RESULT ";
const SUMMARY = "SOAK_SUMMARY ";

// ------------------------------------------------------------------- worker

function runtimeName(): string {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Deno === "object") {
    return `deno ${(g.Deno as { version: { deno: string } }).version.deno}`;
  }
  if (typeof g.Bun === "object") return `bun ${(g.Bun as { version: string }).version}`;
  return `node ${process.versions.node}`;
}

function collector(): (() => void) | undefined {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.gc === "function") return () => (g.gc as () => void)();
  const bun = g.Bun as { gc?: (force: boolean) => void } | undefined;
  if (typeof bun?.gc === "function") return () => bun.gc!(true);
  return undefined;
}

async function heapMb(gc: (() => void) | undefined): Promise<number> {
  if (gc) {
    // A few rounds, with turns of the event loop between: finalizers and
    // closed sockets' buffers go in later rounds.
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function worker(args: Args): Promise<void> {
  const violations: string[] = [];
  const violate = (what: string): void => {
    if (violations.length < 20) violations.push(what);
    else if (violations.length === 20) violations.push("… and more");
  };
  let unhandled = 0;
  process.on("unhandledRejection", (reason: unknown) => {
    unhandled++;
    violate(`unhandled rejection: ${String(reason)}`);
  });
  // Check that the detector sees one in this runtime, then forget it.
  Promise.reject(new Error("soak: deliberate unhandled rejection"));
  for (let i = 0; i < 5 && unhandled === 0; i++) {
    await new Promise<void>((r) => setTimeout(r, 10));
  }
  const detectorWorks = unhandled === 1;
  unhandled = 0;
  violations.length = 0;

  const { calls, concurrency, port } = args;
  const settled = new Uint8Array(calls);
  const runs = new Uint8Array(calls);
  const outcomes = new Map<string, number>();
  const count = (what: string): void => void outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  let attempts = 0;

  interface Served {
    fallback: string;
  }
  const kindOf = (e: unknown): string =>
    e instanceof ConnectionError ? e.kind : e instanceof Error ? e.name : typeof e;
  const policy = pipeline(
    fallback((e: unknown): Served => ({ fallback: kindOf(e) })),
    retry({ maxAttempts: MAX_ATTEMPTS, backoff: exponentialBackoff({ initial: 2, max: 20 }) }),
    // Opens when most attempts fail: in the proxy's refusal windows, mostly.
    circuitBreaker({
      trip: failureRate({ threshold: 0.6, minimumCalls: 30, windowCalls: 50 }),
      halfOpenAfter: 20,
      halfOpenMaxProbes: Math.max(1, Math.ceil(concurrency / 10)),
    }),
    timeout(ATTEMPT_TIMEOUT_MS),
    // As many slots as clients: full only while timed-out attempts still hold theirs.
    bulkhead(concurrency, { queue: Math.ceil(concurrency / 10) }),
  );

  const one = async (id: number): Promise<void> => {
    const line = String(id);
    try {
      // A pipeline is typed by its operation; the fallback's value comes too.
      const value = await policy.execute<string | Served>(async ({ signal, attempt }) => {
        attempts++;
        if (++runs[id]! > MAX_ATTEMPTS) violate(`call ${id} ran ${runs[id]} times`);
        if (attempt > MAX_ATTEMPTS) violate(`call ${id} ran as attempt ${attempt}`);
        const reply = await request(port, line, signal);
        if (reply !== `ok ${line}`) violate(`call ${id} got ${JSON.stringify(reply)}`);
        return reply;
      });
      if (typeof value === "string") {
        count(value === `ok ${line}` ? "ok" : "wrong reply");
      } else {
        count(`fallback:${value.fallback}`);
        // A client that was turned away without trying backs off a little, as
        // a real one would; else the lanes would burn through the calls while
        // the circuit is open, and the soak would test little but that.
        if (value.fallback === "BrokenCircuitError" || value.fallback === "BulkheadRejectedError") {
          await new Promise<void>((r) => setTimeout(r, 5));
        }
      }
    } catch (error) {
      count(`rejected:${kindOf(error)}`);
    } finally {
      if (++settled[id]! !== 1) violate(`call ${id} settled ${settled[id]} times`);
    }
  };

  // If the event loop drains while calls are pending, a call was lost: some
  // promise will never settle and nothing is left to settle it. Say which.
  let finished = false;
  process.on("beforeExit", () => {
    if (finished) return;
    finished = true;
    const pending: string[] = [];
    for (let i = 0; i < next && pending.length < 10; i++) {
      if (settled[i] === 0) pending.push(`${i} (ran ${runs[i]} times)`);
    }
    process.stdout.write(
      RESULT + JSON.stringify({
        runtime: runtimeName(),
        calls,
        settled: settled.reduce((a, b) => a + b, 0),
        attempts,
        outcomes: Object.fromEntries(outcomes),
        violations: [
          `the event loop drained with calls pending (next ${next}): ${pending.join(", ")}`,
        ],
        unhandled,
        detectorWorks,
        gc: false,
        heapBeforeMb: 0,
        heapAfterMb: 0,
        durationMs: Date.now() - started,
      }) + "\n",
    );
    process.exitCode = 2;
  });
  const gc = collector();
  const started = Date.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < calls) await one(next++);
  };
  // Warm up (JIT, pools, the breaker's first trips), then measure from there.
  const warm = Math.min(calls, Math.max(2000, Math.floor(calls / 50)));
  const warmLanes = Array.from({ length: concurrency }, async () => {
    while (next < warm) await one(next++);
  });
  await Promise.all(warmLanes);
  const heapBeforeMb = await heapMb(gc);
  await Promise.all(Array.from({ length: concurrency }, lane));
  const durationMs = Date.now() - started;
  const heapAfterMb = await heapMb(gc);

  let settledOnce = 0;
  for (let i = 0; i < calls; i++) {
    if (settled[i] === 1) settledOnce++;
    else if (settled[i] === 0) violate(`call ${i} never settled`);
  }
  const result: WorkerResult = {
    runtime: runtimeName(),
    calls,
    settled: settledOnce,
    attempts,
    outcomes: Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])),
    violations,
    unhandled,
    detectorWorks,
    gc: gc !== undefined,
    heapBeforeMb,
    heapAfterMb,
    durationMs,
  };
  finished = true;
  // The last thing this process does: nothing is closed or cleared after it.
  process.stdout.write(RESULT + JSON.stringify(result) + "\n");
}

// ------------------------------------------------------------------- runner

const root = fileURLToPath(new URL("..", import.meta.url));
const self = fileURLToPath(import.meta.url);

function command(runtime: string): [string, string[]] {
  const bin = (p: string): string => `${root}node_modules/${p}`;
  const current = runtimeName().split(" ")[0];
  const which = runtime === "self" ? (current === "node" ? "self-node" : current) : runtime;
  switch (which) {
    case "node22":
    case "node24":
      return [bin(`${which}/bin/node`), ["--expose-gc", self]];
    case "self-node":
      return [process.execPath, ["--expose-gc", self]];
    case "deno":
      return [
        runtime === "self" ? process.execPath : bin(".bin/deno"),
        ["run", "-A", "--v8-flags=--expose-gc", self],
      ];
    case "bun":
      return [runtime === "self" ? process.execPath : bin(".bin/bun"), [self]];
    default:
      throw new RangeError(`unknown runtime ${runtime}: node24, node22, deno, bun or self`);
  }
}

interface Summary {
  ok: boolean;
  seed: number;
  concurrency: number;
  worker: WorkerResult | undefined;
  proxy: ChaosStats | undefined;
  exitCode: number | null;
  exitMs: number | undefined;
  heapGrowthMb: number | undefined;
  failures: string[];
}

async function runner(args: Args): Promise<void> {
  const proxy = await spawnChaosProxy({
    seed: args.seed,
    refuseEvery: [500, 1500],
    refuseWindowMs: 30,
    maxDelayMs: Math.round(ATTEMPT_TIMEOUT_MS * 1.5),
  });
  const [cmd, pre] = command(args.runtime);
  const child = spawn(cmd, [
    ...pre,
    "--worker",
    "--port",
    String(proxy.port),
    "--calls",
    String(args.calls),
    "--concurrency",
    String(args.concurrency),
    "--seed",
    String(args.seed),
  ], { stdio: ["ignore", "pipe", "inherit"] });
  let result: WorkerResult | undefined;
  let resultAt = 0;
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (text: string) => {
    out += text;
    const at = out.indexOf(RESULT);
    if (result === undefined && at !== -1) {
      const nl = out.indexOf("\n", at);
      if (nl !== -1) {
        resultAt = performance.now();
        result = JSON.parse(out.slice(at + RESULT.length, nl));
      }
    }
  });
  let killer: ReturnType<typeof setTimeout> | undefined;
  const exitCode = await new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    // Hard stop, long after any sane run: the soak must end by itself.
    const check = (): void => {
      if (result !== undefined && performance.now() - resultAt > args.maxExitMs * 4) {
        child.kill("SIGKILL");
      } else killer = setTimeout(check, 250);
    };
    killer = setTimeout(check, 250);
  });
  clearTimeout(killer);
  const exitMs = result === undefined ? undefined : performance.now() - resultAt;
  // Bounded: a proxy that cannot stop is a failure of the soak, not a hang.
  let stopTimer: ReturnType<typeof setTimeout> | undefined;
  const stats = await Promise.race([
    proxy.stop(),
    new Promise<undefined>((r) => (stopTimer = setTimeout(() => r(undefined), 15_000))),
  ]);
  clearTimeout(stopTimer);

  const failures: string[] = [];
  let heapGrowthMb: number | undefined;
  if (result === undefined) failures.push(`the worker gave no result (exit ${exitCode}):\n${out}`);
  else {
    failures.push(...result.violations);
    if (!result.detectorWorks) failures.push("the unhandled-rejection detector did not fire");
    if (result.unhandled > 0) failures.push(`${result.unhandled} unhandled rejections`);
    if (result.settled !== result.calls) {
      failures.push(`${result.calls - result.settled} calls did not settle exactly once`);
    }
    if (result.outcomes["wrong reply"]) failures.push("a reply reached the wrong call");
    heapGrowthMb = result.heapAfterMb - result.heapBeforeMb;
    if (result.gc && heapGrowthMb > args.maxHeapGrowthMb) {
      failures.push(`heap grew by ${heapGrowthMb.toFixed(1)} MB (limit ${args.maxHeapGrowthMb})`);
    }
  }
  if (exitCode !== 0) failures.push(`the worker exited with ${exitCode}`);
  if (stats !== undefined && stats.stuckSockets > 0) {
    failures.push(`the chaos proxy had ${stats.stuckSockets} sockets that never closed`);
  }
  if (stats === undefined) {
    failures.push("the chaos proxy did not stop within 15 s");
    proxy.kill();
  }
  if (exitMs !== undefined && exitMs > args.maxExitMs) {
    failures.push(`the worker took ${Math.round(exitMs)} ms to exit after its last call`);
  }

  const summary: Summary = {
    ok: failures.length === 0,
    seed: args.seed,
    concurrency: args.concurrency,
    worker: result,
    proxy: stats,
    exitCode,
    exitMs,
    heapGrowthMb,
    failures,
  };
  print(summary);
  if (args.json) console.log(SUMMARY + JSON.stringify(summary));
  process.exitCode = summary.ok ? 0 : 1;
}

function print(s: Summary): void {
  const w = s.worker;
  const mb = (n: number | undefined): string => (n === undefined ? "?" : `${n.toFixed(1)} MB`);
  const lines = [
    `soak: ${w?.runtime ?? "?"}, seed ${s.seed}, concurrency ${s.concurrency}`,
    `  calls            ${w?.calls ?? "?"} (settled exactly once: ${w?.settled ?? "?"})`,
    `  attempts         ${w?.attempts ?? "?"} (max ${MAX_ATTEMPTS} per call)`,
    `  duration         ${
      w
        ? `${(w.durationMs / 1000).toFixed(1)} s, ${
          Math.round(w.calls / (w.durationMs / 1000))
        } calls/s`
        : "?"
    }`,
    `  proxy accepted   ${s.proxy?.accepted}, refusal windows ${s.proxy?.refuseWindows} (${s.proxy?.refusedMs} ms)`,
    `  faults injected  ${
      Object.entries(s.proxy?.faults ?? {}).map(([k, n]) => `${k} ${n}`).join(", ")
    }`,
    `  outcomes         ${
      w ? Object.entries(w.outcomes).map(([k, n]) => `${k} ${n}`).join(", ") : "?"
    }`,
    `  heap after GC    before ${mb(w?.heapBeforeMb)}, after ${mb(w?.heapAfterMb)}${
      w?.gc ? "" : " (no gc available: not forced)"
    }`,
    `  unhandled        ${w?.unhandled ?? "?"} (detector works: ${w?.detectorWorks ?? "?"})`,
    `  time to exit     ${
      s.exitMs === undefined ? "?" : `${Math.round(s.exitMs)} ms`
    } (exit code ${s.exitCode})`,
    s.ok ? "  OK" : `  FAILED:\n    ${s.failures.join("\n    ")}`,
  ];
  console.log(lines.join("\n"));
}

if (process.argv.includes("--fleet")) {
  // The fleet soak (issue 13): `npm run soak -- --fleet`, see scripts/soak_fleet.ts.
  await import("./soak_fleet.ts");
} else {
  const args = parseArgs(process.argv.slice(2));
  if (args.worker) await worker(args);
  else await runner(args);
}
