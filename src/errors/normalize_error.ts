/**
 * {@link normalizeError}: whatever a runtime threw, one {@link ConnectionError}.
 *
 * @module
 */

import { detectRuntime, type RuntimeName } from "../runtime.ts";
import {
  type AnyConnectionError,
  ConnectionError,
  type ConnectionErrorOptions,
  hasBrand,
} from "./connection_error.ts";
import {
  CONNECTION_OPERATIONS,
  type ConnectionErrorKind,
  type ConnectionOperation,
} from "./kinds.ts";

/** What the caller knows that the error may not say. */
export interface NormalizeContext {
  /** The host that was addressed, as the caller wrote it. */
  host?: string;
  /** The port that was addressed. */
  port?: number;
  /** What was being done. */
  operation?: ConnectionOperation;
  /** The runtime the error came from; the current one by default. */
  runtime?: RuntimeName;
  /** For a timeout: the limit that ran out. */
  timeoutMs?: number;
}

// How far into cause chains and AggregateErrors to look: enough for undici's
// `fetch failed` ← AggregateError ← Error nesting, bounded against hostile input.
const MAX_DEPTH = 8;
const MAX_NODES = 48;
const MAX_MESSAGE = 2048;

interface Match {
  kind: ConnectionErrorKind;
  temporary?: boolean;
}

const m = (kind: ConnectionErrorKind, temporary?: boolean): Match =>
  temporary === undefined ? { kind } : { kind, temporary };

/** Node/libuv, undici and Bun codes. A lookup, so a code decides without a regex. */
const BY_CODE: Record<string, Match> = Object.assign(Object.create(null), {
  ECONNREFUSED: m("refused"),
  ConnectionRefused: m("refused"),
  ECONNRESET: m("reset"),
  ConnectionReset: m("reset"),
  EPIPE: m("broken_pipe"),
  ECONNABORTED: m("aborted"),
  ETIMEDOUT: m("timeout"),
  ETIMEOUT: m("timeout"),
  ESOCKETTIMEDOUT: m("timeout"),
  ERR_SOCKET_CONNECTION_TIMEOUT: m("timeout"),
  ERR_TLS_HANDSHAKE_TIMEOUT: m("timeout"),
  UND_ERR_CONNECT_TIMEOUT: m("timeout"),
  UND_ERR_HEADERS_TIMEOUT: m("timeout"),
  UND_ERR_BODY_TIMEOUT: m("timeout"),
  Timeout: m("timeout"),
  TimeoutError: m("timeout"),
  ENOTFOUND: m("dns", false),
  EAI_NONAME: m("dns", false),
  EAI_FAIL: m("dns", false),
  EAI_NODATA: m("dns", false),
  EAI_ADDRFAMILY: m("dns", false),
  EAI_AGAIN: m("dns", true),
  DNSException: m("dns", false),
  EHOSTUNREACH: m("unreachable"),
  ENETUNREACH: m("unreachable"),
  EHOSTDOWN: m("unreachable"),
  ENETDOWN: m("unreachable"),
  EADDRINUSE: m("address_in_use"),
  EADDRNOTAVAIL: m("address_unavailable"),
  ABORT_ERR: m("cancelled"),
  UND_ERR_ABORTED: m("cancelled"),
  UND_ERR_SOCKET: m("closed"),
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: m("closed"),
  UND_ERR_CLOSED: m("closed"),
  ERR_SOCKET_CLOSED: m("closed"),
  ERR_STREAM_PREMATURE_CLOSE: m("closed"),
  ConnectionClosed: m("closed"),
  EPROTO: m("tls"),
  ERR_TLS_CERT_ALTNAME_INVALID: m("tls"),
  DEPTH_ZERO_SELF_SIGNED_CERT: m("tls"),
  SELF_SIGNED_CERT_IN_CHAIN: m("tls"),
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: m("tls"),
  UNABLE_TO_GET_ISSUER_CERT: m("tls"),
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: m("tls"),
  CERT_HAS_EXPIRED: m("tls"),
  CERT_NOT_YET_VALID: m("tls"),
  CERT_UNTRUSTED: m("tls"),
  CERT_REJECTED: m("tls"),
  HOSTNAME_MISMATCH: m("tls"),
});

/** Deno's `Deno.errors.*` classes and the DOM's error names. */
const BY_NAME: Record<string, Match> = Object.assign(Object.create(null), {
  ConnectionRefused: m("refused"),
  ConnectionReset: m("reset"),
  ConnectionAborted: m("aborted"),
  BrokenPipe: m("broken_pipe"),
  UnexpectedEof: m("closed"),
  NotConnected: m("closed"),
  TimedOut: m("timeout"),
  TimeoutError: m("timeout"),
  AddrInUse: m("address_in_use"),
  AddrNotAvailable: m("address_unavailable"),
  NetworkUnreachable: m("unreachable"),
  HostUnreachable: m("unreachable"),
  AbortError: m("cancelled"),
  DNSException: m("dns", false),
});

