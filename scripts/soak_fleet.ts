/**
 * The fleet soak (issue 13): a Node, a Bun and a Deno process, each making
 * `--calls` calls through `pipeline(retry({ budget }), circuitBreaker,
 * rateLimit)` with `fleet` on one Redis (through the chaos proxy, so that a
 * restarted Redis on another port is the same address), while Redis is
 * stopped and another started, `--kills` times.
 *
 *   npm run soak -- --fleet [--calls 100000] [--duration-ms 8000] [--kills 2] [--json]
 *
 * Checks, per process: every call settles exactly once; no unhandled
 * rejection (the detector is tested at start-up); no call waits on the store:
 * the operation is synchronous, so a call that waited for anything (a store
 * reply, a timer) would settle in a later turn of the event loop than the
 * one that started it, and none does; after its last call the process exits
 * by itself. Prints the figures (call latencies too, which include the turn's
 * other calls); exit code 1 on any violation.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import {
  circuitBreaker,
  constantBackoff,
  failureRate,
  pipeline,
  rateLimit,
  retry,
  retryBudget,
} from "../mod.ts";
import { redisStore } from "../src/fleet/redis.ts";
import type { FleetStore } from "../src/fleet/store.ts";

const RESULT = "SOAK_FLEET_RESULT ";
const READY = "SOAK_FLEET_READY";
const SUMMARY = "SOAK_SUMMARY ";
const STORE_TIMEOUT_MS = 50;

interface Args {
  calls: number;
  durationMs: number;
  kills: number;
  json: boolean;
  worker: boolean;
  port: number;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    calls: 100_000,
    durationMs: 8_000,
    kills: 2,
    json: false,
    worker: false,
    port: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const int = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`${a} must be an integer >= 0`);
      return n;
    };
    if (a === "--calls") args.calls = int();
    else if (a === "--duration-ms") args.durationMs = int();
    else if (a === "--kills") args.kills = int();
    else if (a === "--port") args.port = int();
    else if (a === "--json") args.json = true;
    else if (a === "--worker") args.worker = true;
    else if (a === "--fleet") continue;
    else throw new TypeError(`unknown argument ${a}`);
  }
  return args;
}

interface WorkerResult {
  runtime: string;
  calls: number;
  settled: number;
  outcomes: Record<string, number>;
  unhandled: number;
  detectorWorks: boolean;
  violations: string[];
  slowestMs: number;
  /** Calls that settled in a later turn of the event loop than they started in. */
  acrossTurns: number;
  p99Ms: number;
  durationMs: number;
  store: { requests: number; ok: number; failed: number; perSecond: number };
  fleetErrors: number;
}

// ------------------------------------------------------------------- worker

const g = globalThis as { Deno?: unknown; Bun?: { RedisClient: new (url: string) => unknown } };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";

async function connect(port: number): Promise<{ client: unknown; close(): Promise<void> }> {
  const url = `redis://127.0.0.1:${port}`;
  if (runtime === "bun") {
    const client = new g.Bun!.RedisClient(url) as { connect(): Promise<void>; close(): void };
    await client.connect();
    return { client, close: () => Promise.resolve(client.close()) };
  }
  if (runtime === "deno") {
    const { createClient } = await import("redis");
    const client = createClient({ url, socket: { reconnectStrategy: () => 50 } });
    client.on("error", () => {});
    await client.connect();
    return { client, close: () => client.quit().then(() => {}, () => {}) };
  }
  const { Redis } = await import("ioredis");
  const client = new Redis(port, "127.0.0.1", { retryStrategy: () => 50 });
  client.on("error", () => {});
  return { client, close: () => client.quit().then(() => {}, () => {}) };
}

