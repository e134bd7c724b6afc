import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, realClock } from "../clock.ts";
import { retryBudget } from "./retry_budget.ts";
import {
  budget,
  clock,
  duration,
  fn,
  nonNegativeInteger,
  optionsObject,
  positiveInteger,
  rangeError,
  ratio,
  typeError,
} from "./_validate.ts";

/** Asserts that `run` throws `Type` with exactly `message`. */
function throwsExactly(
  run: () => unknown,
  Type: typeof TypeError | typeof RangeError,
  message: string,
): void {
  assert.throws(run, (e: unknown) => {
    assert.equal((e as Error).constructor, Type);
    assert.equal((e as Error).message, message);
    return true;
  });
}

describe("validate", () => {
  test("rangeError() and typeError() name the API, the option and the value as std does", () => {
    throwsExactly(
      () => rangeError("retry", "maxAttempts", "a positive integer", 0),
      RangeError,
      "Cannot create retry as 'maxAttempts' must be a positive integer: current value is 0",
    );
    throwsExactly(
      () => typeError("retry", "on", "a list of kinds", "refused"),
      TypeError,
      `Cannot create retry as 'on' must be a list of kinds: current value is "refused"`,
    );
  });

  test("the value is shown as JSON, 'a function', or 'an object' when it cannot be", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [unknown, string][] = [
      [() => 1, "a function"],
      [{ a: 1 }, `{"a":1}`],
      [[1, 2], "[1,2]"],
      [cyclic, "an object"],
      [null, "null"],
      [undefined, "undefined"],
      [Symbol("s"), "Symbol(s)"],
      [10n, "10"],
      [NaN, "NaN"],
      ["", `""`],
    ];
    for (const [value, shown] of cases) {
      throwsExactly(
        () => typeError("x", "y", "z", value),
        TypeError,
        `Cannot create x as 'y' must be z: current value is ${shown}`,
      );
    }
  });

  test("positiveInteger() takes 1 and above; a non-number is a TypeError", () => {
    assert.equal(positiveInteger("a", "n", 1), 1);
    assert.equal(positiveInteger("a", "n", 7), 7);
    for (const bad of [0, -1, 1.5, NaN, Infinity]) {
      throwsExactly(
        () => positiveInteger("a", "n", bad),
        RangeError,
        `Cannot create a as 'n' must be a positive integer: current value is ${bad}`,
      );
    }
    throwsExactly(
      () => positiveInteger("a", "n", "3"),
      TypeError,
      `Cannot create a as 'n' must be a positive integer: current value is "3"`,
    );
  });

  test("nonNegativeInteger() takes 0 and above; a non-number is a TypeError", () => {
    assert.equal(nonNegativeInteger("a", "n", 0), 0);
    assert.equal(nonNegativeInteger("a", "n", 3), 3);
    for (const bad of [-1, 0.5, NaN, Infinity]) {
      throwsExactly(
        () => nonNegativeInteger("a", "n", bad),
        RangeError,
        `Cannot create a as 'n' must be a non-negative integer: current value is ${bad}`,
      );
    }
    throwsExactly(
      () => nonNegativeInteger("a", "n", null),
      TypeError,
      "Cannot create a as 'n' must be a non-negative integer: current value is null",
    );
  });

  test("duration() takes finite non-negative numbers, and Infinity only when allowed", () => {
    assert.equal(duration("a", "ms", 0), 0);
    assert.equal(duration("a", "ms", 2.5), 2.5);
    assert.equal(duration("a", "ms", Infinity, true), Infinity);
    const finite = "a finite non-negative number of milliseconds";
    for (const bad of [-1, NaN, Infinity]) {
      throwsExactly(
        () => duration("a", "ms", bad),
        RangeError,
        `Cannot create a as 'ms' must be ${finite}: current value is ${bad}`,
      );
    }
    const open = "a non-negative number of milliseconds or Infinity";
    for (const bad of [-1, NaN, -Infinity]) {
      throwsExactly(
        () => duration("a", "ms", bad, true),
        RangeError,
        `Cannot create a as 'ms' must be ${open}: current value is ${bad}`,
      );
    }
    throwsExactly(
      () => duration("a", "ms", "1"),
      TypeError,
      `Cannot create a as 'ms' must be ${finite}: current value is "1"`,
    );
  });

  test("ratio() takes [0, 1], or (0, 1] when zero is excluded", () => {
    for (const ok of [0, 0.5, 1]) assert.equal(ratio("a", "r", ok), ok);
    for (const ok of [0.001, 1]) assert.equal(ratio("a", "r", ok, true), ok);
    for (const bad of [-0.1, 1.1, NaN]) {
      throwsExactly(
        () => ratio("a", "r", bad),
        RangeError,
        `Cannot create a as 'r' must be a number from 0 to 1: current value is ${bad}`,
      );
    }
    for (const bad of [0, -0.1, 1.1, NaN]) {
      throwsExactly(
        () => ratio("a", "r", bad, true),
        RangeError,
        `Cannot create a as 'r' must be a number above 0 and at most 1: current value is ${bad}`,
      );
    }
    throwsExactly(
      () => ratio("a", "r", true, true),
      TypeError,
      "Cannot create a as 'r' must be a number above 0 and at most 1: current value is true",
    );
  });

  test("fn() takes functions only", () => {
    const f = () => 1;
    assert.equal(fn("a", "f", f), f);
    throwsExactly(
      () => fn("a", "f", {}),
      TypeError,
      "Cannot create a as 'f' must be a function: current value is {}",
    );
  });

  test("clock() gives the real clock for undefined and refuses a clock missing any method", () => {
    assert.equal(clock("a", undefined), realClock);
    const manual = new ManualClock();
    assert.equal(clock("a", manual), manual);
    const full = {
      now: () => 0,
      setTimeout: () => 0,
      clearTimeout: () => {},
      sleep: () => Promise.resolve(),
    };
    assert.equal(clock("a", full), full);
    const rule = "a Clock (now, setTimeout, clearTimeout and sleep)";
    for (const method of ["now", "setTimeout", "clearTimeout", "sleep"] as const) {
      const half: Record<string, unknown> = { ...full, [method]: 1 };
      assert.throws(
        () => clock("a", half),
        (e: unknown) =>
          e instanceof TypeError &&
          e.message.startsWith(`Cannot create a as 'clock' must be ${rule}: current value is `),
        method,
      );
    }
    for (const bad of [null, 0, "clock", () => 0]) {
      assert.throws(() => clock("a", bad), TypeError, String(bad));
    }
  });

  test("budget() takes undefined or an object with recordCall() and tryRetry(), nothing less", () => {
    assert.equal(budget("a", undefined), undefined);
    const shared = retryBudget();
    assert.equal(budget("a", shared), shared);
    const own = { recordCall() {}, tryRetry: () => true };
    assert.equal(budget("a", own), own);
    const rule =
      "Cannot create a as 'budget' must be a RetryBudget (see retryBudget()): current value is";
    for (
      const [bad, shown] of [
        [null, "null"],
        [7, "7"],
        [{ recordCall() {} }, "{}"],
        [{ tryRetry: () => true }, "{}"],
        [{ recordCall: 1, tryRetry: () => true }, `{"recordCall":1}`],
      ] as const
    ) {
      throwsExactly(() => budget("a", bad), TypeError, `${rule} ${shown}`);
    }
  });

  test("optionsObject() takes undefined or an object, not an array, null or a primitive", () => {
    assert.deepEqual(optionsObject("a", undefined), {});
    const options = { x: 1 };
    assert.equal(optionsObject("a", options), options);
    for (const [bad, shown] of [[[], "[]"], [null, "null"], ["x", `"x"`], [3, "3"]] as const) {
      throwsExactly(
        () => optionsObject("a", bad),
        TypeError,
        `Cannot create a as 'options' must be an object: current value is ${shown}`,
      );
    }
  });
});
