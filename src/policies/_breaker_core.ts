/**
 * The circuit breaker's state machine, written once for `execute()` and for
 * every place in a pipeline; its settings are in `_breaker_settings.ts`, one
 * call's bookkeeping in `_breaker_calls.ts`. Internal.
 *
 * The breaker keeps no timer: the move from `open` to `half_open` happens
 * when a call (or a read of `state`) finds that `halfOpenAfter` has passed.
 *
 * @module
 */

import { MAX_DELAY_MS } from "./backoff.ts";
import { type Call, signalOf, type Sink, Strategy } from "./_engine.ts";
import { BreakerCall, ProbeCall } from "./_breaker_calls.ts";
import type { BreakerSettings } from "./_breaker_settings.ts";
import type { TripCounter } from "./trip/types.ts";
import type { CircuitState } from "./breaker_options.ts";
import type {
  BreakEvent,
  HalfOpenEvent,
  RejectedEvent,
  ResetEvent,
  StateChangeEvent,
} from "./breaker_events.ts";
import { checkSnapshot, type CircuitBreakerSnapshot } from "./breaker_snapshot.ts";
import { refusal } from "./broken_circuit_error.ts";
import { Emitter } from "./events.ts";
import { onward } from "./_outgoing.ts";
import type { SlowCalls } from "./_slow_calls.ts";
import type { ExecutionContext } from "./types.ts";
import { BreakerSync } from "../fleet/_breaker_sync.ts"; // fleet (issue 13)

export { BreakerSettings } from "./_breaker_settings.ts";

/** Internal: what a keyed breaker hears from the breakers it owns. */
export interface BreakerParent {
  /** A breaker it owns changed state. */
  changed(key: string, from: CircuitState, to: CircuitState): void;
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const ISOLATED = 3;
type S = 0 | 1 | 2 | 3;
export const NAMES: readonly CircuitState[] = ["closed", "open", "half_open", "isolated"];

/** The state of one spell of trouble: from the first opening (or isolation) until it closes. */
class Episode {
  /** When it last opened, on the clock; -1 when it has not (isolated from closed). */
  openedAt = -1;
  /** The wait of the current opening. */
  delay = 0;
  /** Openings since it was last closed. */
  openings = 0;
  /** Probes holding a slot. */
  probes = 0;
  /** Successful probes in this half-open state. */
  probeSuccesses = 0;
  /** When the latest probe started. */
  lastProbeAt = 0;
  /** Isolation handles not yet disposed. */
  isolations = 0;
}

const IDLE: Readonly<Episode> = Object.freeze(new Episode());

/** Listeners, made on the first subscription so that a breaker without any stays small. */
class BreakerEvents {
  readonly stateChange: Emitter<StateChangeEvent> = new Emitter();
  readonly break: Emitter<BreakEvent> = new Emitter();
  readonly halfOpen: Emitter<HalfOpenEvent> = new Emitter();
  readonly reset: Emitter<ResetEvent> = new Emitter();
  readonly rejected: Emitter<RejectedEvent> = new Emitter();
}

/**
 * The state machine of one circuit breaker: its semantics, written once.
 * {@link CircuitBreaker} is its public face. Internal.
 */
export class BreakerCore extends Strategy {
  readonly settings: BreakerSettings;
  readonly counter: TripCounter;
  s: S = CLOSED;
  /** Bumped by every change of state: a call started in another state is not recorded. */
  epoch = 0;
  /** Everything about the current trouble; none while closed, so a closed breaker stays small. */
  ep: Episode | undefined = undefined;
  events: BreakerEvents | undefined = undefined;
  readonly parent: BreakerParent | undefined;
  readonly key: string | undefined;
  /** The recent calls' durations, when `slowCall` is given. */
  // `declare`: set only with `slowCall`, so a breaker without it keeps its size.
  declare readonly slow?: SlowCalls;
  /**
   * fleet (issue 13): the one hook into the fleet (src/fleet/_breaker_sync.ts),
   * called by run, the counting, the probes, isolate and reset. Set only with
   * `fleet` (`declare`: a breaker without one keeps its size and shape).
   */
  declare readonly fleet?: BreakerSync;

  constructor(
    owner: object,
    settings: BreakerSettings,
    parent: BreakerParent | undefined,
    key: string | undefined,
  ) {
    super(owner, "circuitBreaker");
    this.settings = settings;
    this.parent = parent;
    this.key = key;
    this.counter = settings.trip.create(settings.clock);
    if (settings.slowCall !== undefined) {
      (this as { slow?: SlowCalls }).slow = settings.slowCall.window(settings.clock);
    }
    // fleet (issue 13)
    if (settings.fleet !== undefined) this.fleet = new BreakerSync(this, settings.fleet, key);
  }

  /** The state now (an `open` breaker whose wait is over reads `half_open`). */
  state(): CircuitState {
    if (this.s === OPEN || this.s === HALF_OPEN) this.tick(this.settings.clock.now());
    return NAMES[this.s]!;
  }