/**
 * Phrases that only runtimes write (Deno's and workerd's message-only errors),
 * tried last and in order: the first that occurs decides. Lower case.
 */
const BY_MESSAGE: ReadonlyArray<readonly [string, Match]> = [
  ["connection refused", m("refused")],
  ["connection reset", m("reset")],
  ["broken pipe", m("broken_pipe")],
  ["connection aborted", m("aborted")],
  ["dns error", m("dns", false)],
  ["failed to lookup address", m("dns", false)],
  ["name or service not known", m("dns", false)],
  ["nodename nor servname", m("dns", false)],
  ["temporary failure in name resolution", m("dns", true)],
  ["network is unreachable", m("unreachable")],
  ["no route to host", m("unreachable")],
  ["invalid peer certificate", m("tls")],
  ["invalidcertificate", m("tls")],
  ["received corrupt message", m("tls")],
  ["tls handshake", m("tls")],
  ["before secure tls connection", m("tls")],
  ["wrong version number", m("tls")],
  ["connection closed before message completed", m("closed")],
  ["error reading a body from connection", m("closed")],
  ["unexpected end of file", m("closed")],
  ["unexpected eof", m("closed")],
  ["other side closed", m("closed")],
  ["socket hang up", m("closed")],
  ["operation timed out", m("timeout")],
  ["connection timed out", m("timeout")],
  ["cannot connect to the specified address", m("connect_failed")],
  ["network connection lost", m("connect_failed")],
];

const OPERATION_BY_SYSCALL: Record<string, ConnectionOperation> = Object.assign(
  Object.create(null),
  {
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
  },
);

