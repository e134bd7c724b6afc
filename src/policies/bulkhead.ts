/**
 * {@link bulkhead}: at most `limit` operations at a time, up to `queue` more
 * waiting their turn, and an immediate {@link BulkheadRejectedError} beyond
 * that, so one slow dependency cannot take every connection or every request.
 *
 * @module
 */

import { brandFor, carries, REFUSAL } from "../errors/_brand.ts";
import type { Judge, Normalizer } from "../errors/normalize_error.ts";
import { type Call, executeSolo, type Sink, STRATEGY, Strategy } from "./_engine.ts";
import { Waiters } from "./_waiters.ts";
import { Emitter, type Event } from "./events.ts";
import { cancelledBy, onward } from "./_outgoing.ts";
import type { ExecutionContext, Policy } from "./types.ts";
import {
  fn as checkFunction,
  judge,
  nonNegativeInteger,
  optionsObject,
  positiveInteger,
} from "./_validate.ts";

/** Options for {@link bulkhead}. */
export interface BulkheadOptions {
  /** How many calls may wait for a slot; 0 (the default) rejects at once when all are taken. */
  queue?: number;
  /** A listener subscribed to {@link BulkheadPolicy.onRejected} at construction. */
  onRejected?: (event: BulkheadRejectedEvent) => void;
  /**
   * How to tell a connection failure from any other error: a normalizer
   * from {@link createNormalizer} that knows your clients. Default
   * {@link normalizeError}.
   */
  normalize?: Normalizer;
}

/**
 * What {@link BulkheadPolicy.onRejected} listeners receive.
 *
 * @example
 * ```ts
 * import { bulkhead, type BulkheadRejectedEvent } from "@faultline/faultline";
 *
 * const policy = bulkhead(10, { queue: 100 });
 * policy.onRejected((e: BulkheadRejectedEvent) => console.warn(`shed load at ${e.limit}+${e.queue}`));
 * ```
 */
export interface BulkheadRejectedEvent {
  /** The bulkhead's `limit`. */
  readonly limit: number;
  /** The bulkhead's `queue`. */
  readonly queue: number;
  /** The error the call rejected with. */
  readonly error: BulkheadRejectedError;
}

const REJECTED: unique symbol = brandFor("BulkheadRejectedError") as never;

/**
 * The error of a call that found every slot and every queue place taken. It
 * is not a connection failure: the operation was never called.
 *
 * @example
 * ```ts
 * import { bulkhead, BulkheadRejectedError } from "@faultline/faultline";
 *
 * const policy = bulkhead(1);
 * const first = policy.execute(() => new Promise((r) => setTimeout(r, 10)));
 * try {
 *   await policy.execute(() => "never runs");
 * } catch (e) {
 *   if (e instanceof BulkheadRejectedError) console.log(e.limit, e.queue); // 1 0
 * }
 * await first;
 * ```
 */
export class BulkheadRejectedError extends Error {
  /** The bulkhead's `limit`. */
  readonly limit: number;
  /** The bulkhead's `queue`. */
  readonly queue: number;

  /** Made by the bulkhead; `limit` and `queue` are the bulkhead's settings. */
  constructor(limit: number, queue: number) {
    super(
      `Bulkhead is full: ${limit} call${limit === 1 ? "" : "s"} executing and ${queue} queued`,
    );
    this.name = "BulkheadRejectedError";
    this.limit = limit;
    this.queue = queue;
  }

  /** The brand that `instanceof` looks for, so that another copy of faultline's errors pass too. */
  get [REJECTED](): true {
    return true;
  }

  /** Marks a policy's refusal: never searched as a connection failure. */
  get [REFUSAL](): true {
    return true;
  }

  /**
   * True for any faultline `BulkheadRejectedError`, even one made by another copy of the
   * library; subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== BulkheadRejectedError) {
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
    return carries(value, REJECTED);
  }
}

/** The semantics of {@link bulkhead}, written once. */
class BulkheadCore extends Strategy {
  readonly limit: number;
  readonly queue: number;
  readonly judge: Judge;
  executing = 0;
  readonly waiters: Waiters = new Waiters();
  readonly rejected: Emitter<BulkheadRejectedEvent> = new Emitter<BulkheadRejectedEvent>();

