// deno-lint-ignore-file no-explicit-any
/**
 * Captures what the HTTP, WebSocket and gRPC clients REALLY throw for real
 * faults on real loopback servers, as fixtures for tests/client_fixtures_test.ts:
 * tests/fixtures/clients/<client>.<runtime>.json.
 *
 *   node_modules/node24/bin/node scripts/capture_http_client_errors.ts
 *   node_modules/node22/bin/node scripts/capture_http_client_errors.ts
 *   node_modules/.bin/deno run -A scripts/capture_http_client_errors.ts
 *   node_modules/.bin/bun scripts/capture_http_client_errors.ts
 *
 * Clients: axios, got, undici (`request`, `fetch`, `Agent` timeouts), node-fetch,
 * ky, ws, @grpc/grpc-js; `node:http` itself (what axios, got, node-fetch and ws
 * are built on); and the runtime's own `fetch` (for the FIN case).
 * CAPTURE_ONLY=<client> limits the run to one client. A client that cannot run
 * in a runtime is reported on stdout and gets no file there.
 *
 * Network: loopback only, plus the name `-no-such-host.invalid`, which the
 * resolver refuses locally (tests/support/faults.ts: UNRESOLVABLE_HOST).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { normalizeError } from "../src/errors/normalize_error.ts";
import { closedPort } from "../tests/support/http_faults.ts";
import { UNRESOLVABLE_HOST } from "../tests/support/faults.ts";
import {
  type BacklogFullListener,
  type LoopbackServer,
  startBacklogFullListener,
  startServer,
} from "../tests/support/loopback_servers.ts";
import {
  type RawServer,
  startBodyStallServer,
  startCuttingProxy,
  startKeepAliveResetBodyServer,
  startRoutedHttpServer,
} from "../tests/support/client_servers.ts";
import type { HttpFaultServer } from "../tests/support/http_faults.ts";
import { safe, serialize } from "../tests/support/serialize_error.ts";

const G = globalThis as any;
const RUNTIME: string = G.Deno
  ? "deno"
  : G.Bun
  ? "bun"
  : `node${process.versions.node.split(".")[0]}`;
const RUNTIME_VERSION: string = G.Deno
  ? G.Deno.version.deno
  : G.Bun
  ? G.Bun.version
  : process.versions.node;
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT = path.join(ROOT, "tests", "fixtures", "clients");
const ONLY = process.env.CAPTURE_ONLY;
const GUARD_MS = 5000;
const TIMEOUT_MS = 300;

type Kind = string;

interface Captured {
  fault: string;
  expected: Kind;
  expectedSent?: boolean;
  note?: string;
  error: unknown;
}

interface Case {
  fault: string;
  expected: Kind;
  expectedSent?: boolean;
  note?: string;
  /** Resolves with the error the client produced; rejects when it produced none. */
  run: () => Promise<unknown>;
}

function version(pkg: string): string {
  try {
    const file = path.join(ROOT, "node_modules", ...pkg.split("/"), "package.json");
    return JSON.parse(fs.readFileSync(file, "utf8")).version;
  } catch {
    return "unknown";
  }
}

