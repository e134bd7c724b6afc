// circuitBreaker({ fleet }) on a ManualClock against the in-memory reference
// store (tests/support/fleet_memory_store.ts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { type CircuitBreaker, circuitBreaker } from "../policies/circuit_breaker.ts";
import { keyedCircuitBreaker } from "../policies/keyed_breaker.ts";
import { BrokenCircuitError } from "../policies/broken_circuit_error.ts";
import { consecutiveFailures } from "../policies/trip/consecutive_failures.ts";
import { failureRate } from "../policies/trip/failure_rate.ts";
import type { FleetErrorEvent } from "./store.ts";
import { MemoryFleetStore } from "../../tests/support/fleet_memory_store.ts";

const refused = () =>
  Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));

/** "ok", "failed" or the BrokenCircuitError's state: how one call through `b` ended. */
async function call(b: CircuitBreaker, fail = false): Promise<string> {
  try {
    await b.execute(() => (fail ? refused() : 1));
    return "ok";
  } catch (e) {
    return e instanceof BrokenCircuitError ? e.state : "failed";
  }
}

function fleetOf(n: number, clock: ManualClock, store: MemoryFleetStore, extra: object = {}) {
  return Array.from({ length: n }, () =>
    circuitBreaker({
      trip: failureRate({ threshold: 0.5, minimumCalls: 20, windowMs: 10_000 }),
      halfOpenAfter: 1_000,
      clock,
      fleet: { store, key: "db", syncMs: 100, ...extra },
      ...extra,
    }));
}

