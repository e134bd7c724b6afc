import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError } from "../errors/connection_error.ts";
import { bulkhead, BulkheadRejectedError, type BulkheadRejectedEvent } from "./bulkhead.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { constantBackoff } from "./backoff.ts";
import { fallback } from "./fallback.ts";

/** A promise to settle by hand. */
function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An AbortController whose signal counts the abort listeners added and not removed. */
function countingController(): { controller: AbortController; listeners: () => number } {
  const controller = new AbortController();
  const signal = controller.signal;
  let count = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: EventListenerOrEventListenerObject) => {
    if (type === "abort") count++;
    add(type, listener);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListenerOrEventListenerObject) => {
    if (type === "abort") count--;
    remove(type, listener);
  }) as typeof signal.removeEventListener;
  return { controller, listeners: () => count };
}

const refused = () => Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });

async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe("bulkhead()", () => {
  test("bulkhead() runs at most limit calls at once and queues the next ones in order", async () => {
    const policy = bulkhead(2, { queue: 2 });
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const calls = gates.map((gate, i) =>
      policy.execute(async () => {
        started.push(i);
        await gate.promise;
        return i;
      })
    );
    await turns();
    assert.deepEqual(started, [0, 1]);
    assert.equal(policy.executing, 2);
    assert.equal(policy.queued, 2);
    gates[1]!.resolve();
    await turns();
    assert.deepEqual(started, [0, 1, 2]);
    assert.equal(policy.executing, 2);
    assert.equal(policy.queued, 1);
    for (const gate of gates) gate.resolve();
    assert.deepEqual(await Promise.all(calls), [0, 1, 2, 3]);
    assert.deepEqual(started, [0, 1, 2, 3]);
    assert.equal(policy.executing, 0);
    assert.equal(policy.queued, 0);
  });

  test("bulkhead() rejects at once with BulkheadRejectedError when the slots and the queue are full", async () => {
    const rejections: BulkheadRejectedEvent[] = [];
    const policy = bulkhead(1, { queue: 1, onRejected: (e) => rejections.push(e) });
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    const second = policy.execute(() => "second");
    let called = false;
    const error = await policy.execute(() => (called = true)).catch((e) => e);
    assert.ok(error instanceof BulkheadRejectedError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "BulkheadRejectedError");
    assert.equal(error.limit, 1);
    assert.equal(error.queue, 1);
    assert.equal(called, false);
    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]!.error, error);
    gate.resolve();
    await first;
    assert.equal(await second, "second");
  });

  test("bulkhead() with the default queue of 0 rejects as soon as every slot is taken", async () => {
    const policy = bulkhead(1);
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    await assert.rejects(policy.execute(() => 1), BulkheadRejectedError);
    gate.resolve();
    await first;
    assert.equal(await policy.execute(() => 2), 2);
  });

  test("bulkhead() frees the slot when the operation throws", async () => {
    const policy = bulkhead(1);
    const bug = new TypeError("bug");
    await assert.rejects(
      policy.execute(() => {
        throw bug;
      }),
      (e) => e === bug,
    );
    await assert.rejects(policy.execute(() => Promise.reject(bug)), (e) => e === bug);
    assert.equal(policy.executing, 0);
    assert.equal(await policy.execute(() => "free"), "free");
  });

  test("bulkhead() passes a recognized error out as ConnectionError", async () => {
    const policy = bulkhead(1);
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    await assert.rejects(
      policy.execute(() => Promise.reject(reset)),
      (e) => e instanceof ConnectionError && e.kind === "reset" && e.cause === reset,
    );
  });

  test("bulkhead() lets a queued call whose signal aborts leave the queue at once", async () => {
    const policy = bulkhead(1, { queue: 2 });
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    const { controller, listeners } = countingController();
    let called = false;
    const queued = policy.execute(() => (called = true), controller.signal).catch((e) => e);
    const after = policy.execute(() => "after");
    assert.equal(policy.queued, 2);
    assert.equal(listeners(), 1);
    const reason = new Error("user left");
    controller.abort(reason);
    const error = await queued;
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(error.cause, reason);
    assert.equal(called, false);
    assert.equal(policy.queued, 1);
    assert.equal(listeners(), 0);
    gate.resolve();
    await first;
    assert.equal(await after, "after");
    assert.equal(policy.executing, 0);
  });

  test("bulkhead() removes the listener from a queued call's signal once it gets a slot", async () => {
    const policy = bulkhead(1, { queue: 1 });
    const { controller, listeners } = countingController();
    for (let i = 0; i < 50; i++) {
      const gate = deferred();
      const first = policy.execute(() => gate.promise, controller.signal);
      const second = policy.execute(() => i, controller.signal);
      gate.resolve();
      await first;
      assert.equal(await second, i);
    }
    assert.equal(listeners(), 0);
  });

  test("bulkhead() rejects before calling the operation when the signal has already aborted", async () => {
    const policy = bulkhead(1);
    let called = false;
    await assert.rejects(
      policy.execute(() => (called = true), AbortSignal.abort()),
      (e) => e instanceof ConnectionError && e.kind === "cancelled",
    );
    assert.equal(called, false);
    assert.equal(policy.executing, 0);
  });

  test("bulkhead() passes the attempt and the signal to the operation", async () => {
    // The attempt of a retry outside it, in a pipeline.
    const policy = pipeline(
      retry({ maxAttempts: 4, backoff: constantBackoff(0), on: () => true }),
      bulkhead(1),
    );
    const controller = new AbortController();
    const seen = await policy.execute((ctx) => {
      if (ctx.attempt < 4) throw new Error("again");
      return ctx;
    }, controller.signal);
    assert.equal(seen.attempt, 4);
    assert.equal(seen.signal, controller.signal);
  });

  test("bulkhead() validates limit and queue with messages naming them", () => {
    for (const limit of [0, -1, 1.5, NaN, Infinity]) {
      assert.throws(
        () => bulkhead(limit),
        (e) => e instanceof RangeError && e.message.includes("'limit'"),
        String(limit),
      );
    }
    assert.throws(
      () => bulkhead("2" as unknown as number),
      (e) => e instanceof TypeError && e.message.includes("'limit'"),
    );
    for (const queue of [-1, 0.5, NaN]) {
      assert.throws(
        () => bulkhead(1, { queue }),
        (e) => e instanceof RangeError && e.message.includes("'queue'"),
        String(queue),
      );
    }
    assert.throws(
      () => bulkhead(1, { onRejected: "x" as unknown as () => void }),
      (e) => e instanceof TypeError && e.message.includes("'onRejected'"),
    );
    assert.equal(bulkhead(3, { queue: 0 }).queue, 0);
  });
  test("BulkheadRejectedError says how full the bulkhead was", () => {
    assert.equal(
      new BulkheadRejectedError(1, 0).message,
      "Bulkhead is full: 1 call executing and 0 queued",
    );
    assert.equal(
      new BulkheadRejectedError(3, 5).message,
      "Bulkhead is full: 3 calls executing and 5 queued",
    );
  });

  test("BulkheadRejectedError is recognized by its brand, across copies of the library", () => {
    const foreign = { [Symbol.for("faultline.BulkheadRejectedError")]: true };
    assert.ok(foreign instanceof BulkheadRejectedError);
    assert.equal({} instanceof BulkheadRejectedError, false);
    assert.equal(new Error("x") instanceof BulkheadRejectedError, false);
    class Sub extends BulkheadRejectedError {}
    assert.ok(new Sub(1, 0) instanceof BulkheadRejectedError);
    assert.ok(new Sub(1, 0) instanceof Sub);
    assert.equal(new BulkheadRejectedError(1, 0) instanceof Sub, false);
    assert.equal(foreign instanceof Sub, false);
  });

  test("bulkhead() refuses an fn that is not a function, naming the policy", async () => {
    await assert.rejects(bulkhead(1).execute(5 as never), {
      name: "TypeError",
      message: "Cannot execute bulkhead as 'fn' must be a function: current value is 5",
    });
  });

  test("bulkhead() keeps the order of the queue when a call in the middle or at the end leaves", async () => {
    const policy = bulkhead(1, { queue: 4 });
    const gate = deferred();
    const started: string[] = [];
    const run = (name: string, signal?: AbortSignal) =>
      policy.execute(() => {
        started.push(name);
        return name;
      }, signal).catch((e) => e);
    const first = policy.execute(() => gate.promise);
    const middle = new AbortController();
    const last = new AbortController();
    const a = run("a");
    const b = run("b", middle.signal);
    const c = run("c");
    const d = run("d", last.signal);
    middle.abort();
    last.abort();
    assert.equal(policy.queued, 2);
    const e = run("e");
    assert.equal(policy.queued, 3);
    gate.resolve();
    await first;
    assert.deepEqual(await Promise.all([a, c, e]), ["a", "c", "e"]);
    assert.deepEqual(started, ["a", "c", "e"]);
    for (const cancelled of await Promise.all([b, d])) {
      assert.ok(cancelled instanceof ConnectionError && cancelled.kind === "cancelled");
    }
    assert.equal(policy.executing, 0);
    assert.equal(policy.queued, 0);
  });

  test("bulkhead() cancels a queued call whose signal aborts just as it is given a slot, and frees that slot", async () => {
    const inner = bulkhead(1, { queue: 1 });
    const controller = new AbortController();
    // The fallback function runs while the bulkhead hands the slot on: it aborts the next call.
    const policy = pipeline(
      fallback(() => {
        controller.abort();
        return "served";
      }),
      inner,
    );
    const gate = deferred();
    const first = policy.execute(() => gate.promise.then(() => Promise.reject(refused())));
    let called = false;
    const second = policy.execute(() => (called = true), controller.signal).catch((e) => e);
    assert.equal(inner.queued, 1);
    gate.resolve();
    assert.equal(await first, "served");
    const error = await second;
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "cancelled");
    assert.equal(called, false);
    assert.equal(inner.executing, 0);
    assert.equal(await inner.execute(() => "free"), "free");
  });
  test("bulkhead() names itself and the bad option in its messages", () => {
    const cases: Array<[() => unknown, string, string]> = [
      [() => bulkhead(0), "RangeError", "'limit' must be a positive integer: current value is 0"],
      [
        () => bulkhead(1, { queue: -1 }),
        "RangeError",
        "'queue' must be a non-negative integer: current value is -1",
      ],
      [
        () => bulkhead(1, { onRejected: 1 as never }),
        "TypeError",
        "'onRejected' must be a function: current value is 1",
      ],
      [
        () => bulkhead(1, 5 as never),
        "TypeError",
        "'options' must be an object: current value is 5",
      ],
    ];
    for (const [make, name, message] of cases) {
      assert.throws(make, { name, message: `Cannot create bulkhead as ${message}` });
    }
  });
});
