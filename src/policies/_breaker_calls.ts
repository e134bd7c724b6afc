/**
 * One call through a circuit breaker: a closed breaker's (counted, and timed
 * for the slow-call rule) and a half-open breaker's probe. Internal: the
 * state machine, `BreakerCore`, makes them.
 *
 * @module
 */

import type { AbortSource, Sink } from "./_engine.ts";
import type { BreakerCore } from "./_breaker_core.ts";
import { cancelledBy, onward } from "./_outgoing.ts";

/** A closed breaker's call: counts how the layers inside it ended. */
export class BreakerCall implements Sink {
  readonly #core: BreakerCore;
  readonly #epoch: number;
  readonly #sink: Sink;
  readonly #start: number;

  constructor(core: BreakerCore, epoch: number, sink: Sink, start: number) {
    this.#core = core;
    this.#epoch = epoch;
    this.#sink = sink;
    this.#start = start;
  }

  ok(value: unknown): void {
    try {
      this.#core.succeeded(this.#epoch);
      if (this.#core.slow !== undefined) this.#core.timed(this.#epoch, this.#start);
    } catch (error) {
      this.#sink.fail(error); // a custom TripCounter that throws rejects the call with it
      return;
    }
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    let out: unknown;
    try {
      const core = this.#core;
      // Timed first: a failure that opens the breaker moves the epoch on.
      if (core.slow !== undefined && core.counts(error)) core.timed(this.#epoch, this.#start);
      out = core.failed(error, this.#epoch);
    } catch (thrown) {
      out = thrown; // a TripCounter that throws rejects the call with it
    }
    this.#sink.fail(out);
  }
}

/**
 * A probe holds one slot until it settles or its caller aborts: an abort
 * frees the slot at once, so a probe whose operation ignores the signal
 * cannot keep the breaker half-open. It is its own abort listener.
 */
export class ProbeCall implements Sink {
  readonly #core: BreakerCore;
  readonly #epoch: number;
  readonly #signal: AbortSource | undefined;
  readonly #sink: Sink;
  #held = true;
  #done = false;
  #listening = false;

  constructor(core: BreakerCore, epoch: number, signal: AbortSource | undefined, sink: Sink) {
    this.#core = core;
    this.#epoch = epoch;
    this.#signal = signal;
    this.#sink = sink;
  }

  /** Listens for the caller's abort, once the layers inside have started. */
  listen(): void {
    const signal = this.#signal;
    if (this.#done || signal === undefined) return;
    if (signal.aborted) {
      this.handleEvent();
      return;
    }
    signal.addEventListener("abort", this);
    this.#listening = true;
  }

  /** Frees the slot; true when this probe still counts (the breaker has not moved on). */
  #release(): boolean {
    if (!this.#held) return false;
    this.#held = false;
    if (this.#epoch !== this.#core.epoch) return false;
    this.#core.ep!.probes--;
    return true;
  }

  /** Settles once: the first of the outcome and the caller's abort wins. */
  #end(): boolean {
    if (this.#done) return false;
    this.#done = true;
    if (this.#listening) {
      this.#listening = false;
      this.#signal!.removeEventListener("abort", this);
    }
    return true;
  }

  handleEvent(): void {
    if (!this.#end()) return;
    this.#release();
    this.#sink.fail(cancelledBy(this.#signal!));
  }

  ok(value: unknown): void {
    if (!this.#end()) return;
    try {
      if (this.#release()) this.#core.probeSucceeded();
    } catch (error) {
      this.#sink.fail(error);
      return;
    }
    this.#sink.ok(value);
  }

  fail(error: unknown): void {
    if (!this.#end()) return;
    const core = this.#core;
    let out: unknown = error;
    try {
      out = onward(error, core.settings.judge);
      if (this.#release() && core.counts(error)) {
        core.open(core.settings.clock.now(), "probe_failed", error);
        core.fleet?.probeEnded(false); // fleet (issue 13)
      }
    } catch (thrown) {
      out = thrown;
    }
    this.#sink.fail(out);
  }
}
