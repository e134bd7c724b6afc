// The Workers adapter (src/connect/cloudflare.ts) inside the real workerd:
// tests/support/workerd/worker.ts is bundled with esbuild as wrangler would
// (ESM, `cloudflare:sockets` external) and run by Miniflare, which starts
// workerd from npm. Each scenario is one request to the worker; the worker
// connects to loopback servers this file starts, and answers with what it saw.
//
// Loopback only: the workers' outbound network is a workerd network service
// that allows 127.0.0.1/32 and nothing else (Miniflare's default would allow
// every public and private address), for connect() and fetch() alike.
//
// Two workers run the same bundle. "tls-network" has TLS enabled on its
// outbound network, as Miniflare's default and any Workers deployment that
// uses `secureTransport` need; "plain-network" has not, and there workerd
// reports a reset where "tls-network" hides it as a clean end of stream.
//
// Miniflare runs under Node only: Deno and Bun skip this file.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Readable } from "node:stream";
import type { Server } from "node:http";
import type { Miniflare } from "miniflare";
import * as esbuild from "esbuild";
import {
  closedPort,
  type FaultPorts,
  type Running,
  startFaultServer,
  startStalledListener,
} from "./support/faults.ts";
import type { WorkerPorts } from "./support/workerd/worker.ts";

const g = globalThis as Record<string, unknown>;
const SKIP = typeof g.Deno === "object"
  ? "Miniflare (workerd) is driven from Node; Deno runs no workerd"
  : typeof g.Bun === "object"
  ? "Miniflare (workerd) is driven from Node; Bun runs no workerd"
  : false;

const entry = fileURLToPath(new URL("./support/workerd/worker.ts", import.meta.url));
const LOOPBACK_ONLY = ["127.0.0.1/32"];
const COMPATIBILITY_DATE = "2025-01-01";

type Result = Record<string, unknown> & { ok: boolean };

// A scenario that hangs fails on its own instead of holding the run.
const T = { timeout: 20_000 };

