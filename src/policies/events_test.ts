import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Emitter } from "./events.ts";
import { retry } from "./retry.ts";

describe("Emitter", () => {
  test("Emitter has no listener until one subscribes, and none after it is disposed", () => {
    const emitter = new Emitter<number>();
    assert.equal(emitter.has, false);
    const a = emitter.subscribe(() => {});
    const b = emitter.subscribe(() => {});
    assert.equal(emitter.has, true);
    a.dispose();
    assert.equal(emitter.has, true);
    b[Symbol.dispose]();
    assert.equal(emitter.has, false);
  });

  test("Emitter calls listeners in order, and a disposed one no more", () => {
    const emitter = new Emitter<number>();
    const seen: string[] = [];
    const a = emitter.subscribe((n) => seen.push(`a${n}`));
    emitter.subscribe((n) => seen.push(`b${n}`));
    emitter.emit(1);
    a.dispose();
    a.dispose(); // twice is harmless
    emitter.emit(2);
    assert.deepEqual(seen, ["a1", "b1", "b2"]);
  });

  test("Emitter counts a listener subscribed twice as two subscriptions", () => {
    const emitter = new Emitter<number>();
    let calls = 0;
    const listener = () => calls++;
    const first = emitter.subscribe(listener);
    const second = emitter.subscribe(listener);
    emitter.emit(0);
    assert.equal(calls, 2);
    first.dispose();
    first.dispose(); // a second dispose leaves the other subscription alone
    emitter.emit(0);
    assert.equal(calls, 3);
    second.dispose();
    emitter.emit(0);
    assert.equal(calls, 3);
    assert.equal(emitter.has, false);
  });

  test("Emitter lets a listener dispose itself during emit without skipping the next", () => {
    const emitter = new Emitter<number>();
    const seen: string[] = [];
    const a = emitter.subscribe(() => {
      seen.push("a");
      a.dispose();
    });
    emitter.subscribe(() => seen.push("b"));
    emitter.emit(0);
    emitter.emit(0);
    assert.deepEqual(seen, ["a", "b", "b"]);
  });

  test("Emitter reports a listener that throws and still calls the others", () => {
    const emitter = new Emitter<number>();
    const reported: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => reported.push(args);
    try {
      const boom = new Error("listener bug");
      emitter.subscribe(() => {
        throw boom;
      });
      let after = 0;
      emitter.subscribe(() => after++);
      emitter.emit(0);
      assert.equal(after, 1);
      assert.equal(reported.length, 1);
      assert.match(String(reported[0]![0]), /listener threw/);
      assert.equal(reported[0]![1], boom);
    } finally {
      console.error = original;
    }
  });

  test("Emitter refuses a listener that is not a function, naming it", () => {
    const emitter = new Emitter<number>();
    assert.throws(
      () => emitter.subscribe(42 as unknown as () => void),
      (e) =>
        e instanceof TypeError &&
        e.message === "Cannot subscribe as 'listener' must be a function: current value is 42",
    );
    assert.equal(emitter.has, false);
  });

  test("a policy's onX subscription can be disposed", async () => {
    const policy = retry({ maxAttempts: 2, backoff: { delay: () => 0 } });
    let retries = 0;
    const subscription = policy.onRetry(() => retries++);
    let attempt = 0;
    const flaky = () => {
      if (++attempt % 2 === 1) {
        throw Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
      }
      return "ok";
    };
    assert.equal(await policy.execute(flaky), "ok");
    subscription.dispose();
    assert.equal(await policy.execute(flaky), "ok");
    assert.equal(retries, 1);
  });
});
