// The HTTP, WebSocket and gRPC client recognizers on the shapes that the
// recorded fixtures (tests/fixtures/clients/) do not hold: shapes written
// here from each client's source (node-fetch 2's timeouts, axios's XHR
// adapter, got's phase timeouts, grpc-js's other details), the boundaries
// between a client's error and its neighbours', and the `node:http`
// recognizer on its own until it is registered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createNormalizer, normalizeError } from "../src/errors/normalize_error.ts";
import { axios } from "../src/errors/clients/axios.ts";
import { got } from "../src/errors/clients/got.ts";
import { undici } from "../src/errors/clients/undici.ts";
import { nodeFetch } from "../src/errors/clients/node_fetch.ts";
import { ky } from "../src/errors/clients/ky.ts";
import { ws } from "../src/errors/clients/ws.ts";
import { grpc } from "../src/errors/clients/grpc.ts";
import { nodeHttp } from "../src/errors/clients/node_http.ts";
import type { ErrorFields, Recognizer } from "../src/errors/recognizer.ts";
import { rebuild } from "./support/rebuild_error.ts";

/** The part of a fixture file (tests/client_fixtures_test.ts) read here. */
interface ClientFixtureFile {
  captured: Array<{ fault: string; expected: string; error: unknown }>;
}

/** An Error with these fields, as the client would make it. */
function err(message: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), fields);
}

function grpcError(code: number, name: string, details: string): Error {
  return err(`${code} ${name}: ${details}`, { code, details, metadata: {} });
}

test("every recognizer has a name and answers undefined for an error that is not its client's", () => {
  const plain = err("boom");
  for (const r of [axios, got, undici, nodeFetch, ky, ws, grpc, nodeHttp] as Recognizer[]) {
    assert.ok(r.name.length > 0);
    assert.equal(r.match?.(plain as unknown as ErrorFields), undefined, r.name);
    assert.equal(r.matchMessage?.("boom", plain as unknown as ErrorFields), undefined, r.name);
  }
});

test("axios: what its timeout, cancel and status codes mean", () => {
  const a = (message: string, code: string, extra: Record<string, unknown> = {}) =>
    normalizeError(err(message, { isAxiosError: true, code, ...extra }));
  const t = a("timeout of 1500ms exceeded", "ECONNABORTED");
  assert.equal(t.kind, "timeout");
  assert.equal(t.kind === "timeout" ? t.timeoutMs : undefined, 1500);
  // A timeoutErrorMessage of the caller's own: still axios's timeout.
  assert.equal(a("the API is slow", "ECONNABORTED").kind, "timeout");
  // The XHR adapter's "Request aborted" is not a timeout.
  assert.equal(a("Request aborted", "ECONNABORTED").kind, "aborted");
  // A socket's own ECONNABORTED, copied by AxiosError.from(): the socket's word.
  const copied = a("read ECONNABORTED", "ECONNABORTED", {
    cause: err("read ECONNABORTED", { code: "ECONNABORTED", syscall: "read" }),
  });
  assert.equal(copied.kind, "aborted");
  assert.equal(a("canceled", "ERR_CANCELED").kind, "cancelled");
  // axios < 0.22: a plain Cancel object.
  assert.equal(normalizeError({ message: "gone", __CANCEL__: true }).kind, "cancelled");
  assert.equal(a("maxContentLength size of 10 exceeded", "ERR_BAD_RESPONSE").kind, "unknown");
  assert.equal(a("Request failed with status code 503", "ERR_BAD_RESPONSE").kind, "unknown");
  assert.equal(a("stream has been aborted", "ERR_BAD_RESPONSE").kind, "closed");
});

test('axios: "Network Error" is connect_failed only when nothing more is known', () => {
  const xhr = err("Network Error", { isAxiosError: true, code: "ERR_NETWORK" });
  assert.equal(normalizeError(xhr).kind, "connect_failed");
  // The fetch adapter keeps the runtime's error: Deno's is message-only.
  const deno = err("Network Error", {
    isAxiosError: true,
    code: "ERR_NETWORK",
    cause: new TypeError("Connection reset by peer (os error 104)"),
  });
  assert.equal(normalizeError(deno).kind, "reset");
  // Not an AxiosError: not axios's to say.
  assert.equal(normalizeError(err("Network Error", { code: "ERR_NETWORK" })).kind, "unknown");
});

