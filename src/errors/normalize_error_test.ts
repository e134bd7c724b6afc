// normalizeError() and recognize(): the tables of codes, names and phrases,
// which wins when an error says several things, the search through causes and
// AggregateError members (and its bounds), the fields copied onto the
// ConnectionError, and totality on hostile input. The recognizers of clients
// are tested in ./create_normalizer_test.ts and tests/client_fixtures_test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError } from "./connection_error.ts";
import type { ConnectionErrorKind } from "./kinds.ts";
import { normalizeError, recognize } from "./normalize_error.ts";

const withCode = (message: string, props: Record<string, unknown>) =>
  Object.assign(new Error(message), props);

type Row = readonly [string, ConnectionErrorKind, boolean?];

const CODES: readonly Row[] = [
  ["ECONNREFUSED", "refused"],
  ["ConnectionRefused", "refused"],
  ["ECONNRESET", "reset"],
  ["ConnectionReset", "reset"],
  ["EPIPE", "broken_pipe"],
  ["ECONNABORTED", "aborted"],
  ["ETIMEDOUT", "timeout"],
  ["ETIMEOUT", "timeout"],
  ["ESOCKETTIMEDOUT", "timeout"],
  ["ERR_SOCKET_CONNECTION_TIMEOUT", "timeout"],
  ["ERR_TLS_HANDSHAKE_TIMEOUT", "timeout"],
  ["UND_ERR_CONNECT_TIMEOUT", "timeout"],
  ["UND_ERR_HEADERS_TIMEOUT", "timeout"],
  ["UND_ERR_BODY_TIMEOUT", "timeout"],
  ["Timeout", "timeout"],
  ["TimeoutError", "timeout"],
  ["ENOTFOUND", "dns", false],
  ["EAI_NONAME", "dns", false],
  ["EAI_FAIL", "dns", false],
  ["EAI_NODATA", "dns", false],
  ["EAI_ADDRFAMILY", "dns", false],
  ["EAI_AGAIN", "dns", true],
  ["DNSException", "dns", false],
  ["EHOSTUNREACH", "unreachable"],
  ["ENETUNREACH", "unreachable"],
  ["EHOSTDOWN", "unreachable"],
  ["ENETDOWN", "unreachable"],
  ["EADDRINUSE", "address_in_use"],
  ["EADDRNOTAVAIL", "address_unavailable"],
  ["ABORT_ERR", "cancelled"],
  ["UND_ERR_ABORTED", "cancelled"],
  ["UND_ERR_SOCKET", "closed"],
  ["UND_ERR_RES_CONTENT_LENGTH_MISMATCH", "closed"],
  ["UND_ERR_CLOSED", "closed"],
  ["ERR_SOCKET_CLOSED", "closed"],
  ["ERR_STREAM_PREMATURE_CLOSE", "closed"],
  ["ConnectionClosed", "closed"],
  ["EPROTO", "tls"],
  ["ERR_TLS_CERT_ALTNAME_INVALID", "tls"],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls"],
  ["SELF_SIGNED_CERT_IN_CHAIN", "tls"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "tls"],
  ["UNABLE_TO_GET_ISSUER_CERT", "tls"],
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "tls"],
  ["CERT_HAS_EXPIRED", "tls"],
  ["CERT_NOT_YET_VALID", "tls"],
  ["CERT_UNTRUSTED", "tls"],
  ["CERT_REJECTED", "tls"],
  ["HOSTNAME_MISMATCH", "tls"],
  // Prefixes.
  ["ERR_SSL_WRONG_VERSION_NUMBER", "tls"],
  ["ERR_TLS_INVALID_PROTOCOL_VERSION", "tls"],
];

