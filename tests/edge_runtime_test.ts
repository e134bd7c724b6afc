// mod.ts and resilientFetch inside Vercel's edge runtime: the npm package
// `edge-runtime`, the sandbox `next dev` and `vercel dev` run edge functions
// in (a node:vm context with web globals only: no `process`, no `require`,
// and `EdgeRuntime === "edge-runtime"`). The bundle of
// tests/support/browser/web_scenarios.ts (esbuild, IIFE, conditions
// edge-light/worker/browser as Next.js builds an edge function) is its
// `initialCode`; the sandbox's fetch (the undici bundled in
// @edge-runtime/primitives, over the host's node:net) fetches from loopback
// fault servers this file starts.
//
// Unlike a browser, the edge runtime's fetch says why it failed (a
// `TypeError: fetch failed` whose `cause` carries ECONNREFUSED,
// ECONNRESET, undici's `UND_ERR_SOCKET` "other side closed", ...), so every
// fault keeps its precise kind.
//
// edge-runtime runs under Node 22, Node 24, Bun and Deno (measured). One
// scenario is gated: under Deno, undici (edge-runtime's, and npm's) never
// settles the read of a body cut short, not even when its signal aborts, so
// that scenario is skipped there with that reason.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { bundleWebScenarios, type FaultSet, startFaults } from "./support/browser/harness.ts";
import type { FetchOutcome, FetchSpec } from "./support/browser/web_scenarios.ts";
import { type EdgeSandbox, startEdgeSandbox } from "./support/edge/harness.ts";

const T = { timeout: 20_000 };
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno === "object";

