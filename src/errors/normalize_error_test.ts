import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError } from "./connection_error.ts";
import { normalizeError } from "./normalize_error.ts";

const withCode = (message: string, props: Record<string, unknown>) =>
  Object.assign(new Error(message), props);

test("normalizeError() maps Node errno codes to kinds", () => {
  const cases: Array<[string, string]> = [
    ["ECONNREFUSED", "refused"],
    ["ECONNRESET", "reset"],
    ["EPIPE", "broken_pipe"],
    ["ETIMEDOUT", "timeout"],
    ["ENOTFOUND", "dns"],
    ["EAI_AGAIN", "dns"],
    ["EHOSTUNREACH", "unreachable"],
    ["ENETUNREACH", "unreachable"],
    ["ECONNABORTED", "aborted"],
    ["EADDRINUSE", "address_in_use"],
    ["EADDRNOTAVAIL", "address_unavailable"],
    ["ABORT_ERR", "cancelled"],
    ["UND_ERR_SOCKET", "closed"],
    ["UND_ERR_CONNECT_TIMEOUT", "timeout"],
    ["ERR_SSL_WRONG_VERSION_NUMBER", "tls"],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls"],
  ];
  for (const [code, kind] of cases) {
    const e = normalizeError(withCode(`x ${code}`, { code }));
    assert.equal(e.kind, kind, code);
  }
});

test("normalizeError() keeps address, port and syscall from a Node error", () => {
  const raw = withCode("connect ECONNREFUSED 127.0.0.1:5432", {
    code: "ECONNREFUSED",
    errno: -111,
    syscall: "connect",
    address: "127.0.0.1",
    port: 5432,
  });
  const e = normalizeError(raw);
  assert.equal(e.kind, "refused");
  assert.equal(e.code, "ECONNREFUSED");
  assert.equal(e.host, "127.0.0.1");
  assert.equal(e.port, 5432);
  assert.equal(e.operation, "connect");
  assert.equal(e.cause, raw);
  assert.ok(e.hint.includes("127.0.0.1:5432"));
});

test("normalizeError() prefers the caller's context for host, port and operation", () => {
  const raw = withCode("x", { code: "ECONNRESET", address: "10.0.0.1", port: 1, syscall: "read" });
  const e = normalizeError(raw, { host: "db.internal", port: 5432, operation: "write" });
  assert.equal(e.host, "db.internal");
  assert.equal(e.port, 5432);
  assert.equal(e.operation, "write");
});

test("normalizeError() marks EAI_AGAIN temporary and ENOTFOUND permanent", () => {
  const temp = normalizeError(withCode("x", { code: "EAI_AGAIN", hostname: "db" }));
  assert.equal(temp.kind, "dns");
  assert.ok(temp.kind === "dns" && temp.temporary && temp.hostname === "db");
  assert.equal(temp.retryable, true);
  assert.equal(temp.operation, "lookup");
  const perm = normalizeError(withCode("x", { code: "ENOTFOUND", hostname: "x.invalid" }));
  assert.ok(perm.kind === "dns" && !perm.temporary);
  assert.equal(perm.retryable, false);
});

test("normalizeError() looks inside undici's fetch failed cause chain", () => {
  const inner = withCode("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" });
  const raw = new TypeError("fetch failed", { cause: inner });
  const e = normalizeError(raw, { operation: "fetch" });
  assert.equal(e.kind, "refused");
  assert.equal(e.cause, raw);
  assert.equal(e.operation, "fetch");
});

test("normalizeError() reads a Happy-Eyeballs AggregateError with or without a code", () => {
  const errors = [
    withCode("connect ECONNREFUSED ::1:1", { code: "ECONNREFUSED" }),
    withCode("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" }),
  ];
  const withTop = Object.assign(new AggregateError(errors, ""), { code: "ECONNREFUSED" });
  assert.equal(normalizeError(withTop).kind, "refused");
  assert.equal(normalizeError(new AggregateError(errors, "")).kind, "refused");
  const nested = new TypeError("fetch failed", { cause: new AggregateError(errors) });
  assert.equal(normalizeError(nested).kind, "refused");
});

