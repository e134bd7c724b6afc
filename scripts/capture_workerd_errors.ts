// deno-lint-ignore-file no-explicit-any
/**
 * Captures what workerd REALLY throws for connection faults, through `connect()` from
 * `cloudflare:sockets` and through `fetch`, as a JSON fixture in the same shape as
 * scripts/capture_errors.ts writes for Node, Deno and Bun.
 *
 *   node_modules/node24/bin/node scripts/capture_workerd_errors.ts
 *     -> tests/fixtures/errors_workerd.json
 *
 * workerd (from npm) runs under Miniflare. Network: loopback only. The worker's outbound network
 * is a workerd network service that allows 127.0.0.1/32 and nothing else, and every target is a
 * server started here on 127.0.0.1. No DNS scenario: a name lookup would leave loopback.
 *
 * Two workers run the same script:
 * - "tls-network": the outbound network has TLS enabled (as Miniflare's default "internet"
 *   service and any Worker using `secureTransport` need); api "cloudflare:sockets".
 * - "plain-network": no TLS on the outbound network; api "cloudflare:sockets (network without
 *   TLS)". Here workerd reports a TCP reset that "tls-network" hides as a clean end of stream.
 *
 * Each entry: { api, scenario, target?, via?, error?, outcome?, note? }, errors serialized as in
 * scripts/capture_errors.ts (constructorName, name, message, code, ..., isAggregate, cause,
 * ownKeys). Every scenario is bounded by a 3 s guard inside the worker.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Readable } from "node:stream";
import { Miniflare } from "miniflare";
import {
  type BacklogFullListener,
  closedPort,
  type LoopbackServer,
  startBacklogFullListener,
  startServer,
} from "../tests/support/loopback_servers.ts";

const COMPATIBILITY_DATE = "2025-01-01";
const GUARD_MS = 3000;

// The worker, as plain JavaScript (nothing to bundle). `serialize` is the one from
// scripts/capture_errors.ts, without types.
const WORKER = String.raw`
import { connect } from "cloudflare:sockets";

const STD_FIELDS = ["name", "message", "code", "errno", "syscall", "address", "port", "hostname"];
const RESERVED = new Set([...STD_FIELDS, "constructorName", "isAggregate", "errors", "cause", "ownKeys", "stack", "thrown"]);
const MAX_DEPTH = 6;
function safe(f) { try { return f(); } catch { return undefined; } }
function isPrimitive(v) { return v === null || (typeof v !== "object" && typeof v !== "function"); }
function fieldValue(v, depth, seen) {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : { number: String(v) };
  if (typeof v === "bigint") return { bigint: String(v) };
  if (typeof v === "symbol") return { symbol: String(v) };
  if (typeof v === "undefined") return { undefined: true };
  return serialize(v, depth, seen);
}
function serialize(v, depth = 0, seen = new Set()) {
  if (isPrimitive(v)) return { thrown: typeof v, value: fieldValue(v, depth, seen) };
  if (depth >= MAX_DEPTH) return { truncated: "depth limit " + MAX_DEPTH };
  if (seen.has(v)) return { circular: true };
  seen.add(v);
  const out = {};
  out.constructorName = safe(() => v.constructor?.name) ?? null;
  for (const k of STD_FIELDS) {
    if (!safe(() => k in v)) continue;
    const val = safe(() => v[k]);
    if (val === undefined) continue;
    out[k] = fieldValue(val, depth + 1, seen);
  }
  for (const k of safe(() => Object.keys(v)) ?? []) {
    if (STD_FIELDS.includes(k) || k === "stack" || k === "cause" || k === "errors") continue;
    const val = safe(() => v[k]);
    if (!isPrimitive(val)) continue;
    out[RESERVED.has(k) ? "own:" + k : k] = fieldValue(val, depth + 1, seen);
  }
  out.isAggregate = safe(() => v instanceof AggregateError) ?? false;
  const errors = safe(() => v.errors);
  if (Array.isArray(errors)) out.errors = errors.map((e) => serialize(e, depth + 1, seen));
  if (safe(() => "cause" in v)) out.cause = serialize(safe(() => v.cause), depth + 1, seen);
  out.ownKeys = (safe(() => Reflect.ownKeys(v)) ?? []).map((k) => typeof k === "symbol" ? k.toString() : k);
  seen.delete(v);
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PENDING = Symbol("pending");
const within = (p, ms) => Promise.race([p, sleep(ms).then(() => PENDING)]);

function recorder() {
  const entries = [];
  return {
    entries,
    error: (e, via, extra = {}) => entries.push({ via, error: serialize(e), ...extra }),
    outcome: (text) => entries.push({ outcome: text }),
  };
}

/** Opens a socket, recording how 'opened' and 'closed' settle. */
async function open(r, port, options) {
  const socket = connect({ hostname: "127.0.0.1", port }, options);
  // After the harness aborts the writer, 'closed' rejects with that abort: not workerd's word.
  socket.closed.catch((e) => socket.harnessAborted || r.error(e, "socket.closed rejection"));
  try {
    const info = await within(socket.opened, 1500);
    if (info === PENDING) {
      r.outcome("socket.opened still pending after 1500 ms");
      return null;
    }
    return socket;
  } catch (e) {
    r.error(e, "socket.opened rejection");
    return null;
  }
}