const NAMES: readonly Row[] = [
  ["ConnectionRefused", "refused"],
  ["ConnectionReset", "reset"],
  ["ConnectionAborted", "aborted"],
  ["BrokenPipe", "broken_pipe"],
  ["UnexpectedEof", "closed"],
  ["NotConnected", "closed"],
  ["TimedOut", "timeout"],
  ["TimeoutError", "timeout"],
  ["AddrInUse", "address_in_use"],
  ["AddrNotAvailable", "address_unavailable"],
  ["NetworkUnreachable", "unreachable"],
  ["HostUnreachable", "unreachable"],
  ["AbortError", "cancelled"],
  ["DNSException", "dns", false],
];

const PHRASES: readonly Row[] = [
  ["connection refused", "refused"],
  ["connection reset", "reset"],
  ["broken pipe", "broken_pipe"],
  ["connection aborted", "aborted"],
  ["dns error", "dns", false],
  ["failed to lookup address", "dns", false],
  ["name or service not known", "dns", false],
  ["nodename nor servname", "dns", false],
  ["temporary failure in name resolution", "dns", true],
  ["network is unreachable", "unreachable"],
  ["no route to host", "unreachable"],
  ["invalid peer certificate", "tls"],
  ["invalidcertificate", "tls"],
  ["received corrupt message", "tls"],
  ["tls handshake", "tls"],
  ["before secure tls connection", "tls"],
  ["wrong version number", "tls"],
  ["connection closed before message completed", "closed"],
  ["error reading a body from connection", "closed"],
  ["unexpected end of file", "closed"],
  ["unexpected eof", "closed"],
  ["other side closed", "closed"],
  ["socket hang up", "closed"],
  ["operation timed out", "timeout"],
  ["connection timed out", "timeout"],
  ["cannot connect to the specified address", "connect_failed"],
  ["network connection lost", "connect_failed"],
];

function check(e: ConnectionError, kind: string, temporary: boolean | undefined, what: string) {
  assert.equal(e.kind, kind, what);
  if (kind === "dns") assert.equal((e as { temporary?: boolean }).temporary, temporary, what);
}

test("every code in the table gives its kind, on an Error and on a plain object", () => {
  for (const [code, kind, temporary] of CODES) {
    check(normalizeError(Object.assign(new Error("x"), { code })), kind, temporary, code);
    check(normalizeError({ code, message: "" }), kind, temporary, `plain ${code}`);
    // One level down, as undici's `fetch failed` wraps it.
    const wrapped = new TypeError("fetch failed", { cause: { code } });
    check(normalizeError(wrapped), kind, temporary, `cause ${code}`);
  }
  for (const code of ["ERR_SOMETHING", "ERR_SS", "EFOO", "econnrefused", ""]) {
    assert.equal(normalizeError({ code }).kind, "unknown", code);
  }
});

test("every name in the table gives its kind when there is no code", () => {
  for (const [name, kind, temporary] of NAMES) {
    const e = new Error("x");
    e.name = name;
    check(normalizeError(e), kind, temporary, name);
    check(normalizeError({ name }), kind, temporary, `plain ${name}`);
  }
  assert.equal(normalizeError({ name: "Error" }).kind, "unknown");
});

test("every phrase in the table gives its kind, in any case, anywhere in the message", () => {
  for (const [phrase, kind, temporary] of PHRASES) {
    check(normalizeError(new Error(phrase)), kind, temporary, phrase);
    check(normalizeError(new Error(`Oops: ${phrase.toUpperCase()}!`)), kind, temporary, phrase);
  }
  assert.equal(normalizeError(new Error("")).kind, "unknown");
  assert.equal(normalizeError(new Error("all fine")).kind, "unknown");
  // The first phrase of the table that occurs decides.
  assert.equal(normalizeError(new Error("socket hang up after connection reset")).kind, "reset");
  assert.equal(normalizeError(new Error("broken pipe; connection refused")).kind, "refused");
});