  listeners(): BreakerEvents {
    return this.events ??= new BreakerEvents();
  }

  run(call: Call, index: number, ctx: ExecutionContext, sink: Sink): void {
    if (this.s === CLOSED) {
      call.next(index + 1, ctx, new BreakerCall(this, this.epoch, sink, this.started()));
      return;
    }
    const now = this.settings.clock.now();
    this.fleet?.polled(); // fleet (issue 13): a breaker that refuses still hears the fleet
    this.tick(now);
    const state = this.s as S;
    if (state === CLOSED) {
      call.next(index + 1, ctx, new BreakerCall(this, this.epoch, sink, this.started()));
      return;
    }
    if (
      state === HALF_OPEN && this.ep!.probes < this.settings.maxProbes &&
      (this.fleet === undefined || this.fleet.probe()) // fleet (issue 13): probes leased fleet-wide
    ) {
      this.ep!.probes++;
      this.ep!.lastProbeAt = now;
      const probe = new ProbeCall(this, this.epoch, signalOf(ctx), sink);
      call.own(); // an abort ends the probe before the operation does
      call.next(index + 1, ctx, probe);
      probe.listen();
      return;
    }
    const error = refusal(
      state === OPEN ? "open" : state === HALF_OPEN ? "half_open" : "isolated",
      state === OPEN ? Math.max(0, this.ep!.openedAt + this.ep!.delay - now) : undefined,
      this.key,
    );
    if (this.events?.rejected.has) this.events.rejected.emit({ error });
    sink.fail(error);
  }

  /** When a call starts, for the slow-call rule; 0 without one (no clock read). */
  started(): number {
    return this.slow === undefined ? 0 : this.settings.clock.now();
  }

  /** Records how long a counted call took; opens the breaker when too many are slow. */
  timed(epoch: number, start: number): void {
    const slow = this.slow;
    if (slow === undefined || epoch !== this.epoch || this.s !== CLOSED) return;
    const now = this.settings.clock.now();
    if (slow.record(now - start)) this.open(now, "slow_calls", undefined);
  }

  /** Counts a success, unless the breaker has moved on since the call started. */
  succeeded(epoch: number): void {
    if (epoch === this.epoch) {
      this.counter.success();
      this.fleet?.counted(false); // fleet (issue 13)
    }
  }

  /** Counts a failure (when it counts, and the breaker has not moved on); returns what to throw. */
  failed(error: unknown, epoch: number): unknown {
    if (epoch === this.epoch && this.counts(error)) {
      this.fleet?.counted(true); // fleet (issue 13)
      if (this.counter.failure()) this.open(this.settings.clock.now(), "tripped", error);
    }
    return onward(error, this.settings.judge);
  }

  probeSucceeded(): void {
    this.fleet?.probeEnded(true); // fleet (issue 13)
    if (++this.ep!.probeSuccesses >= this.settings.successes) this.close("probes_succeeded");
  }

  counts(error: unknown): boolean {
    const s = this.settings;
    if (s.kinds !== undefined) {
      const verdict = s.judge.classify(error);
      return verdict !== undefined && s.kinds.has(verdict.kind);
    }
    try {
      return s.predicate!(error, s.judge.recognize(error) ?? s.normalize(error)) === true;
    } catch {
      // A predicate that throws must not replace the caller's error: not counted.
      return false;
    }
  }

  /** The lazy, timer-free moves that time makes. */
  tick(now: number): void {
    const s = this.settings;
    if (
      this.s === HALF_OPEN && this.ep!.probes >= s.maxProbes &&
      now - this.ep!.lastProbeAt >= s.probeTimeout
    ) {
      this.open(now, "probe_timed_out", undefined);
    }
    if (this.s === OPEN && now >= this.ep!.openedAt + this.ep!.delay) {
      this.epoch++;
      this.ep!.probes = 0;
      this.ep!.probeSuccesses = 0;
      this.s = HALF_OPEN;
      this.changed(OPEN, HALF_OPEN);
      if (this.events?.halfOpen.has) this.events.halfOpen.emit({ openings: this.ep!.openings });
    }
  }

  open(now: number, reason: BreakEvent["reason"], error: unknown): void {
    const from = this.s;
    this.ep ??= new Episode();
    this.epoch++;
    // The counts led here; the next closed period starts from nothing.
    this.counter.reset();
    this.slow?.reset();
    this.ep.openings++;
    this.ep!.delay = this.halfOpenDelay();
    this.ep!.openedAt = now;
    this.ep!.probes = 0;
    this.ep!.probeSuccesses = 0;
    this.s = OPEN;
    this.changed(from, OPEN);
    if (this.events?.break.has) {
      this.events.break.emit({
        state: "open",
        reason,
        error: error === undefined ? undefined : this.settings.judge.recognize(error) ?? error,
        retryAfterMs: this.ep!.delay,
      });
    }
  }