async function worker(args: Args): Promise<void> {
  const violations: string[] = [];
  const violate = (what: string) => {
    if (violations.length < 20) violations.push(what);
  };
  let unhandled = 0;
  process.on("unhandledRejection", (reason: unknown) => {
    unhandled++;
    violate(`unhandled rejection: ${String(reason)}`);
  });
  Promise.reject(new Error("soak: deliberate unhandled rejection"));
  for (let i = 0; i < 5 && unhandled === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const detectorWorks = unhandled === 1;
  unhandled = 0;
  violations.length = 0;

  const { client, close } = await connect(args.port);
  const counts = { requests: 0, ok: 0, failed: 0 };
  const inner = redisStore(client as never, { timeoutMs: STORE_TIMEOUT_MS });
  const counted = <T>(p: Promise<T>): Promise<T> => {
    counts.requests++;
    p.then(() => counts.ok++, () => counts.failed++);
    return p;
  };
  const store: FleetStore = {
    rateLimit: (k, r) => counted(inner.rateLimit(k, r)),
    retryBudget: (k, r) => counted(inner.retryBudget(k, r)),
    circuitBreaker: (k, r) => counted(inner.circuitBreaker(k, r)),
  };
  const fleet = { store, key: "soak", syncMs: 100, minInstances: 2 };
  const budget = retryBudget({ ratio: 0.2, fleet });
  const breaker = circuitBreaker({
    trip: failureRate({ threshold: 0.5, minimumCalls: 100, windowMs: 5_000 }),
    halfOpenAfter: 200,
    fleet,
  });
  const limiter = rateLimit({ limit: 30_000, windowMs: 1_000, burst: 3_000, fleet });
  let fleetErrors = 0;
  for (const p of [budget, breaker, limiter]) p.onFleetError(() => fleetErrors++);
  const policy = pipeline(
    retry({ maxAttempts: 2, backoff: constantBackoff(0), budget }),
    breaker,
    limiter,
  );
  const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

  process.stdout.write(READY + "\n");
  await new Promise<void>((resolve) => {
    process.stdin.once("data", () => resolve());
    process.stdin.once("end", () => resolve());
  });
  process.stdin.pause();

  const { calls, durationMs } = args;
  const settled = new Uint8Array(calls);
  const latency = new Float64Array(calls);
  const outcomes = new Map<string, number>();
  const count = (what: string) => void outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  const start = performance.now();
  let turn = 0;
  let acrossTurns = 0;
  const one = (id: number): void => {
    const t0 = performance.now();
    const startTurn = turn;
    policy.execute(() => (Math.random() < 0.01 ? Promise.reject(reset) : id)).then(
      (v) => count(v === id ? "ok" : "wrong value"),
      (e: Error) => count(e?.name ?? String(e)),
    ).finally(() => {
      latency[id] = performance.now() - t0;
      if (turn !== startTurn) acrossTurns++;
      if (++settled[id]! !== 1) violate(`call ${id} settled ${settled[id]} times`);
    });
  };
  let next = 0;
  while (next < calls) {
    const due = Math.min(calls, Math.ceil((performance.now() - start) * calls / durationMs));
    while (next < due) one(next++);
    await new Promise((r) => setTimeout(r, 1));
    turn++;
  }
  // Every call settles in microtasks (the operation is synchronous): a turn is enough.
  await new Promise((r) => setTimeout(r, 20));
  const elapsed = performance.now() - start;
  let once = 0;
  for (let i = 0; i < calls; i++) {
    if (settled[i] === 1) once++;
    else if (settled[i] === 0 && violations.length < 20) violate(`call ${i} never settled`);
  }
  const sorted = Float64Array.from(latency).sort();
  for (const p of [budget, breaker, limiter]) p.close();
  await close();
  const result: WorkerResult = {
    runtime,
    calls,
    settled: once,
    outcomes: Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])),
    unhandled,
    detectorWorks,
    violations,
    slowestMs: sorted[calls - 1]!,
    acrossTurns,
    p99Ms: sorted[Math.floor(calls * 0.99)]!,
    durationMs: elapsed,
    store: { ...counts, perSecond: counts.requests / (elapsed / 1000) },
    fleetErrors,
  };
  // The last thing this process does: it must exit by itself after this.
  process.stdout.write(RESULT + JSON.stringify(result) + "\n");
}

// ------------------------------------------------------------------- runner

const root = fileURLToPath(new URL("..", import.meta.url));
const self = fileURLToPath(import.meta.url);

function command(rt: string): [string, string[]] {
  const bin = (p: string) => `${root}node_modules/${p}`;
  if (rt === "node") return [bin("node24/bin/node"), [self]];
  if (rt === "bun") return [bin(".bin/bun"), [self]];
  return [bin(".bin/deno"), ["run", "-A", "--no-check", self]];
}