  constructor(limit: number, queue: number, judge: Judge) {
    super(BulkheadPolicy.prototype, "bulkhead");
    this.limit = limit;
    this.queue = queue;
    this.judge = judge;
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    if (this.executing < this.limit) {
      this.executing++;
      call.next(index + 1, ctx, new BulkheadCall(this, sink));
    } else if (this.waiters.size < this.queue) {
      this.waiters.add(call, index, ctx, sink);
    } else {
      const error = new BulkheadRejectedError(this.limit, this.queue);
      if (this.rejected.has) this.rejected.emit({ limit: this.limit, queue: this.queue, error });
      sink.fail(error);
    }
  }

  /** Frees a slot: the first waiter takes it, and starts on the next microtask. */
  release(): void {
    const next = this.waiters.shift();
    if (next === undefined) {
      this.executing--;
      return;
    }
    // Started after the caller whose slot it takes has heard its outcome.
    queueMicrotask(() => {
      if (next.signal?.aborted) {
        this.release();
        next.sink.fail(cancelledBy(next.signal));
        return;
      }
      next.call.next(next.index + 1, next.ctx, new BulkheadCall(this, next.sink));
    });
  }
}

/** A call holding a slot: frees it however the call ends. */
class BulkheadCall implements Sink {
  readonly #core: BulkheadCore;
  readonly #sink: Sink;

  constructor(core: BulkheadCore, sink: Sink) {
    this.#core = core;
    this.#sink = sink;
  }

  ok(value: unknown): void {
    this.#core.release();
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    this.#core.release();
    this.#sink.fail(onward(error, this.#core.judge));
  }
}

/**
 * The policy {@link bulkhead} returns. `executing` and `queued` say how full
 * it is.
 *
 * @example
 * ```ts
 * import { bulkhead, type BulkheadPolicy } from "@faultline/faultline";
 *
 * const policy: BulkheadPolicy = bulkhead(2, { queue: 10 });
 * await Promise.all([1, 2, 3].map((n) => policy.execute(async () => n * 2)));
 * console.log(policy.executing, policy.queued); // 0 0
 * ```
 */
export class BulkheadPolicy implements Policy {
  /** How many calls may run at once. */
  readonly limit: number;
  /** How many calls may wait for a slot. */
  readonly queue: number;
  /** @ignore */
  readonly [STRATEGY]: BulkheadCore;

  /** Subscribes to rejections: a listener is told of each call turned away. */
  readonly onRejected: Event<BulkheadRejectedEvent>;

  /** Use {@link bulkhead}. */
  constructor(limit: number, options?: BulkheadOptions) {
    const opts = optionsObject<BulkheadOptions>("bulkhead", options);
    this.limit = positiveInteger("bulkhead", "limit", limit);
    const queue = opts.queue;
    this.queue = queue === undefined ? 0 : nonNegativeInteger("bulkhead", "queue", queue);
    const onRejected = opts.onRejected;
    const core = new BulkheadCore(this.limit, this.queue, judge("bulkhead", opts.normalize));
    if (onRejected !== undefined) {
      core.rejected.subscribe(
        checkFunction<(event: BulkheadRejectedEvent) => void>("bulkhead", "onRejected", onRejected),
      );
    }
    this[STRATEGY] = core;
    this.onRejected = core.rejected.subscribe;
  }

  /** Calls running now. */
  get executing(): number {
    return this[STRATEGY].executing;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this[STRATEGY].waiters.size;
  }

  /**
   * Runs `fn` when a slot is free: at once, after waiting in the queue, or
   * not at all (a {@link BulkheadRejectedError}) when the queue is full too.
   * An abort of `signal` while waiting leaves the queue at once and rejects
   * with a `"cancelled"` {@link ConnectionError}.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return executeSolo(this, fn, signal);
  }
}

/**
 * A policy that lets at most `limit` calls run at once and `queue` more wait
 * for a slot (first come, first served); a call beyond both rejects at once
 * with {@link BulkheadRejectedError}, without calling the operation. A waiting
 * call whose signal aborts leaves the queue at once, rejecting with a
 * `"cancelled"` {@link ConnectionError}. A slot is freed however the
 * operation ends, thrown errors included.
 *
 * `limit` must be a positive integer, `queue` a non-negative integer.
 *
 * @example
 * ```ts
 * import { bulkhead } from "@faultline/faultline";
 *
 * const db = bulkhead(10, { queue: 50 });
 * const rows = await db.execute(async () => [1, 2, 3]);
 * ```
 */
export function bulkhead(limit: number, options?: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(limit, options);
}