test("a code beats a name, and both beat a message, wherever they are", () => {
  const e = Object.assign(new Error("connection refused"), { code: "EPIPE", name: "TimedOut" });
  assert.equal(normalizeError(e).kind, "broken_pipe");
  const named = Object.assign(new Error("connection refused"), { name: "TimedOut" });
  assert.equal(normalizeError(named).kind, "timeout");
  // A code deep in the cause chain beats a phrase at the top.
  const deep = new Error("connection refused", {
    cause: new Error("y", { cause: { code: "ECONNRESET" } }),
  });
  assert.equal(normalizeError(deep).kind, "reset");
  // A non-string code is no code; the name then decides.
  assert.equal(normalizeError({ code: 111, name: "BrokenPipe" }).kind, "broken_pipe");
  assert.equal(normalizeError({ code: "ECONNREFUSED", name: 5 }).kind, "refused");
  assert.equal(normalizeError({ message: 42, code: null, name: null }).kind, "unknown");
});

test("ECONNRESET during a TLS handshake is tls; other resets stay resets", () => {
  const hs = Object.assign(
    new Error("Client network socket disconnected before secure TLS connection was established"),
    { code: "ECONNRESET" },
  );
  assert.equal(normalizeError(hs).kind, "tls");
  assert.equal(normalizeError({ code: "ECONNRESET", message: 7 }).kind, "reset");
  assert.equal(normalizeError({ code: "ECONNRESET", message: "read ECONNRESET" }).kind, "reset");
  // Only a reset is refined: a refused error with the same words stays refused.
  const refused = { code: "ECONNREFUSED", message: "before secure TLS connection" };
  assert.equal(normalizeError(refused).kind, "refused");
});

test("an abort caused by a TimeoutError is a timeout; any other abort is cancelled", () => {
  const timeoutCause = { name: "TimeoutError", message: "t" };
  for (
    const abort of [{ name: "AbortError" }, { code: "ABORT_ERR" }, { code: "UND_ERR_ABORTED" }]
  ) {
    assert.equal(normalizeError({ ...abort, cause: timeoutCause }).kind, "timeout");
    assert.equal(normalizeError({ ...abort, cause: { name: "Error" } }).kind, "cancelled");
    assert.equal(normalizeError({ ...abort, cause: "TimeoutError" }).kind, "cancelled");
    assert.equal(normalizeError({ ...abort, cause: null }).kind, "cancelled");
    assert.equal(normalizeError({ ...abort }).kind, "cancelled");
  }
});

test("only an abort is refined by a TimeoutError cause; nested `errors` count as depth too", () => {
  const timeoutCause = { name: "TimeoutError" };
  assert.equal(normalizeError({ code: "ECONNRESET", cause: timeoutCause }).kind, "reset");
  assert.equal(normalizeError({ name: "BrokenPipe", cause: timeoutCause }).kind, "broken_pipe");
  const nested = (depth: number): unknown => {
    let e: unknown = { code: "EPIPE" };
    for (let i = 0; i < depth; i++) e = { message: "agg", errors: [e] };
    return e;
  };
  assert.equal(normalizeError(nested(8)).kind, "broken_pipe");
  assert.equal(normalizeError(nested(9)).kind, "unknown");
});