test("got: phase timeouts before the request left say sent: false", () => {
  const timeout = (event: string) =>
    normalizeError(err(`Timeout awaiting '${event}' for 250ms`, {
      name: "TimeoutError",
      code: "ETIMEDOUT",
      event,
    }));
  for (const event of ["lookup", "socket", "connect", "secureConnect"]) {
    const e = timeout(event);
    assert.equal(e.kind, "timeout", event);
    assert.equal(e.sent, false, event);
    assert.equal(e.kind === "timeout" ? e.timeoutMs : undefined, 250, event);
  }
  assert.equal(timeout("lookup").operation, "lookup");
  for (const event of ["send", "response", "read", "request"]) {
    const e = timeout(event);
    assert.equal(e.kind, "timeout", event);
    assert.notEqual(e.sent, false, event);
  }
  const mismatch = err("Content-Length mismatch: expected 100 bytes, received 10 bytes", {
    name: "ReadError",
    code: "ERR_HTTP_CONTENT_LENGTH_MISMATCH",
  });
  assert.equal(normalizeError(mismatch).kind, "closed");
  // A ReadError that carries a real reset stays a reset.
  const reset = err("read ECONNRESET", {
    name: "ReadError",
    code: "ECONNRESET",
    cause: err("read ECONNRESET", { code: "ECONNRESET", syscall: "read" }),
  });
  assert.equal(normalizeError(reset).kind, "reset");
});

test("undici: a connect timeout sent nothing; status errors stay unknown", () => {
  const connect = normalizeError(err(
    "Connect Timeout Error (attempted address: 10.0.0.1:443, timeout: 10000ms)",
    { name: "ConnectTimeoutError", code: "UND_ERR_CONNECT_TIMEOUT" },
  ));
  assert.equal(connect.kind, "timeout");
  assert.equal(connect.sent, false);
  assert.equal(connect.operation, "connect");
  assert.equal(connect.kind === "timeout" ? connect.timeoutMs : undefined, 10000);
  const body = normalizeError(err("Body Timeout Error", { code: "UND_ERR_BODY_TIMEOUT" }));
  assert.equal(body.kind, "timeout");
  assert.equal(body.sent, true);
  for (const code of ["UND_ERR_RESPONSE", "UND_ERR_RESPONSE_STATUS_CODE", "UND_ERR_REQ_RETRY"]) {
    assert.equal(normalizeError(err("Request failed", { code, statusCode: 503 })).kind, "unknown");
  }
});

test("node-fetch 2: its own timeouts", () => {
  const fetchError = (message: string, type: string) =>
    normalizeError(err(message, { name: "FetchError", type }));
  assert.equal(fetchError("network timeout at: http://x/", "request-timeout").kind, "timeout");
  const body = fetchError(
    "Response timeout while trying to fetch http://x/ (over 10ms)",
    "body-timeout",
  );
  assert.equal(body.kind, "timeout");
  assert.equal(body.sent, true);
  assert.equal(fetchError("invalid json response body", "invalid-json").kind, "unknown");
  // A FetchError's real reset ("reason: read ECONNRESET", erroredSysCall "read").
  const reset = normalizeError(err("request to http://x/ failed, reason: read ECONNRESET", {
    name: "FetchError",
    type: "system",
    code: "ECONNRESET",
    errno: "ECONNRESET",
    erroredSysCall: "read",
  }));
  assert.equal(reset.kind, "reset");
});

test("ky: only its own TimeoutError and HTTPError", () => {
  assert.equal(
    normalizeError(err("Request timed out: GET http://x/", { name: "TimeoutError" })).kind,
    "timeout",
  );
  assert.equal(
    normalizeError(err("Request failed with status code 502 Bad Gateway: GET http://x/", {
      name: "HTTPError",
    })).kind,
    "unknown",
  );
});

test("ws: its fixed messages, and only those", () => {
  assert.equal(normalizeError(err("Opening handshake has timed out")).kind, "timeout");
  assert.equal(
    normalizeError(err("WebSocket was closed before the connection was established")).kind,
    "cancelled",
  );
  assert.equal(normalizeError(err("Unexpected server response: 503")).kind, "unknown");
  // A code anywhere in the chain decides before any message is read.
  const withCause = err("Opening handshake has timed out", {
    cause: err("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" }),
  });
  assert.equal(normalizeError(withCause).kind, "refused");
});

