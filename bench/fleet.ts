/**
 * The fleet's figures against a real redis-server (issue 13), in whatever
 * runtime runs this file, with ioredis as the client:
 *
 * 1. the success path of a circuit breaker and of a rate limit with `fleet`
 *    (on Redis) beside the same policy without it (goal: ≤ 1.5×);
 * 2. Redis commands per instance per second at 1 000, 10 000 and 100 000
 *    calls a second (goal: flat, at most 1000 / syncMs);
 * 3. the time from `isolate()` on one instance until another instance (its
 *    own client, calling every ms) rejects (goal: ≤ 2 × syncMs).
 *
 *   node bench/fleet.ts        (deno run -A bench/fleet.ts, bun bench/fleet.ts)
 *
 * It starts its own redis-server on a free loopback port (tests/support/redis_server.ts).
 *
 * @module
 */

import { Redis } from "ioredis";
import { circuitBreaker, consecutiveFailures, rateLimit } from "../mod.ts";
import { redisStore } from "../src/fleet/redis.ts";
import { startRedis } from "../tests/support/redis_server.ts";

const SYNC_MS = 100;
const server = await startRedis();
const clients: Redis[] = [];
let commands = 0;
/** A store on its own ioredis connection, counting the commands it sends. */
function store() {
  const io = new Redis(server.port, "127.0.0.1");
  clients.push(io);
  return redisStore({
    send: (args: string[]) => {
      commands++;
      return io.call(args[0]!, ...args.slice(1));
    },
  });
}
const key = (name: string) => `${name}-${Date.now().toString(36)}`;
// deno-lint-ignore require-await
const op = async () => 42;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** ns per call of `run`, median of 15 rounds of ~20 ms each, the two cases taking turns. */
async function pair(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
): Promise<[number, number]> {
  const time = async (run: () => Promise<unknown>, n: number) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await run();
    return (performance.now() - t0) * 1e6 / n;
  };
  await time(a, 20_000);
  await time(b, 20_000);
  const sa: number[] = [], sb: number[] = [];
  for (let r = 0; r < 15; r++) {
    sa.push(await time(a, 10_000));
    sb.push(await time(b, 10_000));
  }
  return [median(sa), median(sb)];
}

const rows: string[] = [];
const runtime = (globalThis as { Bun?: unknown }).Bun
  ? "Bun"
  : (globalThis as { Deno?: unknown }).Deno
  ? "Deno"
  : `Node ${(globalThis as { process?: { version: string } }).process?.version}`;

// 1. The success path.
{
  const options = { trip: consecutiveFailures(5), halfOpenAfter: 10_000 };
  const alone = circuitBreaker(options);
  const fleet = circuitBreaker({
    ...options,
    fleet: { store: store(), key: key("b"), syncMs: SYNC_MS },
  });
  const [a, f] = await pair(() => alone.execute(op), () => fleet.execute(op));
  rows.push(
    `| circuitBreaker success path | ${a.toFixed(0)} ns | ${f.toFixed(0)} ns | ${
      (f / a).toFixed(2)
    }× |`,
  );
  fleet.close();
  const rl = rateLimit({ limit: 1e9, windowMs: 1_000 });
  const rlFleet = rateLimit({
    limit: 1e9,
    windowMs: 1_000,
    fleet: { store: store(), key: key("r"), syncMs: SYNC_MS },
  });
  const [ra, rf] = await pair(() => rl.execute(op), () => rlFleet.execute(op));
  rows.push(
    `| rateLimit success path | ${ra.toFixed(0)} ns | ${rf.toFixed(0)} ns | ${
      (rf / ra).toFixed(2)
    }× |`,
  );
  rlFleet.close();
}

// 2. Commands per instance per second, at three call rates.
const perSecond: string[] = [];
for (const rate of [1_000, 10_000, 100_000]) {
  const b = circuitBreaker({
    trip: consecutiveFailures(5),
    halfOpenAfter: 10_000,
    fleet: { store: store(), key: key("c"), syncMs: SYNC_MS },
  });
  const l = rateLimit({
    limit: 1e9,
    windowMs: 1_000,
    fleet: { store: store(), key: key("c"), syncMs: SYNC_MS },
  });
  await sleep(50);
  const before = commands;
  const t0 = performance.now();
  let calls = 0;
  while (performance.now() - t0 < 2_000) {
    const due = Math.floor((performance.now() - t0) * rate / 1000);
    while (calls < due) {
      calls++;
      await b.execute(op);
      await l.execute(op);
    }
    await sleep(1);
  }
  const seconds = (performance.now() - t0) / 1000;
  // Two instances (a breaker and a limiter) made these commands.
  perSecond.push(
    `| ${rate.toLocaleString("en")} calls/s (made ${
      Math.round(calls / seconds).toLocaleString("en")
    }) | ${((commands - before) / seconds / 2).toFixed(1)} |`,
  );
  b.close();
  l.close();
}

// 3. isolate() on one instance until another rejects.
const latencies: number[] = [];
for (let i = 0; i < 10; i++) {
  const k = key("iso");
  const options = { trip: consecutiveFailures(5), halfOpenAfter: 10_000 };
  const a = circuitBreaker({ ...options, fleet: { store: store(), key: k, syncMs: SYNC_MS } });
  const b = circuitBreaker({ ...options, fleet: { store: store(), key: k, syncMs: SYNC_MS } });
  for (let j = 0; j < 20; j++) {
    await b.execute(op);
    await a.execute(op);
    await sleep(5);
  }
  const handle = a.isolate();
  const t0 = performance.now();
  let rejected = false;
  while (!rejected && performance.now() - t0 < 5_000) {
    await b.execute(op).catch(() => (rejected = true));
    if (!rejected) await sleep(1);
  }
  latencies.push(performance.now() - t0);
  handle.dispose();
  a.close();
  b.close();
}

console.log(`### The fleet on Redis (${runtime}, syncMs ${SYNC_MS}, ioredis, loopback)\n`);
console.log("| case | without fleet | with fleet (Redis) | ratio |");
console.log("|---|---:|---:|---:|");
for (const r of rows) console.log(r);
console.log(
  "\n| call rate (a breaker and a limiter, each with fleet) | Redis commands per instance per second |",
);
console.log("|---|---:|");
for (const r of perSecond) console.log(r);
const sorted = [...latencies].sort((x, y) => x - y);
console.log(
  `\nisolate() on one instance until another rejects (10 runs): median ${
    median(latencies).toFixed(0)
  } ms, max ${sorted.at(-1)!.toFixed(0)} ms (goal ≤ ${2 * SYNC_MS} ms)`,
);
for (const c of clients) c.disconnect();
await server.stop();
