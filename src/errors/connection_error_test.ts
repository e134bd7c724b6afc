import { test } from "node:test";
import assert from "node:assert/strict";
import { type AnyConnectionError, ConnectionError, hasBrand } from "./connection_error.ts";
import {
  CONNECTION_ERROR_KINDS,
  type ConnectionErrorKind,
  formatTarget,
  hintFor,
  RETRYABLE_BY_KIND,
} from "./kinds.ts";
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
  assert.ok(new MyError("refused") instanceof ConnectionError);
  assert.ok(!(new ConnectionError("refused") instanceof MyError));
  const brand = Symbol.for("faultline.ConnectionError");
  assert.equal({ [brand]: true, kind: "refused" } instanceof MyError, false);
});
test("isConnectionError() checks one kind or a list", () => {
  const e = new ConnectionError("reset");
  assert.equal(isConnectionError(e), true);
  assert.equal(isConnectionError(e, "reset"), true);
  assert.equal(isConnectionError(e, "refused"), false);
  assert.equal(isConnectionError(e, ["refused", "reset"]), true);
  assert.equal(isConnectionError(e, []), false, "an empty list matches no kind");
  assert.equal(isConnectionError({}, "reset"), false);
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
  assert.equal(
    new ConnectionError("connect_failed").sent,
    undefined,
    "a browser's Failed to fetch",
  );
  for (const kind of ["reset", "closed", "broken_pipe", "aborted", "cancelled", "unknown"]) {
    assert.equal(new ConnectionError(kind as "reset").sent, undefined, kind);
  }
  assert.equal(new ConnectionError("reset", { sent: true }).sent, true, "an explicit answer wins");
  assert.equal(new ConnectionError("refused", { sent: true }).sent, true);
  assert.equal(new ConnectionError("closed", { sent: false }).toJSON().sent, false);
});

test("the kinds are exactly the contract's, frozen, and each is retryable by default or not", () => {
  assert.deepEqual([...CONNECTION_ERROR_KINDS], [
    "refused",
    "reset",
    "aborted",
    "broken_pipe",
    "closed",
    "timeout",
    "dns",
    "unreachable",
    "address_in_use",
    "address_unavailable",
    "tls",
    "connect_failed",
    "cancelled",
    "unknown",
  ]);
  assert.ok(Object.isFrozen(CONNECTION_ERROR_KINDS));
  assert.ok(Object.isFrozen(RETRYABLE_BY_KIND));
  assert.deepEqual({ ...RETRYABLE_BY_KIND }, {
    refused: true,
    reset: true,
    aborted: true,
    broken_pipe: true,
    closed: true,
    timeout: true,
    dns: false,
    unreachable: true,
    address_in_use: false,
    address_unavailable: false,
    tls: false,
    connect_failed: true,
    cancelled: false,
    unknown: false,
  });
  for (const kind of CONNECTION_ERROR_KINDS) {
    assert.equal(new ConnectionError(kind).retryable, RETRYABLE_BY_KIND[kind], kind);
  }
  // dns depends on whether the failure is temporary (EAI_AGAIN).
  assert.equal(new ConnectionError("dns", { temporary: false }).retryable, false);
  assert.equal(new ConnectionError("dns", { temporary: true }).retryable, true);
});

test("the target is written host:port, IPv6 bracketed once, in messages and hints", () => {
  assert.equal(formatTarget("db", 5432), "db:5432");
  assert.equal(formatTarget("::1", 80), "[::1]:80");
  assert.equal(formatTarget("[::1]", 80), "[::1]:80");
  assert.equal(formatTarget("::1", undefined), "[::1]");
  assert.equal(formatTarget("db", undefined), "db");
  assert.equal(formatTarget(undefined, 80), "port 80");
  assert.equal(formatTarget(undefined, undefined), "the peer");
  const e = new ConnectionError("refused", { host: "::1", port: 80 });
  assert.ok(e.message.includes("[::1]:80"));
  assert.ok(e.hint.includes("[::1]:80"));
});

