/**
 * Keyed circuit breakers: one {@link CircuitBreaker} per key (a `host:port`,
 * a tenant, an endpoint), made on first use from one set of options, and
 * bounded so that many keys cannot grow memory without limit.
 *
 * @module
 */

import { type BreakerParent, BreakerSettings } from "./_breaker_core.ts";
import type { CircuitBreakerOptions, CircuitState } from "./breaker_options.ts";
import type { CircuitBreakerSnapshot } from "./breaker_snapshot.ts";
import { childBreaker, type CircuitBreaker } from "./circuit_breaker.ts";
import { Emitter, type Event } from "./events.ts";
import { optionsObject, positiveInteger } from "./_validate.ts";

/**
 * Options of {@link keyedCircuitBreaker}'s second argument.
 *
 * @example
 * ```ts
 * import type { KeyedCircuitBreakerOptions } from "@faultline/faultline";
 *
 * const options: KeyedCircuitBreakerOptions = { maxKeys: 500 };
 * ```
 */
export interface KeyedCircuitBreakerOptions {
  /** The most breakers kept at once: a positive integer, default 1 000. */
  maxKeys?: number;
}

/**
 * `onStateChange`'s event of a keyed breaker.
 *
 * @example
 * ```ts
 * import { consecutiveFailures, keyedCircuitBreaker, type KeyedStateChangeEvent } from "@faultline/faultline";
 *
 * const breakers = keyedCircuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breakers.onStateChange((e: KeyedStateChangeEvent) => console.log(`${e.key}: ${e.from} -> ${e.to}`));
 * ```
 */
export interface KeyedStateChangeEvent {
  /** Whose breaker changed. */
  readonly key: string;
  /** The state it left. */
  readonly from: CircuitState;
  /** The state it entered. */
  readonly to: CircuitState;
}

/**
 * `onEvict`'s event: a breaker was dropped to keep within `maxKeys`.
 *
 * @example
 * ```ts
 * import { consecutiveFailures, keyedCircuitBreaker } from "@faultline/faultline";
 *
 * const breakers = keyedCircuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
 * breakers.onEvict((e) => console.log(`forgot ${e.key} (${e.state})`));
 * ```
 */
export interface EvictEvent {
  /** The key whose breaker was dropped. */
  readonly key: string;
  /** Its state when dropped: `closed` unless no closed breaker was left to drop. */
  readonly state: CircuitState;
}

/**
 * One {@link CircuitBreaker} per key, created on demand by {@link get}.
 * Create it with {@link keyedCircuitBreaker}.
 *
 * At most `maxKeys` breakers are kept. To make room for a new key, the least
 * recently used `closed` breaker is dropped: a closed breaker holds only
 * recent counts, so forgetting it costs little. Only when no breaker is closed
 * is the least recently used one dropped whatever its state, because the
 * bound on memory must hold; `onEvict` reports every drop, so none is silent.
 *
 * @example
 * ```ts
 * import { consecutiveFailures, keyedCircuitBreaker } from "@faultline/faultline";
 *
 * const breakers = keyedCircuitBreaker(
 *   { trip: consecutiveFailures(5), halfOpenAfter: 10_000 },
 *   { maxKeys: 1_000 },
 * );
 * const host = "db.internal:5432";
 * await breakers.get(host).execute(() => "query result");
 * console.log(breakers.get(host).state); // "closed"
 * ```
 */
export class KeyedCircuitBreaker {
  readonly #settings: BreakerSettings;
  readonly #maxKeys: number;
  /** In order of use: the first entry is the least recently used. */
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #stateChange = new Emitter<KeyedStateChangeEvent>();
  readonly #evict = new Emitter<EvictEvent>();
  readonly #parent: BreakerParent;
  /** Set while `restore` checks snapshots on scratch breakers, whose changes are not news. */
  #restoring = false;

  /** Listens to every change of state of every key's breaker. */
  readonly onStateChange: Event<KeyedStateChangeEvent> = this.#stateChange.subscribe;
  /** Listens to breakers dropped to keep within `maxKeys`. */
  readonly onEvict: Event<EvictEvent> = this.#evict.subscribe;

