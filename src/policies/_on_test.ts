import { test } from "node:test";
import assert from "node:assert/strict";
import { parseOn } from "./_on.ts";
import { retry } from "./retry.ts";
import { circuitBreaker } from "./circuit_breaker.ts";
import { consecutiveFailures } from "./trip/consecutive_failures.ts";
import { fallback } from "./fallback.ts";

const KIND = "a connection error kind (one of CONNECTION_ERROR_KINDS)";

test("parseOn() takes a kind, a list of kinds or a predicate, and copies the list", () => {
  assert.deepEqual([...parseOn("x", "reset").kinds!], ["reset"]);
  const list = ["refused", "reset"];
  const parsed = parseOn("x", list);
  list.push("timeout");
  assert.deepEqual([...parsed.kinds!], ["refused", "reset"]);
  const predicate = () => true;
  assert.equal(parseOn("x", predicate).predicate, predicate);
  assert.equal(parseOn("x", undefined).kinds, undefined);
  assert.equal(parseOn("x", undefined).predicate, undefined);
});

test("retry, circuitBreaker and fallback refuse the same bad `on` with the same words", () => {
  const makers: Array<[string, (on: unknown) => unknown]> = [
    ["retry", (on) => retry({ on: on as never })],
    [
      "circuitBreaker",
      (on) => circuitBreaker({ trip: consecutiveFailures(1), halfOpenAfter: 1, on: on as never }),
    ],
    ["fallback", (on) => fallback(0, { on: on as never })],
  ];
  const cases: Array<[unknown, string, (api: string) => string]> = [
    [
      5,
      "TypeError",
      (api) =>
        `Cannot create ${api} as 'on' must be a kind, a non-empty list of kinds or a predicate: current value is 5`,
    ],
    [
      "refusd",
      "RangeError",
      (api) => `Cannot create ${api} as 'on' must be ${KIND}: current value is "refusd"`,
    ],
    [
      [],
      "RangeError",
      (api) =>
        `Cannot create ${api} as 'on' must be a non-empty list of connection error kinds: current value is []`,
    ],
    [
      ["reset", 7],
      "TypeError",
      (api) => `Cannot create ${api} as 'on[1]' must be ${KIND}: current value is 7`,
    ],
    [
      ["reset", "nope"],
      "RangeError",
      (api) => `Cannot create ${api} as 'on[1]' must be ${KIND}: current value is "nope"`,
    ],
  ];
  for (const [api, make] of makers) {
    for (const [on, name, message] of cases) {
      assert.throws(
        () => make(on),
        { name, message: message(api) },
        `${api} ${JSON.stringify(on)}`,
      );
    }
    make("reset");
    make(["reset", "timeout"]);
    make(() => true);
  }
});
