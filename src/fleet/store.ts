/**
 * The fleet: what {@link rateLimit}, {@link retryBudget} and
 * {@link circuitBreaker} share between processes through their `fleet`
 * option, and the {@link FleetStore} interface that holds it.
 *
 * A store answers one request per policy and key at a time, each an atomic
 * read-modify-write of that key's state, timed on the store's own clock. The
 * policies never wait on it: they call it at most every `syncMs` (and at once
 * for `isolate()` and `reset()`), keep deciding from what its last reply said,
 * and carry on alone when it fails or is slow.
 *
 * `redisStore()` (subpath `./fleet/redis`) is the store this package ships.
 * To write another (Deno KV, a Durable Object, SQL), implement the three
 * methods below so that each is atomic for its key (a transaction, a compare-
 * and-set loop, or one object's single thread) and reads time from one clock
 * for every instance (the store's, never the caller's). Keep every key's state
 * bounded and let it expire once idle (the TTLs each method names). A method
 * may reject or take long: the policy gives up on it after a while, reports it
 * as `onFleetError` and retries later with backoff.
 *
 * @module
 */

/**
 * One step of a fleet rate limit: a GCRA whose state is one number, the
 * theoretical arrival time `tat` (ms on the store's clock; absent means
 * "long ago"). With `now` the store's time:
 *
 * 1. `tat = max(now, max(tat, now) + charge × intervalMs)` (calls already
 *    made, less tokens given back);
 * 2. grant `g = min(want, max(0, floor((now + (burst - 1) × intervalMs - max(tat, now)) / intervalMs) + 1))`
 *    tokens and `tat = max(tat, now) + g × intervalMs`;
 * 3. `waitMs = max(0, tat - now - (burst - 1) × intervalMs)` when `g < want`,
 *    else 0;
 * 4. keep `tat` until it is in the past (TTL `tat - now + 1000` ms, at least 1 s).
 *
 * @example
 * ```ts
 * import type { FleetRateRequest } from "@faultline/faultline";
 *
 * const request: FleetRateRequest = { intervalMs: 10, burst: 100, want: 5, charge: 0 };
 * ```
 */
export interface FleetRateRequest {
  /** Milliseconds per call: `windowMs / limit`. */
  readonly intervalMs: number;
  /** How many calls may go at once. */
  readonly burst: number;
  /** How many tokens to lease now (≥ 0). */
  readonly want: number;
  /**
   * Calls the instance let through without a token (to count whatever the
   * limit says), less leased tokens it gives back unused: may be below 0.
   */
  readonly charge: number;
}

/**
 * The reply to a {@link FleetRateRequest}.
 *
 * @example
 * ```ts
 * import type { FleetRateReply } from "@faultline/faultline";
 *
 * const reply: FleetRateReply = { granted: 5, waitMs: 0 };
 * ```
 */
export interface FleetRateReply {
  /** Tokens leased to the instance: at most `want`. */
  readonly granted: number;
  /** When fewer than `want` were granted: ms until the fleet has a token again; else 0. */
  readonly waitMs: number;
}

/**
 * One step of a fleet retry budget: a sliding window of `windowMs` in
 * `buckets` slices (slice `floor(now / (windowMs / buckets))` on the store's
 * clock), each holding counts of calls and retries. With `calls` and
 * `retries` the sums over the slices of the last `windowMs`:
 *
 * 1. add `calls` to the current slice's calls, and `charge - returned` to its
 *    retries (a slice may go below 0; the sums are read as at least 0);
 * 2. `room = floor(ratio × calls + floor - retries)`; grant
 *    `g = min(want, max(0, ceil(room / 2)))` (half of what is left at most,
 *    so the next instance to ask finds some) and add `g` to the current
 *    slice's retries;
 * 3. reply `available = max(0, room - g)`;
 * 4. drop slices older than the window; expire the key after `2 × windowMs` idle.
 *
 * @example
 * ```ts
 * import type { FleetBudgetRequest } from "@faultline/faultline";
 *
 * const request: FleetBudgetRequest = {
 *   windowMs: 10_000, buckets: 10, ratio: 0.1, floor: 100, calls: 42, charge: 0, returned: 1, want: 2,
 * };
 * ```
 */
export interface FleetBudgetRequest {
  /** The window, in ms. */
  readonly windowMs: number;
  /** How many slices the window is kept in. */
  readonly buckets: number;
  /** Retries each call earns. */
  readonly ratio: number;
  /** Retries allowed over the window whatever the traffic: `minRetriesPerSecond × windowMs / 1000`. */
  readonly floor: number;
  /** Calls made since the instance's last request. */
  readonly calls: number;
  /** Retries the instance made without a leased token, to count whatever the budget says. */
  readonly charge: number;
  /** Leased retries the instance did not use and gives back. */
  readonly returned: number;
  /** How many retries to lease now. */
  readonly want: number;
}

