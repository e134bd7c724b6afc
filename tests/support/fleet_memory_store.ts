/**
 * A FleetStore in memory: the reference semantics of src/fleet/store.ts in
 * plain TypeScript (what the Redis scripts do), timed on a given clock, with
 * switches to make it fail or hang, and a log of the requests it got. For the
 * fleet policies' unit tests, which run on a ManualClock.
 */
import type { Clock } from "../../src/clock.ts";
import type {
  FleetBreakerReply,
  FleetBreakerRequest,
  FleetBudgetReply,
  FleetBudgetRequest,
  FleetRateReply,
  FleetRateRequest,
  FleetStore,
} from "../../src/fleet/store.ts";

interface Breaker {
  gen: number;
  state: "closed" | "open" | "isolated";
  openUntil: number;
  openings: number;
  isolations: number;
  probes: number[];
  probeSuccesses: number;
  window: Map<number, [number, number]>;
  failedAt: Map<string, number>;
}

export class MemoryFleetStore implements FleetStore {
  readonly clock: Clock;
  /** Every request, in order. */
  readonly log: Array<{ method: string; key: string; request: unknown }> = [];
  /** "ok", "fail" (reject at once) or "hang" (never settle). */
  mode: "ok" | "fail" | "hang" = "ok";
  readonly tats = new Map<string, number>();
  readonly budgets = new Map<string, Map<number, [number, number]>>();
  readonly breakers = new Map<string, Breaker>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  #answer<T>(method: string, key: string, request: unknown, f: () => T): Promise<T> {
    this.log.push({ method, key, request });
    if (this.mode === "fail") return Promise.reject(new Error("store down"));
    if (this.mode === "hang") return new Promise<T>(() => {});
    return Promise.resolve(f());
  }

  count(method: string): number {
    return this.log.filter((e) => e.method === method).length;
  }

  rateLimit(key: string, r: FleetRateRequest): Promise<FleetRateReply> {
    return this.#answer("rateLimit", key, r, () => {
      const now = this.clock.now();
      const tol = (r.burst - 1) * r.intervalMs;
      let tat = Math.max(Math.max(this.tats.get(key) ?? now, now) + r.charge * r.intervalMs, now);
      const room = Math.floor((now + tol - tat) / r.intervalMs + 1e-9) + 1;
      const granted = Math.min(r.want, Math.max(0, room));
      tat += granted * r.intervalMs;
      this.tats.set(key, tat);
      return { granted, waitMs: granted < r.want ? Math.max(0, tat - now - tol) : 0 };
    });
  }

  retryBudget(key: string, r: FleetBudgetRequest): Promise<FleetBudgetReply> {
    return this.#answer("retryBudget", key, r, () => {
      const now = this.clock.now();
      const slot = Math.floor(now / (r.windowMs / r.buckets));
      const w = this.budgets.get(key) ?? new Map<number, [number, number]>();
      this.budgets.set(key, w);
      for (const s of w.keys()) if (s <= slot - r.buckets) w.delete(s);
      const cur = w.get(slot) ?? [0, 0];
      w.set(slot, cur);
      cur[0] += r.calls;
      cur[1] += r.charge - r.returned;
      let calls = 0, retries = 0;
      for (const [c, t] of w.values()) {
        calls += c;
        retries += t;
      }
      if (retries < 0) retries = 0;
      const room = Math.floor(r.ratio * calls + r.floor - retries);
      const granted = Math.min(r.want, Math.max(0, Math.ceil(room / 2)));
      cur[1] += granted;
      return { granted, available: Math.max(0, room - granted) };
    });
  }

  circuitBreaker(key: string, r: FleetBreakerRequest): Promise<FleetBreakerReply> {
    return this.#answer("circuitBreaker", key, r, () => {
      const now = this.clock.now();
      let b = this.breakers.get(key);
      if (b === undefined) {
        b = {
          gen: 0,
          state: "closed",
          openUntil: 0,
          openings: 0,
          isolations: 0,
          probes: [],
          probeSuccesses: 0,
          window: new Map(),
          failedAt: new Map(),
        };
        this.breakers.set(key, b);
      }
      const close = () => {
        b!.gen++;
        b!.state = "closed";
        b!.openings = 0;
        b!.isolations = 0;
        b!.probes = [];
        b!.probeSuccesses = 0;
        b!.window.clear();
        b!.failedAt.clear();
      };
      const open = () => {
        b!.gen++;
        b!.state = "open";
        b!.openings++;
        b!.openUntil = now + r.openMs;
        b!.probes = [];
        b!.probeSuccesses = 0;
      };
      if (r.command === "isolate") {
        b.isolations++;
        if (b.state !== "isolated") {
          b.gen++;
          b.state = "isolated";
          b.probes = [];
        }
      } else if (r.command === "release") {
        if (b.isolations > 0) b.isolations--;
        if (b.isolations === 0 && b.state === "isolated") close();
      } else if (r.command === "reset") {
        close();
      }
      const slot = Math.floor(now / (r.windowMs / r.buckets));
      for (const s of b.window.keys()) if (s <= slot - r.buckets) b.window.delete(s);
      for (const [i, t] of b.failedAt) if (t <= now - r.windowMs) b.failedAt.delete(i);
      if (b.state === "closed" && r.calls > 0) {
        const cur = b.window.get(slot) ?? [0, 0];
        b.window.set(slot, cur);
        cur[0] += r.calls;
        cur[1] += r.failures;
        if (r.failures > 0) b.failedAt.set(r.instance, now);
        let calls = 0, failures = 0;
        for (const [c, f] of b.window.values()) {
          calls += c;
          failures += f;
        }
        if (
          r.failures > 0 && calls >= r.minimumCalls && failures >= r.threshold * calls &&
          b.failedAt.size >= r.minInstances
        ) {
          open();
          b.window.clear();
          b.failedAt.clear();
        }
      }
      b.probes = b.probes.filter((t) => t > now - r.probeTimeoutMs);
      let probe = false;
      if (b.state === "open" && now >= b.openUntil) {
        if (r.probe === "take" && b.probes.length < r.maxProbes) {
          b.probes.push(now);
          probe = true;
        } else if (r.probe === "success") {
          b.probes.shift();
          if (++b.probeSuccesses >= r.successes) close();
        } else if (r.probe === "failure") {
          open();
        }
      }
      const state = b.state === "open" && now >= b.openUntil ? "half_open" : b.state;
      return {
        gen: b.gen,
        state,
        retryAfterMs: b.state === "open" ? Math.max(0, b.openUntil - now) : 0,
        openings: b.openings,
        probe,
      };
    });
  }
}
