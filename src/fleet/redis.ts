/**
 * {@link redisStore}: a {@link FleetStore} on Redis, over the client you
 * already have (ioredis, node-redis, Bun's `RedisClient`, or anything with a
 * `send(args)`), recognized by its shape: this module imports no client.
 *
 * Each step is one Lua script run with `EVALSHA` (and `EVAL` when the server
 * answers `NOSCRIPT`), so it is atomic on the server and costs one round
 * trip; time is the server's (`TIME`), so the hosts' clocks never matter.
 * Keys live under `prefix` and expire once idle. Every request is bounded by
 * `timeoutMs`: a slow server is a failed request, never a slow call.
 *
 * @module
 */

import { type Clock, realClock } from "../clock.ts";
import {
  clock as checkClock,
  duration,
  optionsObject,
  rangeError,
  typeError,
} from "../policies/_validate.ts";
import { FleetTimeoutError } from "./_sync.ts";
import { BREAKER_SCRIPT } from "./_redis_breaker_script.ts";
import { BUDGET_SCRIPT, RATE_SCRIPT } from "./_redis_scripts.ts";
import type {
  FleetBreakerReply,
  FleetBreakerRequest,
  FleetBreakerState,
  FleetBudgetReply,
  FleetBudgetRequest,
  FleetRateReply,
  FleetRateRequest,
  FleetStore,
} from "./store.ts";

/**
 * A Redis client {@link redisStore} knows how to talk to, by its shape:
 * - ioredis (`Redis`, `Cluster`): its `call(command, ...args)`;
 * - node-redis v4 and later (`createClient()`): its `sendCommand(args)`;
 * - Bun's `RedisClient`: its `send(command, args)`;
 * - anything else: `{ send(args: string[]): Promise<unknown> }`, taking the
 *   command and its arguments as one array and resolving with the reply
 *   (integers as numbers, bulk strings as strings, arrays as arrays) or
 *   rejecting with the server's error (its message starting with its code,
 *   as `NOSCRIPT …`).
 *
 * @example A client of your own
 * ```ts
 * import type { RedisLikeClient } from "@faultline/faultline/fleet/redis";
 *
 * const client: RedisLikeClient = { send: (args: string[]) => Promise.resolve(args.length) };
 * ```
 */
export type RedisLikeClient =
  | { call(command: string, ...args: string[]): Promise<unknown> }
  | { sendCommand(args: string[]): Promise<unknown> }
  | { send(command: string, args: string[]): Promise<unknown> }
  | { send(args: string[]): Promise<unknown> };

/**
 * Options of {@link redisStore}.
 *
 * @example
 * ```ts
 * import type { RedisStoreOptions } from "@faultline/faultline/fleet/redis";
 *
 * const options: RedisStoreOptions = { prefix: "myapp:faultline:", timeoutMs: 30 };
 * ```
 */
export interface RedisStoreOptions {
  /** Put before every key the store writes. Default `"faultline:"`. */
  prefix?: string;
  /**
   * How long a request may take, in ms (finite, above 0), after which it
   * counts as failed (the policy carries on alone). Default 50.
   */
  timeoutMs?: number;
  /** The source of time for `timeoutMs`. Default `realClock`. */
  clock?: Clock;
}

type Send = (args: string[]) => Promise<unknown>;

/** How to send a command with `client`, by its shape. */
function senderOf(client: unknown): Send | undefined {
  if (typeof client !== "object" && typeof client !== "function") return undefined;
  if (client === null) return undefined;
  const c = client as Record<string, unknown>;
  if (typeof c.call === "function") {
    const call = c.call as (...args: string[]) => Promise<unknown>;
    return (args) => call.apply(client, args);
  }
  if (typeof c.sendCommand === "function") {
    const send = c.sendCommand as (...a: unknown[]) => Promise<unknown>;
    // A node-redis cluster routes by key: sendCommand(firstKey, isReadonly, args).
    if (send.length >= 3) return (args) => send.call(client, args[3], false, args);
    return (args) => send.call(client, args);
  }
  if (typeof c.send === "function") {
    const send = c.send as (...a: unknown[]) => Promise<unknown>;
    if (send.length >= 2) return (args) => send.call(client, args[0], args.slice(1)); // Bun
    return (args) => send.call(client, args);
  }
  return undefined;
}

/** The hex SHA-1 of `text`, where Web Crypto is there; else undefined (EVAL only). */
async function sha1(text: string): Promise<string | undefined> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (subtle === undefined) return undefined;
  const digest = await subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const noop = (): void => {};

/** One script, run by its SHA-1 when the server has it, else by its text. */
class Script {
  readonly text: string;
  sha: string | undefined = undefined;
  constructor(text: string) {
    this.text = text;
    sha1(text).then((sha) => (this.sha = sha), noop);
  }
}

class RedisFleetStore implements FleetStore {
  readonly #send: Send;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #rate = new Script(RATE_SCRIPT);
  readonly #budget = new Script(BUDGET_SCRIPT);
  readonly #breaker = new Script(BREAKER_SCRIPT);

  constructor(send: Send, prefix: string, timeoutMs: number, clock: Clock) {
    this.#send = send;
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
  }