test("every hint names its kind's causes and the target", () => {
  const expected: Record<ConnectionErrorKind, RegExp> = {
    refused: /^Nothing is listening at h:1: is the server running/,
    reset: /^h:1 dropped the connection abruptly/,
    aborted: /^The connection to h:1 was aborted on this machine \(ECONNABORTED\)/,
    broken_pipe: /^Wrote to h:1 after it had closed the connection/,
    closed: /^h:1 closed the connection before the data was complete/,
    timeout: /^No answer from h:1: the server is overloaded/,
    dns: /^Could not resolve "h": check the spelling/,
    unreachable: /^No route to h:1: the host or network is down/,
    address_in_use: /^h:1 is already in use: another process holds that port/,
    address_unavailable: /^h:1 cannot be used from this machine/,
    tls: /^The TLS handshake with h:1 failed/,
    connect_failed: /^Could not connect to h:1, and the runtime does not say why/,
    cancelled: /^The operation was cancelled by its own AbortSignal/,
    unknown: /^Not recognized as a connection failure: see 'cause'/,
  };
  for (const kind of CONNECTION_ERROR_KINDS) {
    assert.match(hintFor(kind, { host: "h", port: 1 }), expected[kind], kind);
  }
  assert.match(
    hintFor("timeout", { host: "h", port: 1, timeoutMs: 30 }),
    /^No answer from h:1 within 30 ms: /,
  );
  assert.match(
    hintFor("dns", { host: "h", hostname: "n", temporary: true }),
    /^Looking up "n" failed for now \(EAI_AGAIN\)/,
  );
  assert.match(hintFor("dns", {}), /^Could not resolve the host name: /);
  assert.match(hintFor("dns", { temporary: true }), /^Looking up the host name failed for now/);
});

test("the message is the kind's, with the target and the code when known", () => {
  assert.equal(new ConnectionError("refused").message, "Connection refused");
  assert.equal(new ConnectionError("reset", { host: "h" }).message, "Connection reset: h");
  assert.equal(new ConnectionError("reset", { port: 9 }).message, "Connection reset: port 9");
  assert.equal(
    new ConnectionError("broken_pipe", { host: "h", port: 9, code: "EPIPE" }).message,
    "Broken pipe: h:9 (EPIPE)",
  );
  assert.equal(new ConnectionError("closed", { code: "X" }).message, "Connection closed early (X)");
  assert.equal(new ConnectionError("tls", { message: "own" }).message, "own");
  assert.equal(new ConnectionError("tls", { message: "" }).message, "");
  const messages: Record<ConnectionErrorKind, string> = {
    refused: "Connection refused",
    reset: "Connection reset",
    aborted: "Connection aborted",
    broken_pipe: "Broken pipe",
    closed: "Connection closed early",
    timeout: "Timed out",
    dns: "DNS lookup failed",
    unreachable: "Host or network unreachable",
    address_in_use: "Address in use",
    address_unavailable: "Address not available",
    tls: "TLS failure",
    connect_failed: "Could not connect",
    cancelled: "Cancelled",
    unknown: "Unrecognized error",
  };
  for (const kind of CONNECTION_ERROR_KINDS) {
    assert.equal(new ConnectionError(kind).message, messages[kind]);
  }
  assert.equal(new ConnectionError("nope" as never).message, "Connection failed");
  assert.equal(new ConnectionError("nope" as never).retryable, false);
});

