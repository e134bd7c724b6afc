// mod.ts and resilientFetch inside real headless Chromium (Debian's
// `chromium`, driven by playwright-core; no browser is downloaded). The page
// and its bundle (tests/support/browser/web_scenarios.ts, built with esbuild
// as a browser build would) are served from loopback; the page fetches from
// loopback fault servers this file starts, and reports back, through
// `page.evaluate`, what the browser threw and what faultline made of it.
//
// What Chromium tells a page (measured, Chromium 156): `TypeError: Failed to
// fetch` for a refused connection, a reset, a FIN before the answer, a body
// cut short and a CORS refusal alike. So the only honest kind is
// `connect_failed`: never `unknown` (which no policy retries or counts),
// never a guessed `refused`; and `sent` is never `false`. Its own timeout
// (`AbortSignal.timeout()`) and the caller's abort keep their kinds.
//
// playwright-core drives Chromium from Deno, Bun, Node 22 and Node 24 alike
// (measured), so this file runs in all four. Without Debian's chromium it
// says so loudly (and fails under CI=true). Loopback only: Chromium runs
// with no proxy and resolves no name but 127.0.0.1.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type BrowserSession,
  bundleWebScenarios,
  type FaultSet,
  findChromium,
  openBrowser,
  startFaults,
} from "./support/browser/harness.ts";
import type { FetchOutcome, FetchSpec } from "./support/browser/web_scenarios.ts";
import { suiteNotRun } from "./support/requirements.ts";

const chromium = findChromium();
// A scenario that hangs fails on its own instead of holding the run.
const T = { timeout: 20_000 };

