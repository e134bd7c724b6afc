/**
 * The fleet side of {@link circuitBreaker}: the hook that `BreakerCore`
 * calls into (counted calls, probes, `isolate()`, `reset()`), and the sync
 * that carries the counts to the store and the fleet's state back. Internal.
 *
 * - The local state machine runs as always: its own trip opens this instance
 *   alone (one sick instance protects itself without cutting off the fleet).
 * - Counted calls go to the store at most every `syncMs`; the fleet opens on
 *   its own failure rate over its window, once `minInstances` instances
 *   failed. Every reply carries the fleet's state; a new generation is
 *   applied here: open (for the time the store gives), isolated, or closed.
 * - While the fleet is open, half-open probes are leased from the store:
 *   at most `halfOpenMaxProbes` across the fleet. A probe's outcome goes to
 *   the store at once, which closes or reopens the fleet.
 * - `isolate()`, a handle's release and `reset()` go to the store at once.
 * - The store down: the local state machine carries on alone, probes
 *   included; commands wait for the store to come back.
 *
 * @module
 */

import type { BreakerCore } from "../policies/_breaker_core.ts";
import { MAX_DELAY_MS } from "../policies/backoff.ts";
import type { HalfOpenBackoff } from "../policies/breaker_options.ts";
import { Emitter } from "../policies/events.ts";
import { ConsecutiveFailures } from "../policies/trip/consecutive_failures.ts";
import { FailureRate } from "../policies/trip/failure_rate.ts";
import type { TripStrategy } from "../policies/trip/types.ts";
import { type FleetSettings, FleetSync } from "./_sync.ts";
import type {
  FleetBreakerReply,
  FleetBreakerRequest,
  FleetBreakerState,
  FleetErrorEvent,
} from "./store.ts";

type Command = FleetBreakerRequest["command"];

/** The fleet's failure window, from the breaker's trip strategy. */
function windowOf(
  trip: TripStrategy,
): Pick<FleetBreakerRequest, "windowMs" | "buckets" | "threshold" | "minimumCalls"> {
  if (trip instanceof FailureRate) {
    return {
      windowMs: trip.windowMs ?? 10_000,
      buckets: trip.buckets ?? 10,
      threshold: trip.threshold,
      minimumCalls: trip.minimumCalls,
    };
  }
  // n failures in a row: n calls in the window, every one failed.
  if (trip instanceof ConsecutiveFailures) {
    return { windowMs: 10_000, buckets: 10, threshold: 1, minimumCalls: trip.failures };
  }
  return { windowMs: 10_000, buckets: 10, threshold: 0.5, minimumCalls: 10 };
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36).slice(-4);
}

/** What BreakerCore calls into when it has a fleet. */
export class BreakerSync {
  readonly core: BreakerCore;
  readonly errors: Emitter<FleetErrorEvent> = new Emitter<FleetErrorEvent>();
  readonly sync: FleetSync<FleetBreakerReply>;
  readonly instance: string = randomId();
  #calls = 0;
  #failures = 0;
  #commands: Command[] = [];
  #sentCommand: Command = "none";
  #report: "none" | "success" | "failure" = "none";
  #wantProbe = false;
  #lease = false;
  #gen = -1;
  #state: FleetBreakerState = "closed";
  #openings = 0;
  #previousDelay = 0;
  /** The local episode (open, half-open) is the fleet's, so probes are leased. */
  #fleetOpen = false;
  /** The isolation this instance holds because the fleet is isolated. */
  #handle: { dispose(): void } | undefined = undefined;
  /** True while a reply is being applied: the core's calls back are not echoed to the store. */
  #applying = false;