test("normalizeError() maps Deno.errors classes by name", () => {
  const cases: Array<[string, string]> = [
    ["ConnectionRefused", "refused"],
    ["ConnectionReset", "reset"],
    ["ConnectionAborted", "aborted"],
    ["BrokenPipe", "broken_pipe"],
    ["TimedOut", "timeout"],
    ["AddrInUse", "address_in_use"],
    ["AddrNotAvailable", "address_unavailable"],
    ["UnexpectedEof", "closed"],
  ];
  for (const [name, kind] of cases) {
    const e = new Error("os error");
    e.name = name;
    assert.equal(normalizeError(e).kind, kind, name);
  }
});

test("normalizeError() maps DOMException AbortError to cancelled and TimeoutError to timeout", () => {
  assert.equal(normalizeError(new DOMException("aborted", "AbortError")).kind, "cancelled");
  assert.equal(normalizeError(new DOMException("timed out", "TimeoutError")).kind, "timeout");
  assert.equal(normalizeError(new DOMException("x", "AbortError")).retryable, false);
});

test("normalizeError() reads message-only runtime errors", () => {
  const deno = new TypeError(
    "error sending request for url (http://127.0.0.1:1/): client error (Connect): tcp connect error: Connection refused (os error 111)",
  );
  assert.equal(normalizeError(deno).kind, "refused");
  assert.equal(normalizeError(deno).code, "ECONNREFUSED");
  const workerd = new Error("proxy request failed, cannot connect to the specified address");
  assert.equal(normalizeError(workerd).kind, "connect_failed");
  assert.equal(normalizeError(new Error("Network connection lost.")).kind, "connect_failed");
});

test("normalizeError() leaves a bug in the caller's code as unknown", () => {
  let bug: unknown;
  try {
    (undefined as unknown as { connect(): void }).connect();
  } catch (e) {
    bug = e;
  }
  const e = normalizeError(bug);
  assert.equal(e.kind, "unknown");
  assert.equal(e.cause, bug);
  assert.equal(e.retryable, false);
  assert.equal(normalizeError(new TypeError("fetch failed")).kind, "unknown");
  assert.equal(normalizeError(new RangeError("port out of range")).kind, "unknown");
});

test("normalizeError() is idempotent and returns the same ConnectionError", () => {
  const once = normalizeError(withCode("x", { code: "ECONNRESET" }));
  assert.equal(normalizeError(once), once);
  const made = new ConnectionError("tls");
  assert.equal(normalizeError(made, { host: "other" }), made);
});

test("normalizeError() never throws on hostile input", () => {
  const throwingGetter = Object.defineProperty({}, "code", {
    get() {
      throw new Error("getter");
    },
  });
  const trapAll = new Proxy({}, {
    get() {
      throw new Error("get trap");
    },
    has() {
      throw new Error("has trap");
    },
    getPrototypeOf() {
      throw new Error("proto trap");
    },
    ownKeys() {
      throw new Error("keys trap");
    },
  });
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const cyclic = new Error("a") as Error & { cause?: unknown };
  const other = new Error("b", { cause: cyclic });
  cyclic.cause = other;
  let deep: unknown = withCode("deep", { code: "ECONNREFUSED" });
  for (let i = 0; i < 10_000; i++) deep = new Error(`wrap ${i}`, { cause: deep });
  const frozen = Object.freeze(withCode("x", { code: "EPIPE" }));
  const huge = new Error("x".repeat(5_000_000));
  const weirdCode = withCode("x", { code: 23 });
  const inputs: unknown[] = [
    undefined,
    null,
    0,
    NaN,
    "ECONNREFUSED",
    Symbol("s"),
    10n,
    () => {},
    [],
    {},
    throwingGetter,
    trapAll,
    revocable.proxy,
    cyclic,
    deep,
    frozen,
    huge,
    weirdCode,
    Object.create(null),
    new AggregateError([trapAll, cyclic, null, 1]),
  ];
  for (const input of inputs) {
    const e = normalizeError(input);
    assert.ok(e instanceof ConnectionError);
    assert.equal(e.cause, input);
  }
  assert.equal(normalizeError(frozen).kind, "broken_pipe");
  assert.equal(normalizeError(cyclic).kind, "unknown");
  // Past the depth bound the wrapped code is not found: bounded, not clever.
  assert.equal(normalizeError(deep).kind, "unknown");
});

test("normalizeError() never mutates its input", () => {
  const raw = withCode("connect ECONNREFUSED", { code: "ECONNREFUSED" });
  const before = Object.getOwnPropertyNames(raw).sort();
  normalizeError(raw);
  assert.deepEqual(Object.getOwnPropertyNames(raw).sort(), before);
});