function guard<T>(p: Promise<T>, ms = GUARD_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`guard: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `f`, and resolves with what it threw; rejects if it did not throw. */
async function thrown(f: () => Promise<unknown>): Promise<unknown> {
  try {
    const value = await f();
    throw new NoError(value);
  } catch (e) {
    if (e instanceof NoError) throw e;
    return e;
  }
}

class NoError extends Error {
  constructor(value: unknown) {
    super(`no error (resolved with ${describe(value)})`);
  }
}

function describe(value: unknown): string {
  try {
    if (value && typeof value === "object") {
      const v = value as any;
      if ("status" in v) return `status ${v.status}`;
      if ("statusCode" in v) return `statusCode ${v.statusCode}`;
      return String(v.constructor?.name ?? "object");
    }
    return String(value);
  } catch {
    return "?";
  }
}

function short(e: unknown): string {
  const parts: string[] = [];
  let node: any = e;
  for (let i = 0; i < 4 && node && typeof node === "object"; i++) {
    const name = safe(() => node.constructor?.name ?? node.name);
    const code = safe(() => node.code);
    const message = (safe(() => String(node.message ?? "")) ?? "").slice(0, 90);
    parts.push(`${name}${code !== undefined ? `[${code}]` : ""} ${JSON.stringify(message)}`);
    node = safe(() => node.cause);
  }
  return parts.join(" <- ");
}

interface Servers {
  http: HttpFaultServer;
  /** RST after the head and 10 of 100 body bytes. */
  resetBody: LoopbackServer;
  bodyStall: RawServer;
  /** RST after the head and 10 of 100 body bytes of a keep-alive response. */
  resetBodyKeepAlive: RawServer;
  /** RST 50 ms after accept, before anything is read (for gRPC). */
  resetAtOnce: LoopbackServer;
  /** FIN at once after accept (for gRPC). */
  closeAtOnce: LoopbackServer;
  backlog: BacklogFullListener | undefined;
  closed: number;
}

const summary: string[] = [];
const unavailable: string[] = [];

async function runClient(
  client: string,
  pkg: string,
  makeCases: () => Promise<
    { cases: Case[]; done?: () => Promise<void> | void; note?: string; clientVersion?: string }
  >,
): Promise<void> {
  if (ONLY && client !== ONLY) return;
  let made: Awaited<ReturnType<typeof makeCases>>;
  try {
    made = await makeCases();
  } catch (e) {
    const line = `${client} cannot run on ${RUNTIME}: ${short(e)}`;
    unavailable.push(line);
    console.log(`!! ${line}`);
    return;
  }
  const captured: Captured[] = [];
  for (const c of made.cases) {
    let error: unknown;
    try {
      error = await guard(c.run());
    } catch (e) {
      const line = `${client} ${c.fault}: ${e instanceof NoError ? e.message : short(e)}`;
      summary.push(`${RUNTIME}\t${client}\t${c.fault}\t(no capture)\t${line}`);
      console.log(`-- ${line}`);
      continue;
    }
    const entry: Captured = { fault: c.fault, expected: c.expected, error: serialize(error) };
    if (c.expectedSent !== undefined) entry.expectedSent = c.expectedSent;
    if (c.note) entry.note = c.note;
    captured.push(entry);
    const now = normalizeError(error);
    const ok = now.kind === c.expected ? "ok" : "XX";
    summary.push(
      `${RUNTIME}\t${client}\t${c.fault}\t${c.expected}\t${now.kind}\t${(now as any).sent}\t${
        short(error)
      }`,
    );
    console.log(`${ok} ${client} ${c.fault}: want ${c.expected}, now ${now.kind}: ${short(error)}`);
  }
  try {
    await made.done?.();
  } catch (e) {
    console.log(`${client}: cleanup failed: ${short(e)}`);
  }
  if (captured.length === 0) {
    unavailable.push(`${client} on ${RUNTIME}: nothing captured`);
    return;
  }
  const doc = {
    client,
    clientVersion: made.clientVersion ?? version(pkg),
    runtime: RUNTIME,
    runtimeVersion: RUNTIME_VERSION,
    ...(made.note ? { note: made.note } : {}),
    captured,
  };
  fs.mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, `${client.replace("@grpc/", "")}.${RUNTIME}.json`);
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
  console.log(`wrote ${path.relative(ROOT, file)}: ${captured.length} errors`);
}

/** Aborts after `ms` (the caller's own cancel, not a timeout signal). */
function cancelAfter(ms = 100): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), ms);
  return controller.signal;
}

/** Sets what `fault` must give when the client cannot report the provoked fault as such. */
function limit(cases: Case[], fault: string, expected: Kind, note: string): Case[] {
  for (const c of cases) {
    if (c.fault.endsWith(fault)) Object.assign(c, { expected, note });
  }
  return cases;
}

const UNDICI_RESET_BODY = "undici reads an RST after the head of a `Connection: close` response " +
  "as the end of the body (client-h1 onHttpSocketError) and reports only that the body was " +
  "short: the reset cannot be told from a FIN";
const NODE_ABORTED = "Node's http marks a response whose connection ended before the body was " +
  'complete with ECONNRESET "aborted", for a FIN and an RST alike';

const BUN_FETCH = "LIMIT: Bun's fetch says TypeError ECONNRESET \"The socket connection was " +
  'closed unexpectedly" (errno 0) for an RST and a FIN before the answer and for a cut body ' +
  "alike; no field differs but `path`";
const DENO_FETCH_BODY = "Deno's fetch reports an RST after the head of a `Connection: close` " +
  'response as "error reading a body from connection", as it does a FIN: the reset ' +
  "cannot be told from a cut body";

/** Under Bun, the body and FIN faults of anything built on Bun's fetch read as a reset. */
function bunFetchLimits(cases: Case[]): Case[] {
  if (!G.Bun) return cases;
  for (const f of ["reset during body", "FIN before response", "truncated body"]) {
    limit(cases, f, "reset", BUN_FETCH);
  }
  return cases;
}

/** The body limits of the runtime's own fetch (ky, axios's fetch adapter, fetch). */
function runtimeFetchLimits(cases: Case[]): Case[] {
  if (G.Bun) return bunFetchLimits(cases);
  return limit(
    cases,
    "reset during body",
    "closed",
    G.Deno ? DENO_FETCH_BODY : UNDICI_RESET_BODY + " (Node's fetch is undici)",
  );
}

/** Under Bun, `import "<pkg>"` gives Bun's own module, not node_modules' (ws, node-fetch, undici). */
function bunBuiltin(pkg: string, what: string): { note?: string; clientVersion?: string } {
  if (!G.Bun) return {};
  return {
    clientVersion: `Bun ${RUNTIME_VERSION} built-in`,
    note: `Under Bun, \`import "${pkg}"\` resolves to Bun's built-in module (${what}), ` +
      `not node_modules/${pkg} ${version(pkg)}`,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// HTTP clients
// ---------------------------------------------------------------------------------------------

/**
 * The faults every HTTP client gets, given `call(url, options)` which
 * performs one GET and reads the whole body. `timeoutMs` asks for the
 * client's own timeout, `signal` the caller's cancel.
 */
function httpCases(
  s: Servers,
  call: (url: string, o: { timeoutMs?: number; signal?: AbortSignal }) => Promise<unknown>,
  options: { statusThrows: boolean; timeout: boolean },
): Case[] {
  const h = s.http.origin;
  const cases: Case[] = [
    {
      fault: "refused",
      expected: "refused",
      expectedSent: false,
      run: () => thrown(() => call(`http://127.0.0.1:${s.closed}/`, {})),
    },
    {
      fault: "reset before response",
      expected: "reset",
      run: () => thrown(() => call(`${h}/reset`, {})),
    },
    {
      fault: "reset during body",
      expected: "reset",
      run: () => thrown(() => call(`http://127.0.0.1:${s.resetBody.port}/`, {})),
    },
    {
      fault: "FIN before response",
      expected: "closed",
      run: () => thrown(() => call(`${h}/close`, {})),
    },
    {
      fault: "truncated body",
      expected: "closed",
      run: () => thrown(() => call(`${h}/truncate`, {})),
    },
    {
      fault: "caller's cancel (AbortSignal)",
      expected: "cancelled",
      run: () => thrown(() => call(`${h}/stall`, { signal: cancelAfter() })),
    },
    {
      fault: "DNS failure (.invalid)",
      expected: "dns",
      expectedSent: false,
      run: () => thrown(() => call(`http://${UNRESOLVABLE_HOST}:80/`, {})),
    },
  ];
  if (options.timeout) {
    cases.push({
      fault: `client's own timeout (${TIMEOUT_MS} ms, no answer)`,
      expected: "timeout",
      run: () => thrown(() => call(`${h}/stall`, { timeoutMs: TIMEOUT_MS })),
    });
  }
  if (options.statusThrows) {
    cases.push(
      {
        fault: "HTTP 500 (negative)",
        expected: "unknown",
        run: () => thrown(() => call(`${h}/status/500`, {})),
      },
      {
        fault: "HTTP 404 (negative)",
        expected: "unknown",
        run: () => thrown(() => call(`${h}/status/404`, {})),
      },
    );
  }
  return cases;
}

async function axiosCases(s: Servers) {
  const axios = (await import("axios")).default as any;
  const call = (url: string, o: { timeoutMs?: number; signal?: AbortSignal }) =>
    axios.get(url, { timeout: o.timeoutMs ?? 0, signal: o.signal, responseType: "text" });
  const cases = httpCases(s, call, { statusThrows: true, timeout: true });
  cases.push({
    fault: `client's own timeout, clarifyTimeoutError (${TIMEOUT_MS} ms)`,
    expected: "timeout",
    run: () =>
      thrown(() =>
        axios.get(`${s.http.origin}/stall`, {
          timeout: TIMEOUT_MS,
          transitional: { clarifyTimeoutError: true },
        })
      ),
  }, {
    fault: "caller's cancel (CancelToken)",
    expected: "cancelled",
    run: () => {
      const source = axios.CancelToken.source();
      setTimeout(() => source.cancel("user gave up"), 100);
      return thrown(() => axios.get(`${s.http.origin}/stall`, { cancelToken: source.token }));
    },
  });
  // The fetch adapter (what axios uses where there is no node:http, and on request).
  const viaFetch = (url: string, o: { timeoutMs?: number; signal?: AbortSignal }) =>
    axios.get(url, {
      adapter: "fetch",
      timeout: o.timeoutMs ?? 0,
      signal: o.signal,
      responseType: "text",
    });
  cases.push(
    ...runtimeFetchLimits(httpCases(s, viaFetch, { statusThrows: true, timeout: true }))
      .map((c) => ({ ...c, fault: `fetch adapter: ${c.fault}` })),
  );
  return { cases };
}

async function gotCases(s: Servers) {
  const got = (await import("got")).default as any;
  const call = (url: string, o: { timeoutMs?: number; signal?: AbortSignal }) =>
    got(url, {
      retry: { limit: 0 },
      timeout: o.timeoutMs ? { request: o.timeoutMs } : undefined,
      signal: o.signal,
    }).text();
  const cases = httpCases(s, call, { statusThrows: true, timeout: true });
  if (s.backlog?.full) {
    cases.push({
      fault: `connect timeout (timeout.connect ${TIMEOUT_MS} ms, accept queue full)`,
      expected: "timeout",
      expectedSent: false,
      run: () =>
        thrown(() =>
          got(`http://127.0.0.1:${s.backlog!.port}/`, {
            retry: { limit: 0 },
            timeout: { connect: TIMEOUT_MS },
          }).text()
        ),
    });
  }
  cases.push({
    fault: "caller's cancel (promise.cancel(), CancelError)",
    expected: "cancelled",
    run: () => {
      const p = got(`${s.http.origin}/stall`, { retry: { limit: 0 } });
      setTimeout(() => p.cancel(), 100);
      return thrown(() => p);
    },
  }, {
    fault: `signal: AbortSignal.timeout(${TIMEOUT_MS})`,
    expected: "timeout",
    run: () =>
      thrown(() =>
        got(`${s.http.origin}/stall`, {
          retry: { limit: 0 },
          signal: AbortSignal.timeout(TIMEOUT_MS),
        }).text()
      ),
  }, {
    fault: `read timeout (timeout.response ${TIMEOUT_MS} ms)`,
    expected: "timeout",
    run: () =>
      thrown(() =>
        got(`${s.http.origin}/stall`, { retry: { limit: 0 }, timeout: { response: TIMEOUT_MS } })
          .text()
      ),
  });
  return { cases };
}

/**
 * undici's cases for one build of it: `own` says whether its own options
 * (Agent, headersTimeout, bodyTimeout, connect.timeout) are honoured.
 * Bun's built-in `undici` (what `import "undici"` gives under Bun) is Bun's
 * fetch: it ignores them, and a stalled request then never ends.
 */
function undiciCasesFor(
  s: Servers,
  undici: any,
  prefix: string,
  own: boolean,
  agents: any[],
): Case[] {
  const agent = (options: Record<string, unknown> = {}) => {
    const a = new undici.Agent({ ...options });
    agents.push(a);
    return a;
  };
  const call = async (url: string, o: { timeoutMs?: number; signal?: AbortSignal }) => {
    const res = await undici.request(url, {
      dispatcher: agent(),
      signal: o.signal,
      headersTimeout: o.timeoutMs,
    });
    return await res.body.text();
  };
  const fetchCall = async (url: string, o: { timeoutMs?: number; signal?: AbortSignal }) => {
    const res = await undici.fetch(url, {
      dispatcher: agent(o.timeoutMs ? { headersTimeout: o.timeoutMs } : {}),
      signal: o.signal,
    });
    return await res.text();
  };
  const bodyLimit = (cases: Case[]) =>
    own ? limit(cases, "reset during body", "closed", UNDICI_RESET_BODY) : bunFetchLimits(cases);
  const cases: Case[] = [
    ...bodyLimit(httpCases(s, call, { statusThrows: false, timeout: own }))
      .map((c) => ({ ...c, fault: `${prefix}request: ${c.fault}` })),
    ...bodyLimit(httpCases(s, fetchCall, { statusThrows: false, timeout: own }))
      .map((c) => ({ ...c, fault: `${prefix}fetch: ${c.fault}` })),
    {
      fault: `${prefix}request: reset during body (keep-alive response)`,
      expected: "reset",
      run: () => thrown(() => call(s.resetBodyKeepAlive.origin, {})),
    },
    {
      fault: `${prefix}fetch: reset during body (keep-alive response)`,
      expected: "reset",
      run: () => thrown(() => fetchCall(s.resetBodyKeepAlive.origin, {})),
    },
    {
      fault: `${prefix}fetch: AbortSignal.timeout(${TIMEOUT_MS})`,
      expected: "timeout",
      run: () =>
        thrown(async () => {
          const res = await undici.fetch(`${s.http.origin}/stall`, {
            dispatcher: agent(),
            signal: AbortSignal.timeout(TIMEOUT_MS),
          });
          return await res.text();
        }),
    },
  ];
  if (!own) return cases;
  cases.push({
    fault: `${prefix}request: bodyTimeout (${TIMEOUT_MS} ms, body stalls)`,
    expected: "timeout",
    expectedSent: true,
    run: () =>
      thrown(async () => {
        const res = await undici.request(s.bodyStall.origin, {
          dispatcher: agent(),
          bodyTimeout: TIMEOUT_MS,
        });
        return await res.body.text();
      }),
  });
  if (s.backlog?.full) {
    cases.push({
      fault: `${prefix}request: connect timeout (Agent connect.timeout ${TIMEOUT_MS} ms)`,
      expected: "timeout",
      expectedSent: false,
      run: () =>
        thrown(async () => {
          const res = await undici.request(`http://127.0.0.1:${s.backlog!.port}/`, {
            dispatcher: agent({ connect: { timeout: TIMEOUT_MS } }),
          });
          return await res.body.text();
        }),
    });
  }
  return cases;
}

async function undiciCases(s: Servers) {
  const agents: any[] = [];
  const done = async () => {
    await Promise.all(
      agents.map((a) => typeof a.destroy === "function" && a.destroy().catch(() => {})),
    );
  };
  if (!G.Bun) {
    const undici = await import("undici") as any;
    return {
      cases: undiciCasesFor(s, undici, "", true, agents),
      done,
      note: G.Deno
        ? "Under Deno, undici's fetch never settles a body that was cut short (a truncated " +
          "body, an RST during the body): reading it waits forever (observed > 35 s), so those " +
          "faults have no entry here"
        : undefined,
    };
  }
  // Under Bun, `import "undici"` is Bun's built-in module; the npm build
  // runs too when imported by its path.
  const builtin = await import("undici") as any;
  const npm = await import(path.join(ROOT, "node_modules", "undici", "index.js")) as any;
  return {
    cases: [
      ...undiciCasesFor(s, builtin, "Bun built-in ", false, agents),
      ...undiciCasesFor(s, npm, "npm build by path, ", true, agents),
    ],
    done,
    note: "Under Bun, `import \"undici\"` resolves to Bun's built-in module (Bun's fetch; it " +
      "ignores Agent options such as headersTimeout, bodyTimeout and connect.timeout, so a " +
      'stalled request never ends): faults prefixed "Bun built-in". The npm build, imported ' +
      'by its path, runs on Bun\'s node:net: faults prefixed "npm build by path".',
  };
}

async function nodeFetchCases(s: Servers) {
  const fetch = (await import("node-fetch")).default as any;
  const call = async (url: string, o: { timeoutMs?: number; signal?: AbortSignal }) => {
    const res = await fetch(url, {
      signal: o.timeoutMs ? AbortSignal.timeout(o.timeoutMs) : o.signal,
    });
    return await res.text();
  };
  // Under Bun, `import "node-fetch"` is Bun's built-in: Bun's fetch.
  const cases = G.Bun
    ? bunFetchLimits(httpCases(s, call, { statusThrows: false, timeout: false }))
    : limit(
      httpCases(s, call, { statusThrows: false, timeout: false }),
      "reset during body",
      "closed",
      NODE_ABORTED + '; node-fetch passes it on as FetchError "Invalid response body ...: aborted"',
    );
  cases.push({
    fault: `AbortSignal.timeout(${TIMEOUT_MS})`,
    expected: G.Bun ? "timeout" : "cancelled",
    note: G.Bun ? undefined : "LIMIT: node-fetch 3 rejects with its own AbortError and drops " +
      "the signal's reason: a timeout signal cannot be told from the caller's cancel",
    run: () => thrown(() => call(`${s.http.origin}/stall`, { timeoutMs: TIMEOUT_MS })),
  });
  return {
    cases,
    ...bunBuiltin("node-fetch", "Bun's fetch"),
  };
}

async function kyCases(s: Servers) {
  const ky = (await import("ky")).default as any;
  const call = (url: string, o: { timeoutMs?: number; signal?: AbortSignal }) =>
    ky.get(url, { retry: 0, timeout: o.timeoutMs ?? false, signal: o.signal }).text();
  return {
    cases: runtimeFetchLimits(httpCases(s, call, { statusThrows: true, timeout: true })),
  };
}

/** The runtime's own fetch: only the cases issue 12 asks about (FIN), and RST to compare. */
function fetchCases(s: Servers) {
  const call = async (url: string) => {
    const res = await fetch(url);
    return await res.text();
  };
  const cases: Case[] = [
    {
      fault: "FIN before response",
      expected: "closed",
      run: () => thrown(() => call(`${s.http.origin}/close`)),
    },
    {
      fault: "reset before response",
      expected: "reset",
      run: () => thrown(() => call(`${s.http.origin}/reset`)),
    },
    {
      fault: "truncated body",
      expected: "closed",
      run: () => thrown(() => call(`${s.http.origin}/truncate`)),
    },
  ];
  return Promise.resolve({
    cases: runtimeFetchLimits(cases),
    clientVersion: `the runtime's fetch (${RUNTIME} ${RUNTIME_VERSION})`,
  });
}

/**
 * `node:http` itself (what axios, got, node-fetch and ws are built on): the
 * messages it makes up for a connection that ends early. The request's and
 * the response's errors both reject, the first one wins.
 */
async function nodeHttpCases(s: Servers) {
  const http = await import("node:http");
  const get = (url: string) =>
    new Promise<unknown>((resolve, reject) => {
      const req = http.get(url, { agent: false }, (res) => {
        res.on("error", reject);
        res.on("data", () => {});
        res.on("end", () => resolve(res.statusCode));
      });
      req.on("error", reject);
    });
  const cases: Case[] = [
    {
      fault: "refused",
      expected: "refused",
      expectedSent: false,
      run: () => thrown(() => get(`http://127.0.0.1:${s.closed}/`)),
    },
    {
      fault: "reset before response",
      expected: "reset",
      run: () => thrown(() => get(`${s.http.origin}/reset`)),
    },
    {
      fault: "FIN before response",
      expected: "closed",
      run: () => thrown(() => get(`${s.http.origin}/close`)),
    },
    {
      fault: "truncated body",
      expected: "closed",
      run: () => thrown(() => get(`${s.http.origin}/truncate`)),
    },
    {
      fault: "reset during body",
      expected: "reset",
      run: () => thrown(() => get(`http://127.0.0.1:${s.resetBody.port}/`)),
    },
  ];
  return { cases, clientVersion: `node:http (${RUNTIME} ${RUNTIME_VERSION})` };
}

// ---------------------------------------------------------------------------------------------
// ws
// ---------------------------------------------------------------------------------------------

async function wsCases(s: Servers) {
  // ws ships no types (and @types/ws is not installed): a specifier typed as a string.
  const WebSocket = (await import("ws" as string)).default as any;
  const open = (url: string, options: Record<string, unknown> = {}, after?: (ws: any) => void) =>
    new Promise<unknown>((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.on("error", (e: unknown) => {
        resolve(e);
        safe(() => ws.terminate());
      });
      ws.on("open", () => {
        ws.terminate();
        reject(new NoError("open"));
      });
      after?.(ws);
    });
  const h = s.http.origin.replace("http:", "ws:");
  const cases: Case[] = [
    {
      fault: "refused",
      expected: "refused",
      expectedSent: false,
      run: () => open(`ws://127.0.0.1:${s.closed}/`),
    },
    { fault: "RST during handshake", expected: "reset", run: () => open(`${h}/reset`) },
    { fault: "FIN during handshake", expected: "closed", run: () => open(`${h}/close`) },
    {
      fault: `handshake timeout (handshakeTimeout ${TIMEOUT_MS} ms)`,
      expected: "timeout",
      run: () => open(`${h}/stall`, { handshakeTimeout: TIMEOUT_MS }),
    },
    {
      fault: "DNS failure (.invalid)",
      expected: "dns",
      expectedSent: false,
      run: () => open(`ws://${UNRESOLVABLE_HOST}:80/`),
    },
    {
      fault: "caller's terminate() during the handshake",
      expected: "cancelled",
      run: () => open(`${h}/stall`, {}, (ws) => setTimeout(() => ws.terminate(), 100)),
    },
    {
      fault: "unexpected server response 400 (negative)",
      expected: "unknown",
      run: () => open(`${h}/status/400`),
    },
    {
      fault: "truncated handshake answer (Content-Length 100, 10 bytes, FIN)",
      expected: "unknown",
      note: "the server answered 200 instead of 101: ws reports an unexpected response",
      run: () => open(`${h}/truncate`),
    },
  ];
  return { cases, ...bunBuiltin("ws", "a ws-compatible WebSocket client on Bun's node:http") };
}

// ---------------------------------------------------------------------------------------------
// @grpc/grpc-js
// ---------------------------------------------------------------------------------------------

async function grpcCases(s: Servers) {
  const g = await import("../tests/support/grpc_server.ts");
  const server = await g.startGrpcServer();
  const clients: any[] = [];
  const client = (target: string) => {
    const c = g.testClient(target);
    clients.push(c);
    return c;
  };
  const cases: Case[] = [
    {
      fault: "refused (status 14 UNAVAILABLE)",
      expected: "refused",
      expectedSent: false,
      run: () => g.callForError(client(`127.0.0.1:${s.closed}`), { mode: "ok" }),
    },
    {
      fault: "DNS failure (.invalid)",
      expected: "dns",
      expectedSent: false,
      run: () => g.callForError(client(`${UNRESOLVABLE_HOST}:50051`), { mode: "ok" }),
    },
    {
      fault: `deadline (${TIMEOUT_MS} ms, status 4 DEADLINE_EXCEEDED)`,
      expected: "timeout",
      run: () =>
        g.callForError(client(server.target), { mode: "stall" }, {
          deadline: Date.now() + TIMEOUT_MS,
        }),
    },
    {
      fault: "caller's cancel (call.cancel(), status 1 CANCELLED)",
      expected: "cancelled",
      run: () =>
        g.callForError(
          client(server.target),
          { mode: "stall" },
          {},
          (call) => setTimeout(() => call.cancel(), 100),
        ),
    },
    {
      fault: "server RSTs the connection (status 14)",
      expected: "reset",
      expectedSent: false,
      run: () => g.callForError(client(`127.0.0.1:${s.resetAtOnce.port}`), { mode: "ok" }),
    },
    {
      fault: "server closes the connection at once (FIN, status 14)",
      expected: G.Deno ? "broken_pipe" : "connect_failed",
      expectedSent: false,
      note: G.Deno
        ? 'under Deno the client\'s first write after the FIN fails: "Last error: write EPIPE"'
        : 'grpc-js says only "Failed to connect": the HTTP/2 session never came up',
      run: () => g.callForError(client(`127.0.0.1:${s.closeAtOnce.port}`), { mode: "ok" }),
    },
    {
      fault: "connection RST mid-call (proxy cuts it)",
      expected: "reset",
      run: async () => {
        const proxy = await startCuttingProxy(server.port, "reset");
        try {
          return await g.callForError(client(`127.0.0.1:${proxy.port}`), { mode: "stall" });
        } finally {
          await proxy.close();
        }
      },
    },
    {
      fault: "connection FIN mid-call (proxy cuts it)",
      expected: "closed",
      run: async () => {
        const proxy = await startCuttingProxy(server.port, "close");
        try {
          return await g.callForError(client(`127.0.0.1:${proxy.port}`), { mode: "stall" });
        } finally {
          await proxy.close();
        }
      },
    },
    {
      fault: "server dies mid-call (forceShutdown)",
      expected: "closed",
      note: "grpc-js's forceShutdown() resets every stream with CANCEL: the client says " +
        '"Call cancelled", where its own cancel says "Cancelled on client"',
      run: async () => {
        const dying = await g.startGrpcServer();
        try {
          return await g.callForError(client(dying.target), { mode: "die" });
        } finally {
          await dying.close();
        }
      },
    },
    {
      fault: "NOT_FOUND (negative)",
      expected: "unknown",
      run: () => g.callForError(client(server.target), { mode: "not_found" }),
    },
    {
      fault: "INVALID_ARGUMENT (negative)",
      expected: "unknown",
      run: () => g.callForError(client(server.target), { mode: "invalid" }),
    },
  ];
  return {
    cases,
    done: async () => {
      for (const c of clients) c.close();
      await server.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  let backlog: BacklogFullListener | undefined;
  try {
    backlog = await startBacklogFullListener();
    if (!backlog.full) console.log("the accept queue never filled: no connect-timeout cases");
  } catch (e) {
    console.log(`no backlog-full listener: ${short(e)}`);
  }
  const s: Servers = {
    http: await startRoutedHttpServer(),
    resetBody: await startServer("http-headers-then-reset"),
    bodyStall: await startBodyStallServer(),
    resetBodyKeepAlive: await startKeepAliveResetBodyServer(),
    resetAtOnce: await startServer("reset"),
    closeAtOnce: await startServer("close-now"),
    backlog,
    closed: await closedPort(),
  };
  try {
    await runClient("axios", "axios", () => axiosCases(s));
    await runClient("got", "got", () => gotCases(s));
    await runClient("undici", "undici", () => undiciCases(s));
    await runClient("node-fetch", "node-fetch", () => nodeFetchCases(s));
    await runClient("ky", "ky", () => kyCases(s));
    await runClient("node-http", "", () => nodeHttpCases(s));
    await runClient("ws", "ws", () => wsCases(s));
    await runClient("@grpc/grpc-js", "@grpc/grpc-js", () => grpcCases(s));
    await runClient("fetch", "", () => fetchCases(s));
  } finally {
    await sleep(50);
    await s.http.close();
    await s.resetBody.close();
    await s.bodyStall.close();
    await s.resetBodyKeepAlive.close();
    await s.resetAtOnce.close();
    await s.closeAtOnce.close();
    await backlog?.close();
  }
  console.log("\n--- summary (runtime, client, fault, expected, normalizeError now, sent, error)");
  for (const line of summary) console.log(line);
  for (const line of unavailable) console.log(`UNAVAILABLE ${line}`);
  console.log(`[${RUNTIME}] done in ${Math.round((Date.now() - started) / 100) / 10} s`);
  const t = setTimeout(() => {
    console.error(`[${RUNTIME}] event loop still alive 3 s after the capture; forcing exit`);
    process.exit(0);
  }, 3000);
  if (G.Deno) G.Deno.unrefTimer(t);
  else (t as any).unref?.();
}

await main();
