import { test } from "node:test";
import assert from "node:assert/strict";
import { type AnyConnectionError, ConnectionError } from "./connection_error.ts";
import { CONNECTION_ERROR_KINDS, type ConnectionErrorKind } from "./kinds.ts";
import { isConnectionError } from "./is_connection_error.ts";
import { normalizeError } from "./normalize_error.ts";

// Type-level: an exhaustive switch over the kinds ends in `never`, and each
// case narrows to the kind's own fields. If a kind is added without a case,
// this stops compiling (tsc runs in CI through `npm run typecheck`).
function describeKind(e: AnyConnectionError): string {
  switch (e.kind) {
    case "dns":
      return `dns ${e.hostname ?? "?"} temporary=${e.temporary}`;
    case "timeout":
      return `timeout ${e.timeoutMs ?? "?"}`;
    case "refused":
    case "reset":
    case "aborted":
    case "broken_pipe":
    case "closed":
    case "unreachable":
    case "address_in_use":
    case "address_unavailable":
    case "tls":
    case "connect_failed":
    case "cancelled":
    case "unknown":
      return e.kind;
    default: {
      const unreachable: never = e;
      return unreachable;
    }
  }
}

test("ConnectionError narrows by kind in an exhaustive switch", () => {
  const dns = normalizeError(
    Object.assign(new Error("x"), { code: "EAI_AGAIN", hostname: "a.invalid" }),
  );
  assert.equal(describeKind(dns), "dns a.invalid temporary=true");
  const t = new ConnectionError("timeout", { timeoutMs: 50 }) as AnyConnectionError;
  assert.equal(describeKind(t), "timeout 50");
});

test("ConnectionError gives every kind a message, a hint and a retryable flag", () => {
  for (const kind of CONNECTION_ERROR_KINDS) {
    const e = new ConnectionError(kind, { host: "db.local", port: 5432 });
    assert.equal(e.kind, kind);
    assert.equal(e.name, "ConnectionError");
    assert.ok(e.message.length > 0);
    assert.ok(e.hint.length > 20, `hint for ${kind}`);
    assert.ok(!e.hint.includes("\n"), "hint is one line");
    assert.equal(typeof e.retryable, "boolean");
    if (kind !== "cancelled" && kind !== "unknown" && kind !== "dns") {
      assert.ok(e.hint.includes("db.local:5432"), `hint for ${kind} names the target: ${e.hint}`);
    }
  }
});

test("ConnectionError marks cancelled, unknown, tls and permanent dns as not retryable", () => {
  const no: ConnectionErrorKind[] = [
    "cancelled",
    "unknown",
    "tls",
    "address_in_use",
    "address_unavailable",
  ];
  for (const kind of no) assert.equal(new ConnectionError(kind).retryable, false, kind);
  const yes: ConnectionErrorKind[] = [
    "refused",
    "reset",
    "aborted",
    "broken_pipe",
    "closed",
    "timeout",
    "unreachable",
    "connect_failed",
  ];
  for (const kind of yes) assert.equal(new ConnectionError(kind).retryable, true, kind);
  assert.equal(new ConnectionError("dns", { temporary: false }).retryable, false);
  assert.equal(new ConnectionError("dns", { temporary: true }).retryable, true);
});

test("ConnectionError brackets IPv6 hosts in messages and hints", () => {
  const e = new ConnectionError("refused", { host: "::1", port: 80 });
  assert.ok(e.message.includes("[::1]:80"));
  assert.ok(e.hint.includes("[::1]:80"));
});

test("ConnectionError.toJSON() is plain and survives JSON.stringify", () => {
  const cause = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  const e = new ConnectionError("refused", {
    host: "127.0.0.1",
    port: 1,
    code: "ECONNREFUSED",
    cause,
    operation: "connect",
    runtime: "node",
  });
  const json = JSON.parse(JSON.stringify(e));
  assert.deepEqual(json, {
    name: "ConnectionError",
    kind: "refused",
    message: e.message,
    code: "ECONNREFUSED",
    retryable: true,
    runtime: "node",
    operation: "connect",
    host: "127.0.0.1",
    port: 1,
    sent: false,
    hint: e.hint,
    cause: { name: "Error", message: "connect ECONNREFUSED", code: "ECONNREFUSED" },
  });
  const dns = new ConnectionError("dns", { hostname: "x.invalid" }).toJSON();
  assert.equal(dns.hostname, "x.invalid");
  assert.equal(dns.temporary, false);
});

test("ConnectionError.toJSON() copes with a cyclic or hostile cause", () => {
  const cyclic: Record<string, unknown> = { name: "X" };
  cyclic.self = cyclic;
  assert.doesNotThrow(() => JSON.stringify(new ConnectionError("reset", { cause: cyclic })));
  const hostile = new Proxy({}, {
    get() {
      throw new Error("trap");
    },
  });
  assert.doesNotThrow(() => JSON.stringify(new ConnectionError("reset", { cause: hostile })));
});

test("instanceof ConnectionError recognizes errors from another copy of the library", () => {
  const e = new ConnectionError("reset");
  assert.ok(e instanceof ConnectionError);
  assert.ok(e instanceof Error);
  const foreign = Object.create(null);
  foreign[Symbol.for("faultline.ConnectionError")] = true;
  foreign.kind = "reset";
  assert.ok(foreign instanceof ConnectionError);
  assert.ok(isConnectionError(foreign, "reset"));
  assert.ok(!(new Error("x") instanceof ConnectionError));
  assert.ok(!((null as unknown) instanceof ConnectionError));
});

test("instanceof a subclass of ConnectionError keeps the prototype check", () => {
  class MyError extends ConnectionError<"refused"> {}
  assert.ok(new MyError("refused") instanceof MyError);
  assert.ok(!(new ConnectionError("refused") instanceof MyError));
});

test("isConnectionError() checks one kind or a list", () => {
  const e = new ConnectionError("reset");
  assert.equal(isConnectionError(e), true);
  assert.equal(isConnectionError(e, "reset"), true);
  assert.equal(isConnectionError(e, "refused"), false);
  assert.equal(isConnectionError(e, ["refused", "reset"]), true);
  assert.equal(isConnectionError(new Error("reset")), false);
  assert.equal(isConnectionError("reset"), false);
  assert.equal(isConnectionError(undefined), false);
});

test("ConnectionError.sent is false only where the request cannot have left", () => {
  for (const kind of ["refused", "dns", "unreachable", "address_in_use", "address_unavailable"]) {
    assert.equal(new ConnectionError(kind as "refused").sent, false, kind);
  }
  assert.equal(new ConnectionError("tls").sent, false, "a failed handshake");
  assert.equal(new ConnectionError("tls", { operation: "read" }).sent, undefined);
  assert.equal(new ConnectionError("timeout", { operation: "connect" }).sent, false);
  assert.equal(new ConnectionError("timeout").sent, undefined);
  assert.equal(new ConnectionError("timeout", { operation: "fetch" }).sent, undefined);
  assert.equal(new ConnectionError("connect_failed", { operation: "connect" }).sent, false);
  assert.equal(new ConnectionError("connect_failed").sent, undefined, "a browser's Failed to fetch");
  for (const kind of ["reset", "closed", "broken_pipe", "aborted", "cancelled", "unknown"]) {
    assert.equal(new ConnectionError(kind as "reset").sent, undefined, kind);
  }
  assert.equal(new ConnectionError("reset", { sent: true }).sent, true, "an explicit answer wins");
  assert.equal(new ConnectionError("refused", { sent: true }).sent, true);
  assert.equal(new ConnectionError("closed", { sent: false }).toJSON().sent, false);
});
