/**
 * What the runtimes themselves throw (Node/libuv, undici, Bun, Deno, the DOM,
 * workerd, browsers) as one {@link Recognizer}: the last one normalizeError
 * asks, after the clients'. Internal.
 *
 * @module
 */

import type { ConnectionErrorKind } from "./kinds.ts";
import type { ErrorFields, Recognition, Recognizer } from "./recognizer.ts";

type Match = Recognition;

const m = (kind: ConnectionErrorKind, temporary?: boolean): Match =>
  Object.freeze(temporary === undefined ? { kind } : { kind, temporary });

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
  // Browsers say one thing for a refusal, a reset, a cut body and a CORS
  // refusal alike (Chromium, measured; Firefox's and Safari's wording as
  // documented): the only honest kind is connect_failed.
  ["failed to fetch", m("connect_failed")],
  ["networkerror when attempting to fetch resource", m("connect_failed")],
  ["the internet connection appears to be offline", m("connect_failed")],
  ["the network connection was lost", m("connect_failed")],
  ["a network error occurred", m("connect_failed")],
];

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function byCode(e: ErrorFields): Recognition | undefined {
  const code = str(e.code);
  if (code !== undefined) {
    let match = BY_CODE[code];
    if (match === undefined && (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_"))) {
      match = TLS;
    }
    if (match !== undefined && match.kind === "reset") {
      const message = str(e.message);
      if (message !== undefined) {
        // Node reports a TLS peer that hangs up mid-handshake as ECONNRESET
        // with this message: the certain fact is that TLS never started.
        if (message.includes("before secure TLS connection")) return TLS;
        // Node's http client says ECONNRESET "socket hang up" when the
        // server ended the connection (a FIN, not an RST) before answering.
        if (message === "socket hang up") return HANG_UP;
      }
    }
    if (match !== undefined) return refineAbort(e, match);
  }
  const name = str(e.name);
  if (name !== undefined) {
    const match = BY_NAME[name];
    if (match !== undefined) return refineAbort(e, match);
  }
  return undefined;
}

const TLS = m("tls");
const HANG_UP: Recognition = Object.freeze({ kind: "closed", code: "ECONNRESET" });
const TIMEOUT = m("timeout");

/**
 * Node and Bun wrap an `AbortSignal.timeout()` abort as an AbortError whose
 * cause is the TimeoutError: that is a timeout, not the caller cancelling.
 */
function refineAbort(e: ErrorFields, match: Match): Match {
  if (match.kind !== "cancelled") return match;
  const cause = e.cause;
  if (
    typeof cause === "object" && cause !== null && (cause as ErrorFields).name === "TimeoutError"
  ) {
    return TIMEOUT;
  }
  return match;
}

const CONNECT_FAILED = m("connect_failed");

function byMessage(message: string, e: ErrorFields): Recognition | undefined {
  // Safari's whole message is "Load failed": too plain a phrase to look for
  // inside other messages.
  if (message === "Load failed" && e.name === "TypeError") return CONNECT_FAILED;
  const lower = message.toLowerCase();
  for (const [phrase, match] of BY_MESSAGE) {
    if (lower.includes(phrase)) return match;
  }
  return undefined;
}

/** The runtimes' own codes, classes and (last) messages. */
export const runtimeErrors: Recognizer = Object.freeze({
  name: "runtime",
  match: byCode,
  matchMessage: byMessage,
});
