/**
 * Recognizes the errors of @grpc/grpc-js. Internal: part of normalizeError's
 * built-ins.
 *
 * grpc-js ends every failed call with a `ServiceError`: a numeric `code` (the
 * gRPC status), `details`, `metadata`, and the message
 * `"<code> <STATUS_NAME>: <details>"`. It keeps no `cause`: when the transport
 * failed, the transport error's message is inside `details` (status 14
 * UNAVAILABLE, "No connection established. Last error: connect ECONNREFUSED
 * ..."). So the status decides, and for UNAVAILABLE the POSIX code in the
 * details says which failure it was. Every other status is the server's
 * answer and stays `unknown`.
 *
 * @module
 */

import type { ConnectionErrorKind } from "../kinds.ts";
import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const STATUS_NAMES: readonly string[] = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];
const CANCELLED = 1;
const DEADLINE_EXCEEDED = 4;
const UNAVAILABLE = 14;

const TIMEOUT: Recognition = Object.freeze({ kind: "timeout" });
const CALLER_CANCELLED: Recognition = Object.freeze({ kind: "cancelled" });
const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });
const DROPPED: Recognition = Object.freeze({ kind: "closed" });
const NAME_RESOLUTION: Recognition = Object.freeze({
  kind: "dns",
  operation: "lookup",
  sent: false,
});

/** The transport codes grpc-js copies into `details`, and their kinds. */
const TRANSPORT: Readonly<Record<string, ConnectionErrorKind>> = Object.assign(
  Object.create(null),
  {
    ECONNREFUSED: "refused",
    ECONNRESET: "reset",
    EPIPE: "broken_pipe",
    ECONNABORTED: "aborted",
    ETIMEDOUT: "timeout",
    ENOTFOUND: "dns",
    EAI_NONAME: "dns",
    EAI_FAIL: "dns",
    EAI_AGAIN: "dns",
    EHOSTUNREACH: "unreachable",
    ENETUNREACH: "unreachable",
    EHOSTDOWN: "unreachable",
    ENETDOWN: "unreachable",
    EADDRNOTAVAIL: "address_unavailable",
  },
);
const POSIX_CODE = /\b(E[A-Z]{3,}|EAI_[A-Z]+)\b/;

/** The kind of the transport error quoted in `text`, if it quotes a known code. */
function transport(text: string): Recognition | undefined {
  const code = POSIX_CODE.exec(text)?.[1];
  const kind = code === undefined ? undefined : TRANSPORT[code];
  if (kind === undefined) return undefined;
  const out: Recognition = { kind, code: code! };
  if (code === "EAI_AGAIN") out.temporary = true;
  return out;
}

function unavailable(details: string): Recognition {
  // The resolver failed: no connection was attempted.
  if (details.startsWith("Name resolution failed")) return NAME_RESOLUTION;
  // The channel never got a working connection, so the call was never
  // sent (grpc-js fails it at pick time). "Last error:" quotes why:
  // a POSIX code, or only "Failed to connect" (the HTTP/2 session closed
  // before it was up): then all that is known is that it could not connect.
  if (details.startsWith("No connection established")) {
    const cause = transport(details) ?? { kind: "connect_failed" };
    return { ...cause, operation: "connect", sent: false };
  }
  // The connection broke while the call was in flight: the socket's own
  // error ("read ECONNRESET"), or grpc-js's "Connection dropped" when the
  // session closed (a FIN, a GOAWAY, the server going away).
  if (details === "Connection dropped") return DROPPED;
  const cause = transport(details);
  if (cause !== undefined) return cause;
  // "Received HTTP status code 503" (a proxy answered), "Stream refused by
  // server", or a server that answered UNAVAILABLE itself: an answer.
  return UNKNOWN;
}

function match(e: ErrorFields): Recognition | undefined {
  const code = e.code;
  const details = e.details;
  const message = e.message;
  if (
    typeof code !== "number" || !Number.isInteger(code) || code < 1 || code > 16 ||
    typeof details !== "string" || typeof message !== "string" ||
    !message.startsWith(`${code} ${STATUS_NAMES[code]}: `)
  ) {
    return undefined;
  }
  switch (code) {
    case DEADLINE_EXCEEDED:
      return TIMEOUT;
    case UNAVAILABLE:
      return unavailable(details);
    case CANCELLED:
      // call.cancel(), or a cancelled parent call: the caller's doing.
      if (details === "Cancelled on client" || details === "Cancelled by parent call") {
        return CALLER_CANCELLED;
      }
      // The server reset the stream (RST_STREAM CANCEL: grpc-js servers do
      // this to every call in flight on forceShutdown()): the call ended
      // early on the server's side.
      if (details === "Call cancelled") return DROPPED;
      return UNKNOWN;
    default:
      return UNKNOWN;
  }
}

/**
 * @grpc/grpc-js's `ServiceError`s: DEADLINE_EXCEEDED (`timeout`), CANCELLED
 * by the caller (`cancelled`), UNAVAILABLE by what its details quote
 * (`refused`, `reset`, `dns`, ...; `sent: false` when no connection was ever
 * established), and every other status (`unknown`: the server's answer).
 */
export const grpc: Recognizer = Object.freeze({ name: "@grpc/grpc-js", match });
