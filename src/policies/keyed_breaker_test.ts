import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import {
  BrokenCircuitError,
  type CircuitBreakerOptions,
  type CircuitBreakerSnapshot,
} from "./circuit_breaker.ts";
import { consecutiveFailures } from "./trip/consecutive_failures.ts";
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

describe("keyedCircuitBreaker()", () => {
  test("keyedCircuitBreaker() makes one breaker per key on demand and reuses it", () => {
    const keyed = keyedCircuitBreaker(options());
    assert.equal(keyed.size, 0);
    const a = keyed.get("db:5432");
    assert.equal(keyed.get("db:5432"), a);
    assert.notEqual(keyed.get("cache:6379"), a);
    assert.equal(keyed.size, 2);
    assert.equal(keyed.has("db:5432"), true);
  });

  test("keyedCircuitBreaker() keeps each key's state apart", async () => {
    const keyed = keyedCircuitBreaker(options());
    await keyed.get("down:1").execute(fail).catch(() => {});
    assert.equal(keyed.get("down:1").state, "open");
    assert.equal(keyed.get("up:2").state, "closed");
    assert.equal(await keyed.get("up:2").execute(() => 1), 1);
    await assert.rejects(
      keyed.get("down:1").execute(() => 1),
      (e) => e instanceof BrokenCircuitError && e.key === "down:1" && /"down:1"/.test(e.message),
    );
  });

  test("keyedCircuitBreaker() drops the least recently used closed breaker beyond maxKeys", async () => {
    const keyed = keyedCircuitBreaker(options(), { maxKeys: 3 });
    const evicted: string[] = [];
    keyed.onEvict((e) => evicted.push(`${e.key}:${e.state}`));
    await keyed.get("a").execute(fail).catch(() => {}); // open: kept
    keyed.get("b");
    keyed.get("c");
    keyed.get("b"); // b is now more recent than c
    keyed.get("d");
    assert.deepEqual(evicted, ["c:closed"]);
    assert.deepEqual([...keyed.keys()], ["a", "b", "d"]);
    assert.equal(keyed.get("a").state, "open");
  });

  test("keyedCircuitBreaker() drops an open breaker only when none is closed, and says so", async () => {
    const keyed = keyedCircuitBreaker(options(), { maxKeys: 2 });
    const evicted: string[] = [];
    keyed.onEvict((e) => evicted.push(`${e.key}:${e.state}`));
    await keyed.get("a").execute(fail).catch(() => {});
    await keyed.get("b").execute(fail).catch(() => {});
    keyed.get("c");
    assert.deepEqual(evicted, ["a:open"]);
    assert.equal(keyed.size, 2);
  });

  test("keyedCircuitBreaker() never grows beyond maxKeys", () => {
    const keyed = keyedCircuitBreaker(options(), { maxKeys: 10 });
    for (let i = 0; i < 1000; i++) keyed.get(`host${i}:80`);
    assert.equal(keyed.size, 10);
  });

  test("keyedCircuitBreaker() reports every key's state changes with the key", async () => {
    const clock = new ManualClock();
    const keyed = keyedCircuitBreaker(options(clock));
    const log: string[] = [];
    keyed.onStateChange((e) => log.push(`${e.key}:${e.from}->${e.to}`));
    const own: string[] = [];
    keyed.get("a").onStateChange((e) => own.push(`${e.from}->${e.to}`));
    await keyed.get("a").execute(fail).catch(() => {});
    await clock.advance(1000);
    await keyed.get("a").execute(() => 1);
    keyed.get("b").isolate();
    assert.deepEqual(log, [
      "a:closed->open",
      "a:open->half_open",
      "a:half_open->closed",
      "b:closed->isolated",
    ]);
    assert.deepEqual(own, ["closed->open", "open->half_open", "half_open->closed"]);
  });

  test("keyedCircuitBreaker() delete() forgets a key", async () => {
    const keyed = keyedCircuitBreaker(options());
    await keyed.get("a").execute(fail).catch(() => {});
    assert.equal(keyed.delete("a"), true);
    assert.equal(keyed.delete("a"), false);
    assert.equal(keyed.get("a").state, "closed");
  });

  test("keyedCircuitBreaker() toJSON() and restore() round-trip every key", async () => {
    const clock = new ManualClock(1_000_000);
    const a = keyedCircuitBreaker(options(clock));
    await a.get("down").execute(fail).catch(() => {});
    a.get("up");
    a.get("__proto__");
    const saved = JSON.parse(JSON.stringify(a.toJSON()));
    const b = keyedCircuitBreaker(options(clock));
    const log: string[] = [];
    b.onStateChange((e) => log.push(e.key));
    b.restore(saved);
    assert.deepEqual(log, []);
    assert.deepEqual([...b.keys()], ["down", "up", "__proto__"]);
    assert.equal(b.get("down").state, "open");
    assert.deepEqual(b.toJSON(), a.toJSON());
    assert.equal(({} as Record<string, unknown>).state, undefined);
  });

  test("keyedCircuitBreaker() restore() refuses a bad snapshot and changes nothing", () => {
    const keyed = keyedCircuitBreaker(options());
    keyed.get("kept");
    const good = keyed.get("kept").toJSON();
    assert.throws(
      () => keyed.restore({ x: good, y: { ...good, state: "ajar" as never } }),
      /'snapshot.state' must be one of .* \(key "y"\)/,
    );
    assert.deepEqual([...keyed.keys()], ["kept"]);
  });

  test("keyedCircuitBreaker() restore() refuses anything but an object of snapshots, naming 'snapshots'", () => {
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

  test("keyedCircuitBreaker() restore() keeps only the maxKeys most recently used snapshots, and evicts nothing for it", async () => {
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

  test("keyedCircuitBreaker() restore() of a key already kept makes it the most recently used", async () => {
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

  test("keyedCircuitBreaker() restore() into a full keyed breaker evicts only for new keys, and reports each eviction", async () => {
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
    assert.deepEqual(
      evicted,
      ["b:closed", "a:open"],
      "none is closed: the least recently used goes",
    );
    assert.deepEqual([...keyed.keys()], ["c", "d"]);
  });

  test("keyedCircuitBreaker() reports state changes again after a restore(), even after one that threw", async () => {
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

  test("keyedCircuitBreaker() refuses bad options and keys", () => {
    assert.throws(() => keyedCircuitBreaker(options(), { maxKeys: 0 }), {
      name: "RangeError",
      message:
        "Cannot create keyedCircuitBreaker as 'maxKeys' must be a positive integer: current value is 0",
    });
    assert.throws(
      () => keyedCircuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: -1 }),
      {
        name: "RangeError",
        message:
          "Cannot create keyedCircuitBreaker as 'halfOpenAfter' must be a finite non-negative number of milliseconds: current value is -1",
      },
    );
    const keyed = keyedCircuitBreaker(options());
    assert.throws(() => keyed.get(42 as unknown as string), {
      name: "TypeError",
      message: "Cannot get a circuit breaker as 'key' must be a string: current value is 42",
    });
  });

  test("keyedCircuitBreaker() never shares state between keys made from one options object", async () => {
    const shared = options();
    const one = keyedCircuitBreaker(shared);
    const two = keyedCircuitBreaker(shared);
    await one.get("k").execute(fail).catch(() => {});
    assert.equal(one.get("k").state, "open");
    assert.equal(two.get("k").state, "closed");
  });

  test("keyedCircuitBreaker() keys() is a snapshot: get() while iterating visits each key once", () => {
    const breakers = keyedCircuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1_000 });
    for (const key of ["a", "b", "c"]) breakers.get(key);
    const seen: string[] = [];
    for (const key of breakers.keys()) {
      seen.push(key);
      breakers.get(key); // moves it to the end: most recently used
      assert.ok(seen.length <= 3, "keys() went round again");
    }
    assert.deepEqual(seen, ["a", "b", "c"]);
  });
});