/**
 * The reply to a {@link FleetBudgetRequest}.
 *
 * @example
 * ```ts
 * import type { FleetBudgetReply } from "@faultline/faultline";
 *
 * const reply: FleetBudgetReply = { granted: 2, available: 40 };
 * ```
 */
export interface FleetBudgetReply {
  /** Retries leased to the instance: at most `want`. */
  readonly granted: number;
  /** Retries the fleet's budget still allows after this grant. */
  readonly available: number;
}

/**
 * The state of a fleet breaker as a {@link FleetBreakerReply} gives it:
 * `half_open` is `open` whose wait is over.
 *
 * @example
 * ```ts
 * import type { FleetBreakerState } from "@faultline/faultline";
 *
 * const state: FleetBreakerState = "isolated";
 * ```
 */
export type FleetBreakerState = "closed" | "open" | "half_open" | "isolated";

/**
 * One step of a fleet circuit breaker. The key's state: `gen` (bumped by
 * every change of state, starting at 0), `state` (`closed`, `open` or
 * `isolated`), `openUntil` (store time), `openings` (since it last closed),
 * `isolations` (handles not yet released), the probes in flight (each with
 * the time it was granted) and `probeSuccesses`, a sliding failure window
 * like {@link FleetBudgetRequest}'s (calls and failures per slice) and, per
 * instance, the time of its latest failure. With `now` the store's time, in
 * this order:
 *
 * 1. `command`: `"isolate"` adds an isolation and makes the state `isolated`;
 *    `"release"` removes one (closing it when none is left and it is isolated);
 *    `"reset"` closes it and forgets every count and isolation. Each change
 *    of state bumps `gen`; closing clears the window, the probes and `openings`.
 * 2. add `calls` and `failures` to the window (only while `closed`); record
 *    `now` as `instance`'s latest failure when `failures > 0`.
 * 3. when `closed`, `failures > 0`, the window holds at least `minimumCalls`
 *    calls, `failures / calls ≥ threshold`, and at least `minInstances`
 *    instances failed within the window: open it (`openings + 1`,
 *    `openUntil = now + openMs`).
 * 4. probes older than `probeTimeoutMs` are forgotten. `probe`:
 *    `"take"` grants one when `open`, `now ≥ openUntil` and fewer than
 *    `maxProbes` are in flight; `"success"` releases one, and closes the
 *    breaker after `successes` of them; `"failure"` releases one and opens it
 *    again (`openings + 1`, `openUntil = now + openMs`, no probes).
 * 5. keep the key `2 × windowMs` after its last request (and while open or
 *    isolated, until `openUntil` plus that).
 *
 * @example
 * ```ts
 * import type { FleetBreakerRequest } from "@faultline/faultline";
 *
 * const request: FleetBreakerRequest = {
 *   instance: "a1", calls: 20, failures: 12, command: "none", probe: "none",
 *   windowMs: 10_000, buckets: 10, threshold: 0.5, minimumCalls: 10, minInstances: 2,
 *   openMs: 5_000, maxProbes: 1, successes: 1, probeTimeoutMs: 60_000,
 * };
 * ```
 */
export interface FleetBreakerRequest {
  /** The instance's id: random, one per breaker per process. */
  readonly instance: string;
  /** Counted calls since the instance's last request. */
  readonly calls: number;
  /** Of which counted failures. */
  readonly failures: number;
  /** What the instance's `isolate()`, handle release or `reset()` asks of the fleet. */
  readonly command: "none" | "isolate" | "release" | "reset";
  /** What the instance asks or tells about a half-open probe. */
  readonly probe: "none" | "take" | "success" | "failure";
  /** The failure window, in ms. */
  readonly windowMs: number;
  /** How many slices the window is kept in. */
  readonly buckets: number;
  /** The share of failures that opens the fleet's breaker. */
  readonly threshold: number;
  /** No decision before the window holds this many calls. */
  readonly minimumCalls: number;
  /** How many instances must have failed within the window for it to open. */
  readonly minInstances: number;
  /** How long it stays open if this request opens it, in ms. */
  readonly openMs: number;
  /** Probes in flight at once across the fleet. */
  readonly maxProbes: number;
  /** Successful probes that close it. */
  readonly successes: number;
  /** After how long a probe in flight is forgotten, in ms. */
  readonly probeTimeoutMs: number;
}

/**
 * The reply to a {@link FleetBreakerRequest}: the fleet's state after it.
 *
 * @example
 * ```ts
 * import type { FleetBreakerReply } from "@faultline/faultline";
 *
 * const reply: FleetBreakerReply = { gen: 3, state: "open", retryAfterMs: 4_200, openings: 1, probe: false };
 * ```
 */
