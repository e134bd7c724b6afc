// normalizeError() on what the HTTP, WebSocket and gRPC clients really throw,
// live: axios, got, undici, node-fetch, ky, ws, @grpc/grpc-js and the
// runtime's own fetch against real faults on loopback servers that the tests
// start (tests/support/client_servers.ts, grpc_server.ts). A representative
// subset per client; the full matrix is recorded as fixtures by
// scripts/capture_http_client_errors.ts and checked by client_fixtures_test.ts.
//
// Under Bun, `import "undici"`, `"node-fetch"` and `"ws"` give Bun's built-in
// modules, and Bun's fetch says ECONNRESET for a FIN: the expectations below
// say so where they differ.
// deno-lint-ignore-file no-explicit-any
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import axios from "axios";
import got from "got";
import * as undici from "undici";
import nodeFetch from "node-fetch";
import ky from "ky";
// @ts-ignore: ws ships no types, and @types/ws is not installed.
import WebSocket from "ws";
import { normalizeError } from "../src/errors/normalize_error.ts";
import type { ConnectionErrorKind } from "../src/errors/kinds.ts";
import { closedPort, type HttpFaultServer } from "./support/http_faults.ts";
import { UNRESOLVABLE_HOST } from "./support/faults.ts";
import {
  type RawServer,
  startCuttingProxy,
  startRoutedHttpServer,
} from "./support/client_servers.ts";
import {
  callForError,
  type GrpcTestServer,
  startGrpcServer,
  testClient,
  type TestClientInstance,
} from "./support/grpc_server.ts";

const G = globalThis as any;
const BUN = G.Bun !== undefined;
const TIMEOUT_MS = 200;
/** What Bun's fetch (and so ky, node-fetch and undici under Bun) says for a FIN. */
const FETCH_FIN: ConnectionErrorKind = BUN ? "reset" : "closed";

let http: HttpFaultServer;
let refusedPort: number;

before(async () => {
  http = await startRoutedHttpServer();
  refusedPort = await closedPort();
});
after(() => http.close());

/** Runs `f`, which must fail, and normalizes what it threw. */
async function failure(f: () => Promise<unknown>) {
  try {
    await f();
  } catch (e) {
    return normalizeError(e);
  }
  assert.fail("the call succeeded");
}

async function expectKind(
  f: () => Promise<unknown>,
  kind: ConnectionErrorKind,
  sent?: boolean,
): Promise<void> {
  const e = await failure(f);
  assert.equal(e.kind, kind, `kind of ${e.cause instanceof Error ? e.cause.message : e.cause}`);
  if (sent !== undefined) assert.equal(e.sent, sent, "sent");
}

function cancelAfter(ms = 50): AbortSignal {
  const c = new AbortController();
  setTimeout(() => c.abort(), ms);
  return c.signal;
}

describe("axios", () => {
  const get = (path: string, config: Record<string, unknown> = {}) =>
    axios.get(`${http.origin}${path}`, { responseType: "text", ...config });

  test("a refusal is refused, and nothing was sent", () =>
    expectKind(() => axios.get(`http://127.0.0.1:${refusedPort}/`), "refused", false));
  test('a FIN before the answer (ECONNRESET "socket hang up") is closed', () =>
    expectKind(() => get("/close"), "closed"));
  test('a body cut short ("stream has been aborted") is closed', () =>
    expectKind(() => get("/truncate"), "closed"));
  test('axios\'s own timeout (ECONNABORTED "timeout of 200ms exceeded") is timeout', async () => {
    const e = await failure(() => get("/stall", { timeout: TIMEOUT_MS }));
    assert.equal(e.kind, "timeout");
    assert.equal(e.kind === "timeout" ? e.timeoutMs : undefined, TIMEOUT_MS);
  });
  test("the caller's AbortSignal (ERR_CANCELED) is cancelled", () =>
    expectKind(() => get("/stall", { signal: cancelAfter() }), "cancelled"));
  test("an HTTP 500 stays unknown", () => expectKind(() => get("/status/500"), "unknown"));
  test("through the fetch adapter, a DNS failure is dns and nothing was sent", () =>
    expectKind(
      () => axios.get(`http://${UNRESOLVABLE_HOST}/`, { adapter: "fetch" }),
      "dns",
      false,
    ));
});

describe("got", () => {
  const get = (path: string, options: Record<string, unknown> = {}) =>
    got(`${http.origin}${path}`, { retry: { limit: 0 }, ...options }).text();

  test("a FIN before the answer is closed", () => expectKind(() => get("/close"), "closed"));
  test('a body cut short (ReadError "The server aborted pending request") is closed', () =>
    expectKind(() => get("/truncate"), "closed"));
  test("got's own timeout is timeout", () =>
    expectKind(() => get("/stall", { timeout: { request: TIMEOUT_MS } }), "timeout"));
  test("promise.cancel() (CancelError ERR_CANCELED) is cancelled", () =>
    expectKind(() => {
      const p = got(`${http.origin}/stall`, { retry: { limit: 0 } });
      setTimeout(() => p.cancel(), 50);
      return p;
    }, "cancelled"));
  test("an HTTP 404 (HTTPError) stays unknown", () =>
    expectKind(() => get("/status/404"), "unknown"));
});