describe("circuitBreaker({ fleet })", () => {
  test("isolate() on one instance: the others reject within 2 × syncMs, and reset() closes them all", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const [a, b, c] = fleetOf(3, clock, store);
    for (let i = 0; i < 5; i++) {
      for (const x of [a!, b!, c!]) await call(x);
      await clock.advance(10);
    }
    const handle = a!.isolate();
    const start = clock.now();
    let rejectedAt = -1;
    while (rejectedAt < 0 && clock.now() - start < 1_000) {
      const [rb, rc] = [await call(b!), await call(c!)];
      if (rb === "isolated" && rc === "isolated") rejectedAt = clock.now() - start;
      await clock.advance(10);
    }
    assert.ok(rejectedAt >= 0 && rejectedAt <= 200, `rejected after ${rejectedAt} ms`);
    assert.equal(b!.state, "isolated");
    // Releasing the handle ends the isolation everywhere.
    handle.dispose();
    for (let i = 0; i < 30; i++) {
      for (const x of [b!, c!]) await call(x);
      await clock.advance(10);
    }
    assert.deepEqual([a!.state, b!.state, c!.state], ["closed", "closed", "closed"]);
    // reset() on one closes an isolation made on another.
    c!.isolate();
    await clock.advance(0);
    for (let i = 0; i < 30; i++) {
      await call(a!);
      await clock.advance(10);
    }
    assert.equal(a!.state, "isolated");
    b!.reset();
    for (let i = 0; i < 30; i++) {
      for (const x of [a!, c!]) await call(x);
      await clock.advance(10);
    }
    assert.deepEqual([a!.state, b!.state, c!.state], ["closed", "closed", "closed"]);
    [a, b, c].forEach((x) => x!.close());
  });

  test("the fleet trips on its failure rate, which no instance reaches alone", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const fleet = fleetOf(3, clock, store);
    // 10 calls each, 6 failed: 30 and 18 in the fleet; each alone is below minimumCalls 20.
    for (let i = 0; i < 10; i++) {
      for (const b of fleet) await call(b, i % 5 < 3);
      await clock.advance(50);
    }
    await clock.advance(200);
    for (const b of fleet) await call(b);
    await clock.advance(0);
    const states = await Promise.all(fleet.map((b) => call(b)));
    assert.deepEqual(states, ["open", "open", "open"]);
    fleet.forEach((b) => b.close());
  });

  test("one sick instance does not open the fleet when minInstances is 2", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const [sick, well] = fleetOf(2, clock, store, { minInstances: 2 });
    for (let i = 0; i < 30; i++) {
      await call(sick!, true);
      await call(well!);
      await clock.advance(20);
    }
    await clock.advance(200);
    await call(well!);
    assert.equal(sick!.state, "open", "it protects itself");
    assert.equal(well!.state, "closed", "the fleet stays closed");
    assert.equal(store.breakers.get("db")!.state, "closed");
    sick!.close();
    well!.close();
  });

  test("half-open: one probe across the fleet, and its success closes every instance", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const fleet = Array.from({ length: 3 }, () =>
      circuitBreaker({
        trip: consecutiveFailures(3),
        halfOpenAfter: 1_000,
        clock,
        fleet: { store, key: "db", syncMs: 50 },
      }));
    // 2 failures each: 6 in the fleet (minimumCalls 3, all failed); each alone is below 3.
    for (let i = 0; i < 2; i++) {
      for (const b of fleet) await call(b, true);
      await clock.advance(60);
    }
    await clock.advance(100);
    for (const b of fleet) await call(b);
    assert.deepEqual(fleet.map((b) => b.state), ["open", "open", "open"]);
    await clock.advance(1_000);
    // Everyone calls every 10 ms; each probe is held open for 200 ms.
    let probes = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    for (let i = 0; i < 30; i++) {
      for (const b of fleet) {
        b.execute(() => {
          probes++;
          return gate;
        }).catch(() => {});
      }
      await clock.advance(10);
    }
    assert.equal(probes, 1, "one probe in the whole fleet");
    release();
    await clock.advance(0);
    for (let i = 0; i < 20; i++) {
      for (const b of fleet) await call(b);
      await clock.advance(10);
    }
    assert.deepEqual(fleet.map((b) => b.state), ["closed", "closed", "closed"]);
    fleet.forEach((b) => b.close());
  });

  test("store down: every instance carries on with its own state, without waiting", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    store.mode = "hang";
    const errors: FleetErrorEvent[] = [];
    const b = circuitBreaker({
      trip: consecutiveFailures(3),
      halfOpenAfter: 1_000,
      clock,
      fleet: { store, key: "db", syncMs: 10 },
    });
    b.onFleetError((e) => errors.push(e));
    for (let i = 0; i < 3; i++) assert.equal(await call(b, true), "failed");
    assert.equal(b.state, "open", "tripped alone");
    await clock.advance(1_000);
    assert.equal(await call(b), "ok", "its own probe");
    assert.equal(b.state, "closed");
    await clock.advance(2_000);
    await call(b);
    assert.ok(errors.length >= 1 && (errors[0]!.error as Error).name === "TimeoutError");
    b.close();
    await clock.advance(10_000);
    assert.equal(clock.pendingTimers, 0);
  });

  test("idle: no request and no timer after the last call", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const [b] = fleetOf(1, clock, store);
    for (let i = 0; i < 100; i++) await call(b!);
    await clock.advance(1_000);
    const requests = store.log.length;
    assert.ok(requests <= 2, `${requests} requests`);
    assert.equal(clock.pendingTimers, 0);
    await clock.advance(10_000);
    assert.equal(store.log.length, requests);
  });

  test("keyedCircuitBreaker({ fleet }): each key is shared across instances under a key of its own", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    const [one, two] = Array.from({ length: 2 }, () =>
      keyedCircuitBreaker({
        trip: consecutiveFailures(3),
        halfOpenAfter: 1_000,
        clock,
        fleet: { store, key: "db", syncMs: 50 },
      }));
    for (let i = 0; i < 3; i++) {
      for (const k of [one!, two!]) {
        await call(k.get("db-1:5432"));
        await call(k.get("db-2:5432"));
      }
      await clock.advance(20);
    }
    // Isolating db-1 on one instance reaches the other's db-1, and no one's db-2.
    const handle = one!.get("db-1:5432").isolate();
    let seen = "closed";
    for (let i = 0; i < 30 && seen !== "isolated"; i++) {
      await clock.advance(10);
      seen = await call(two!.get("db-1:5432"));
    }
    assert.equal(seen, "isolated");
    assert.equal(await call(two!.get("db-2:5432")), "ok");
    assert.equal(two!.get("db-2:5432").state, "closed");
    assert.deepEqual([...store.breakers.keys()].sort(), ["db:db-1:5432", "db:db-2:5432"]);
    handle.dispose();
    for (const k of [one!, two!]) for (const key of [...k.keys()]) k.get(key).close();
    await clock.advance(1_000);
    assert.equal(clock.pendingTimers, 0);
  });

  test("close() and [Symbol.dispose]() stop a fleet breaker's requests; it goes on alone", async () => {
    const clock = new ManualClock();
    const store = new MemoryFleetStore(clock);
    for (const stop of ["close", "dispose"] as const) {
      const [b] = fleetOf(1, clock, store);
      for (let i = 0; i < 10; i++) {
        await call(b!);
        await clock.advance(50);
      }
      const before = store.log.length;
      assert.ok(before > 0, "it talked to the store");
      if (stop === "close") b!.close();
      else b![Symbol.dispose]();
      for (let i = 0; i < 10; i++) {
        assert.equal(await call(b!), "ok");
        await clock.advance(50);
      }
      await clock.advance(1_000);
      assert.equal(store.log.length, before, `${stop}: no request after`);
      assert.equal(clock.pendingTimers, 0);
    }
  });
});
