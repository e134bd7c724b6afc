import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ManualClock } from "../clock.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { normalizeError } from "../errors/normalize_error.ts";
import { detectRuntime, type RuntimeName } from "../runtime.ts";
import { CHAOS_FAULTS, type ChaosFault, runtimeError } from "./_fault_shapes.ts";
import { constantBackoff } from "./backoff.ts";
import { chaos, type ChaosFaultEvent, type ChaosLatencyEvent } from "./chaos.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { timeout } from "./timeout.ts";

/** A `random` that returns the given draws in turn. */
function draws(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
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

describe("chaos()", () => {
  test("chaos() fails the attempts whose draw falls below the rate, without calling the operation", async () => {
    const policy = chaos({ rate: 0.3, fault: "refused", random: draws(0.1, 0.5, 0.29, 0.3) });
    let calls = 0;
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      await policy.execute(() => (calls++, "ok")).then(
        (v) => outcomes.push(v),
        (e: ConnectionError) => outcomes.push(e.kind),
      );
    }
    assert.deepEqual(outcomes, ["refused", "ok", "refused", "ok"]);
    assert.equal(calls, 2);
  });

  test("the injected error is a real ConnectionError of the kind asked for, its cause shaped as this runtime throws it", async () => {
    const policy = chaos({ rate: 1, fault: "refused", host: "db.internal", port: 5432 });
    const error = await rejection(policy.execute(() => "never"));
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, "refused");
    assert.equal(error.code, "ECONNREFUSED");
    assert.equal(error.retryable, true);
    assert.equal(error.sent, false);
    assert.equal(error.runtime, detectRuntime());
    assert.equal(error.host, "db.internal");
    assert.equal(error.port, 5432);
    assert.equal(error.operation, "connect");
    const cause = error.cause as Record<string, unknown>;
    assert.ok(cause instanceof Error);
    switch (detectRuntime()) {
      case "deno":
        assert.equal(cause.name, "ConnectionRefused");
        assert.equal(cause.message, "Connection refused (os error 111)");
        break;
      case "bun":
        assert.equal(cause.message, "Failed to connect");
        assert.equal(cause.errno, -111);
        assert.equal(cause.syscall, "connect");
        break;
      default:
        assert.equal(cause.message, "connect ECONNREFUSED db.internal:5432");
        assert.deepEqual(
          [cause.errno, cause.syscall, cause.address, cause.port],
          [-111, "connect", "db.internal", 5432],
        );
    }
    // What a user's own handling of the raw error sees is what production shows.
    assert.equal(normalizeError(cause).kind, "refused");
  });

  const runtimes: RuntimeName[] = ["node", "deno", "bun", "workerd", "browser", "edge-light"];
  test("every fault, in every runtime's shape, normalizes to its own kind", () => {
    for (const runtime of runtimes) {
      for (const kind of CHAOS_FAULTS) {
        const cause = runtimeError(kind, runtime, { host: "10.0.0.7", port: 6379 });
        assert.equal(normalizeError(cause).kind, kind, `${kind} on ${runtime}: ${cause.message}`);
      }
    }
  });

  test("every fault injected here leaves as a ConnectionError of its kind, retryable as a real one", async () => {
    for (const fault of CHAOS_FAULTS) {
      const error = await rejection(chaos({ rate: 1, fault }).execute(() => "never"));
      assert.ok(error instanceof ConnectionError, fault);
      assert.equal(error.kind, fault);
      assert.equal(error.retryable, fault === "dns" ? false : new ConnectionError(fault).retryable);
    }
  });

  // The shapes are those recorded in tests/fixtures (scripts/capture_errors.ts).
  const recorded: Array<[string, string, string, ChaosFault, RuntimeName]> = [
    ["node24", "node:net", "refused-127.0.0.1", "refused", "node"],
    ["node24", "node:net", "dns-failure", "dns", "node"],
    ["node24", "node:net", "reset-while-reading", "reset", "node"],
    ["node24", "node:net", "broken-pipe-after-fin", "broken_pipe", "node"],
    ["node24", "node:net", "eaddrinuse-listen", "address_in_use", "node"],
    ["node24", "node:net", "eaddrnotavail-localAddress", "address_unavailable", "node"],
    ["deno", "Deno.connect", "refused-127.0.0.1", "refused", "deno"],
    ["deno", "Deno.connect", "dns-failure", "dns", "deno"],
    ["deno", "Deno.connect", "reset-while-reading (conn.read())", "reset", "deno"],
    ["deno", "Deno.connect", "broken-pipe-after-fin (conn.write())", "broken_pipe", "deno"],
    ["deno", "Deno.connectTls", "tls-garbage-reply", "tls", "deno"],
    ["deno", "Deno.connectTls", "tls-accept-close", "closed", "deno"],
    ["deno", "Deno.listen", "eaddrinuse-listen", "address_in_use", "deno"],
    ["deno", "Deno.listen", "eaddrnotavail-listen", "address_unavailable", "deno"],
    ["bun", "Bun.connect", "refused-127.0.0.1", "refused", "bun"],
    ["bun", "Bun.connect", "dns-failure", "dns", "bun"],
    ["bun", "Bun.connect", "reset-while-reading", "reset", "bun"],
    ["bun", "Bun.connect", "broken-pipe-after-fin-allowHalfOpen", "broken_pipe", "bun"],
    ["bun", "Bun.connect(tls)", "tls-garbage-reply", "tls", "bun"],
    ["bun", "Bun.listen", "eaddrinuse-listen", "address_in_use", "bun"],
    ["bun", "Bun.listen", "eaddrnotavail-listen", "address_unavailable", "bun"],
    ["workerd", "cloudflare:sockets", "refused-127.0.0.1", "connect_failed", "workerd"],
  ];
  test("the injected causes have the name, message, code, errno, syscall and address recorded from each runtime", () => {
    const fixtures = new Map<string, { captured: Array<Record<string, unknown>> }>();
    for (const [file, api, scenario, kind, runtime] of recorded) {
      if (!fixtures.has(file)) {
        const url = new URL(`../../tests/fixtures/errors_${file}.json`, import.meta.url);
        fixtures.set(file, JSON.parse(readFileSync(url, "utf8")));
      }
      const entry = fixtures.get(file)!.captured.find((c) =>
        c.api === api && c.scenario === scenario && c.error !== undefined
      );
      assert.ok(entry, `${file} ${api} ${scenario} is recorded`);
      const want = entry.error as Record<string, unknown>;
      const t = entry.target as Record<string, unknown>;
      const host = (t.localAddress ?? t.host ?? t.hostname) as string;
      const cause = runtimeError(kind, runtime, { host, port: t.port as number }) as unknown as
        & Error
        & Record<string, unknown>;
      const where = `${runtime} ${kind} (${api} ${scenario})`;
      assert.equal(cause.name, want.name, where);
      assert.equal(cause.message, want.message, where);
      for (const key of ["code", "errno", "syscall", "address", "port", "hostname"]) {
        assert.equal(cause[key], want[key], `${where}: ${key}`);
      }
    }
  });

  test("enabled: false, or a rate of 0, never touches a call; a function is read on every attempt", async () => {
    let drawn = 0;
    const random = () => (drawn++, 0);
    assert.equal(
      await chaos({ rate: 1, fault: "reset", enabled: false, random }).execute(() => 1),
      1,
    );
    assert.equal(drawn, 0, "no draw when disabled");
    assert.equal(await chaos({ rate: 0, fault: "reset", random }).execute(() => 2), 2);
    let on = false;
    const switched = chaos({ rate: 1, fault: "reset", enabled: () => on });
    assert.equal(await switched.execute(() => "calm"), "calm");
    on = true;
    assert.equal(
      ((await rejection(switched.execute(() => "calm"))) as ConnectionError).kind,
      "reset",
    );
    on = false;
    assert.equal(await switched.execute(() => "calm again"), "calm again");
  });

  test("latencyMs delays the attempt on the clock, then runs it; no timer is left", async () => {
    const clock = new ManualClock();
    const events: ChaosLatencyEvent[] = [];
    const policy = chaos({ rate: 1, latencyMs: 250, clock });
    policy.onLatencyInjected((e) => events.push(e));
    let ran = false;
    const call = policy.execute(() => (ran = true, "late"));
    await clock.advance(249);
    assert.equal(ran, false);
    await clock.advance(1);
    assert.equal(await call, "late");
    assert.deepEqual(events, [{ attempt: 1, latencyMs: 250 }]);
    assert.equal(clock.pendingTimers, 0);
  });

  test("with latencyMs and fault, the attempt waits, then fails", async () => {
    const clock = new ManualClock();
    const policy = chaos({ rate: 1, latencyMs: 100, fault: "timeout", clock });
    let settled = false;
    const call = rejection(policy.execute(() => "never")).finally(() => (settled = true));
    await clock.advance(99);
    assert.equal(settled, false);
    await clock.advance(1);
    assert.equal(((await call) as ConnectionError).kind, "timeout");
    assert.equal(clock.pendingTimers, 0);
  });

  test("an abort during the delay rejects at once as cancelled, leaving no timer or listener", async () => {
    const clock = new ManualClock();
    const { controller, listeners } = countingController();
    const policy = chaos({ rate: 1, latencyMs: 10_000, clock });
    let ran = false;
    const call = rejection(policy.execute(() => (ran = true), controller.signal));
    await clock.advance(10);
    assert.equal(listeners(), 1);
    controller.abort(new Error("caller gave up"));
    const error = (await call) as ConnectionError;
    assert.equal(error.kind, "cancelled");
    assert.equal(ran, false);
    assert.equal(listeners(), 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("a timeout outside the injected latency gives up on it, and nothing is left behind", async () => {
    const clock = new ManualClock();
    const policy = pipeline(timeout(100, { clock }), chaos({ rate: 1, latencyMs: 5_000, clock }));
    const call = rejection(policy.execute(() => "late"));
    await clock.advance(100);
    assert.equal(((await call) as ConnectionError).kind, "timeout");
    assert.equal(clock.pendingTimers, 0);
  });

  test("innermost in a pipeline, it shows the retry outside it recovering, and tells of each fault", async () => {
    const faults: ChaosFaultEvent[] = [];
    const inner = chaos({ rate: 0.5, fault: "reset", random: draws(0.1, 0.2, 0.9) });
    inner.onFaultInjected((e) => faults.push(e));
    const outer = pipeline(retry({ maxAttempts: 3, backoff: constantBackoff(0) }), inner);
    assert.equal(await outer.execute(({ attempt }) => `attempt ${attempt}`), "attempt 3");
    assert.deepEqual(faults.map((e) => [e.attempt, e.error.kind]), [[1, "reset"], [2, "reset"]]);
  });

  test("an enabled or random that throws rejects the call with what it threw; execute never throws", async () => {
    const boom = new Error("flag service down");
    const enabled = () => {
      throw boom;
    };
    assert.equal(
      await rejection(chaos({ rate: 1, fault: "reset", enabled }).execute(() => 1)),
      boom,
    );
    const random = () => {
      throw boom;
    };
    assert.equal(
      await rejection(chaos({ rate: 1, fault: "reset", random }).execute(() => 1)),
      boom,
    );
  });

  test("bad options are refused at construction, naming the option", () => {
    const cases: Array<[unknown, typeof TypeError | typeof RangeError, string]> = [
      [
        undefined,
        TypeError,
        "Cannot create chaos as 'rate' must be a number from 0 to 1: current value is undefined",
      ],
      [
        { rate: 2, fault: "reset" },
        RangeError,
        "Cannot create chaos as 'rate' must be a number from 0 to 1: current value is 2",
      ],
      [
        { rate: NaN, fault: "reset" },
        RangeError,
        "'rate' must be a number from 0 to 1: current value is NaN",
      ],
      [
        { rate: 0.1 },
        TypeError,
        "Cannot create chaos as 'fault' must be a kind to inject when 'latencyMs' is not above 0",
      ],
      [{ rate: 0.1, fault: "cancelled" }, TypeError, "'fault' must be one of refused, reset"],
      [
        { rate: 0.1, latencyMs: -1 },
        RangeError,
        "'latencyMs' must be a finite non-negative number",
      ],
      [
        { rate: 0.1, fault: "reset", enabled: "yes" },
        TypeError,
        "'enabled' must be a boolean or a function",
      ],
      [{ rate: 0.1, fault: "reset", random: 0.5 }, TypeError, "'random' must be a function"],
      [{ rate: 0.1, fault: "reset", clock: {} }, TypeError, "'clock' must be a Clock"],
      [
        { rate: 0.1, fault: "reset", port: 70000 },
        RangeError,
        "'port' must be an integer from 0 to 65535",
      ],
      [{ rate: 0.1, fault: "reset", host: 1 }, TypeError, "'host' must be a string"],
      ["fast", TypeError, "Cannot create chaos as 'options' must be an object"],
    ];
    for (const [options, type, message] of cases) {
      assert.throws(() => chaos(options as never), (e: Error) => {
        assert.ok(e instanceof type, `${e.name}: ${e.message}`);
        assert.ok(e.message.includes(message), e.message);
        return true;
      });
    }
  });
});