test("the search goes 8 causes deep, 16 AggregateError members wide, 48 nodes in all", () => {
  const chain = (depth: number): unknown => {
    let e: unknown = { code: "ECONNREFUSED" };
    for (let i = 0; i < depth; i++) e = { message: "x", cause: e };
    return e;
  };
  assert.equal(normalizeError(chain(8)).kind, "refused");
  assert.equal(normalizeError(chain(9)).kind, "unknown");
  const members = (index: number): unknown => {
    const errors: unknown[] = Array.from({ length: index + 1 }, () => ({ message: "noise" }));
    errors[index] = { code: "ECONNRESET" };
    return { errors };
  };
  assert.equal(normalizeError(members(15)).kind, "reset");
  assert.equal(normalizeError(members(16)).kind, "unknown");
  // Non-objects among the members are skipped; a non-array `errors` is ignored.
  assert.equal(normalizeError({ errors: [null, 1, "x", { code: "EPIPE" }] }).kind, "broken_pipe");
  assert.equal(normalizeError({ errors: { 0: { code: "EPIPE" }, length: 1 } }).kind, "unknown");
  assert.equal(normalizeError({ cause: "ECONNRESET" }).kind, "unknown");
  // 1 root + 16 members + 16 + 16 grandchildren = 49: the 48th node (index 47) is looked at.
  const wide = (i: number, j: number): unknown => {
    const tree = {
      errors: Array.from({ length: 16 }, () => ({
        errors: Array.from({ length: 16 }, () => ({ message: "n" })),
      })),
    };
    tree.errors[i]!.errors[j] = { code: "EPIPE" } as never;
    return tree;
  };
  assert.equal(normalizeError(wide(1, 14)).kind, "broken_pipe");
  assert.equal(normalizeError(wide(1, 15)).kind, "unknown");
  // A node met twice (a cycle) is looked at once, and the search goes on past it.
  const a: Record<string, unknown> = { message: "a" };
  const b: Record<string, unknown> = { message: "b", cause: a };
  a.cause = b;
  a.errors = [b, { code: "EHOSTUNREACH" }];
  assert.equal(normalizeError(a).kind, "unreachable");
});

test("only the first 2048 characters of a message are searched", () => {
  const phrase = "connection refused";
  const at = (offset: number) => normalizeError(new Error("x".repeat(offset) + phrase)).kind;
  assert.equal(at(2048 - phrase.length), "refused");
  assert.equal(at(2048 - phrase.length + 1), "unknown");
});

test("host, port, operation, hostname, timeoutMs and message come from the context, else the node that matched", () => {
  const node = {
    code: "ECONNREFUSED",
    message: "connect ECONNREFUSED 10.0.0.1:5432",
    address: "10.0.0.1",
    port: 5432,
    syscall: "connect",
  };
  const outer = new Error("outer", { cause: node });
  const e = normalizeError(outer);
  assert.equal(e.kind, "refused");
  assert.equal(e.host, "10.0.0.1");
  assert.equal(e.port, 5432);
  assert.equal(e.operation, "connect");
  assert.equal(e.message, node.message, "the message of the node that matched");
  assert.equal(e.code, "ECONNREFUSED");
  assert.equal(e.cause, outer);

  const ctx = normalizeError(outer, {
    host: "db",
    port: 1,
    operation: "fetch",
    runtime: "deno",
    timeoutMs: 5,
  });
  assert.equal(ctx.host, "db");
  assert.equal(ctx.port, 1);
  assert.equal(ctx.operation, "fetch");
  assert.equal(ctx.runtime, "deno");

  assert.equal(normalizeError({ ...node, port: 1.5 }).port, undefined);
  assert.equal(normalizeError({ ...node, port: "5432" }).port, undefined);
  assert.equal(normalizeError({ ...node, address: 7 }).host, undefined);
  assert.equal(normalizeError({ code: "ECONNREFUSED" }, { port: 2.5 }).port, undefined);

  const syscalls: Record<string, string> = {
    connect: "connect",
    read: "read",
    write: "write",
    writev: "write",
    shutdown: "write",
    getaddrinfo: "lookup",
    getnameinfo: "lookup",
    queryA: "lookup",
    queryAaaa: "lookup",
    listen: "listen",
    bind: "listen",
  };
  for (const [syscall, operation] of Object.entries(syscalls)) {
    assert.equal(normalizeError({ code: "ECONNRESET", syscall }).operation, operation, syscall);
  }
  assert.equal(normalizeError({ code: "ECONNRESET", syscall: "toString" }).operation, undefined);
  assert.equal(normalizeError({ code: "ECONNRESET" }).operation, undefined);
  assert.equal(normalizeError({ code: "ENOTFOUND" }).operation, "lookup");
  assert.equal(normalizeError({ code: "CERT_HAS_EXPIRED" }).operation, "tls");
  assert.equal(normalizeError({ code: "ENOTFOUND", syscall: "connect" }).operation, "connect");

  const dns = normalizeError({ code: "ENOTFOUND", hostname: "a.invalid" }, { host: "b.invalid" });
  assert.equal((dns as { hostname?: string }).hostname, "a.invalid");
  const dns2 = normalizeError({ code: "ENOTFOUND" }, { host: "b.invalid" });
  assert.equal((dns2 as { hostname?: string }).hostname, "b.invalid");
  assert.equal(Object.hasOwn(normalizeError({ code: "ECONNRESET" }), "hostname"), false);

  const t = normalizeError({ code: "ETIMEDOUT" }, { timeoutMs: 250 });
  assert.equal((t as { timeoutMs?: number }).timeoutMs, 250);
  assert.ok(t.hint.includes("250 ms"));
  assert.equal(
    (normalizeError({ code: "ETIMEDOUT" }) as { timeoutMs?: number }).timeoutMs,
    undefined,
  );
});