test("ConnectionError's fields: cause only when given, kind-specific fields only on their kinds, overrides win", () => {
  assert.equal(Object.hasOwn(new ConnectionError("reset"), "cause"), false);
  const withUndefined = new ConnectionError("reset", { cause: undefined });
  assert.equal(Object.hasOwn(withUndefined, "cause"), true);
  const e = new ConnectionError("reset", {
    code: "ECONNRESET",
    runtime: "bun",
    operation: "read",
    host: "h",
    port: 2,
  });
  assert.equal(e.name, "ConnectionError");
  assert.equal(e.code, "ECONNRESET");
  assert.equal(e.runtime, "bun");
  assert.equal(e.operation, "read");
  assert.equal(e.host, "h");
  assert.equal(e.port, 2);
  assert.equal(new ConnectionError("reset").runtime, "unknown");
  for (const key of ["hostname", "temporary", "timeoutMs"]) {
    assert.equal(Object.hasOwn(e, key), false, key);
  }
  const dns = new ConnectionError("dns", { host: "h" }) as unknown as Record<string, unknown>;
  assert.equal(dns.hostname, "h");
  assert.equal(dns.temporary, false);
  assert.equal(Object.hasOwn(dns, "timeoutMs"), false);
  const dns2 = new ConnectionError("dns", { host: "h", hostname: "n", temporary: "yes" as never });
  assert.equal((dns2 as unknown as Record<string, unknown>).hostname, "n");
  assert.equal((dns2 as unknown as Record<string, unknown>).temporary, false);
  assert.equal(dns2.retryable, false);
  const t = new ConnectionError("timeout", { timeoutMs: 5 }) as unknown as Record<string, unknown>;
  assert.equal(t.timeoutMs, 5);
  assert.equal(Object.hasOwn(t, "hostname"), false);
  assert.equal(new ConnectionError("refused", { retryable: false }).retryable, false);
  assert.equal(new ConnectionError("unknown", { retryable: true }).retryable, true);
  assert.equal(new ConnectionError("unknown", { hint: "mine" }).hint, "mine");
  assert.equal(new ConnectionError("dns", { temporary: true }).retryable, true);
});

test("ConnectionError.toJSON() summarizes the cause and carries the kind's own fields", () => {
  const base = new ConnectionError("reset").toJSON();
  assert.equal("cause" in base, false);
  assert.equal("hostname" in base, false);
  assert.equal("timeoutMs" in base, false);
  const dns = new ConnectionError("dns", { hostname: "n", temporary: true }).toJSON();
  assert.equal(dns.hostname, "n");
  assert.equal(dns.temporary, true);
  assert.equal("timeoutMs" in dns, false);
  const t = new ConnectionError("timeout", { timeoutMs: 9 }).toJSON();
  assert.equal(t.timeoutMs, 9);
  assert.equal("timeoutMs" in t && !("hostname" in t), true);
  const cause = (c: unknown) => new ConnectionError("reset", { cause: c }).toJSON().cause;
  assert.deepEqual(cause("text"), { name: "string", message: "text" });
  assert.deepEqual(cause(5), { name: "number", message: "5" });
  assert.deepEqual(cause(null), { name: "object", message: "null" });
  assert.deepEqual(cause({}), { name: "Object", message: "" });
  assert.deepEqual(cause({ name: 1, message: 2, code: true }), { name: "Object", message: "" });
  assert.deepEqual(cause({ name: "N", message: "M", code: 7 }), {
    name: "N",
    message: "M",
    code: 7,
  });
  assert.deepEqual(cause({ name: "N", message: "M", code: "C" }), {
    name: "N",
    message: "M",
    code: "C",
  });
  const hostile = new Proxy({}, {
    get() {
      throw new Error("trap");
    },
  });
  assert.deepEqual(cause(hostile), { name: "Unknown", message: "" });
  assert.deepEqual(cause(Symbol("s")), { name: "symbol", message: "Symbol(s)" });
});

test("the brand counts only as a real `true` beside a known kind", () => {
  const brand = Symbol.for("faultline.ConnectionError");
  assert.equal(hasBrand({ [brand]: true, kind: "reset" }), true);
  // The brand alone is not enough: a Proxy answers true to any read.
  assert.equal(hasBrand({ [brand]: true }), false);
  assert.equal(hasBrand({ [brand]: true, kind: "nonsense" }), false);
  assert.equal(hasBrand({ [brand]: 1, kind: "reset" }), false);
  assert.equal(hasBrand({ [brand]: "true", kind: "reset" }), false);
  assert.equal(hasBrand(null), false);
  assert.equal(hasBrand("x"), false);
  assert.equal(hasBrand(() => {}), false);
  assert.equal({} instanceof ConnectionError, false);
});
