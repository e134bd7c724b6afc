/**
 * Records what headless Chromium's `fetch` and Vercel's edge runtime's `fetch`
 * REALLY throw for loopback faults, as fixtures for tests/client_fixtures_test.ts:
 *
 *   node_modules/node24/bin/node scripts/capture_browser_errors.ts
 *     -> tests/fixtures/clients/chromium.browser.json      (needs Debian's chromium)
 *     -> tests/fixtures/clients/edge-runtime.edge.json
 *
 * The faults, the page, the sandbox and the scenario code are the ones the tests use
 * (tests/support/browser/, tests/support/edge/): each error is serialized where it was
 * thrown (in the page, in the sandbox) exactly as scripts/capture_errors.ts serializes,
 * and rebuilt by tests/support/rebuild_error.ts. `expected` is the kind of the fault
 * that was provoked, as far as the client can know it: a browser says "Failed to fetch"
 * for every network failure, so every one of them is `connect_failed` there.
 *
 * Loopback only: every server listens on 127.0.0.1; Chromium runs with no proxy and
 * resolves no name but 127.0.0.1. The fixtures were recorded under Node 24. (Under Deno,
 * undici never settles the edge runtime's read of a cut body, so that fault is left out there.)
 */
import * as fs from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  bundleWebScenarios,
  type FaultSet,
  findChromium,
  openBrowser,
  startFaults,
} from "../tests/support/browser/harness.ts";
import type { FetchOutcome, FetchSpec } from "../tests/support/browser/web_scenarios.ts";
import { edgeRuntimeVersion, startEdgeSandbox } from "../tests/support/edge/harness.ts";
import type { ClientFixture, ClientFixtureFile } from "../tests/client_fixtures_test.ts";

const outDir = fileURLToPath(new URL("../tests/fixtures/clients/", import.meta.url));
const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const host = g.Deno
  ? `deno ${g.Deno.version.deno}`
  : g.Bun
  ? `bun ${g.Bun.version}`
  : `node ${process.versions.node}`;

/** One fault: how to provoke it, and the kind it must give. */
interface Fault {
  fault: string;
  spec: (f: FaultSet) => FetchSpec;
  expected: string;
  expectedSent?: boolean;
}

type Call = (spec: FetchSpec) => Promise<FetchOutcome>;

async function capture(faults: FaultSet, list: Fault[], call: Call, label: string) {
  const captured: ClientFixture[] = [];
  for (const f of list) {
    const r = await call(f.spec(faults));
    if (r.settled !== "error" || r.failure === undefined) {
      console.log(`[${label}] ${f.fault}: no error (status ${r.status}); not recorded`);
      continue;
    }
    const { constructorName, name, message, kind } = r.failure;
    const mark = kind === f.expected ? "ok" : `MISMATCH: normalizeError says ${kind}`;
    console.log(
      `[${label}] ${f.fault}: ${constructorName} ${name}: ${message} (${r.phase}) -> want ${f.expected}: ${mark}`,
    );
    captured.push({
      fault: f.fault,
      expected: f.expected,
      ...(f.expectedSent !== undefined ? { expectedSent: f.expectedSent } : {}),
      note: `thrown by ${r.phase === "body" ? "response.text()" : "fetch()"} after ${r.ms} ms`,
      error: r.failure.error,
    });
  }
  return captured;
}

function write(name: string, doc: ClientFixtureFile): void {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(outDir + name, JSON.stringify(doc, null, 2) + "\n");
  console.log(`wrote tests/fixtures/clients/${name} (${doc.captured.length} errors)`);
}