async function runner(args: Args): Promise<void> {
  const { startRedis } = await import("../tests/support/redis_server.ts");
  const { startChaosProxy } = await import("../tests/support/chaos_proxy.ts");
  let server = await startRedis();
  const upstream = { port: server.port };
  const proxy = await startChaosProxy({ weights: { pass: 1 }, refuseEvery: null, upstream });
  const children = ["node", "bun", "deno"].map((rt) => {
    const [cmd, pre] = command(rt);
    const child = spawn(cmd, [
      ...pre,
      "--worker",
      "--port",
      String(proxy.port),
      "--calls",
      String(args.calls),
      "--duration-ms",
      String(args.durationMs),
    ], { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    let result: WorkerResult | undefined;
    let resultAt = 0;
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      out += text;
      if (out.includes(READY)) ready();
      const at = out.indexOf(RESULT);
      const nl = at === -1 ? -1 : out.indexOf("\n", at);
      if (result === undefined && nl !== -1) {
        resultAt = performance.now();
        result = JSON.parse(out.slice(at + RESULT.length, nl));
      }
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    return {
      rt,
      child,
      isReady,
      exited,
      result: () => result,
      resultAt: () => resultAt,
      out: () => out,
    };
  });
  await Promise.all(children.map((c) => c.isReady));
  const t0 = performance.now();
  for (const c of children) c.child.stdin!.end("go\n");
  const outages: Array<{ atMs: number; downMs: number }> = [];
  for (let k = 0; k < args.kills; k++) {
    const at = args.durationMs * (k + 1) / (args.kills + 1) - 250;
    await new Promise((r) => setTimeout(r, Math.max(0, at - (performance.now() - t0))));
    const down = performance.now();
    await server.stop();
    await new Promise((r) => setTimeout(r, 500));
    server = await startRedis();
    upstream.port = server.port;
    proxy.cut!("reset");
    outages.push({ atMs: Math.round(down - t0), downMs: Math.round(performance.now() - down) });
  }
  const codes = await Promise.all(children.map((c) => {
    const hard = setTimeout(() => c.child.kill("SIGKILL"), args.durationMs + 60_000);
    return c.exited.finally(() => clearTimeout(hard));
  }));
  const exitMs = children.map((c) => c.result() ? performance.now() - c.resultAt() : NaN);
  await proxy.stop();
  await server.stop();

  const failures: string[] = [];
  const results = children.map((c, i) => {
    const r = c.result();
    if (r === undefined) failures.push(`${c.rt}: no result (exit ${codes[i]}):\n${c.out()}`);
    else {
      failures.push(...r.violations.map((v) => `${c.rt}: ${v}`));
      if (!r.detectorWorks) failures.push(`${c.rt}: the unhandled-rejection detector did not fire`);
      if (r.unhandled > 0) failures.push(`${c.rt}: ${r.unhandled} unhandled rejections`);
      if (r.settled !== r.calls) {
        failures.push(`${c.rt}: ${r.calls - r.settled} calls not settled once`);
      }
      if (r.acrossTurns > 0) {
        failures.push(
          `${c.rt}: ${r.acrossTurns} calls settled in a later turn: waited on something`,
        );
      }
      if (r.store.failed === 0 && args.kills > 0) failures.push(`${c.rt}: no store request failed`);
    }
    if (codes[i] !== 0) failures.push(`${c.rt}: exit code ${codes[i]}`);
    if (!(exitMs[i]! < 5_000)) failures.push(`${c.rt}: took ${exitMs[i]} ms to exit`);
    return r;
  });
  const lines = [
    `fleet soak: ${args.calls} calls × 3 processes over ~${args.durationMs} ms, Redis stopped and restarted ${outages.length}× (${
      outages.map((o) => `at ${o.atMs} ms for ${o.downMs} ms`).join(", ")
    })`,
    ...results.map((r, i) =>
      r === undefined ? `  ${children[i]!.rt}: no result` : [
        `  ${r.runtime}: settled once ${r.settled}/${r.calls}, unhandled ${r.unhandled} (detector ${r.detectorWorks}), ${
          (r.durationMs / 1000).toFixed(1)
        } s`,
        `    calls that waited a turn ${r.acrossTurns}; slowest call ${
          r.slowestMs.toFixed(2)
        } ms, p99 ${r.p99Ms.toFixed(3)} ms; exit ${
          Math.round(exitMs[i]!)
        } ms after the last call (code ${codes[i]})`,
        `    store requests ${r.store.requests} (${
          r.store.perSecond.toFixed(1)
        }/s): ok ${r.store.ok}, failed ${r.store.failed}; onFleetError ${r.fleetErrors}`,
        `    outcomes ${Object.entries(r.outcomes).map(([k, n]) => `${k} ${n}`).join(", ")}`,
      ].join("\n")
    ),
    failures.length === 0 ? "  OK" : `  FAILED:\n    ${failures.join("\n    ")}`,
  ];
  console.log(lines.join("\n"));
  if (args.json) {
    console.log(
      SUMMARY + JSON.stringify({ ok: failures.length === 0, outages, results, exitMs, failures }),
    );
  }
  process.exitCode = failures.length === 0 ? 0 : 1;
}

const args = parseArgs(process.argv.slice(2));
if (args.worker) await worker(args);
else await runner(args);
