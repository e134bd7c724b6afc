/**
 * Run as a child process by tests/leak_test.ts: uses every policy on the real
 * clock, including waits far longer than the test allows (a 60 s timeout
 * around fast calls, a 60 s retry backoff and a 60 s breaker wait cancelled by
 * an AbortController, a queued bulkhead call aborted), then just returns. If
 * any policy leaves a timer or a listener behind, the process does not exit by
 * itself and the test fails.
 *
 * @module
 */

// The operations are async functions on purpose: that is what a policy usually runs.
// deno-lint-ignore-file require-await

import { constantBackoff } from "../../src/policies/backoff.ts";
import { consecutiveFailures } from "../../src/policies/trip/consecutive_failures.ts";
import { bulkhead } from "../../src/policies/bulkhead.ts";
import { circuitBreaker } from "../../src/policies/circuit_breaker.ts";
import { fallback } from "../../src/policies/fallback.ts";
import { pipeline } from "../../src/policies/pipeline.ts";
import { retry } from "../../src/policies/retry.ts";
import { timeout } from "../../src/policies/timeout.ts";

const MINUTE = 60_000;
const refused = (): Error =>
  Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
const realWait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function expect(condition: boolean, what: string): void {
  if (!condition) throw new Error(`leak child: ${what}`);
}

// A 60 s timeout around fast calls: sequential, concurrent, one reading its signal,
// and one that outlives the timer's arming (a real I/O-like wait).
const slowLimit = timeout(MINUTE);
for (let i = 0; i < 1000; i++) await slowLimit.execute(async () => i);
await Promise.all(
  Array.from(
    { length: 1000 },
    (_, i) => slowLimit.execute(async ({ signal }) => signal.aborted || i),
  ),
);
await slowLimit.execute(() => realWait(5));
const longLived = new AbortController();
await slowLimit.execute(() => realWait(1), longLived.signal);

// A timeout that does fire.
const shortLimit = timeout(5);
const timedOut = await shortLimit.execute(() => new Promise(() => {})).catch((e) => e) as {
  kind?: string;
};
expect(timedOut?.kind === "timeout", "the 5 ms timeout fired");

// A retry cancelled during its 60 s backoff.
const patient = retry({ maxAttempts: 3, backoff: constantBackoff(MINUTE) });
const cancelRetry = new AbortController();
const retrying = patient.execute(() => Promise.reject(refused()), cancelRetry.signal).catch((e) =>
  e
);
await realWait(5);
cancelRetry.abort(new Error("shutting down"));
expect((await retrying)?.kind === "cancelled", "the retry was cancelled");

// A breaker that opens for 60 s, then refuses a call.
const breaker = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: MINUTE });
await breaker.execute(() => Promise.reject(refused())).catch(() => {});
const broken = await breaker.execute(() => "not called").catch((e) => e);
expect(broken?.name === "BrokenCircuitError", "the breaker is open");

// A bulkhead with a queued call aborted.
const gate = bulkhead(1, { queue: 1 });
let release!: () => void;
const holding = gate.execute(() => new Promise<void>((resolve) => (release = resolve)));
const cancelQueued = new AbortController();
const queued = gate.execute(() => "not called", cancelQueued.signal).catch((e) => e);
cancelQueued.abort();
expect((await queued)?.kind === "cancelled", "the queued call left the queue");
release();
await holding;

// Everything together, with a fallback, and a 60 s total timeout around it.
const all = pipeline(
  fallback("cached"),
  timeout(MINUTE),
  bulkhead(2),
  retry({ maxAttempts: 2, backoff: constantBackoff(0) }),
  circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: MINUTE }),
  timeout(MINUTE),
);
expect(await all.execute(async () => "fresh") === "fresh", "the pipeline succeeds");
expect(await all.execute(() => Promise.reject(refused())) === "cached", "the pipeline falls back");

console.log("leak child done");
