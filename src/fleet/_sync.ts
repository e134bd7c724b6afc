/**
 * How a fleet policy talks to its store: at most one request in flight, at
 * most one every `syncMs` while there is something to say, none while idle;
 * after a failure, again with backoff, and only if calls keep coming. Nothing
 * here is ever awaited by a call. Internal.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Emitter } from "../policies/events.ts";
import {
  duration,
  optionsObject,
  positiveInteger,
  rangeError,
  typeError,
} from "../policies/_validate.ts";
import type { FleetErrorEvent, FleetOptions, FleetStore } from "./store.ts";

/** The validated `fleet` option. */
export interface FleetSettings {
  readonly store: FleetStore;
  readonly key: string;
  readonly syncMs: number;
  readonly minInstances: number;
}

/** Checks the `fleet` option of `api`, whose store must have `method`. */
export function fleetSettings(
  api: string,
  value: unknown,
  method: keyof FleetStore,
): FleetSettings | undefined {
  if (value === undefined) return undefined;
  const o = optionsObject<FleetOptions>(api, value);
  const store = o.store;
  const key = o.key;
  const syncMs = o.syncMs;
  const minInstances = o.minInstances;
  if (
    typeof store !== "object" || store === null ||
    typeof (store as unknown as Record<string, unknown>)[method] !== "function"
  ) {
    typeError(api, "fleet.store", `a FleetStore (with a ${method} method)`, store);
  }
  if (typeof key !== "string") typeError(api, "fleet.key", "a non-empty string", key);
  if (key.length === 0) rangeError(api, "fleet.key", "a non-empty string", key);
  let sync = 100;
  if (syncMs !== undefined) {
    sync = duration(api, "fleet.syncMs", syncMs);
    if (sync === 0) rangeError(api, "fleet.syncMs", "a finite number of milliseconds above 0", 0);
  }
  return Object.freeze({
    store,
    key,
    syncMs: sync,
    minInstances: minInstances === undefined
      ? 1
      : positiveInteger(api, "fleet.minInstances", minInstances),
  });
}

/** What a {@link FleetSync} asks of the policy it serves. */
export interface FleetPeer<Reply> {
  /** Makes and sends the next request (may throw or return anything). */
  send(): unknown;
  /** The store answered the request `send` made. */
  received(reply: Reply, now: number): void;
  /** The request `send` made failed: forget what was in it, carry on alone. */
  lost(now: number): void;
}

/** The error a request gets when the store has not answered for too long. */
export class FleetTimeoutError extends Error {
  constructor(ms: number) {
    super(`The fleet store did not answer within ${Math.round(ms)} ms`);
    this.name = "TimeoutError";
  }
}

/** Lets a timer's handle not keep the process alive, where the host supports it. */
function unref(handle: unknown): void {
  const h = handle as { unref?: unknown } | null;
  if (h !== null && typeof h === "object" && typeof h.unref === "function") {
    (h as { unref(): void }).unref();
  }
}

const MAX_BACKOFF_MS = 5_000;