if (chromium === undefined) {
  suiteNotRun("browser (Chromium)", "chromium");
} else {
  describe("faultline inside headless Chromium", () => {
    let faults: FaultSet;
    let browser: BrowserSession | undefined;

    before(async () => {
      const bundle = await bundleWebScenarios("browser");
      faults = await startFaults();
      browser = await openBrowser(chromium, bundle, async (command) => {
        if (command === "listen") return await faults.listenLate();
        throw new Error(`unknown host command ${command}`);
      });
    });

    after(async () => {
      await browser?.close();
      await faults?.close();
    });

    /** `faultlineWeb[name](...args)` in the page: its result, as plain data. */
    function inPage<R = Record<string, unknown>>(name: string, ...args: unknown[]): Promise<R> {
      return browser!.page.evaluate(
        `faultlineWeb[${JSON.stringify(name)}](...${JSON.stringify(args)})`,
      ) as Promise<R>;
    }

    const fetchOnce = (spec: FetchSpec) => inPage<FetchOutcome>("fetchOnce", spec);

    /** The outcome of a fetch that must fail with Chromium's one message. */
    function assertFailedToFetch(r: FetchOutcome, phase: "fetch" | "body"): void {
      const detail = JSON.stringify(r);
      assert.equal(r.settled, "error", detail);
      assert.equal(r.phase, phase, detail);
      const f = r.failure!;
      assert.equal(f.constructorName, "TypeError", detail);
      assert.equal(f.message, "Failed to fetch", detail);
      assert.equal(f.kind, "connect_failed", detail);
      assert.equal(f.retryable, true, detail);
      assert.notEqual(f.sent, false, "nothing says the request never left");
      assert.equal(f.runtime, "browser", detail);
      assert.match(f.hint, /CORS/, "the hint names CORS among the causes");
    }

    test("mod.ts and resilientFetch load in the page; detectRuntime() is browser", T, async () => {
      const info = await inPage("info");
      assert.equal(info.detectRuntime, "browser");
      assert.equal(info.hasProcess, false);
      assert.equal(info.hasDocument, true);
      assert.match(String(info.userAgent), /HeadlessChrome\//);
    });

    test("a refused connection: Failed to fetch, connect_failed (not refused)", T, async () => {
      assertFailedToFetch(await fetchOnce({ url: faults.urls.refused }), "fetch");
    });

    test("a reset after the request arrived: Failed to fetch, connect_failed", T, async () => {
      const before = faults.requests("reset");
      assertFailedToFetch(await fetchOnce({ url: faults.urls.reset }), "fetch");
      assert.equal(faults.requests("reset"), before + 1, "the request reached the server once");
    });

    test("a FIN before the answer: Failed to fetch, connect_failed", T, async () => {
      const before = faults.requests("close");
      assertFailedToFetch(await fetchOnce({ url: faults.urls.close }), "fetch");
      assert.equal(faults.requests("close"), before + 1, "the request reached the server once");
    });

    test("a body cut short (CORS allowed): the body read fails, connect_failed", T, async () => {
      assertFailedToFetch(await fetchOnce({ url: faults.urls.cutBody, readBody: true }), "body");
    });

    test("a body cut short without a CORS header: fetch fails, connect_failed", T, async () => {
      assertFailedToFetch(await fetchOnce({ url: faults.urls.truncate, readBody: true }), "fetch");
    });

    test(
      "a CORS refusal (a 200 without Access-Control-Allow-Origin): connect_failed",
      T,
      async () => {
        assertFailedToFetch(await fetchOnce({ url: faults.urls.noCors }), "fetch");
      },
    );

    test("AbortSignal.timeout() on a stalled server: timeout", T, async () => {
      const r = await fetchOnce({ url: faults.urls.stall, timeoutMs: 200 });
      const detail = JSON.stringify(r);
      assert.equal(r.settled, "error", detail);
      assert.equal(r.failure!.constructorName, "DOMException", detail);
      assert.equal(r.failure!.name, "TimeoutError", detail);
      assert.equal(r.failure!.kind, "timeout", detail);
    });

    test("the caller's abort on a stalled server: cancelled", T, async () => {
      const r = await fetchOnce({ url: faults.urls.stall, abortAfterMs: 50 });
      const detail = JSON.stringify(r);
      assert.equal(r.settled, "error", detail);
      assert.equal(r.failure!.constructorName, "DOMException", detail);
      assert.equal(r.failure!.name, "AbortError", detail);
      assert.equal(r.failure!.kind, "cancelled", detail);
      assert.equal(r.failure!.retryable, false, detail);
    });

    test(
      "a URL fetch cannot parse stays unknown (a bug, not a connection failure)",
      T,
      async () => {
        const r = await fetchOnce({ url: "http://[/" });
        assert.equal(r.failure?.constructorName, "TypeError", JSON.stringify(r));
        assert.match(r.failure!.message, /Failed to parse URL/);
        assert.equal(r.failure!.kind, "unknown");
      },
    );

    test("a readable answer is a response", T, async () => {
      const r = await fetchOnce({ url: faults.urls.ok, readBody: true });
      assert.deepEqual([r.settled, r.status, r.body], ["response", 200, "hello"]);
    });

    test("retry(): refused, then the server is up: the second attempt succeeds", T, async () => {
      const r = await inPage<{ ok: boolean; body?: string; failures: Array<{ kind: string }> }>(
        "retryRefusedThenOk",
        faults.urls.late,
      );
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.body, "hello");
      assert.deepEqual(r.failures.map((f) => f.kind), ["connect_failed"]);
    });

    test(
      "circuitBreaker(): opens after 3 connect_failed, then rejects without calling",
      T,
      async () => {
        const r = await inPage<{ calls: number; state: string; outcomes: unknown[] }>(
          "breakerOpens",
          faults.urls.refusedForBreaker,
          3,
        );
        assert.equal(r.calls, 3, JSON.stringify(r));
        assert.equal(r.state, "open");
        const failure = {
          broken: false,
          connectionError: true,
          kind: "connect_failed",
          name: "ConnectionError",
        };
        assert.deepEqual(r.outcomes, [
          failure,
          failure,
          failure,
          { broken: true, connectionError: false, kind: null, name: "BrokenCircuitError" },
        ]);
      },
    );

    test("resilientFetch: two 503s (Retry-After exposed to CORS), then 200", T, async () => {
      const before = faults.requests("flaky");
      const r = await inPage("resilient", faults.urls.flaky);
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.status, 200);
      assert.equal(r.body, "hello");
      assert.deepEqual(r.retries, [
        { attempt: 1, status: 503, kind: null },
        { attempt: 2, status: 503, kind: null },
      ]);
      assert.equal(faults.requests("flaky"), before + 3);
    });

    test(
      "resilientFetch: a GET that keeps failing to fetch is retried, then connect_failed",
      T,
      async () => {
        const before = faults.requests("reset");
        const r = await inPage<
          {
            ok: boolean;
            isConnectionError: boolean;
            failure: Record<string, unknown>;
            retries: unknown[];
          }
        >(
          "resilient",
          faults.urls.reset,
        );
        assert.equal(r.ok, false, JSON.stringify(r));
        assert.equal(r.isConnectionError, true);
        assert.equal(r.failure.kind, "connect_failed");
        const error = r.failure.error as Record<string, unknown>;
        assert.equal(error.operation, "fetch");
        assert.equal(error.host, "127.0.0.1");
        assert.deepEqual(r.retries, [
          { attempt: 1, status: null, kind: "connect_failed" },
          { attempt: 2, status: null, kind: "connect_failed" },
        ]);
        assert.equal(faults.requests("reset"), before + 3, "three attempts reached the server");
      },
    );

    test(
      "resilientFetch: a POST that fails to fetch is not retried (it may have been sent)",
      T,
      async () => {
        const before = faults.requests("close");
        const r = await inPage<{ ok: boolean; failure: { kind: string }; retries: unknown[] }>(
          "resilient",
          faults.urls.close,
          { method: "POST" },
        );
        assert.equal(r.ok, false, JSON.stringify(r));
        assert.equal(r.failure.kind, "connect_failed");
        assert.deepEqual(r.retries, []);
        assert.equal(faults.requests("close"), before + 1, "one attempt reached the server");
      },
    );
  });
}