describe("connect() from cloudflare:sockets and fetch() inside workerd", { skip: SKIP }, () => {
  let mf: Miniflare | undefined;
  let faults: Running<FaultPorts> | undefined;
  let stalled: Running<{ stall: number }> | undefined;
  let http: Server | undefined;
  let ports: WorkerPorts;
  let runtimeLog = "";

  before(async () => {
    const [{ Miniflare }, nodeHttp, bundle] = await Promise.all([
      import("miniflare"),
      import("node:http"),
      esbuild.build({
        entryPoints: [entry],
        bundle: true,
        format: "esm",
        platform: "neutral",
        conditions: ["workerd", "worker", "browser"],
        external: ["cloudflare:sockets"],
        write: false,
        logLevel: "silent",
      }),
    ]);
    await esbuild.stop();
    const script = bundle.outputFiles[0].text;
    assert.match(script, /from\s*"cloudflare:sockets"/, "cloudflare:sockets stays external");
    faults = await startFaultServer();
    stalled = await startStalledListener();
    let flaky = 0;
    http = nodeHttp.createServer((req, res) => {
      if (req.url === "/flaky" && flaky++ % 2 === 0) {
        res.writeHead(503, { "retry-after": "0" }).end("busy");
      } else if (req.url === "/always503") res.writeHead(503).end("still busy");
      else res.end("hello from loopback");
    });
    await new Promise<void>((resolve) => http!.listen({ host: "127.0.0.1", port: 0 }, resolve));
    const address = http.address();
    ports = {
      ...faults.ports,
      closed: await closedPort(),
      stall: stalled.ports.stall,
      http: typeof address === "object" && address ? address.port : 0,
    };
    const worker = (name: string, tls: boolean) => ({
      name,
      routes: [`${name}.test/*`],
      modules: true,
      script,
      compatibilityDate: COMPATIBILITY_DATE,
      outboundService: {
        network: { allow: LOOPBACK_ONLY, deny: [], ...(tls ? { tlsOptions: {} } : {}) },
      },
    });
    mf = new Miniflare({
      workers: [worker("tls-network", true), worker("plain-network", false)],
      // workerd logs every internal error with a stack; keep the last lines
      // for a failing test's message instead of printing them.
      handleRuntimeStdio(stdout: Readable, stderr: Readable) {
        const keep = (chunk: unknown) => void (runtimeLog = (runtimeLog + chunk).slice(-4000));
        stdout.on("data", keep);
        stderr.on("data", keep);
      },
    });
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
    await faults?.stop();
    await stalled?.stop();
    if (http) await new Promise((resolve) => http!.close(resolve));
  });

  async function run(scenario: string, worker = "tls-network"): Promise<Result> {
    const query = new URLSearchParams({ scenario, ports: JSON.stringify(ports) });
    const response = await mf!.dispatchFetch(`http://${worker}.test/?${query}`);
    const text = await response.text();
    assert.equal(response.status, 200, `${text}\n${runtimeLog}`);
    return JSON.parse(text) as Result;
  }

  test("echo: write, read, half-close, addresses", T, async () => {
    const r = await run("echo");
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.text, "ping");
    assert.equal(r.rest, "", "our half-close ends the echo server's stream");
    assert.deepEqual(r.remoteAddr, { hostname: "127.0.0.1", port: ports.echo });
    // workerd does not tell the local address.
    assert.deepEqual(r.localAddr, { hostname: "", port: 0 });
  });

  test("refused: connect_failed (workerd says the same for DNS and TLS failures)", T, async () => {
    const r = await run("refused");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "connect_failed");
    assert.equal(r.operation, "connect");
    assert.equal(r.runtime, "workerd");
    assert.equal(r.host, "127.0.0.1");
    assert.equal(r.port, ports.closed);
    assert.equal(r.retryable, true);
    assert.equal(
      r.causeMessage,
      "proxy request failed, cannot connect to the specified address",
    );
  });

  test("a reset while reading reads as a clean end of stream (workerd hides it)", T, async () => {
    const r = await run("reset while reading");
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.greeting, "hello\n");
    assert.equal(r.afterReset, "eof");
  });

  test("without TLS on the outbound network, workerd reports the reset: closed", T, async () => {
    const r = await run("reset while reading", "plain-network");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "closed");
    assert.equal(r.operation, "read");
    assert.equal(r.causeMessage, "Network connection lost.");
  });

  test("writing after the peer closed and reset: closed, the same error again", T, async () => {
    const r = await run("write after the peer closed");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.text, "partial");
    assert.equal(r.kind, "closed");
    assert.equal(r.operation, "write");
    assert.equal(r.again, true);
  });

  test("half-open: writing after the peer's FIN still works", T, async () => {
    const r = await run("half-open: write after the peer's FIN");
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.text, "partial");
  });

  test("writing after close(): closed", T, async () => {
    const r = await run("write after close()");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "closed");
    assert.equal(r.operation, "write");
  });

  test("connect timeout: timeout, with timeoutMs", T, async () => {
    const r = await run("connect timeout");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "timeout");
    assert.equal(r.timeoutMs, 300);
    assert.equal(r.operation, "connect");
  });

  test("TLS against a plain TCP server: connect_failed (as refused and DNS)", T, async () => {
    const r = await run("TLS against a plain TCP server");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "connect_failed");
    assert.equal(r.operation, "tls");
  });

  test("a TLS handshake that never answers: timeout", T, async () => {
    const r = await run("TLS handshake that never answers");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "timeout");
    assert.equal(r.operation, "tls");
  });

  test("an already-aborted signal: cancelled", T, async () => {
    const r = await run("already-aborted signal");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "cancelled");
  });

  test("aborting while connecting: cancelled", T, async () => {
    const r = await run("abort while connecting");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "cancelled");
  });

  test(
    "the signal covers the connection: aborting ends a pending read as cancelled",
    T,
    async () => {
      const r = await run("abort during a read");
      assert.equal(r.connectionError, true, JSON.stringify(r));
      assert.equal(r.kind, "cancelled");
      assert.equal(r.operation, "connect");
    },
  );

  test("bad arguments: TypeError or RangeError naming the option", T, async () => {
    const r = await run("bad arguments");
    assert.match(String(r["port 70000"]), /^RangeError: .*'port'/);
    assert.match(String(r["empty hostname"]), /^TypeError: .*'hostname'/);
    assert.match(String(r["negative timeout"]), /^RangeError: .*'timeout'/);
    assert.match(String(r["hostname workerd refuses"]), /^TypeError: .*'hostname'.*"a b"/);
    assert.match(String(r["tls.serverName"]), /^TypeError: .*'tls.serverName'/);
    assert.match(String(r["tls.caCerts"]), /^TypeError: .*'tls.caCerts'/);
  });

  test("connects and refusals leave no listener on a long-lived signal", T, async () => {
    const r = await run("no listener left on a long-lived signal");
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.deepEqual(r.refusedKinds, ["connect_failed"]);
    assert.equal(r.live, 0);
  });

  test("fetch works through the loopback-only network", T, async () => {
    const r = await run("fetch works");
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.status, 200);
    assert.equal(r.body, "hello from loopback");
  });

  test(
    "resilientFetch in workerd: retries a 503, keeps a POST's 503, refused is connect_failed",
    T,
    async () => {
      const r = await run("resilientFetch in workerd");
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.flakyStatus, 200);
      assert.equal(r.flakyBody, "hello from loopback");
      assert.equal(r.flakyRetries, 1);
      assert.equal(r.postStatus, 503);
      assert.equal(r.postBody, "still busy");
      assert.equal(r.postRetries, 0);
      const refused = r.refused as Record<string, unknown>;
      assert.equal(refused.connectionError, true, JSON.stringify(refused));
      assert.equal(refused.kind, "connect_failed");
      assert.equal(refused.operation, "fetch");
    },
  );

  test("fetch to a closed port, normalized: connect_failed", T, async () => {
    const r = await run("fetch to a closed port");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "connect_failed");
    assert.equal(r.runtime, "workerd");
    assert.equal(r.causeMessage, "Network connection lost.");
  });

  test("fetch to a server that resets, normalized: connect_failed (same message)", T, async () => {
    const r = await run("fetch to a server that resets");
    assert.equal(r.connectionError, true, JSON.stringify(r));
    assert.equal(r.kind, "connect_failed");
    assert.equal(r.causeMessage, "Network connection lost.");
  });

  test(
    "fetch to a server that does not speak HTTP: workerd's 'internal error' is unknown",
    T,
    async () => {
      const r = await run("fetch to a server that does not speak HTTP");
      assert.equal(r.connectionError, true, JSON.stringify(r));
      assert.equal(r.kind, "unknown");
      assert.match(String(r.causeMessage), /^internal error/);
    },
  );

  test(
    "mod.ts loads in workerd: detectRuntime() and connect() pointing to the subpath",
    T,
    async () => {
      const r = await run("mod.ts in workerd");
      assert.equal(r.runtime, "workerd");
      assert.match(String(r.refusal), /^TypeError: .*adapters\/cloudflare/);
    },
  );
});
