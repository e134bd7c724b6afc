// `npm run demo:adaptive`: the latency-aware policies at work, drawn.
//
// A loopback HTTP server (127.0.0.1 only) serves at most 32 requests at a time;
// its service time climbs from 20 ms to 300 ms and recovers, over 26 s, with a
// slow tail (5% of requests take 5× longer). Four client loops send it 400
// requests a second through
//
//   pipeline(adaptiveConcurrency(), hedge({ delay: p90 }), timeout(1000))
//
// and every 250 ms the script samples the latency, the adaptive limit, the
// calls in flight, how many calls were hedged and how many were shed. Then it
// draws them, itself, as docs/adaptive.svg (no plotting library, no service),
// prints a summary, and stops: at most 30 s and 14 000 requests.
//
//   node scripts/adaptive_demo.ts [--out=docs/adaptive.svg] [--seconds=26] [--algorithm=gradient2]
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  type AdaptiveAlgorithm,
  adaptiveConcurrency,
  BulkheadRejectedError,
  hedge,
  isConnectionError,
  pipeline,
  retryBudget,
  timeout,
} from "../mod.ts";
import { renderChart, type Sample } from "./adaptive_chart.ts";

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const OUT = arg("out", fileURLToPath(new URL("../docs/adaptive.svg", import.meta.url)));
const SECONDS = Math.min(30, Number(arg("seconds", "26")));
const ALGORITHM = arg("algorithm", "gradient2") as AdaptiveAlgorithm;
const RATE = 400; // requests a second, from all loops together
const LOOPS = 4;
const MAX_REQUESTS = 14_000;
const SERVER_SLOTS = 32;
const TICK_MS = 250;

// ---------------------------------------------------------------- the server

/** The service time of the server at `t` seconds into the run: 20 ms, up to 300 ms, and back. */
function baseLatency(t: number): number {
  const s = t * 26 / SECONDS; // the profile scales with --seconds
  if (s < 4) return 20;
  if (s < 12) return 20 + (s - 4) / 8 * 280;
  if (s < 16) return 300;
  if (s < 22) return 300 - (s - 16) / 6 * 280;
  return 20;
}

let seed = 0x2545f491;
/** A small seeded generator, so that every run draws the same tail. */
function random(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
}

const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;

let serving = 0;
const waiting: Array<() => void> = [];
let serverDone: number[] = [];

const server = http.createServer((req, res) => {
  const arrived = performance.now();
  let gone = false;
  res.on("close", () => (gone = true));
  const serve = () => {
    if (gone) return next(); // the client gave up while queued (a hedge won, a timeout)
    serving++;
    const tail = random() < 0.05 ? 5 : 0.8 + 0.4 * random();
    setTimeout(() => {
      serving--;
      serverDone.push(performance.now() - arrived);
      if (!gone) res.end("ok");
      next();
    }, baseLatency(elapsed()) * tail);
  };
  req.resume();
  if (serving < SERVER_SLOTS) serve();
  else waiting.push(serve);
});

function next(): void {
  const serve = waiting.shift();
  if (serve) serve();
}

await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

// ---------------------------------------------------------------- the client

const limiter = adaptiveConcurrency({ algorithm: ALGORITHM, initialLimit: 20, maxLimit: 200 });
const hedging = hedge({
  delay: { percentile: 90, min: 5, max: 1000 },
  budget: retryBudget({ ratio: 0.15, minRetriesPerSecond: 5 }),
});
const policy = pipeline(limiter, hedging, timeout(1000));

let hedges = 0;
let hedgeDelay = NaN;
hedging.onHedge((e) => {
  hedges++;
  if (e.delay !== undefined) hedgeDelay = e.delay;
});

let calls = 0;
let shed = 0;
let failed = 0;
let clientDone: number[] = [];
const totals = { calls: 0, ok: 0, shed: 0, failed: 0, hedges: 0 };

async function call(): Promise<void> {
  const t0 = performance.now();
  calls++;
  totals.calls++;
  try {
    await policy.execute(async ({ signal }) => {
      const response = await fetch(url, { signal });
      return await response.text();
    });
    clientDone.push(performance.now() - t0);
    totals.ok++;
  } catch (error) {
    if (error instanceof BulkheadRejectedError) {
      shed++;
      totals.shed++;
    } else {
      failed++;
      totals.failed++;
      if (!isConnectionError(error)) console.error(error);
    }
  }
}

const pending = new Set<Promise<void>>();
const deadline = started + SECONDS * 1000;
/** One loop: a call every LOOPS/RATE seconds, not waiting for it (requests arrive as they come). */
async function loop(offset: number): Promise<void> {
  const gap = 1000 * LOOPS / RATE;
  let due = performance.now() + offset * gap / LOOPS;
  while (due < deadline && totals.calls < MAX_REQUESTS) {
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const p = call();
    pending.add(p);
    p.finally(() => pending.delete(p));
    due += gap;
  }
}

// ---------------------------------------------------------------- sampling

const samples: Sample[] = [];
const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const sampler = setInterval(() => {
  samples.push({
    t: elapsed(),
    base: baseLatency(elapsed()),
    serverP50: quantile(serverDone, 0.5),
    clientP50: quantile(clientDone, 0.5),
    clientP99: quantile(clientDone, 0.99),
    hedgeDelay,
    limit: limiter.limit,
    inFlight: limiter.inFlight,
    serverQueue: waiting.length + serving,
    hedgeRate: calls > 0 ? hedges / calls : 0,
    shedRate: calls > 0 ? shed / calls : 0,
    failRate: calls > 0 ? failed / calls : 0,
  });
  totals.hedges += hedges;
  serverDone = [];
  clientDone = [];
  calls =
    hedges =
    shed =
    failed =
      0;
}, TICK_MS);

console.log(`faultline adaptive demo: ${SECONDS} s, ${RATE} requests/s to ${url}, ${ALGORITHM}`);
const progress = setInterval(() => {
  const s = samples.at(-1);
  if (!s) return;
  console.log(
    `${s.t.toFixed(1).padStart(5)} s  server ${s.base.toFixed(0).padStart(3)} ms  ` +
      `p99 ${s.clientP99.toFixed(0).padStart(4)} ms  limit ${String(s.limit).padStart(3)}  ` +
      `in flight ${String(s.inFlight).padStart(3)}  hedged ${
        (s.hedgeRate * 100).toFixed(0).padStart(2)
      }%  ` +
      `shed ${(s.shedRate * 100).toFixed(0).padStart(2)}%`,
  );
}, 2000);

await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i)));
await Promise.allSettled([...pending]);
clearInterval(sampler);
clearInterval(progress);
server.close();
server.closeAllConnections();

writeFileSync(OUT, renderChart(samples, { seconds: SECONDS, algorithm: ALGORITHM, rate: RATE }));
console.log(
  `\n${totals.calls} calls: ${totals.ok} ok, ${totals.shed} shed by the limit, ${totals.failed} failed; ` +
    `${totals.hedges} hedges (${(totals.hedges / totals.calls * 100).toFixed(1)}%).`,
);
console.log(`Wrote ${OUT}`);