async function readToEnd(r, socket) {
  const reader = socket.readable.getReader();
  let bytes = 0;
  try {
    for (;;) {
      const x = await within(reader.read(), 1000);
      if (x === PENDING) return r.outcome("reader.read() still pending after 1000 ms, " + bytes + " bytes read");
      if (x.done) return r.outcome("reader.read() done (clean end of stream) after " + bytes + " bytes");
      bytes += x.value.byteLength;
    }
  } catch (e) {
    r.error(e, "reader.read() rejection", { bytesBefore: bytes });
  } finally {
    reader.releaseLock();
  }
}

async function writeUntilError(r, socket) {
  const writer = socket.writable.getWriter();
  let n = 0;
  for (; n < 50; n++) {
    try {
      const x = await within(writer.write(new Uint8Array(64 * 1024)), 1000);
      if (x === PENDING) return r.outcome("writer.write() still pending after 1000 ms, " + n + " writes done");
    } catch (e) {
      r.error(e, "writer.write() rejection", { writesBefore: n });
      // What the next write says (workerd may leave the stream stuck: bounded).
      try {
        const y = await within(writer.write(new Uint8Array(1)), 500);
        if (y === PENDING) r.outcome("the next writer.write() still pending after 500 ms");
      } catch (e2) {
        r.error(e2, "next writer.write() rejection");
      }
      socket.harnessAborted = true;
      writer.abort().catch(() => {});
      return;
    }
    await sleep(5);
  }
  r.outcome(n + " writes of 64 KiB, no error");
}

async function tryFetch(r, url, init) {
  try {
    const res = await fetch(url, init);
    try {
      const text = await res.text();
      r.outcome("fetch resolved " + res.status + "; res.text() resolved with " + text.length + " chars");
    } catch (e) {
      r.error(e, "res.text() rejection");
    }
  } catch (e) {
    r.error(e, "fetch() rejection");
  }
}

const scenarios = {
  async refused(r, q) {
    const s = await open(r, q.port, {});
    if (s) r.outcome("opened");
  },
  async "reset-while-reading"(r, q) {
    const s = await open(r, q.port, {});
    if (s) await readToEnd(r, s);
  },
  async "write-after-reset"(r, q) {
    const s = await open(r, q.port, { allowHalfOpen: q.halfOpen === "1" });
    if (!s) return;
    await readToEnd(r, s);
    await writeUntilError(r, s);
  },
  async "write-after-fin"(r, q) {
    const s = await open(r, q.port, { allowHalfOpen: q.halfOpen === "1" });
    if (!s) return;
    await readToEnd(r, s);
    await writeUntilError(r, s);
  },
  async "write-after-own-close"(r, q) {
    const s = await open(r, q.port, {});
    if (!s) return;
    const writer = s.writable.getWriter();
    await s.close();
    try {
      await writer.write(new Uint8Array(1));
      r.outcome("write after close() resolved");
    } catch (e) {
      r.error(e, "writer.write() rejection");
    }
  },
  async "connect-timeout"(r, q) {
    const s = await open(r, q.port, {});
    if (s) r.outcome("opened");
  },
  async tls(r, q) {
    const s = await open(r, q.port, { secureTransport: "on" });
    if (s) await readToEnd(r, s);
  },
  async fetch(r, q) {
    let init;
    if (q.upload === "1") init = { method: "POST", body: new Uint8Array(8 << 20) };
    if (q.signal === "timeout") init = { signal: AbortSignal.timeout(300) };
    if (q.signal === "aborted") init = { signal: AbortSignal.abort() };
    if (q.signal === "controller") {
      const c = new AbortController();
      c.abort();
      init = { signal: c.signal };
    }
    if (q.signal === "later") {
      const c = new AbortController();
      setTimeout(() => c.abort(), 100);
      init = { signal: c.signal };
    }
    await tryFetch(r, q.url, init);
  },
};