describe("mod.ts and resilientFetch inside Vercel's edge runtime (npm edge-runtime)", () => {
  let faults: FaultSet | undefined;
  let sandbox: EdgeSandbox | undefined;

  before(async () => {
    const bundle = await bundleWebScenarios("edge");
    const started = await startFaults();
    faults = started;
    sandbox = startEdgeSandbox(bundle, async (command) => {
      if (command === "listen") return await started.listenLate();
      throw new Error(`unknown host command ${command}`);
    });
  });

  after(async () => {
    await faults?.close();
  });

  function env(): { faults: FaultSet; sandbox: EdgeSandbox } {
    assert.ok(faults && sandbox, "the sandbox is set up");
    return { faults, sandbox };
  }

  function fetchOnce(spec: (f: FaultSet) => FetchSpec): Promise<FetchOutcome> {
    const { faults, sandbox } = env();
    return sandbox.call<FetchOutcome>("fetchOnce", spec(faults));
  }

  /** The outcome of a fetch that failed, and what faultline made of it. */
  function assertFailure(
    r: FetchOutcome,
    want: { phase: "fetch" | "body"; kind: string; message: RegExp; causeCode?: string },
  ): void {
    const detail = JSON.stringify(r);
    assert.equal(r.settled, "error", detail);
    assert.equal(r.phase, want.phase, detail);
    assert.match(r.failure!.message, want.message, detail);
    assert.equal(r.failure!.kind, want.kind, detail);
    assert.equal(r.failure!.runtime, "edge-light", detail);
    if (want.causeCode !== undefined) {
      const cause = (r.failure!.error as { cause?: { code?: unknown } }).cause;
      assert.equal(cause?.code, want.causeCode, detail);
    }
  }

  test(
    "mod.ts and resilientFetch load; EdgeRuntime is defined; detectRuntime() is edge-light",
    T,
    async () => {
      const { sandbox } = env();
      const info = await sandbox.call("info");
      assert.equal(info.EdgeRuntime, "edge-runtime", "the sandbox defines EdgeRuntime as a string");
      assert.equal(info.detectRuntime, "edge-light");
      assert.equal(info.hasProcess, false, "no process in the sandbox");
    },
  );

  test("a refused connection is refused, sent: false", T, async () => {
    const r = await fetchOnce((f) => ({ url: f.urls.refused }));
    assertFailure(r, {
      phase: "fetch",
      kind: "refused",
      message: /^fetch failed$/,
      causeCode: "ECONNREFUSED",
    });
    assert.equal(r.failure!.sent, false);
  });

  test("a reset is reset", T, async () => {
    const r = await fetchOnce((f) => ({ url: f.urls.reset }));
    assertFailure(r, {
      phase: "fetch",
      kind: "reset",
      message: /^fetch failed$/,
      causeCode: "ECONNRESET",
    });
  });

  test("a FIN before the answer is closed", T, async () => {
    const r = await fetchOnce((f) => ({ url: f.urls.close }));
    assertFailure(r, {
      phase: "fetch",
      kind: "closed",
      message: /^fetch failed$/,
      causeCode: "UND_ERR_SOCKET",
    });
  });

  test("a body cut short is closed", {
    ...T,
    skip: isDeno &&
      "under Deno, undici (edge-runtime's and npm's) never settles the read of a body cut short, even when its signal aborts (measured: still pending after 4 s)",
  }, async () => {
    const r = await fetchOnce((f) => ({ url: f.urls.truncate, readBody: true }));
    assertFailure(r, {
      phase: "body",
      kind: "closed",
      message: /^terminated$/,
      causeCode: "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
    });
  });

  test("AbortSignal.timeout() on a stalled server is timeout", T, async () => {
    const r = await fetchOnce((f) => ({ url: f.urls.stall, timeoutMs: 200 }));
    assertFailure(r, { phase: "fetch", kind: "timeout", message: /./ });
    assert.equal(r.failure!.name, "TimeoutError");
  });

  test("the caller's abort is cancelled", T, async () => {
    const r = await fetchOnce((f) => ({ url: f.urls.stall, abortAfterMs: 50 }));
    assertFailure(r, { phase: "fetch", kind: "cancelled", message: /./ });
    assert.equal(r.failure!.name, "AbortError");
  });

  test("a URL fetch cannot parse stays unknown", T, async () => {
    const r = await fetchOnce(() => ({ url: "http://[/" }));
    assertFailure(r, { phase: "fetch", kind: "unknown", message: /Failed to parse URL/ });
  });

  test("retry() of a refused connection succeeds once the server is up", T, async () => {
    const { faults, sandbox } = env();
    const r = await sandbox.call<{ ok: boolean; body?: string; failures: Array<{ kind: string }> }>(
      "retryRefusedThenOk",
      faults.urls.late,
    );
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.body, "hello");
    assert.deepEqual(r.failures.map((f) => f.kind), ["refused"]);
  });

  test("circuitBreaker() opens after 3 refusals", T, async () => {
    const { faults, sandbox } = env();
    const r = await sandbox.call<{ calls: number; state: string; outcomes: unknown[] }>(
      "breakerOpens",
      faults.urls.refusedForBreaker,
      3,
    );
    assert.equal(r.calls, 3, JSON.stringify(r));
    assert.equal(r.state, "open");
    assert.deepEqual(
      r.outcomes.map((o) =>
        (o as { kind: string | null; name: string }).kind ?? (o as { name: string }).name
      ),
      ["refused", "refused", "refused", "BrokenCircuitError"],
    );
  });

  test("resilientFetch retries two 503s, then 200", T, async () => {
    const { faults, sandbox } = env();
    const before = faults.requests("flaky");
    const r = await sandbox.call("resilient", faults.urls.flaky);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.status, 200);
    assert.equal(r.body, "hello");
    assert.deepEqual(r.retries, [
      { attempt: 1, status: 503, kind: null },
      { attempt: 2, status: 503, kind: null },
    ]);
    assert.equal(faults.requests("flaky"), before + 3);
  });

  test("resilientFetch retries a GET that is reset, then rejects as reset", T, async () => {
    const { faults, sandbox } = env();
    const before = faults.requests("reset");
    const r = await sandbox.call<{ ok: boolean; failure: { kind: string }; retries: unknown[] }>(
      "resilient",
      faults.urls.reset,
    );
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(r.failure.kind, "reset");
    assert.equal(r.retries.length, 2);
    assert.equal(faults.requests("reset"), before + 3);
  });
});
