// The chaos proxy itself: each fault does what it says, seen through the
// library's connect() in every runtime; decisions replay from the seed; the
// counts add up; and stop() leaves nothing behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, isConnectionError, timeout } from "../mod.ts";
import {
  ChaosPlan,
  type ChaosProxy,
  FAULT_KINDS,
  type FaultKind,
  spawnChaosProxy,
  startChaosProxy,
} from "./support/chaos_proxy.ts";
import { request } from "./support/chaos_client.ts";

async function only<T>(
  fault: FaultKind,
  fn: (proxy: ChaosProxy) => Promise<T>,
  extra: Parameters<typeof startChaosProxy>[0] = {},
): Promise<T> {
  const proxy = await startChaosProxy({
    seed: 7,
    weights: { [fault]: 1 },
    refuseEvery: null,
    maxDelayMs: 5,
    ...extra,
  });
  try {
    return await fn(proxy);
  } finally {
    const stats = await proxy.stop();
    assert.equal(stats.openSockets, 0, "stop() leaves no socket");
  }
}

async function outcome(port: number, id: string): Promise<string> {
  try {
    return await request(port, id);
  } catch (error) {
    assert.ok(error instanceof ConnectionError, `a ConnectionError: ${String(error)}`);
    return `error:${error.kind}`;
  }
}

test("pass, slice and delay deliver every reply intact, to its own caller", async () => {
  for (const fault of ["pass", "slice", "delay"] as const) {
    await only(fault, async (proxy) => {
      const ids = Array.from({ length: 20 }, (_, i) => `${fault}-${i}-${"x".repeat(i * 7)}`);
      const replies = await Promise.all(ids.map((id) => request(proxy.port, id)));
      assert.deepEqual(replies, ids.map((id) => `ok ${id}`), fault);
      const stats = await proxy.stats();
      assert.equal(stats.accepted, 20);
      assert.equal(stats.faults[fault], 20);
      assert.equal(stats.upstream, 20);
    });
  }
});

test("reset, reset_mid, close_mid and close_at_once fail as connection errors", async () => {
  const expected: Record<string, readonly string[]> = {
    // A reset may reach the client while it writes (broken pipe) or reads (reset);
    // Deno and Bun may also read it as an early end.
    reset: ["error:reset", "error:broken_pipe", "error:closed"],
    reset_mid: ["error:reset", "error:broken_pipe", "error:closed"],
    close_mid: ["error:closed"],
    close_at_once: ["error:closed", "error:broken_pipe", "error:reset"],
  };
  for (const fault of ["reset", "reset_mid", "close_mid", "close_at_once"] as const) {
    await only(fault, async (proxy) => {
      for (let i = 0; i < 5; i++) {
        const got = await outcome(proxy.port, `${fault}-${i}`);
        assert.ok(expected[fault]!.includes(got), `${fault}: ${got}`);
      }
      assert.equal((await proxy.stats()).faults[fault], 5);
    });
  }
});

test("stall accepts and never answers: only a timeout ends the call", async () => {
  await only("stall", async (proxy) => {
    const policy = timeout(50);
    const error = await policy.execute(({ signal }) => request(proxy.port, "s", signal)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isConnectionError(error, "timeout"), String(error));
    assert.equal((await proxy.stats()).faults.stall, 1);
  });
});

test("a refusal window refuses connects, then the proxy listens again on the same port", async () => {
  await only("pass", async (proxy) => {
    assert.equal(await request(proxy.port, "before"), "ok before");
    // The window opened after that accept and lasts 60 s: a connect now is refused.
    assert.equal(await outcome(proxy.port, "during"), "error:refused");
    const stats = await proxy.stats();
    assert.equal(stats.refuseWindows, 1);
    assert.equal(stats.accepted, 1);
  }, { refuseEvery: [1, 1], refuseWindowMs: 60_000 });

  await only("pass", async (proxy) => {
    assert.equal(await request(proxy.port, "a"), "ok a");
    // A 1 ms window: poll (bounded) until it listens again.
    let got = "";
    for (let i = 0; i < 200 && got !== "ok b"; i++) {
      got = await outcome(proxy.port, "b");
      if (got !== "ok b") await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(got, "ok b");
  }, { refuseEvery: [1_000_000, 1_000_000], refuseWindowMs: 1 });
});

test("the same seed gives the same decisions; another seed, others", () => {
  const seq = (seed: number) => {
    const plan = new ChaosPlan({ seed, refuseEvery: [3, 9] });
    return Array.from({ length: 500 }, () => {
      const d = plan.next();
      return `${d.fault}/${d.delayMs}/${d.prefix}/${d.refuseAfter}/${plan.slice().join(",")}`;
    });
  };
  assert.deepEqual(seq(42), seq(42));
  assert.notDeepEqual(seq(42), seq(43));
  const kinds = new Set(seq(42).map((s) => s.split("/")[0]));
  assert.deepEqual([...kinds].sort(), [...FAULT_KINDS].sort(), "every fault drawn in 500");
  assert.ok(seq(42).some((s) => s.includes("/true/")), "refusal windows scheduled");
});

test("a mixed run counts every fault it injected", async () => {
  const proxy = await startChaosProxy({ seed: 3, refuseEvery: null, maxDelayMs: 5 });
  try {
    const got = await Promise.all(
      Array.from(
        { length: 60 },
        (_, i) =>
          timeout(500).execute(({ signal }) =>
            request(proxy.port, `m${i}`, signal).catch((e: unknown) => {
              if (e instanceof ConnectionError) return `error:${e.kind}`;
              throw e;
            })
          ).catch((e: unknown) => `error:${(e as ConnectionError).kind}`),
      ),
    );
    const stats = await proxy.stats();
    assert.equal(stats.accepted, 60);
    assert.equal(Object.values(stats.faults).reduce((a, b) => a + b, 0), 60);
    const ok = got.filter((g, i) => g === `ok m${i}`).length;
    // Every call that got a reply got its own; the others failed as connection errors.
    assert.ok(got.every((g, i) => g === `ok m${i}` || g.startsWith("error:")), got.join());
    assert.ok(ok >= stats.faults.pass, `${ok} replies, ${stats.faults.pass} passed`);
  } finally {
    assert.equal((await proxy.stop()).openSockets, 0);
  }
});

test("spawnChaosProxy() runs the same proxy in a Node child process", async () => {
  const proxy = await spawnChaosProxy({ seed: 5, weights: { pass: 1 }, refuseEvery: null });
  try {
    assert.equal(await request(proxy.port, "child"), "ok child");
    assert.equal((await proxy.stats()).faults.pass, 1);
  } finally {
    const final = await proxy.stop();
    assert.equal(final.accepted, 1);
    assert.equal(final.openSockets, 0);
  }
});
