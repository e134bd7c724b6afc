// Every policy takes `normalize`: a normalizer of the user's that knows a
// client faultline does not, without global state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createNormalizer } from "../errors/normalize_error.ts";
import { isConnectionError } from "../errors/is_connection_error.ts";
import { ManualClock } from "../clock.ts";
import { retry } from "./retry.ts";
import { circuitBreaker } from "./circuit_breaker.ts";
import { consecutiveFailures } from "./trip/consecutive_failures.ts";
import { fallback } from "./fallback.ts";
import { timeout } from "./timeout.ts";
import { bulkhead, BulkheadRejectedError } from "./bulkhead.ts";
import { BrokenCircuitError } from "./broken_circuit_error.ts";
import { rateLimit } from "./rate_limit.ts";
import { RateLimitedError } from "./rate_limited_error.ts";
import { adaptiveThrottle, ThrottledError } from "./adaptive_throttle.ts";
import { pipeline } from "./pipeline.ts";
import { constantBackoff } from "./backoff.ts";

const normalize = createNormalizer({
  recognizers: [{
    name: "acme",
    match: (e) => e.code === "ACME_GONE" ? { kind: "closed" } : undefined,
  }],
});
const gone = () => Object.assign(new Error("broker went away"), { code: "ACME_GONE" });

test("retry({ normalize }) retries what the user's normalizer recognizes", async () => {
  let calls = 0;
  const policy = retry({ maxAttempts: 3, backoff: constantBackoff(0), normalize });
  const error = await policy.execute(() => {
    calls++;
    throw gone();
  }).catch((e) => e);
  assert.equal(calls, 3);
  assert.ok(isConnectionError(error, "closed"));
  calls = 0;
  const plain = retry({ maxAttempts: 3, backoff: constantBackoff(0) });
  const raw = await plain.execute(() => {
    calls++;
    throw gone();
  }).catch((e) => e);
  assert.equal(calls, 1, "without it, the error is not a connection failure");
  assert.equal(raw.code, "ACME_GONE");
});

test("circuitBreaker({ normalize }) counts what the user's normalizer recognizes", async () => {
  const clock = new ManualClock();
  const breaker = circuitBreaker({
    trip: consecutiveFailures(2),
    halfOpenAfter: 1000,
    clock,
    normalize,
  });
  for (let i = 0; i < 2; i++) {
    await assert.rejects(breaker.execute(() => Promise.reject(gone())), { kind: "closed" });
  }
  assert.equal(breaker.state, "open");
  const predicate = circuitBreaker({
    trip: consecutiveFailures(1),
    halfOpenAfter: 1000,
    clock,
    normalize,
    on: (_error, n) => n.kind === "closed",
  });
  await assert.rejects(predicate.execute(() => Promise.reject(gone())));
  assert.equal(predicate.state, "open", "the predicate sees the user's kind");
});

test("fallback({ normalize }) handles what the user's normalizer recognizes", async () => {
  const policy = fallback("cached", { normalize });
  assert.equal(await policy.execute(() => Promise.reject(gone())), "cached");
  const byKind = fallback("cached", { normalize, on: ["closed"] });
  assert.equal(await byKind.execute(() => Promise.reject(gone())), "cached");
  const byPredicate = fallback("cached", { normalize, on: (_e, n) => n.kind === "closed" });
  assert.equal(await byPredicate.execute(() => Promise.reject(gone())), "cached");
  await assert.rejects(fallback("cached").execute(() => Promise.reject(gone())), {
    code: "ACME_GONE",
  });
});

test("timeout and bulkhead hand on the user's kind", async () => {
  await assert.rejects(
    timeout(1000, { normalize, clock: new ManualClock() }).execute(() => Promise.reject(gone())),
    { name: "ConnectionError", kind: "closed" },
  );
  await assert.rejects(
    bulkhead(1, { normalize }).execute(() => Promise.reject(gone())),
    { name: "ConnectionError", kind: "closed" },
  );
});

test("a pipeline of policies given normalize ends as they do one by one", async () => {
  let calls = 0;
  const clock = new ManualClock();
  const p = pipeline(
    fallback("cached", { normalize }),
    retry({ maxAttempts: 2, backoff: constantBackoff(0), normalize }),
    circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 10, clock, normalize }),
    timeout(1000, { clock, normalize }),
    bulkhead(2, { normalize }),
  );
  assert.equal(
    await p.execute(() => {
      calls++;
      throw gone();
    }),
    "cached",
  );
  assert.equal(calls, 2);
});

test("a normalizer that takes every error for a connection failure still never retries a policy's own refusal", async () => {
  // "Everything this client throws is a dropped connection" is a normalizer
  // people write. A breaker, limiter, throttle or bulkhead that refused a call
  // has not failed to connect, and retrying its refusal only presses on it.
  const everything = createNormalizer({
    recognizers: [{ name: "all", match: () => ({ kind: "reset" }) }],
  });
  assert.equal(everything(new Error("anything")).kind, "reset");
  const clock = new ManualClock();
  const breaker = circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 1000, clock });
  breaker.isolate();
  const limiter = rateLimit({ limit: 1, windowMs: 1000, clock });
  await limiter.execute(() => "the only turn");
  const throttle = adaptiveThrottle({ random: () => 0, clock });
  const refused = () => Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  for (let i = 0; i < 5; i++) {
    await throttle.execute(() => Promise.reject(refused())).catch(() => {});
  }
  const full = bulkhead(1);
  let release = () => {};
  const busy = full.execute(() => new Promise<void>((resolve) => release = resolve));
  const refusers = [
    [breaker, BrokenCircuitError],
    [limiter, RateLimitedError],
    [throttle, ThrottledError],
    [full, BulkheadRejectedError],
  ] as const;
  for (const [policy, Refusal] of refusers) {
    const retrying = retry({ maxAttempts: 3, backoff: constantBackoff(0), normalize: everything });
    let retries = 0;
    retrying.onRetry(() => retries++);
    const error = await pipeline(retrying, policy).execute(() => "sent").catch((e) => e);
    assert.ok(error instanceof Refusal, `${Refusal.name}: ${error}`);
    assert.equal(retries, 0, `${Refusal.name} is not retried`);
  }
  release();
  await busy;
});

test("a normalize of the user's own that throws never makes a call throw", async () => {
  const broken = () => {
    throw new Error("bug in normalize");
  };
  const policy = retry({ maxAttempts: 2, backoff: constantBackoff(0), normalize: broken as never });
  const error = await policy.execute(() => Promise.reject(gone())).catch((e) => e);
  assert.equal(error.code, "ACME_GONE", "left as thrown: not recognized");
});

test("every policy refuses a normalize that is not a function, naming it", () => {
  const message = (api: string) =>
    `Cannot create ${api} as 'normalize' must be a function (normalizeError or one from createNormalizer): current value is "pg"`;
  const bad = { normalize: "pg" } as never;
  assert.throws(() => retry(bad), { name: "TypeError", message: message("retry") });
  assert.throws(
    () =>
      circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 1, normalize: "pg" as never }),
    { name: "TypeError", message: message("circuitBreaker") },
  );
  assert.throws(() => fallback(1, bad), { name: "TypeError", message: message("fallback") });
  assert.throws(() => timeout(1, bad), { name: "TypeError", message: message("timeout") });
  assert.throws(() => bulkhead(1, bad), { name: "TypeError", message: message("bulkhead") });
});