export interface FleetBreakerReply {
  /** The generation: it changes with every change of state. */
  readonly gen: number;
  /** The state. */
  readonly state: FleetBreakerState;
  /** While `open`: ms until it half-opens; else 0. */
  readonly retryAfterMs: number;
  /** Openings since it last closed. */
  readonly openings: number;
  /** True when `probe: "take"` was granted. */
  readonly probe: boolean;
}

/**
 * Where a fleet's shared state lives: give one to the `fleet` option of
 * {@link rateLimit}, {@link retryBudget} or {@link circuitBreaker}.
 * `redisStore()` from `@faultline/faultline/fleet/redis` is one; the module
 * documentation says how to write another. Each method is one atomic step on
 * the state under `key`, timed on the store's clock, as its request type
 * describes. Every instance of a fleet passes the same key and options.
 *
 * @example A store that keeps everything in this process (for a test)
 * ```ts
 * import { type FleetStore, rateLimit } from "@faultline/faultline";
 *
 * const tats = new Map<string, number>();
 * const store: FleetStore = {
 *   rateLimit(key, r) {
 *     const now = Date.now();
 *     let tat = Math.max(Math.max(tats.get(key) ?? now, now) + r.charge * r.intervalMs, now);
 *     const room = Math.floor((now + (r.burst - 1) * r.intervalMs - tat) / r.intervalMs) + 1;
 *     const granted = Math.min(r.want, Math.max(0, room));
 *     tat += granted * r.intervalMs;
 *     tats.set(key, tat);
 *     const waitMs = granted < r.want ? Math.max(0, tat - now - (r.burst - 1) * r.intervalMs) : 0;
 *     return Promise.resolve({ granted, waitMs });
 *   },
 *   retryBudget: () => Promise.reject(new Error("not shared here")),
 *   circuitBreaker: () => Promise.reject(new Error("not shared here")),
 * };
 * const limiter = rateLimit({ limit: 10, windowMs: 1_000, fleet: { store, key: "api" } });
 * await limiter.execute(() => "ok");
 * limiter.close();
 * ```
 */
export interface FleetStore {
  /** A fleet rate limit's step: see {@link FleetRateRequest}. */
  rateLimit(key: string, request: FleetRateRequest): Promise<FleetRateReply>;
  /** A fleet retry budget's step: see {@link FleetBudgetRequest}. */
  retryBudget(key: string, request: FleetBudgetRequest): Promise<FleetBudgetReply>;
  /** A fleet circuit breaker's step: see {@link FleetBreakerRequest}. */
  circuitBreaker(key: string, request: FleetBreakerRequest): Promise<FleetBreakerReply>;
}

/**
 * The `fleet` option of {@link rateLimit}, {@link retryBudget} and
 * {@link circuitBreaker}: share the policy's state with every process that
 * uses the same `store` and `key`.
 *
 * @example
 * ```ts
 * import { type FleetOptions, rateLimit } from "@faultline/faultline";
 * import { redisStore } from "@faultline/faultline/fleet/redis";
 *
 * const client = { send: (_args: string[]) => Promise.resolve<unknown>([1, "0"]) }; // your Redis client
 * const fleet: FleetOptions = { store: redisStore(client), key: "payments-api", syncMs: 100 };
 * const limiter = rateLimit({ limit: 100, windowMs: 1_000, fleet });
 * limiter.close();
 * ```
 */
export interface FleetOptions {
  /** Where the shared state lives. */
  store: FleetStore;
  /** Which state: every instance of the same policy passes the same key (a non-empty string). */
  key: string;
  /**
   * At most one store request per this many ms while calls come (isolate()
   * and reset() go at once): finite, above 0. Default 100.
   */
  syncMs?: number;
  /**
   * circuitBreaker only: the fleet opens only when at least this many
   * instances saw failures within the window, so one sick instance cannot cut
   * off the fleet. A positive integer, default 1.
   */
  minInstances?: number;
}

/**
 * What `onFleetError` listeners receive: a store request failed or took too
 * long. The policy carries on with its own state and tries again later.
 *
 * @example
 * ```ts
 * import { type FleetErrorEvent, rateLimit } from "@faultline/faultline";
 *
 * const limiter = rateLimit({ limit: 100, windowMs: 1_000 });
 * limiter.onFleetError((e: FleetErrorEvent) => console.warn(`fleet ${e.key}: ${e.error}`));
 * ```
 */
export interface FleetErrorEvent {
  /** The fleet key. */
  readonly key: string;
  /** What the store rejected with (or a `TimeoutError` after too long). */
  readonly error: unknown;
  /** Failures in a row, this one included. */
  readonly failures: number;
  /** When the store will be tried again, in ms (if calls keep coming). */
  readonly retryInMs: number;
}
