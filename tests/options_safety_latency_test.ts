// The checks of tests/options_safety_test.ts for the latency-aware policies
// (hedge, adaptiveConcurrency, adaptiveThrottle): a `__proto__` or
// `constructor` key pollutes nothing and stands in for no option, and each
// option is read once, at construction.
//
// deno-lint-ignore-file no-explicit-any
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  adaptiveConcurrency,
  adaptiveThrottle,
  BulkheadRejectedError,
  ConnectionError,
  hedge,
  ManualClock,
  ThrottledError,
} from "../mod.ts";

const refused = (): Error =>
  Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });

function assertNotPolluted(): void {
  const probe = {} as Record<string, unknown>;
  assert.equal(probe.polluted, undefined);
  assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);
}

/** JSON options with a `__proto__` and a `constructor` key carrying `decoys`. */
function hostile(own: Record<string, unknown>, decoys: Record<string, unknown>): any {
  const json = JSON.stringify({ ...own, constructor: { prototype: { polluted: 1, ...decoys } } })
    .slice(0, -1) + `,"__proto__":${JSON.stringify({ polluted: 1, ...decoys })}}`;
  return JSON.parse(json);
}

/** Options whose every option is a counted getter: `first` on the first read, `later` after. */
function tracked(first: Record<string, unknown>, later: Record<string, unknown>) {
  const reads: Record<string, number> = {};
  const options = {};
  for (const key of Object.keys(first)) {
    reads[key] = 0;
    Object.defineProperty(options, key, {
      enumerable: true,
      get() {
        reads[key]++;
        return reads[key] === 1 || !(key in later) ? first[key] : later[key];
      },
    });
  }
  return { options: options as any, reads };
}

function assertReadOnce(reads: Record<string, number>, what: string): void {
  for (const [key, n] of Object.entries(reads)) {
    assert.equal(n, 1, `${what}: option '${key}' was read ${n} times`);
  }
}

test("hedge(), adaptiveConcurrency(), adaptiveThrottle(): __proto__ and constructor keys pollute nothing", async () => {
  const h = hedge(
    hostile({ delay: 1e9, on: ["reset"] }, { delay: 0, maxHedges: 5, on: ["refused"] }),
  );
  assert.equal(h.maxHedges, 1);
  let n = 0;
  await assert.rejects(
    h.execute(() => (n++, Promise.reject(refused()))),
    (e: unknown) => e instanceof ConnectionError && e.kind === "refused",
  );
  assert.equal(n, 1, "refused is not in on: no hedge");

  const a = adaptiveConcurrency(hostile({ initialLimit: 1 }, { initialLimit: 50, queue: 9 }));
  assert.equal(a.limit, 1);
  assert.equal(a.queue, 0);
  let release!: () => void;
  const running = a.execute(() => new Promise<void>((r) => (release = r)));
  await assert.rejects(a.execute(() => 1), BulkheadRejectedError);
  release();
  await running;

  const t = adaptiveThrottle(hostile({ k: 1 }, { k: 3, random: () => 0.999 }));
  await t.execute(() => Promise.reject(refused())).catch(() => {});
  assert.equal(t.probability, 0.5, "k 1, not the decoy's 3: (1 − 1 × 0) / 2");
  assert.equal(t.k, 1);
  assertNotPolluted();
});

test("hedge(), adaptiveConcurrency() and adaptiveThrottle() read each option once", async () => {
  const clock = new ManualClock();
  const heard: string[] = [];
  const kinds = ["reset"];
  const ht = tracked(
    { delay: 50, maxHedges: 1, on: kinds, clock, onHedge: () => heard.push("hedge first") },
    { delay: 0, maxHedges: 5, on: ["refused"], onHedge: () => heard.push("hedge later") },
  );
  const h = hedge(ht.options);
  assertReadOnce(ht.reads, "hedge");
  kinds.push("refused");
  let attempts = 0;
  const controller = new AbortController();
  const call = h.execute(({ signal }) => {
    attempts++;
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  }, controller.signal);
  await clock.advance(49);
  assert.equal(attempts, 1, "delay 50, as first read");
  await clock.advance(1000);
  assert.equal(attempts, 2, "maxHedges 1, as first read");
  controller.abort();
  await assert.rejects(call);
  assert.deepEqual(heard, ["hedge first"]);
  assertReadOnce(ht.reads, "hedge, after calls");

  const delay = tracked({ percentile: 90, min: 1, max: 10 }, { percentile: 10, min: 0, max: 0 });
  hedge({ delay: delay.options });
  assertReadOnce(delay.reads, "hedge delay");

  const at = tracked(
    { algorithm: "aimd", initialLimit: 2, minLimit: 1, maxLimit: 3, queue: 0, clock },
    { algorithm: "vegas", initialLimit: 50, minLimit: 40, maxLimit: 100, queue: 5 },
  );
  const a = adaptiveConcurrency(at.options);
  assertReadOnce(at.reads, "adaptiveConcurrency");
  await a.execute(() => 1);
  assert.deepEqual([a.algorithm, a.limit, a.maxLimit, a.queue], ["aimd", 3, 3, 0]);
  assertReadOnce(at.reads, "adaptiveConcurrency, after calls");

  const tt = tracked(
    { k: 1, windowMs: 1000, random: () => 0, on: ["refused"], clock },
    { k: 5, windowMs: 1, random: () => 0.999, on: ["reset"] },
  );
  const t = adaptiveThrottle(tt.options);
  assertReadOnce(tt.reads, "adaptiveThrottle");
  await t.execute(() => Promise.reject(refused())).catch(() => {});
  await assert.rejects(t.execute(() => 1), ThrottledError);
  assertReadOnce(tt.reads, "adaptiveThrottle, after calls");
});

test("hedge(), adaptiveConcurrency() and adaptiveThrottle() accept a null-prototype options object", async () => {
  const bare = (o: Record<string, unknown>) => Object.assign(Object.create(null), o);
  assert.equal(await hedge(bare({ delay: 10 })).execute(() => 1), 1);
  assert.equal(adaptiveConcurrency(bare({ initialLimit: 3 })).limit, 3);
  assert.equal(adaptiveThrottle(bare({ k: 3 })).k, 3);
});
