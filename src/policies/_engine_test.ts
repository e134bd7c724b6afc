// Watched: the context of a timeout or a hedge attempt, heard by the layers
// inside as they would hear an AbortSignal, without one being made.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type AbortListener, type AbortSource, givenSignal, signalOf, Watched } from "./_engine.ts";
import { Context } from "./_context.ts";
import { bulkhead } from "./bulkhead.ts";
import { circuitBreaker } from "./circuit_breaker.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { consecutiveFailures } from "./trip/consecutive_failures.ts";
import type { ExecutionContext } from "./types.ts";

class Probe extends Watched {
  readonly attempt = 1;
  aborted = false;
  reason: unknown = undefined;
  made = 0;

  override get signal(): AbortSignal {
    this.made++;
    return super.signal;
  }

  end(reason: unknown): void {
    this.aborted = true;
    this.reason = reason;
    this.abort(reason);
  }
}

/** What a real AbortSignal and a Watched context both are, to compare them. */
type Listenable = Pick<AbortSource, "addEventListener" | "removeEventListener">;

function listener(log: string[], name: string): AbortListener {
  return { handleEvent: () => log.push(name) };
}

describe("Watched", () => {
  test("calls its listeners once each, in the order they were added, as a signal does", () => {
    const source = new Probe();
    const log: string[] = [];
    const [a, b, c, d] = ["a", "b", "c", "d"].map((n) => listener(log, n));
    source.addEventListener("abort", a!);
    source.addEventListener("abort", b!);
    source.addEventListener("abort", c!);
    source.removeEventListener("abort", a!);
    source.addEventListener("abort", d!); // after b and c, though the first place is free
    source.removeEventListener("abort", c!);
    source.removeEventListener("abort", listener(log, "never added"));
    source.end("why");
    assert.deepEqual(log, ["b", "d"]);
    source.end("again");
    assert.deepEqual(log, ["b", "d"], "heard once");
    const alone = new Probe();
    const e = listener(log, "removed, alone");
    alone.addEventListener("abort", e);
    alone.removeEventListener("abort", e);
    alone.end("why");
    assert.deepEqual(log, ["b", "d"]);
  });

  test("a listener removed by an earlier one in the same abort is skipped, as a signal skips it", () => {
    const heard = (target: Listenable, abort: () => void): string[] => {
      const log: string[] = [];
      const second = listener(log, "second");
      target.addEventListener("abort", {
        handleEvent: () => {
          log.push("first");
          target.removeEventListener("abort", second);
        },
      });
      target.addEventListener("abort", second);
      target.addEventListener("abort", listener(log, "third"));
      abort();
      return log;
    };
    const controller = new AbortController();
    const source = new Probe();
    const expected = heard(controller.signal, () => controller.abort());
    assert.deepEqual(expected, ["first", "third"]);
    assert.deepEqual(heard(source, () => source.end("why")), expected);
  });

  test("listeners that remove others while the abort is told: a later one is skipped, an earlier one changes nothing", () => {
    const heard = (target: Listenable, abort: () => void): string[] => {
      const log: string[] = [];
      const named: Record<string, AbortListener> = {};
      const removes: Record<string, string> = { one: "three", four: "two", five: "six" };
      for (const name of ["one", "two", "three", "four", "five", "six"]) {
        named[name] = {
          handleEvent: () => {
            log.push(name);
            const other = removes[name];
            if (other !== undefined) target.removeEventListener("abort", named[other]!);
          },
        };
        target.addEventListener("abort", named[name]!);
      }
      abort();
      return log;
    };
    const controller = new AbortController();
    const source = new Probe();
    const expected = heard(controller.signal, () => controller.abort());
    assert.deepEqual(expected, ["one", "two", "four", "five"]);
    assert.deepEqual(heard(source, () => source.end("why")), expected);
  });

  test("signalOf() hears a Watched context without making its signal; givenSignal() makes it", () => {
    const source = new Probe();
    assert.equal(signalOf(source), source);
    assert.equal(source.made, 0);
    assert.ok(givenSignal(source) instanceof AbortSignal);
    assert.equal(source.made, 1);
    const made = givenSignal(source)!;
    assert.equal(source.signal, made, "one signal, however often read");
    source.end("why");
    assert.deepEqual([made.aborted, made.reason], [true, "why"], "made before: aborts with it");
    const ended = new Probe();
    ended.end("gone");
    assert.deepEqual([ended.signal.aborted, ended.signal.reason], [true, "gone"], "made after");
    const given = new AbortController().signal;
    assert.equal(signalOf(new Context(given, 2)), given);
    assert.equal(givenSignal(new Context(given, 2)), given);
    assert.equal(signalOf(new Context(undefined, 1)), undefined, "no signal is made for none");
    const plain = { attempt: 1, signal: given };
    assert.equal(signalOf(plain), given);
    assert.equal(givenSignal(plain), given);
  });
});

describe("a call without a signal", () => {
  test("hands each operation a context of its own, whose signal never aborts", async () => {
    const policies = {
      retry: retry(),
      circuitBreaker: circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 1000 }),
      bulkhead: bulkhead(2),
      "pipeline(retry, circuitBreaker)": pipeline(
        retry(),
        circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 1000 }),
      ),
    };
    for (const [name, policy] of Object.entries(policies)) {
      const seen: ExecutionContext[] = [];
      for (let i = 0; i < 2; i++) {
        await policy.execute((ctx) => {
          seen.push(ctx);
          ctx.signal.addEventListener("abort", () => {});
        });
      }
      const [a, b] = seen as [ExecutionContext, ExecutionContext];
      assert.notEqual(a, b, `${name}: one context per call`);
      assert.notEqual(a.signal, b.signal, `${name}: one signal per call`);
      assert.deepEqual([a.attempt, a.signal.aborted], [1, false], name);
    }
  });
});
