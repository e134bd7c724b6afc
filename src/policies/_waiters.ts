/**
 * The calls waiting for a slot, first come first served, shared by
 * `bulkhead()` and `adaptiveConcurrency()`: a doubly linked list, so that an
 * abort takes a call out in O(1), each waiter its own abort listener (no
 * closure). Internal.
 *
 * @module
 */

import { type AbortSource, type Call, signalOf, type Sink } from "./_engine.ts";
import { cancelledBy } from "./_outgoing.ts";
import type { ExecutionContext } from "./types.ts";

/** A call waiting for a slot: what it needs to start once it has one. */
export class Waiter {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  readonly #line: Waiters;
  readonly call: Call;
  readonly index: number;
  readonly ctx: ExecutionContext;
  readonly sink: Sink;
  readonly signal: AbortSource | undefined;

  constructor(line: Waiters, call: Call, index: number, ctx: ExecutionContext, sink: Sink) {
    this.#line = line;
    this.call = call;
    this.index = index;
    this.ctx = ctx;
    this.sink = sink;
    this.signal = signalOf(ctx);
  }

  /** The signal aborted while waiting: out of the line, cancelled. */
  handleEvent(): void {
    this.#line.remove(this);
    this.sink.fail(cancelledBy(this.signal!));
  }
}

/** The line of waiting calls. */
export class Waiters {
  #first: Waiter | undefined = undefined;
  #last: Waiter | undefined = undefined;
  /** How many are waiting. */
  size = 0;

  /** Puts a call at the end of the line, listening for its signal. */
  add(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    const waiter = new Waiter(this, call, index, ctx, sink);
    waiter.prev = this.#last;
    if (this.#last) this.#last.next = waiter;
    else this.#first = waiter;
    this.#last = waiter;
    this.size++;
    waiter.signal?.addEventListener("abort", waiter);
  }

  /** Takes the first call out of the line, if any. */
  shift(): Waiter | undefined {
    const first = this.#first;
    if (first !== undefined) this.remove(first);
    return first;
  }

  /** Takes `waiter` out of the line and stops listening for its signal. */
  remove(waiter: Waiter): void {
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.#first = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.#last = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.size--;
    waiter.signal?.removeEventListener("abort", waiter);
  }
}
