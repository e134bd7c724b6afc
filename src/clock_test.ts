import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { ManualClock, realClock } from "./clock.ts";
import { retry } from "./policies/retry.ts";
import { timeout } from "./policies/timeout.ts";
import { constantBackoff } from "./policies/backoff.ts";

const refused = () => Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });

test("ManualClock.advance() settles a pending call with no unhandled rejection in between", async () => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", record);
  try {
    const clock = new ManualClock();
    // The pattern people write in their own tests: start, advance, then await.
    const p = retry({ maxAttempts: 3, backoff: constantBackoff(50), clock })
      .execute(() => Promise.reject(refused()));
    await clock.advance(100);
    await assert.rejects(p, { name: "ConnectionError", kind: "refused" });

    const t = timeout(100, { clock }).execute(() => new Promise(() => {}));
    await clock.advance(100);
    await assert.rejects(t, { name: "ConnectionError", kind: "timeout" });
    // A real turn of the host's event loop, so that it reports what it saw as unhandled.
    await new Promise((resolve) => realClock.setTimeout(() => resolve(undefined), 5));
  } finally {
    process.off("unhandledRejection", record);
  }
  assert.deepEqual(unhandled, []);
});

test("ManualClock.advance() runs the work a timer starts before it fires the next", async () => {
  const clock = new ManualClock();
  const order: string[] = [];
  clock.setTimeout(async () => {
    order.push("a");
    await null;
    await null;
    order.push("a done");
    clock.setTimeout(() => order.push("c"), 5);
  }, 10);
  clock.setTimeout(() => order.push("b"), 12);
  await clock.advance(20);
  assert.deepEqual(order, ["a", "a done", "b", "c"]);
  assert.equal(clock.now(), 20);
  assert.equal(clock.pendingTimers, 0);
});

test("ManualClock refuses a start or a step that is not a finite number", async () => {
  assert.throws(() => new ManualClock(NaN), {
    name: "TypeError",
    message: "Cannot create ManualClock as 'startMs' must be a finite number: current value is NaN",
  });
  await assert.rejects(new ManualClock().advance(-1), {
    name: "RangeError",
    message:
      "Cannot advance ManualClock as 'ms' must be a finite non-negative number: current value is -1",
  });
});