  halfOpenDelay(): number {
    const h = this.settings.halfOpenAfter;
    if (typeof h === "number") return h;
    let d: unknown;
    try {
      d = typeof h === "function"
        ? h(this.ep!.openings)
        : h.delay(this.ep!.openings, this.ep!.delay, Math.random);
    } catch {
      d = 0;
    }
    return typeof d === "number" && d > 0 ? (d < MAX_DELAY_MS ? d : MAX_DELAY_MS) : 0;
  }

  close(reason: ResetEvent["reason"]): void {
    const from = this.s;
    this.epoch++;
    this.counter.reset();
    this.slow?.reset();
    this.ep = undefined;
    if (from === CLOSED) return;
    this.s = CLOSED;
    this.changed(from, CLOSED);
    if (this.events?.reset.has) this.events.reset.emit({ reason });
  }

  changed(from: S, to: S): void {
    if (this.events?.stateChange.has) {
      this.events.stateChange.emit({ from: NAMES[from]!, to: NAMES[to]! });
    }
    this.parent?.changed(this.key!, NAMES[from]!, NAMES[to]!);
  }

  /**
   * Opens the breaker by hand: every call is refused until {@link reset}, or
   * until every handle this returns has been disposed.
   *
   * @example
   * ```ts
   * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
   *
   * const breaker = circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 1_000 });
   * {
   *   using _maintenance = breaker.isolate();
   *   console.log(breaker.state); // "isolated"
   * }
   * console.log(breaker.state); // "closed"
   * ```
   */
  isolate(): Disposable & { dispose(): void } {
    const ep = this.ep ??= new Episode();
    ep.isolations++;
    this.fleet?.isolated(); // fleet (issue 13)
    if (this.s !== ISOLATED) {
      const from = this.s;
      this.epoch++;
      this.ep!.probes = 0;
      this.s = ISOLATED;
      this.changed(from, ISOLATED);
      if (this.events?.break.has) {
        this.events.break.emit({
          state: "isolated",
          reason: "isolated",
          error: undefined,
          retryAfterMs: undefined,
        });
      }
    }
    const epoch = this.epoch;
    let disposed = false;
    const dispose = () => {
      // A handle from before a reset() must not end a later isolation.
      if (disposed || epoch !== this.epoch) return;
      disposed = true;
      this.fleet?.released(); // fleet (issue 13)
      if (--this.ep!.isolations === 0) this.close("reset");
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  /** Closes the breaker, whatever its state, and forgets every count. */
  reset(): void {
    this.fleet?.reset(); // fleet (issue 13)
    this.close("reset");
  }

  /**
   * A plain, JSON-safe snapshot of the state and counts; give it to
   * {@link restore} (in this process or another) to carry on from it.
   */
  snapshot(): CircuitBreakerSnapshot {
    if (this.s === OPEN || this.s === HALF_OPEN) this.tick(this.settings.clock.now());
    const ep = this.ep ?? IDLE;
    return {
      version: 1,
      state: NAMES[this.s]!,
      openedAt: ep.openedAt < 0 ? null : ep.openedAt,
      halfOpenAfterMs: ep.delay,
      openings: ep.openings,
      probeSuccesses: ep.probeSuccesses,
      trip: this.counter.toJSON(),
    };
  }

  /**
   * Takes the state and counts of a {@link toJSON} snapshot. A snapshot of
   * the wrong shape (or from a breaker with another strategy or window) is
   * refused with a `TypeError` or `RangeError`, and nothing changes. Calls in
   * flight when it is restored are not counted. Probes in flight are not part
   * of a snapshot; an isolated snapshot stays isolated until `reset()`.
   *
   * @example
   * ```ts
   * import { circuitBreaker, consecutiveFailures } from "@faultline/faultline";
   *
   * const options = { trip: consecutiveFailures(3), halfOpenAfter: 1_000 };
   * const saved = JSON.stringify(circuitBreaker(options).toJSON());
   * const breaker = circuitBreaker(options);
   * breaker.restore(JSON.parse(saved));
   * ```
   */
  restore(snapshot: CircuitBreakerSnapshot): void {
    const s = checkSnapshot(snapshot, this.settings.successes);
    // The counter validates its part before it changes anything; nothing below throws.
    this.counter.restore(s.trip);
    const from = this.s;
    const to = NAMES.indexOf(s.state) as S;
    this.epoch++;
    this.s = to;
    this.ep = to === CLOSED ? undefined : new Episode();
    // A closed breaker keeps no episode: the snapshot's other fields matter only when not closed.
    if (this.ep !== undefined) this.fill(this.ep, s, to);
    if (from !== to) this.changed(from, to);
  }

  fill(ep: Episode, s: CircuitBreakerSnapshot, to: S): void {
    ep.openedAt = s.openedAt === null ? -1 : s.openedAt;
    ep.delay = s.halfOpenAfterMs;
    ep.openings = s.openings;
    ep.probeSuccesses = to === HALF_OPEN ? s.probeSuccesses : 0;
    ep.isolations = to === ISOLATED ? 1 : 0;
  }
}
