import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EPSILON, Gcra } from "./_gcra.ts";

/** A Gcra of `interval` ms per call and `burst` at once that has counted `calls` calls at `now`. */
function taken(interval: number, burst: number, calls: number, now = 0): Gcra {
  const gcra = new Gcra(interval, burst);
  for (let i = 0; i < calls; i++) gcra.take(now);
  return gcra;
}

describe("Gcra", () => {
  test("Gcra lets a burst through at once, then one request per interval", () => {
    const gcra = new Gcra(100, 3);
    for (let i = 0; i < 3; i++) {
      assert.ok(gcra.wait(0) <= EPSILON, `call ${i + 1} of the burst waits`);
      gcra.take(0);
    }
    assert.equal(gcra.wait(0), 100, "the 4th call waits one interval");
    assert.equal(gcra.wait(60), 40);
    assert.equal(gcra.wait(100), 0, "exactly one interval on, the next call conforms");
    gcra.take(100);
    assert.equal(gcra.wait(100), 100);
  });

  test("Gcra take() books a call one interval after the last one, or after now when idle", () => {
    const gcra = new Gcra(100, 1);
    assert.equal(gcra.take(0), 100);
    assert.equal(gcra.take(0), 200, "a call told to wait is booked after the one before it");
    assert.equal(gcra.take(200), 300, "a call exactly at the booked time goes on from there");
    assert.equal(gcra.take(1000), 1100, "after a quiet spell it starts from now");
  });

  test("Gcra banks no more than one burst over a quiet spell", () => {
    const gcra = new Gcra(100, 3);
    assert.equal(gcra.wait(1000), -200, "a fresh one is a full burst, (3 - 1) intervals, ahead");
    gcra.take(0);
    assert.equal(gcra.wait(5000), -200, "5 s of quiet is still only one burst ahead");
    assert.equal(gcra.available(5000), 3);
  });

  test("Gcra available() gives back one call per interval after a burst", () => {
    const gcra = taken(100, 3, 3);
    assert.equal(gcra.available(0), 0);
    assert.equal(gcra.available(99), 0, "one ms short of an interval: none back yet");
    assert.equal(gcra.available(100), 1);
    assert.equal(gcra.available(250), 2);
    assert.equal(gcra.available(300), 3);
    assert.equal(gcra.available(10_000), 3, "never more than the burst");
  });

  test("Gcra available() is 0, never negative, while calls are booked beyond the burst", () => {
    const gcra = taken(100, 1, 3);
    assert.equal(gcra.available(0), 0);
    assert.equal(gcra.available(250), 0);
    assert.equal(gcra.available(300), 1);
  });

  test("Gcra with an interval of 1000/3 ms has the whole burst back exactly 1000 ms on", () => {
    const gcra = taken(1000 / 3, 3, 3);
    assert.equal(gcra.available(1000), 3);
    assert.ok(gcra.wait(1000 / 3) <= EPSILON, "and the 4th call conforms at 1000/3 ms");
  });

  test("Gcra giveBack() frees a slot only when no later call was booked after it", () => {
    const gcra = new Gcra(100, 1);
    const first = gcra.take(0);
    const second = gcra.take(0);
    gcra.giveBack(first);
    assert.equal(gcra.wait(0), 200, "the second call keeps its slot");
    gcra.giveBack(second);
    assert.equal(gcra.wait(0), 100, "giving back the last call frees its slot");
  });
});