  constructor(core: BreakerCore, settings: FleetSettings, key: string | undefined) {
    this.core = core;
    const s = core.settings;
    const fleet = key === undefined ? settings : { ...settings, key: `${settings.key}:${key}` };
    const terms = {
      ...windowOf(s.trip),
      minInstances: settings.minInstances,
      maxProbes: s.maxProbes,
      successes: s.successes,
      probeTimeoutMs: s.probeTimeout === Infinity ? MAX_DELAY_MS : s.probeTimeout,
    };
    const store = settings.store;
    this.sync = new FleetSync<FleetBreakerReply>(fleet, s.clock, this.errors, {
      send: () => {
        const command = this.#commands.shift() ?? "none";
        this.#sentCommand = command;
        let probe: FleetBreakerRequest["probe"] = "none";
        if (this.#report !== "none") {
          probe = this.#report;
          this.#report = "none";
        } else if (this.#wantProbe && !this.#lease) {
          probe = "take";
        }
        this.#wantProbe = false;
        const request: FleetBreakerRequest = {
          instance: this.instance,
          calls: this.#calls,
          failures: this.#failures,
          command,
          probe,
          ...terms,
          openMs: this.#delay(),
        };
        this.#calls = this.#failures = 0;
        return store.circuitBreaker(fleet.key, request);
      },
      received: (reply, now) => {
        this.#sentCommand = "none";
        this.#apply(reply, now);
        if (this.#commands.length > 0 || this.#report !== "none") this.sync.wanted(true);
      },
      lost: () => {
        // A command is the operator's: it goes again when the store is back.
        if (this.#sentCommand !== "none") this.#commands.unshift(this.#sentCommand);
        this.#sentCommand = "none";
        this.#lease = false;
      },
    });
  }

  /** How long the fleet stays open if the next request opens it. */
  #delay(): number {
    const h = this.core.settings.halfOpenAfter;
    if (typeof h === "number") return h;
    const openings = this.#openings + 1;
    let d: unknown;
    try {
      d = typeof h === "function"
        ? h(openings)
        : (h as HalfOpenBackoff).delay(openings, this.#previousDelay, Math.random);
    } catch {
      d = 0;
    }
    const ms = typeof d === "number" && d > 0 ? (d < MAX_DELAY_MS ? d : MAX_DELAY_MS) : 0;
    this.#previousDelay = ms;
    return ms;
  }

  /** Takes the fleet's state from a reply: a new generation changes the local state. */
  #apply(reply: FleetBreakerReply, now: number): void {
    const gen = Number(reply.gen);
    const state = reply.state;
    if (!Number.isFinite(gen)) throw new TypeError(`Bad reply from the fleet store: gen ${gen}`);
    if (reply.probe === true) this.#lease = true;
    this.#openings = Number(reply.openings) || 0;
    const previous = this.#state;
    this.#state = state;
    if (gen === this.#gen) return;
    this.#gen = gen;
    const core = this.core;
    this.#applying = true;
    try {
      if (state === "closed") {
        this.#lease = false;
        const handle = this.#handle;
        this.#handle = undefined;
        handle?.dispose();
        const local = core.state();
        // Open for the fleet, or isolated here while the fleet is not (a reset
        // elsewhere, unless this instance's own isolate() is still on its way).
        if (
          (this.#fleetOpen && local !== "closed" && local !== "isolated") ||
          (local === "isolated" && this.#commands.length === 0 && this.#sentCommand === "none")
        ) {
          core.close(
            previous === "open" || previous === "half_open" ? "probes_succeeded" : "reset",
          );
        }
        this.#fleetOpen = false;
      } else if (state === "isolated") {
        this.#fleetOpen = false;
        this.#handle ??= core.isolate();
      } else if (state === "open" || state === "half_open") {
        const local = core.state();
        if (local === "isolated") return;
        if (local !== "open") core.open(now, "tripped", undefined);
        const ep = core.ep!;
        ep.openedAt = now;
        ep.delay = state === "open" ? Math.max(0, Number(reply.retryAfterMs) || 0) : 0;
        this.#fleetOpen = true;
        this.#lease = reply.probe === true;
      }
    } finally {
      this.#applying = false;
    }
  }

  /** A call came while not closed: the fleet is asked about its state at the usual pace. */
  polled(): void {
    this.sync.wanted();
  }

  /** A counted call ended (closed state). */
  counted(failed: boolean): void {
    this.#calls++;
    if (failed) this.#failures++;
    if (!this.sync.scheduled) this.sync.wanted(); // else the scheduled request carries it
  }

  /** May this half-open call be a probe? Leased from the store while the fleet is open. */
  probe(): boolean {
    if (!this.#fleetOpen || !this.sync.up) return true;
    if (this.#lease) {
      this.#lease = false;
      return true;
    }
    this.#wantProbe = true;
    this.sync.wanted(true);
    return false;
  }

  /** A probe ended: the fleet hears of it at once. */
  probeEnded(succeeded: boolean): void {
    if (this.#applying || !this.#fleetOpen) return;
    this.#report = succeeded ? "success" : "failure";
    this.sync.wanted(true);
  }

  #command(command: Command): void {
    if (this.#applying) return;
    if (command === "reset") this.#commands = [];
    this.#commands.push(command);
    this.sync.wanted(true);
  }

  /** `isolate()` was called here: the fleet is isolated too. */
  isolated(): void {
    this.#command("isolate");
  }

  /** An isolation handle of this instance was released. */
  released(): void {
    this.#command("release");
  }

  /** `reset()` was called here: the fleet closes too. */
  reset(): void {
    this.#lease = false;
    this.#report = "none";
    this.#command("reset");
  }
}