describe("undici", () => {
  const agents: any[] = [];
  const agent = () => {
    const a = new undici.Agent();
    agents.push(a);
    return a;
  };
  after(async () => {
    for (const a of agents) if (typeof a.destroy === "function") await a.destroy();
  });
  const request = async (url: string, options: Record<string, unknown> = {}) => {
    const res = await undici.request(url, { dispatcher: agent(), ...options });
    return await res.body.text();
  };

  test("a refusal is refused, and nothing was sent", () =>
    expectKind(() => request(`http://127.0.0.1:${refusedPort}/`), "refused", false));
  test("an RST before the answer is reset", () =>
    expectKind(() => request(`${http.origin}/reset`), "reset"));
  test("a FIN before the answer is closed", () =>
    expectKind(() => request(`${http.origin}/close`), FETCH_FIN));
  test(
    "its headersTimeout is timeout",
    { skip: BUN && "Bun's built-in undici ignores it" },
    () =>
      expectKind(() => request(`${http.origin}/stall`, { headersTimeout: TIMEOUT_MS }), "timeout"),
  );
  test(
    "fetch: a body cut short is closed",
    { skip: G.Deno && "hangs under Deno" },
    () =>
      expectKind(async () => {
        const res = await undici.fetch(`${http.origin}/truncate`, { dispatcher: agent() });
        return await res.text();
      }, BUN ? "reset" : "closed"),
  );
});

describe("node-fetch", () => {
  test("a refusal is refused", () =>
    expectKind(() => nodeFetch(`http://127.0.0.1:${refusedPort}/`), "refused", false));
  test('a FIN before the answer ("reason: socket hang up") is closed', () =>
    expectKind(() => nodeFetch(`${http.origin}/close`), FETCH_FIN));
  test('a body cut short ("Invalid response body ...: aborted") is closed', () =>
    expectKind(async () => (await nodeFetch(`${http.origin}/truncate`)).text(), FETCH_FIN));
  test("the caller's AbortSignal is cancelled", () =>
    expectKind(() => nodeFetch(`${http.origin}/stall`, { signal: cancelAfter() }), "cancelled"));
});

describe("ky", () => {
  const get = (path: string, options: Record<string, unknown> = {}) =>
    ky.get(`${http.origin}${path}`, { retry: 0, ...options }).text();

  test("a refusal is refused", () =>
    expectKind(() => ky.get(`http://127.0.0.1:${refusedPort}/`, { retry: 0 }), "refused"));
  test("ky's own timeout (TimeoutError) is timeout", () =>
    expectKind(() => get("/stall", { timeout: TIMEOUT_MS }), "timeout"));
  test("an HTTP 500 (HTTPError) stays unknown", () =>
    expectKind(() => get("/status/500"), "unknown"));
});

describe("ws", () => {
  /** Opens a WebSocket that must fail, and resolves with its error event. */
  const openFailing = (url: string, options: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.on("error", (e: unknown) => {
        ws.terminate();
        reject(e);
      });
      ws.on("open", () => {
        ws.terminate();
        resolve(undefined);
      });
    });
  const wsOrigin = () => http.origin.replace("http:", "ws:");

  test("a refusal is refused, and nothing was sent", () =>
    expectKind(() => openFailing(`ws://127.0.0.1:${refusedPort}/`), "refused", false));
  test("a FIN during the handshake is closed", () =>
    expectKind(() => openFailing(`${wsOrigin()}/close`), "closed"));
  test('"Opening handshake has timed out" is timeout', () =>
    expectKind(
      () => openFailing(`${wsOrigin()}/stall`, { handshakeTimeout: TIMEOUT_MS }),
      "timeout",
    ));
  test('"Unexpected server response: 400" stays unknown', () =>
    expectKind(() => openFailing(`${wsOrigin()}/status/400`), "unknown"));
});

describe("@grpc/grpc-js", () => {
  let server: GrpcTestServer;
  const clients: TestClientInstance[] = [];
  const client = (target: string) => {
    const c = testClient(target);
    clients.push(c);
    return c;
  };
  const rejecting = (p: Promise<unknown>) => () =>
    p.then((e) => {
      throw e;
    });
  before(async () => {
    server = await startGrpcServer();
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  test('UNAVAILABLE "connect ECONNREFUSED" is refused, and nothing was sent', () =>
    expectKind(
      rejecting(callForError(client(`127.0.0.1:${refusedPort}`), { mode: "ok" })),
      "refused",
      false,
    ));
  test("DEADLINE_EXCEEDED is timeout", () =>
    expectKind(
      rejecting(
        callForError(client(server.target), { mode: "stall" }, {
          deadline: Date.now() + TIMEOUT_MS,
        }),
      ),
      "timeout",
    ));
  test('call.cancel() (CANCELLED "Cancelled on client") is cancelled', () =>
    expectKind(
      rejecting(
        callForError(client(server.target), { mode: "stall" }, {}, (call) => {
          setTimeout(() => call.cancel(), 50);
        }),
      ),
      "cancelled",
    ));
  test("a connection that ends mid-call (FIN) is closed", async () => {
    let proxy: RawServer | undefined;
    try {
      proxy = await startCuttingProxy(server.port, "close", 100);
      const target = `127.0.0.1:${proxy.port}`;
      await expectKind(rejecting(callForError(client(target), { mode: "stall" })), "closed");
    } finally {
      await proxy?.close();
    }
  });
  test("NOT_FOUND stays unknown", () =>
    expectKind(rejecting(callForError(client(server.target), { mode: "not_found" })), "unknown"));
});

describe("the runtime's fetch", () => {
  test(`a FIN before the answer is ${FETCH_FIN}`, () =>
    expectKind(() => fetch(`${http.origin}/close`), FETCH_FIN));
});