test("the code is the POSIX name when the kind makes it certain, else the runtime's", () => {
  const certain: Array<[string, string]> = [
    ["ConnectionRefused", "ECONNREFUSED"],
    ["ConnectionReset", "ECONNRESET"],
    ["ConnectionAborted", "ECONNABORTED"],
    ["BrokenPipe", "EPIPE"],
    ["AddrInUse", "EADDRINUSE"],
    ["AddrNotAvailable", "EADDRNOTAVAIL"],
  ];
  for (const [name, code] of certain) assert.equal(normalizeError({ name }).code, code, name);
  assert.equal(normalizeError({ code: "ConnectionRefused" }).code, "ECONNREFUSED");
  assert.equal(normalizeError({ code: "ETIMEDOUT" }).code, "ETIMEDOUT");
  assert.equal(normalizeError({ code: "UND_ERR_SOCKET" }).code, "UND_ERR_SOCKET");
  assert.equal(normalizeError({ name: "TimedOut" }).code, undefined);
  assert.equal(normalizeError(new Error("socket hang up")).code, undefined);
  assert.equal(normalizeError(new Error("x")).code, undefined);
});

test("a dns error without a context still gets its node's message and no hostname", () => {
  const e = normalizeError({ code: "ENOTFOUND", message: "getaddrinfo ENOTFOUND" });
  assert.equal(e.kind, "dns");
  assert.equal(e.message, "getaddrinfo ENOTFOUND");
  assert.equal((e as { hostname?: string }).hostname, undefined);
  assert.equal((e as { temporary?: boolean }).temporary, false);
});

test("an unrecognized error keeps its own message; a non-object gets the default", () => {
  const e = normalizeError(new Error("something else"));
  assert.equal(e.kind, "unknown");
  assert.equal(e.message, "something else");
  assert.equal(normalizeError("text").message, "Unrecognized error");
  assert.equal(normalizeError({ message: "" }).message, "Unrecognized error");
  assert.equal(normalizeError(undefined).message, "Unrecognized error");
  assert.equal(Object.hasOwn(normalizeError(undefined), "cause"), true);
  assert.equal(normalizeError(undefined).cause, undefined);
  assert.equal(normalizeError(new Error("x"), { runtime: "bun" }).runtime, "bun");
  assert.equal(typeof normalizeError(new Error("x")).runtime, "string");
  assert.notEqual(normalizeError(new Error("x")).runtime, "unknown");
});

test("recognize() gives undefined for what it does not know, and never builds for it", () => {
  assert.equal(recognize(new Error("x")), undefined);
  assert.equal(recognize("ECONNREFUSED"), undefined);
  assert.equal(recognize(null), undefined);
  const known = recognize({ code: "ECONNREFUSED" }, { host: "h", port: 1 });
  assert.ok(known instanceof ConnectionError);
  assert.equal(known.kind, "refused");
  assert.equal(known.host, "h");
  const ce = new ConnectionError("reset");
  assert.equal(recognize(ce), ce);
  // A revoked Proxy is simply not recognized.
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  assert.equal(recognize(proxy), undefined);
  assert.equal(normalizeError(proxy).kind, "unknown");
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
