/**
 * One instance of a fleet, in a child process of any runtime, for
 * tests/fleet_redis_test.ts: it connects to Redis with its runtime's client
 * (Node: ioredis, Deno: node-redis, Bun: its own RedisClient), then obeys
 * one command per line on stdin, printing one JSON line per command. It must
 * exit by itself after "quit" (or the end of stdin).
 *
 * - `rate <key> <ms>`: a rateLimit (50/s, burst 10) on the fleet; a call
 *   every 2 ms for <ms>; prints how many were let through.
 * - `budget <key> <ms>`: a retryBudget (10%) on the fleet; every 2 ms the Node
 *   instance records a call, and every instance tries two retries; prints
 *   the calls and retries allowed.
 * - `breaker <key>`: makes the breaker the next commands use
 *   (failureRate 50% of at least 20 calls, halfOpenAfter 300 ms, minInstances 2).
 * - `traffic <ms>`: a succeeding call every 2 ms; `fail <n>`: n failing calls
 *   10 ms apart; both print the outcomes and the state.
 * - `isolate`, `release` (the handle's dispose()), `reset`, `state`.
 * - `until-rejects`: calls every 1 ms until one is refused; prints how long that took.
 * - `probe-window <ms> <holdMs>`: a call every 2 ms for <ms>, each operation
 *   held for <holdMs>, not awaited; prints how many operations ran.
 */
import process from "node:process";
import { circuitBreaker, failureRate, rateLimit, retryBudget } from "../../mod.ts";
import type { CircuitBreaker } from "../../src/policies/circuit_breaker.ts";
import { redisStore } from "../../src/fleet/redis.ts";
import type { FleetStore } from "../../src/fleet/store.ts";

const SYNC_MS = 50;
const g = globalThis as { Deno?: unknown; Bun?: { RedisClient: new (url: string) => unknown } };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";

const lines: string[] = [];
let wake: (() => void) | undefined;
let buffer = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text: string) => {
  buffer += text;
  let nl: number;
  while ((nl = buffer.indexOf("\n")) !== -1) {
    lines.push(buffer.slice(0, nl));
    buffer = buffer.slice(nl + 1);
  }
  wake?.();
});
process.stdin.on("end", () => {
  lines.push("quit");
  wake?.();
});
async function nextLine(): Promise<string> {
  while (lines.length === 0) await new Promise<void>((r) => (wake = r));
  return lines.shift()!;
}
const say = (o: object) => process.stdout.write(JSON.stringify({ runtime, ...o }) + "\n");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connect(port: number): Promise<{ client: unknown; close(): Promise<void> }> {
  const url = `redis://127.0.0.1:${port}`;
  if (runtime === "bun") {
    const client = new g.Bun!.RedisClient(url) as { connect(): Promise<void>; close(): void };
    await client.connect();
    return { client, close: () => Promise.resolve(client.close()) };
  }
  if (runtime === "deno") {
    const { createClient } = await import("redis");
    const client = createClient({ url });
    client.on("error", () => {});
    await client.connect();
    return { client, close: () => client.quit().then(() => {}) };
  }
  const { Redis } = await import("ioredis");
  const client = new Redis(port, "127.0.0.1");
  client.on("error", () => {});
  return { client, close: () => client.quit().then(() => {}) };
}

/** Runs `step` every 2 ms for `ms` (several at once when timers lag); returns how many ran. */
async function every2ms(ms: number, step: () => Promise<void> | void): Promise<number> {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    const due = Math.floor((performance.now() - start) / 2);
    while (n <= due) {
      n++;
      await step();
    }
    await sleep(1);
  }
  return n;
}

const config = JSON.parse(await nextLine()) as { port: number };
const { client, close } = await connect(config.port);
let requests = 0;
let fleetErrors = 0;
const inner = redisStore(client as never, { timeoutMs: 200 });
const store: FleetStore = {
  rateLimit: (k, r) => (requests++, inner.rateLimit(k, r)),
  retryBudget: (k, r) => (requests++, inner.retryBudget(k, r)),
  circuitBreaker: (k, r) => (requests++, inner.circuitBreaker(k, r)),
};
const fleetOn = (key: string) => ({ store, key, syncMs: SYNC_MS, minInstances: 2 });
say({ ready: runtime });

let cb: CircuitBreaker | undefined;
let handle: { dispose(): void } | undefined;
const boom = () =>
  Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));

for (;;) {
  const [command, a, b] = (await nextLine()).split(" ");
  const before = requests;
  if (command === "quit") break;
  if (command === "rate") {
    const limiter = rateLimit({ limit: 50, windowMs: 1_000, burst: 10, fleet: fleetOn(a!) });
    limiter.onFleetError(() => fleetErrors++);
    let admitted = 0;
    const tries = await every2ms(Number(b), async () => {
      await limiter.execute(() => admitted++).catch(() => {});
    });
    limiter.close();
    say({ tries, admitted, requests: requests - before, fleetErrors });
  } else if (command === "budget") {
    const budget = retryBudget({
      ratio: 0.1,
      minRetriesPerSecond: 0,
      windowMs: 10_000,
      fleet: fleetOn(a!),
    });
    budget.onFleetError(() => fleetErrors++);
    let retries = 0;
    const calls = await every2ms(Number(b), () => {
      if (runtime === "node") budget.recordCall();
      if (budget.tryRetry()) retries++;
      if (budget.tryRetry()) retries++;
    });
    budget.close();
    say({
      calls: runtime === "node" ? calls : 0,
      retries,
      requests: requests - before,
      fleetErrors,
    });
  } else if (command === "breaker") {
    cb?.close();
    cb = circuitBreaker({
      trip: failureRate({ threshold: 0.5, minimumCalls: 20, windowMs: 10_000 }),
      halfOpenAfter: 300,
      fleet: fleetOn(a!),
    });
    cb.onFleetError(() => fleetErrors++);
    say({ state: cb.state });
  } else if (command === "traffic" || command === "fail") {
    const out: Record<string, number> = {};
    const one = async (fail: boolean) => {
      await cb!.execute(() => (fail ? boom() : 1)).then(
        () => void (out.ok = (out.ok ?? 0) + 1),
        (e: Error) => void (out[e.name] = (out[e.name] ?? 0) + 1),
      );
    };
    if (command === "traffic") await every2ms(Number(a), () => one(false));
    else {
      for (let i = 0; i < Number(a); i++) {
        await one(true);
        await sleep(10);
      }
    }
    say({ out, state: cb!.state, fleetErrors });
  } else if (command === "until-rejects") {
    const start = performance.now();
    let rejected = false;
    while (!rejected && performance.now() - start < 5_000) {
      await cb!.execute(() => 1).catch(() => (rejected = true));
      if (!rejected) await sleep(1);
    }
    say({ rejected, ms: performance.now() - start, state: cb!.state });
  } else if (command === "probe-window") {
    let ran = 0;
    await every2ms(Number(a), () => {
      cb!.execute(() => (ran++, sleep(Number(b)))).catch(() => {});
    });
    say({ ran, state: cb!.state });
  } else {
    if (command === "isolate") handle = cb!.isolate();
    else if (command === "release") handle?.dispose();
    else if (command === "reset") cb!.reset();
    say({ state: cb!.state, fleetErrors });
  }
}
cb?.close();
await close();
