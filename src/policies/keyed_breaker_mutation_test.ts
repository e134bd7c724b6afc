// Written against mutation testing (Stryker): details of keyedCircuitBreaker()'s
// restore() that a mutant changed without another test noticing: the error for
// a value that is not snapshots, the maxKeys most recent snapshots kept, the
// recency of a restored key, and state changes reported again afterwards.
// ManualClock throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { consecutiveFailures } from "./breaker_strategies.ts";
import type { CircuitBreakerOptions, CircuitBreakerSnapshot } from "./circuit_breaker.ts";
import { keyedCircuitBreaker } from "./keyed_breaker.ts";

const fail = (): never => {
  throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
};

function options(clock = new ManualClock()): CircuitBreakerOptions {
  return { trip: consecutiveFailures(1), halfOpenAfter: 1000, clock };
}

/** The snapshot of a breaker opened by one failure. */
async function openSnapshot(clock: ManualClock): Promise<CircuitBreakerSnapshot> {
  const source = keyedCircuitBreaker(options(clock));
  await source.get("any").execute(fail).catch(() => {});
  return source.get("any").toJSON();
}

test("restore() refuses anything but an object of snapshots, naming 'snapshots'", () => {
  const keyed = keyedCircuitBreaker(options());
  keyed.get("kept");
  for (const value of [null, undefined, [], [keyed.get("kept").toJSON()], "abc", 42]) {
    assert.throws(
      () => keyed.restore(value as unknown as Record<string, CircuitBreakerSnapshot>),
      {
        name: "TypeError",
        message:
          `Cannot restore keyed circuit breaker as 'snapshots' must be an object from toJSON(): current value is ${
            String(value)
          }`,
      },
    );
    assert.deepEqual([...keyed.keys()], ["kept"]);
  }
});

test("restore() keeps only the maxKeys most recently used snapshots, and evicts nothing for it", async () => {
  const clock = new ManualClock(1_000_000);
  const source = keyedCircuitBreaker(options(clock), { maxKeys: 3 });
  await source.get("a").execute(fail).catch(() => {}); // open, least recently used
  source.get("b");
  source.get("c");
  const target = keyedCircuitBreaker(options(clock), { maxKeys: 2 });
  const evicted: string[] = [];
  target.onEvict((e) => evicted.push(`${e.key}:${e.state}`));
  target.restore(source.toJSON());
  assert.deepEqual([...target.keys()], ["b", "c"]);
  assert.deepEqual(evicted, []);
  assert.equal(target.has("a"), false, "the open breaker was the least recently used: left out");
  assert.deepEqual({ ...target.toJSON() }, {
    b: source.get("b").toJSON(),
    c: source.get("c").toJSON(),
  });
});

test("restore() of a key already kept makes it the most recently used", async () => {
  const clock = new ManualClock(1_000_000);
  const open = await openSnapshot(clock);
  const keyed = keyedCircuitBreaker(options(clock));
  keyed.get("a");
  keyed.get("b");
  keyed.restore({ a: open });
  assert.deepEqual([...keyed.keys()], ["b", "a"]);
  assert.equal(keyed.get("a").state, "open");
  assert.equal(keyed.size, 2);
});

test("restore() into a full keyed breaker evicts only for new keys, and reports each eviction", async () => {
  const clock = new ManualClock(1_000_000);
  const open = await openSnapshot(clock);
  const keyed = keyedCircuitBreaker(options(clock), { maxKeys: 2 });
  const evicted: string[] = [];
  keyed.onEvict((e) => evicted.push(`${e.key}:${e.state}`));
  keyed.get("a");
  keyed.get("b");
  keyed.restore({ a: open });
  assert.deepEqual(evicted, [], "a is replaced in place: nothing to make room for");
  assert.deepEqual([...keyed.keys()], ["b", "a"]);
  keyed.restore({ c: open });
  assert.deepEqual(evicted, ["b:closed"], "the least recently used closed breaker goes");
  assert.deepEqual([...keyed.keys()], ["a", "c"]);
  keyed.restore({ d: open });
  assert.deepEqual(evicted, ["b:closed", "a:open"], "none is closed: the least recently used goes");
  assert.deepEqual([...keyed.keys()], ["c", "d"]);
});

test("state changes after a restore() are reported again, even after a restore() that threw", async () => {
  const clock = new ManualClock(1_000_000);
  const keyed = keyedCircuitBreaker(options(clock));
  const log: string[] = [];
  keyed.onStateChange((e) => log.push(`${e.key}:${e.from}->${e.to}`));
  keyed.restore({ a: await openSnapshot(clock) });
  assert.deepEqual(log, [], "restoring is not news");
  keyed.get("b").isolate();
  assert.deepEqual(log, ["b:closed->isolated"]);
  const good = keyed.get("a").toJSON();
  assert.throws(() => keyed.restore({ x: good, y: { ...good, version: 2 as 1 } }), RangeError);
  await keyed.get("c").execute(fail).catch(() => {});
  assert.deepEqual(log, ["b:closed->isolated", "c:closed->open"]);
});
