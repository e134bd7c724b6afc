// Written against mutation testing (Stryker): the details of ConnectionError,
// its kinds, hints and JSON form that a mutant changed unnoticed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, hasBrand } from "./connection_error.ts";
import {
  CONNECTION_ERROR_KINDS,
  type ConnectionErrorKind,
  formatTarget,
  hintFor,
  RETRYABLE_BY_KIND,
} from "./kinds.ts";
import { isConnectionError } from "./is_connection_error.ts";

test("the kinds are exactly the contract's, frozen, with their retryable defaults", () => {
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
});

test("formatTarget() writes host:port, brackets IPv6 once, and says what it knows", () => {
  assert.equal(formatTarget("db", 5432), "db:5432");
  assert.equal(formatTarget("::1", 80), "[::1]:80");
  assert.equal(formatTarget("[::1]", 80), "[::1]:80");
  assert.equal(formatTarget("::1", undefined), "[::1]");
  assert.equal(formatTarget("db", undefined), "db");
  assert.equal(formatTarget(undefined, 80), "port 80");
  assert.equal(formatTarget(undefined, undefined), "the peer");
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

test("fields: cause only when given, kind-specific fields only on their kinds, overrides win", () => {
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

test("toJSON() summarizes the cause and carries the kind's own fields", () => {
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

test("the brand: only a real `true` counts, and subclasses keep the ordinary check", () => {
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
  class Mine extends ConnectionError {}
  assert.ok(new Mine("reset") instanceof Mine);
  assert.ok(new Mine("reset") instanceof ConnectionError);
  assert.equal(new ConnectionError("reset") instanceof Mine, false);
  assert.equal({ [brand]: true } instanceof Mine, false);
  assert.equal({} instanceof ConnectionError, false);
  assert.equal(isConnectionError(new ConnectionError("dns"), "dns"), true);
  assert.equal(isConnectionError(new ConnectionError("dns"), "tls"), false);
  assert.equal(isConnectionError(new ConnectionError("dns"), ["tls", "dns"]), true);
  assert.equal(isConnectionError(new ConnectionError("dns"), []), false);
  assert.equal(isConnectionError({}, "dns"), false);
  assert.equal(isConnectionError(new ConnectionError("dns")), true);
});