  /** Sends one command (a client that throws rejects). */
  #command(args: string[]): Promise<unknown> {
    try {
      return Promise.resolve(this.#send(args));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** EVALSHA, and EVAL when the server does not have the script (yet). */
  async #evalOnce(script: Script, rest: string[]): Promise<unknown> {
    if (script.sha === undefined) return this.#command(["EVAL", script.text, ...rest]);
    try {
      return await this.#command(["EVALSHA", script.sha, ...rest]);
    } catch (error) {
      if (!String((error as Error)?.message ?? error).includes("NOSCRIPT")) throw error;
      return this.#command(["EVAL", script.text, ...rest]);
    }
  }

  /** Runs `script` on `key`: the whole step, fallback included, within timeoutMs; no timer left. */
  #eval(script: Script, key: string, argv: readonly (number | string)[]): Promise<unknown[]> {
    const sent = this.#evalOnce(script, ["1", this.#prefix + key, ...argv.map(String)]);
    return new Promise((resolve, reject) => {
      const clock = this.#clock;
      const timer = clock.setTimeout(() => {
        sent.then(noop, noop); // its late outcome is nobody's
        reject(new FleetTimeoutError(this.#timeoutMs));
      }, this.#timeoutMs);
      sent.then(
        (reply) => {
          clock.clearTimeout(timer);
          if (Array.isArray(reply)) resolve(reply);
          else reject(new TypeError(`Unexpected reply from Redis: ${String(reply)}`));
        },
        (error: unknown) => {
          clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  async rateLimit(key: string, r: FleetRateRequest): Promise<FleetRateReply> {
    const [granted, waitMs] = await this.#eval(this.#rate, `rate:${key}`, [
      r.intervalMs,
      r.burst,
      r.want,
      r.charge,
    ]);
    return { granted: Number(granted), waitMs: Number(waitMs) };
  }

  async retryBudget(key: string, r: FleetBudgetRequest): Promise<FleetBudgetReply> {
    const [granted, available] = await this.#eval(this.#budget, `budget:${key}`, [
      r.windowMs,
      r.buckets,
      r.ratio,
      r.floor,
      r.calls,
      r.charge,
      r.returned,
      r.want,
    ]);
    return { granted: Number(granted), available: Number(available) };
  }

  async circuitBreaker(key: string, r: FleetBreakerRequest): Promise<FleetBreakerReply> {
    const [gen, state, retryAfterMs, openings, probe] = await this.#eval(
      this.#breaker,
      `breaker:${key}`,
      [
        r.instance,
        r.calls,
        r.failures,
        r.command,
        r.probe,
        r.windowMs,
        r.buckets,
        r.threshold,
        r.minimumCalls,
        r.minInstances,
        r.openMs,
        r.maxProbes,
        r.successes,
        r.probeTimeoutMs,
      ],
    );
    return {
      gen: Number(gen),
      state: String(state) as FleetBreakerState,
      retryAfterMs: Number(retryAfterMs),
      openings: Number(openings),
      probe: Number(probe) === 1,
    };
  }
}

/**
 * A {@link FleetStore} on Redis: pass it as `fleet.store` to
 * {@link rateLimit}, {@link retryBudget} or {@link circuitBreaker}. `client`
 * is a connected ioredis or node-redis client, Bun's `RedisClient`, or a
 * `{ send(args) }` of your own (see {@link RedisLikeClient}); closing it is
 * yours to do. Redis 4 or later.
 *
 * Keys: `<prefix>rate:<key>` (a string), `<prefix>budget:<key>` and
 * `<prefix>breaker:<key>` (hashes), each expiring once idle. One key per
 * script, so it works on Redis Cluster too.
 *
 * @example With ioredis (here a stand-in client, to run without a server)
 * ```ts
 * import { rateLimit } from "@faultline/faultline";
 * import { redisStore } from "@faultline/faultline/fleet/redis";
 *
 * // const client = new Redis("redis://127.0.0.1:6379"); // ioredis
 * const client = { send: (_args: string[]) => Promise.resolve<unknown>([5, "0"]) };
 * const store = redisStore(client, { prefix: "myapp:", timeoutMs: 50 });
 * const limiter = rateLimit({ limit: 100, windowMs: 1_000, fleet: { store, key: "search-api" } });
 * console.log(await limiter.execute(() => "ok")); // "ok"
 * limiter.close();
 * ```
 */
export function redisStore(client: RedisLikeClient, options?: RedisStoreOptions): FleetStore {
  const api = "redisStore";
  const send = senderOf(client);
  if (send === undefined) {
    typeError(
      api,
      "client",
      "an ioredis or node-redis client, Bun's RedisClient, or { send(args) }",
      client,
    );
  }
  const o = optionsObject<RedisStoreOptions>(api, options);
  const prefix = o.prefix;
  const timeoutMs = o.timeoutMs;
  const clock = o.clock;
  if (prefix !== undefined && typeof prefix !== "string") {
    typeError(api, "prefix", "a string", prefix);
  }
  let timeout = 50;
  if (timeoutMs !== undefined) {
    timeout = duration(api, "timeoutMs", timeoutMs);
    if (timeout === 0) rangeError(api, "timeoutMs", "a finite number of milliseconds above 0", 0);
  }
  return new RedisFleetStore(
    send,
    prefix ?? "faultline:",
    timeout,
    clock === undefined ? realClock : checkClock(api, clock),
  );
}