/** Reads a property without letting a getter or a Proxy trap throw at us. */
function read(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

interface Found {
  match: Match;
  node: object;
  code: string | undefined;
}

function classifyNode(node: object, byMessage: boolean): Found | undefined {
  const code = str(read(node, "code"));
  if (!byMessage) {
    if (code !== undefined) {
      let match = BY_CODE[code];
      if (match === undefined && (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_"))) {
        match = m("tls");
      }
      // Node reports a TLS peer that hangs up mid-handshake as ECONNRESET with
      // this message: the certain fact is that TLS never started.
      if (match !== undefined && match.kind === "reset") {
        const message = str(read(node, "message"));
        if (message !== undefined && message.includes("before secure TLS connection")) {
          match = m("tls");
        }
      }
      if (match !== undefined) return { match: refineAbort(node, match), node, code };
    }
    const name = str(read(node, "name"));
    if (name !== undefined) {
      const match = BY_NAME[name];
      if (match !== undefined) return { match: refineAbort(node, match), node, code };
    }
    return undefined;
  }
  const message = str(read(node, "message"));
  if (message === undefined || message.length === 0) return undefined;
  const lower = (message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE) : message)
    .toLowerCase();
  for (const [phrase, match] of BY_MESSAGE) {
    if (lower.includes(phrase)) return { match, node, code };
  }
  return undefined;
}

/**
 * Node and Bun wrap an `AbortSignal.timeout()` abort as an AbortError whose
 * cause is the TimeoutError: that is a timeout, not the caller cancelling.
 */
function refineAbort(node: object, match: Match): Match {
  if (match.kind !== "cancelled") return match;
  const cause = read(node, "cause");
  if (typeof cause === "object" && cause !== null && read(cause, "name") === "TimeoutError") {
    return m("timeout");
  }
  return match;
}

/**
 * Walks the error, its `cause` chain and an AggregateError's `errors`, breadth
 * first, bounded in depth and count, and never visiting a node twice.
 */
function search(root: object, byMessage: boolean): Found | undefined {
  const queue: Array<[object, number]> = [[root, 0]];
  const seen = new Set<object>();
  for (let i = 0; i < queue.length && i < MAX_NODES; i++) {
    const [node, depth] = queue[i];
    if (seen.has(node)) continue;
    seen.add(node);
    const found = classifyNode(node, byMessage);
    if (found) return found;
    if (depth >= MAX_DEPTH) continue;
    const cause = read(node, "cause");
    if (typeof cause === "object" && cause !== null) queue.push([cause, depth + 1]);
    const errors = read(node, "errors");
    if (Array.isArray(errors)) {
      const n = Math.min(errors.length, 16);
      for (let j = 0; j < n; j++) {
        const e: unknown = errors[j];
        if (typeof e === "object" && e !== null) queue.push([e, depth + 1]);
      }
    }
  }
  return undefined;
}

function safeSearch(root: object): Found | undefined {
  try {
    return search(root, false) ?? search(root, true);
  } catch {
    // Array.isArray on a revoked Proxy throws; such input is simply unknown.
    return undefined;
  }
}

/**
 * Turns anything thrown into a {@link ConnectionError}.
 *
 * Total: it never throws, for any input. A `ConnectionError` comes back as the
 * same object; an error that is not recognized as a connection failure comes
 * back as kind `"unknown"`, with the original as `cause`. Recognized are
 * Node/libuv and undici codes (also inside `fetch failed` cause chains and
 * Happy-Eyeballs `AggregateError`s), Bun's codes, `Deno.errors.*` classes,
 * `DOMException` `AbortError`/`TimeoutError`, and the message-only errors of
 * Deno's and workerd's `fetch`.
 *
 * @example
 * ```ts
 * import { normalizeError } from "@faultline/faultline";
 *
 * const raw = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
 *   code: "ECONNREFUSED",
 * });
 * const e = normalizeError(raw, { host: "127.0.0.1", port: 5432 });
 * console.log(e.kind, e.retryable); // "refused" true
 * console.log(e.cause === raw); // true
 * ```
 */
export function normalizeError(error: unknown, context?: NormalizeContext): AnyConnectionError {
  if (hasBrand(error)) return error as AnyConnectionError;
  const found = typeof error === "object" && error !== null ? safeSearch(error) : undefined;
  return build(error, found, cleanContext(context));
}

/**
 * The context with only well-typed fields, each read once: a caller's
 * mistake (a numeric host, a throwing getter) must not make the total
 * function throw.
 */
function cleanContext(context: unknown): NormalizeContext | undefined {
  if (context === undefined) return undefined;
  const out: NormalizeContext = {};
  if (typeof context !== "object" || context === null) return out;
  const host = read(context, "host");
  if (typeof host === "string") out.host = host;
  const port = read(context, "port");
  if (typeof port === "number" && Number.isInteger(port)) out.port = port;
  const operation = read(context, "operation");
  if (typeof operation === "string" && CONNECTION_OPERATIONS.includes(operation as never)) {
    out.operation = operation as ConnectionOperation;
  }
  const runtime = read(context, "runtime");
  if (typeof runtime === "string" && RUNTIMES.has(runtime)) out.runtime = runtime as RuntimeName;
  const timeoutMs = read(context, "timeoutMs");
  if (typeof timeoutMs === "number" && timeoutMs >= 0) out.timeoutMs = timeoutMs;
  return out;
}

const RUNTIMES: ReadonlySet<string> = new Set([
  "deno",
  "bun",
  "node",
  "workerd",
  "edge-light",
  "browser",
  "unknown",
]);

/**
 * Like {@link normalizeError}, but gives `undefined` instead of building an
 * `"unknown"` error: what the policies use to decide, allocation-free for
 * errors that are not connection failures. Internal.
 */
export function recognize(
  error: unknown,
  context?: NormalizeContext,
): AnyConnectionError | undefined {
  if (hasBrand(error)) return error as AnyConnectionError;
  if (typeof error !== "object" || error === null) return undefined;
  const found = safeSearch(error);
  return found ? build(error, found, context) : undefined;
}

function build(
  error: unknown,
  found: Found | undefined,
  context: NormalizeContext | undefined,
): AnyConnectionError {
  const kind: ConnectionErrorKind = found ? found.match.kind : "unknown";
  const options: ConnectionErrorOptions = {
    cause: error,
    runtime: context?.runtime ?? detectRuntime(),
  };
  try {
    fill(options, found, context);
  } catch {
    // Only ever reached through hostile input; the kind alone is still right.
  }
  return new ConnectionError(kind, options) as AnyConnectionError;
}

function fill(
  options: ConnectionErrorOptions,
  found: Found | undefined,
  context: NormalizeContext | undefined,
): void {
  const node = found?.node;
  options.code = codeOf(found?.match.kind) ?? found?.code;
  options.host = context?.host ?? (node ? str(read(node, "address")) : undefined);
  const port = context?.port ?? (node ? read(node, "port") : undefined);
  if (typeof port === "number" && Number.isInteger(port)) options.port = port;
  const syscall = node ? str(read(node, "syscall")) : undefined;
  options.operation = context?.operation ??
    (syscall !== undefined ? OPERATION_BY_SYSCALL[syscall] : undefined) ??
    (found?.match.kind === "dns" ? "lookup" : found?.match.kind === "tls" ? "tls" : undefined);
  if (found?.match.kind === "dns") {
    options.temporary = found.match.temporary === true;
    options.hostname = (node ? str(read(node, "hostname")) : undefined) ?? context?.host;
  }
  if (context?.timeoutMs !== undefined) options.timeoutMs = context.timeoutMs;
  const message = str(read(found ? found.node : options.cause as object ?? {}, "message"));
  if (message) options.message = message;
}

/** The POSIX name for kinds whose code is certain when the runtime gave none. */
function codeOf(kind: ConnectionErrorKind | undefined): string | undefined {
  switch (kind) {
    case "refused":
      return "ECONNREFUSED";
    case "reset":
      return "ECONNRESET";
    case "aborted":
      return "ECONNABORTED";
    case "broken_pipe":
      return "EPIPE";
    case "address_in_use":
      return "EADDRINUSE";
    case "address_unavailable":
      return "EADDRNOTAVAIL";
    default:
      return undefined;
  }
}