  /** Prefer {@link keyedCircuitBreaker}, which is the same. */
  constructor(options: CircuitBreakerOptions, keyed?: KeyedCircuitBreakerOptions) {
    const api = "keyedCircuitBreaker";
    this.#settings = new BreakerSettings(options, api);
    const k = optionsObject<KeyedCircuitBreakerOptions>(api, keyed);
    const maxKeys = k.maxKeys;
    this.#maxKeys = maxKeys === undefined ? 1000 : positiveInteger(api, "maxKeys", maxKeys);
    this.#parent = {
      changed: (key, from, to) => {
        if (!this.#restoring && this.#stateChange.has) {
          this.#stateChange.emit({ key, from, to });
        }
      },
    };
  }

  /** How many breakers are kept now. */
  get size(): number {
    return this.#breakers.size;
  }

  /** The breaker for `key`, made (closed) if there is none. */
  get(key: string): CircuitBreaker {
    if (typeof key !== "string") {
      throw new TypeError(
        `Cannot get a circuit breaker as 'key' must be a string: current value is ${String(key)}`,
      );
    }
    const map = this.#breakers;
    let breaker = map.get(key);
    if (breaker !== undefined) {
      // Move it to the end: most recently used. Skipped when it already is.
      if (map.size > 1) {
        map.delete(key);
        map.set(key, breaker);
      }
      return breaker;
    }
    if (map.size >= this.#maxKeys) this.#evictOne();
    breaker = childBreaker(this.#settings, this.#parent, key);
    map.set(key, breaker);
    return breaker;
  }

  /** True when a breaker is kept for `key`; does not count as a use. */
  has(key: string): boolean {
    return this.#breakers.has(key);
  }

  /** Drops the breaker for `key` (the next `get` makes a fresh one); true if there was one. */
  delete(key: string): boolean {
    return this.#breakers.delete(key);
  }

  /**
   * The keys kept, least recently used first: a snapshot, so that calling
   * `get` while iterating (which moves a key to the end) cannot loop forever.
   */
  keys(): IterableIterator<string> {
    return [...this.#breakers.keys()][Symbol.iterator]();
  }

  /** Every kept breaker's snapshot, by key, least recently used first. */
  toJSON(): Record<string, CircuitBreakerSnapshot> {
    // A null prototype: a key named "__proto__" is just a key.
    const out = Object.create(null) as Record<string, CircuitBreakerSnapshot>;
    for (const [key, breaker] of this.#breakers) out[key] = breaker.toJSON();
    return out;
  }

  /**
   * Restores the breakers of a {@link toJSON} result (at most `maxKeys` of
   * them, the most recently used). Every snapshot is checked before any is
   * applied: a bad one throws and changes nothing.
   */
  restore(snapshots: Record<string, CircuitBreakerSnapshot>): void {
    if (typeof snapshots !== "object" || snapshots === null || Array.isArray(snapshots)) {
      throw new TypeError(
        `Cannot restore keyed circuit breaker as 'snapshots' must be an object from toJSON(): current value is ${
          String(snapshots)
        }`,
      );
    }
    const entries = Object.entries(snapshots).slice(-this.#maxKeys);
    // Check each on a scratch breaker first, so that a bad one changes nothing.
    const scratch = new Map<string, CircuitBreaker>();
    this.#restoring = true;
    try {
      for (const [key, snapshot] of entries) {
        const breaker = childBreaker(this.#settings, this.#parent, key);
        try {
          breaker.restore(snapshot);
        } catch (error) {
          const e = error as Error;
          e.message = `${e.message} (key ${JSON.stringify(key)})`;
          throw e;
        }
        scratch.set(key, breaker);
      }
    } finally {
      this.#restoring = false;
    }
    for (const [key, breaker] of scratch) {
      if (this.#breakers.has(key)) this.#breakers.delete(key);
      else if (this.#breakers.size >= this.#maxKeys) this.#evictOne();
      this.#breakers.set(key, breaker);
    }
  }

  #evictOne(): void {
    const map = this.#breakers;
    let victim: string | undefined;
    for (const [key, breaker] of map) {
      if (breaker.state === "closed") {
        victim = key;
        break;
      }
    }
    victim ??= map.keys().next().value!;
    const state = map.get(victim)!.state;
    map.delete(victim);
    if (this.#evict.has) this.#evict.emit({ key: victim, state });
  }
}

/**
 * One circuit breaker per key, all with the same options, made on first use
 * and bounded by `maxKeys` (see {@link KeyedCircuitBreaker} for what is
 * dropped). `get(key)` gives a key's breaker, a {@link Policy} like any other.
 *
 * @example One breaker per host
 * ```ts
 * import { consecutiveFailures, keyedCircuitBreaker, pipeline, retry } from "@faultline/faultline";
 *
 * const breakers = keyedCircuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 10_000 });
 * const retries = retry();
 * async function call(host: string, port: number): Promise<string> {
 *   return await pipeline(retries, breakers.get(`${host}:${port}`)).execute(() => "response");
 * }
 * ```
 */
export function keyedCircuitBreaker(
  options: CircuitBreakerOptions,
  keyed?: KeyedCircuitBreakerOptions,
): KeyedCircuitBreaker {
  return new KeyedCircuitBreaker(options, keyed);
}