const faults = await startFaults();
try {
  // ---- Chromium ----
  const chromium = findChromium();
  if (chromium === undefined) {
    console.error(
      "chromium not found (apt-get install -y chromium): chromium.browser.json not written",
    );
  } else {
    const browser = await openBrowser(
      chromium,
      await bundleWebScenarios("browser"),
      () => Promise.resolve(),
    );
    try {
      const call: Call = (spec) =>
        browser.page.evaluate(`faultlineWeb.fetchOnce(${JSON.stringify(spec)})`) as Promise<
          FetchOutcome
        >;
      const captured = await capture(
        faults,
        [
          {
            fault: "refused (nothing listens)",
            spec: (f) => ({ url: f.urls.refused }),
            expected: "connect_failed",
          },
          {
            fault: "reset after the request arrived",
            spec: (f) => ({ url: f.urls.reset }),
            expected: "connect_failed",
          },
          {
            fault: "FIN before the answer",
            spec: (f) => ({ url: f.urls.close }),
            expected: "connect_failed",
          },
          {
            fault: "body cut short (200, Content-Length 100, 10 bytes, FIN; CORS allowed)",
            spec: (f) => ({ url: f.urls.cutBody, readBody: true }),
            expected: "connect_failed",
          },
          {
            fault: "body cut short, no Access-Control-Allow-Origin",
            spec: (f) => ({ url: f.urls.truncate, readBody: true }),
            expected: "connect_failed",
          },
          {
            fault: "CORS refusal (a 200 without Access-Control-Allow-Origin)",
            spec: (f) => ({ url: f.urls.noCors }),
            expected: "connect_failed",
          },
          {
            fault: "AbortSignal.timeout(200) on a stalled server",
            spec: (f) => ({ url: f.urls.stall, timeoutMs: 200 }),
            expected: "timeout",
          },
          {
            fault: "the caller's AbortController.abort() on a stalled server",
            spec: (f) => ({ url: f.urls.stall, abortAfterMs: 50 }),
            expected: "cancelled",
          },
          {
            fault: "negative: a URL fetch cannot parse",
            spec: () => ({ url: "http://[/" }),
            expected: "unknown",
          },
        ],
        call,
        "chromium",
      );
      write("chromium.browser.json", {
        client: "chromium",
        clientVersion: browser.version,
        runtime: "browser",
        runtimeVersion: `${browser.version} (headless, driven by playwright-core from ${host})`,
        captured,
      });
    } finally {
      await browser.close();
    }
  }

  // ---- edge-runtime ----
  const sandbox = startEdgeSandbox(await bundleWebScenarios("edge"), () => Promise.resolve());
  const call: Call = (spec) => sandbox.call<FetchOutcome>("fetchOnce", spec);
  const edgeFaults: Fault[] = [
    {
      fault: "refused (nothing listens)",
      spec: (f) => ({ url: f.urls.refused }),
      expected: "refused",
      expectedSent: false,
    },
    {
      fault: "reset after the request arrived",
      spec: (f) => ({ url: f.urls.reset }),
      expected: "reset",
    },
    { fault: "FIN before the answer", spec: (f) => ({ url: f.urls.close }), expected: "closed" },
    ...(g.Deno ? [] : [{
      fault: "body cut short (200, Content-Length 100, 10 bytes, FIN)",
      spec: (f: FaultSet) => ({ url: f.urls.truncate, readBody: true }),
      expected: "closed",
    }]),
    {
      fault: "AbortSignal.timeout(200) on a stalled server",
      spec: (f) => ({ url: f.urls.stall, timeoutMs: 200 }),
      expected: "timeout",
    },
    {
      fault: "the caller's AbortController.abort() on a stalled server",
      spec: (f) => ({ url: f.urls.stall, abortAfterMs: 50 }),
      expected: "cancelled",
    },
    {
      fault: "negative: a URL fetch cannot parse",
      spec: () => ({ url: "http://[/" }),
      expected: "unknown",
    },
  ];
  const captured = await capture(faults, edgeFaults, call, "edge-runtime");
  write("edge-runtime.edge.json", {
    client: "edge-runtime",
    clientVersion: edgeRuntimeVersion(),
    runtime: "edge",
    runtimeVersion: `edge-runtime ${edgeRuntimeVersion()} hosted by ${host}`,
    captured,
  });
} finally {
  await faults.close();
}