test("@grpc/grpc-js: UNAVAILABLE by what its details quote", () => {
  const unavailable = (details: string) => normalizeError(grpcError(14, "UNAVAILABLE", details));
  const again = unavailable(
    "No connection established. Last error: getaddrinfo EAI_AGAIN db.internal. Resolution note: ",
  );
  assert.equal(again.kind, "dns");
  assert.equal(again.kind === "dns" ? again.temporary : undefined, true);
  assert.equal(again.sent, false);
  const unreachable = unavailable(
    "No connection established. Last error: connect EHOSTUNREACH 10.0.0.9:50051",
  );
  assert.equal(unreachable.kind, "unreachable");
  assert.equal(unreachable.sent, false);
  assert.equal(unavailable("Write error: write EPIPE").kind, "broken_pipe");
  assert.equal(unavailable("Received HTTP status code 503").kind, "unknown");
  assert.equal(unavailable("Stream refused by server").kind, "unknown");
  assert.equal(unavailable("the backend is draining").kind, "unknown");
  assert.equal(
    normalizeError(grpcError(1, "CANCELLED", "Cancelled by parent call")).kind,
    "cancelled",
  );
  assert.equal(normalizeError(grpcError(1, "CANCELLED", "the server gave up")).kind, "unknown");
  assert.equal(normalizeError(grpcError(13, "INTERNAL", "read ECONNRESET")).kind, "unknown");
});

test("@grpc/grpc-js: only a ServiceError's shape is grpc's", () => {
  // A numeric code and details, but not grpc-js's message: not a grpc status.
  const other = err("connect ECONNREFUSED 127.0.0.1:1", { code: 14, details: "x" });
  assert.equal(grpc.match?.(other as unknown as ErrorFields), undefined);
  const outOfRange = err("99 WHATEVER: x", { code: 99, details: "x" });
  assert.equal(grpc.match?.(outOfRange as unknown as ErrorFields), undefined);
  const wrongName = err("14 NOT_FOUND: x", { code: 14, details: "x" });
  assert.equal(grpc.match?.(wrongName as unknown as ErrorFields), undefined);
});

test('node:http: "socket hang up" and "aborted" are closed; a real reset is not', () => {
  const normalize = createNormalizer({ recognizers: [nodeHttp] });
  assert.equal(normalize(err("socket hang up", { code: "ECONNRESET" })).kind, "closed");
  const cut = normalize(err("aborted", { code: "ECONNRESET" }));
  assert.equal(cut.kind, "closed");
  assert.equal(cut.sent, true);
  assert.equal(
    normalize(err("read ECONNRESET", { code: "ECONNRESET", errno: -104, syscall: "read" })).kind,
    "reset",
  );
  // Bun's node:http adds errno, but no syscall, to its "socket hang up".
  assert.equal(
    normalize(err("socket hang up", { code: "ECONNRESET", errno: -104 })).kind,
    "closed",
  );
});

test("node:http: every recorded node:http error, with the recognizer given explicitly", () => {
  const normalize = createNormalizer({ recognizers: [nodeHttp] });
  const dir = new URL("./fixtures/clients/", import.meta.url);
  const files = readdirSync(dir).filter((f) => f.startsWith("node-http.") && f.endsWith(".json"));
  assert.ok(files.length > 0, "node-http fixtures exist");
  for (const name of files) {
    const data = JSON.parse(readFileSync(new URL(name, dir), "utf8")) as ClientFixtureFile;
    for (const c of data.captured) {
      assert.equal(normalize(rebuild(c.error)).kind, c.expected, `${name}: ${c.fault}`);
    }
  }
});

test("an errno name of five capitals is not taken for a postgres SQLSTATE", () => {
  // Bun writes `EPIPE: broken pipe, read`, the shape postgres.js gives a server error.
  const bun = Object.assign(new Error("EPIPE: broken pipe, read"), {
    code: "EPIPE",
    syscall: "read",
  });
  assert.equal(normalizeError(bun).kind, "broken_pipe");
  const reset = Object.assign(new Error("ECONNRESET: reset"), { code: "ECONNRESET" });
  assert.equal(normalizeError(reset).kind, "reset");
  const pgShutdown = Object.assign(new Error("57P01: terminating connection"), { code: "57P01" });
  assert.equal(normalizeError(pgShutdown).kind, "closed");
});