/** The schedule of one fleet policy's store requests. */
export class FleetSync<Reply> {
  readonly settings: FleetSettings;
  readonly clock: Clock;
  readonly errors: Emitter<FleetErrorEvent>;
  readonly peer: FleetPeer<Reply>;
  /** The last request succeeded: the peer may trust what the store said. */
  up = false;
  /** Failures in a row. */
  failures = 0;
  /** Store requests made (for tests and the bench). */
  requests = 0;
  /**
   * A request is scheduled (its timer is set), and will carry whatever comes
   * meanwhile: a hot path may skip {@link wanted} while this is true.
   */
  scheduled = false;
  #inFlight = false;
  #sentAt = -Infinity;
  #seq = 0;
  #due = false;
  /** Something urgent came while a request was in flight: send it as soon as that ends. */
  #urgent = false;
  #timer: unknown = undefined;
  /** Fails the request in flight when the store keeps it too long (a store without a timeout). */
  #staleTimer: unknown = undefined;
  #closed = false;
  readonly #stale = (): void => {
    this.#staleTimer = undefined;
    if (this.#inFlight) {
      this.#failed(new FleetTimeoutError(this.clock.now() - this.#sentAt), this.#seq);
    }
  };
  readonly #fire = (): void => {
    this.#timer = undefined;
    this.scheduled = false;
    if (this.#due) this.#send();
  };

  constructor(
    settings: FleetSettings,
    clock: Clock,
    errors: Emitter<FleetErrorEvent>,
    peer: FleetPeer<Reply>,
  ) {
    this.settings = settings;
    this.clock = clock;
    this.errors = errors;
    this.peer = peer;
  }

  /** The wait after a request before the next one. */
  #gap(): number {
    const sync = this.settings.syncMs;
    if (this.failures === 0) return sync;
    const max = sync * 16 > MAX_BACKOFF_MS
      ? (sync > MAX_BACKOFF_MS ? sync : MAX_BACKOFF_MS)
      : sync * 16;
    const d = sync * 2 ** Math.min(this.failures, 20);
    return d < max ? d : max;
  }

  /** How long the store may take before its request counts as failed. */
  #staleMs(): number {
    const s = this.settings.syncMs * 20;
    return s > 1_000 ? s : 1_000;
  }

  /**
   * The peer has something to say: send it now if the last request was
   * `syncMs` ago (or `urgent`), else when it is; never two at once.
   */
  wanted(urgent = false): void {
    this.#due = true;
    if (this.#closed) return;
    // The common cases on a busy instance: a request is on its way, or scheduled.
    if (this.#inFlight) {
      if (urgent) this.#urgent = true;
      return;
    }
    if (this.#timer !== undefined && !urgent) return;
    const now = this.clock.now();
    if (this.#timer !== undefined) {
      this.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.scheduled = false;
    }
    // Urgent goes at once, but never past the backoff of a store that is failing.
    const wait = urgent && this.failures === 0 ? 0 : this.#sentAt + this.#gap() - now;
    if (wait <= 0) this.#send();
    else this.#schedule(wait);
  }

  #schedule(ms: number): void {
    this.#timer = this.clock.setTimeout(this.#fire, ms);
    this.scheduled = true;
    unref(this.#timer);
  }

  #send(): void {
    this.#due = false;
    this.#urgent = false;
    this.#inFlight = true;
    this.#sentAt = this.clock.now();
    this.requests++;
    this.#staleTimer = this.clock.setTimeout(this.#stale, this.#staleMs());
    unref(this.#staleTimer);
    const seq = ++this.#seq;
    let sent: unknown;
    try {
      sent = this.peer.send();
    } catch (error) {
      this.#failed(error, seq);
      return;
    }
    Promise.resolve(sent).then(
      (reply) => this.#succeeded(reply as Reply, seq),
      (error: unknown) => this.#failed(error, seq),
    );
  }

  #succeeded(reply: Reply, seq: number): void {
    if (seq !== this.#seq || !this.#inFlight) return; // given up on already
    this.#inFlight = false;
    this.#unstale();
    const now = this.clock.now();
    const up = this.up;
    this.up = true;
    this.failures = 0;
    try {
      this.peer.received(reply, now);
    } catch (error) {
      this.up = up;
      this.#lost(error, now); // a reply of the wrong shape is a failure too
      return;
    }
    this.#next();
  }

  #unstale(): void {
    if (this.#staleTimer !== undefined) {
      this.clock.clearTimeout(this.#staleTimer);
      this.#staleTimer = undefined;
    }
  }

  /** After a request: the next one, if something is due and nothing else is under way. */
  #next(): void {
    if (!this.#due || this.#closed || this.#inFlight || this.#timer !== undefined) return;
    if (this.#urgent) this.#send();
    else this.#schedule(this.#gap());
  }

  #failed(error: unknown, seq: number): void {
    if (seq !== this.#seq || !this.#inFlight) return;
    this.#inFlight = false;
    this.#unstale();
    this.#lost(error, this.clock.now());
  }

  #lost(error: unknown, now: number): void {
    this.up = false;
    this.failures++;
    this.#seq++;
    try {
      this.peer.lost(now);
    } catch {
      // The peer's own bookkeeping: nothing to report to a caller.
    }
    const retryInMs = this.#gap();
    if (this.errors.has) {
      this.errors.emit({ key: this.settings.key, error, failures: this.failures, retryInMs });
    }
    this.#urgent = false; // a store that is down gets no urgent request: backoff
    this.#next();
  }

  /** Stops: no request or timer from now on; the policy carries on alone. */
  close(): void {
    this.#closed = true;
    this.up = false;
    this.#seq++;
    this.#inFlight = false;
    this.#unstale();
    if (this.#timer !== undefined) {
      this.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.scheduled = false;
    }
  }

  /** How long the request in flight has been waiting for its reply (0 when none is). */
  waiting(now: number): number {
    return this.#inFlight ? now - this.#sentAt : 0;
  }

  get closed(): boolean {
    return this.#closed;
  }
}