export default {
  async fetch(request) {
    const q = Object.fromEntries(new URL(request.url).searchParams);
    const r = recorder();
    const body = scenarios[q.run];
    if (!body) return Response.json({ error: "no scenario " + q.run }, { status: 404 });
    const done = await within(body(r, q).then(() => "done", (e) => r.error(e, "harness error")), ${GUARD_MS});
    if (done === PENDING) r.outcome("no settle within the ${GUARD_MS} ms guard");
    await sleep(20);
    return Response.json(r.entries);
  },
};
`;

interface Entry {
  api: string;
  scenario: string;
  target?: unknown;
  via?: string;
  error?: unknown;
  outcome?: string;
  note?: string;
  [k: string]: unknown;
}

const SOCKETS = "cloudflare:sockets";
const SOCKETS_PLAIN = "cloudflare:sockets (network without TLS)";
const captured: Entry[] = [];
const cleanups: (() => Promise<void>)[] = [];

const worker = (name: string, tls: boolean) => ({
  name,
  routes: [`${name}.test/*`],
  modules: true,
  script: WORKER,
  compatibilityDate: COMPATIBILITY_DATE,
  outboundService: {
    network: { allow: ["127.0.0.1/32"], deny: [], ...(tls ? { tlsOptions: {} } : {}) },
  },
});
const mf = new Miniflare({
  workers: [worker("tls-network", true), worker("plain-network", false)],
  // workerd logs its internal errors with a stack: keep them out of the capture's output.
  handleRuntimeStdio(stdout: Readable, stderr: Readable) {
    stdout.resume();
    stderr.resume();
  },
});
await mf.ready;

async function server(behavior: Parameters<typeof startServer>[0]): Promise<LoopbackServer> {
  const s = await startServer(behavior, { host: "127.0.0.1" });
  cleanups.push(() => s.close());
  return s;
}

async function scenario(
  api: string,
  name: string,
  query: Record<string, string | number>,
  target: unknown,
  note: string,
): Promise<void> {
  const workerName = api === SOCKETS_PLAIN ? "plain-network" : "tls-network";
  const params = new URLSearchParams(
    Object.entries(query).map(([k, v]) => [k, String(v)] as [string, string]),
  );
  const res = await mf.dispatchFetch(`http://${workerName}.test/?${params}`);
  const entries = await res.json() as Omit<Entry, "api" | "scenario">[];
  if (entries.length === 0) entries.push({ outcome: "no error and no outcome recorded" });
  for (const e of entries) captured.push({ api, scenario: name, target, ...e, note });
  const summary = entries.map((e) =>
    e.error
      ? `${e.via}: ${(e.error as any).constructorName} ${(e.error as any).message}`
      : e.outcome
  ).join(" | ");
  console.log(`[workerd] ${api} / ${name}: ${summary}`);
}

const started = Date.now();
const closed = await closedPort("127.0.0.1");
const reset = await server("reset");
const resetOnData = await server("reset-on-data");
const closeNow = await server("close-now");
const partial = await server("partial");
const garbage = await server("garbage");
const close = await server("close");
const stall = await server("stall");
const partialBody = await server("http-partial-body");
const bodyReset = await server("http-headers-then-reset");
let backlog: BacklogFullListener | null = null;
try {
  backlog = await startBacklogFullListener();
  cleanups.push(() => backlog!.close());
} catch (e) {
  console.log(`[workerd] backlog-full listener could not start: ${String(e)}`);
}

for (const api of [SOCKETS, SOCKETS_PLAIN]) {
  const t = (port: number) => ({ hostname: "127.0.0.1", port });
  await scenario(api, "refused-127.0.0.1", { run: "refused", port: closed }, t(closed), "");
  await scenario(
    api,
    "reset-while-reading",
    { run: "reset-while-reading", port: reset.port },
    t(reset.port),
    "server accepts, waits 50 ms, resetAndDestroy() (RST); the worker only reads.",
  );
  for (const halfOpen of [false, true]) {
    const suffix = halfOpen ? "-allowHalfOpen" : "";
    const opt = halfOpen ? "allowHalfOpen: true" : "default options";
    await scenario(
      api,
      `broken-pipe-after-rst${suffix}`,
      { run: "write-after-reset", port: reset.port, halfOpen: halfOpen ? 1 : 0 },
      t(reset.port),
      `server RSTs 50 ms after accept; the worker reads to the end, then writes 64 KiB every 5 ms (${opt}).`,
    );
    await scenario(
      api,
      `broken-pipe-after-fin${suffix}`,
      { run: "write-after-fin", port: closeNow.port, halfOpen: halfOpen ? 1 : 0 },
      t(closeNow.port),
      `server destroy()s right after accept (FIN, then RST for later data); the worker reads to the end, then writes 64 KiB every 5 ms (${opt}).`,
    );
  }
  await scenario(
    api,
    "eof-partial",
    { run: "reset-while-reading", port: partial.port },
    t(partial.port),
    "server sends 'partial' (7 bytes) and FIN.",
  );
  await scenario(
    api,
    "write-after-own-close",
    { run: "write-after-own-close", port: stall.port },
    t(stall.port),
    "the worker calls socket.close(), then writes.",
  );
  if (backlog?.full) {
    await scenario(
      api,
      "connect-timeout",
      { run: "connect-timeout", port: backlog.port },
      t(backlog.port),
      "a listener whose accept queue is full: the SYN is dropped; cloudflare:sockets has no timeout or signal.",
    );
  }
  if (api === SOCKETS) {
    for (
      const [name, srv, note] of [
        [
          "tls-garbage-reply",
          garbage,
          "plain TCP server answers the ClientHello with HTTP/1.1 400 + FIN.",
        ],
        ["tls-accept-close", close, "plain TCP server reads and closes (FIN) without answering."],
        ["tls-accept-reset", resetOnData, "plain TCP server RSTs when the ClientHello arrives."],
        ["tls-stalled-handshake", stall, "plain TCP server reads and never answers."],
      ] as const
    ) {
      await scenario(
        api,
        name,
        { run: "tls", port: srv.port },
        t(srv.port),
        `secureTransport: "on"; ${note}`,
      );
    }
  }
}

const f = async (name: string, url: string, note: string, extra: Record<string, string> = {}) =>
  await scenario("fetch", name, { run: "fetch", url, ...extra }, { url }, note);
const http = (s: { port: number }, scheme = "http") => `${scheme}://127.0.0.1:${s.port}/`;
await f("refused-127.0.0.1", http({ port: closed }), "");
await f("reset-before-response", http(resetOnData), "server RSTs when the request arrives.");
await f(
  "reset-during-body",
  http(bodyReset),
  "server sends 200 + Content-Length: 100 + 10 bytes, then RST after 50 ms; error read from res.text().",
);
await f(
  "eof-partial-body",
  http(partialBody),
  "server sends 200 + Content-Length: 100 + 10 bytes and FIN; error read from res.text().",
);
await f(
  "eof-no-response",
  http(close),
  "server reads the request and closes (FIN) without answering.",
);
await f(
  "broken-pipe-upload",
  http(reset),
  "POST of an 8 MiB body; server RSTs 50 ms after accept.",
  {
    upload: "1",
  },
);
await f("not-http-reply", http(partial), "server sends 'partial' and FIN: not an HTTP response.");
await f(
  "tls-garbage-reply",
  http(garbage, "https"),
  "https:// to a plain TCP server that answers HTTP/1.1 400 + FIN.",
);
await f(
  "tls-accept-close",
  http(close, "https"),
  "https:// to a plain TCP server that reads and closes (FIN).",
);
await f(
  "tls-accept-reset",
  http(resetOnData, "https"),
  "https:// to a plain TCP server that RSTs on the ClientHello.",
);
await f("stalled-server-signal-timeout", http(stall), "signal: AbortSignal.timeout(300).", {
  signal: "timeout",
});
if (backlog?.full) {
  await f("connect-timeout-signal", http(backlog), "signal: AbortSignal.timeout(300).", {
    signal: "timeout",
  });
}
await f("already-aborted-signal", http(stall), "signal: AbortSignal.abort().", {
  signal: "aborted",
});
await f("already-aborted-controller", http(stall), "an AbortController aborted before fetch().", {
  signal: "controller",
});
await f("abort-during-fetch", http(stall), "stalled server; controller.abort() after 100 ms.", {
  signal: "later",
});

await mf.dispose();
for (const c of cleanups.reverse()) await c().catch(() => {});

const version = JSON.parse(
  fs.readFileSync(
    fileURLToPath(new URL("../node_modules/workerd/package.json", import.meta.url)),
    "utf8",
  ),
).version as string;
const doc = {
  runtime: "workerd",
  version,
  platform: `${process.platform}-${process.arch}`,
  generatedBy: "scripts/capture_workerd_errors.ts",
  captured: captured.map((e) => {
    const { note, ...rest } = e;
    return note ? { ...rest, note } : rest;
  }),
  stray: [],
};
const file = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "tests",
  "fixtures",
  "errors_workerd.json",
);
fs.writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
console.log(
  `[workerd] wrote ${file}: ${captured.length} entries, ${
    Math.round((Date.now() - started) / 1000)
  } s`,
);
