/**
 * Recognizes the errors of got. Internal: part of normalizeError's built-ins.
 *
 * got wraps every failure in a `RequestError` subclass whose `name` is the
 * class (`RequestError`, `ReadError`, `TimeoutError`, `HTTPError`, ...) and
 * whose `code` is copied from the transport error when there is one
 * (`ECONNREFUSED`, `ECONNRESET`, ...), which the runtime's codes then decide.
 * What needs got's own vocabulary is what got makes up itself.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const CANCELLED: Recognition = Object.freeze({ kind: "cancelled" });
const BODY_CUT: Recognition = Object.freeze({ kind: "closed", operation: "read", sent: true });
const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });

// got's timeouts are per phase; its TimeoutError names the phase in `event`.
// Until the socket is connected (and TLS is up) nothing of the request has
// left: a timeout in these phases certainly sent nothing.
const BEFORE_SENDING: ReadonlySet<string> = new Set([
  "lookup",
  "socket",
  "connect",
  "secureConnect",
]);
const TIMEOUT_MESSAGE = /^Timeout awaiting '[A-Za-z]+' for (\d+)ms$/;

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function match(e: ErrorFields): Recognition | undefined {
  const name = str(e.name);
  const code = str(e.code);
  switch (name) {
    // promise.cancel(): got's CancelError, code ERR_CANCELED.
    case "CancelError":
      return code === "ERR_CANCELED" ? CANCELLED : undefined;
    // A status error (throwHttpErrors): the server answered.
    case "HTTPError":
      return code === "ERR_NON_2XX_3XX_RESPONSE" ? UNKNOWN : undefined;
    case "ReadError":
      // Node's http module emitted 'aborted' on the response (its connection
      // ended, FIN or RST, before Content-Length bytes arrived) and got makes
      // that up as ECONNRESET "The server aborted pending request": the body
      // was cut, which is `closed`, whatever the code says.
      if (code === "ECONNRESET" && e.message === "The server aborted pending request") {
        return BODY_CUT;
      }
      // got's own length check at the end of the body.
      if (code === "ERR_HTTP_CONTENT_LENGTH_MISMATCH") return BODY_CUT;
      return undefined;
    case "TimeoutError": {
      if (code !== "ETIMEDOUT") return undefined;
      const event = str(e.event);
      const ms = TIMEOUT_MESSAGE.exec(str(e.message) ?? "")?.[1];
      const out: Recognition = { kind: "timeout" };
      if (ms !== undefined) out.timeoutMs = Number(ms);
      if (event !== undefined && BEFORE_SENDING.has(event)) {
        out.sent = false;
        out.operation = event === "lookup" ? "lookup" : "connect";
      }
      return out;
    }
    default:
      return undefined;
  }
}

/**
 * got's errors: `CancelError` (`cancelled`), `HTTPError` (`unknown`), a body
 * cut short (`ReadError` "The server aborted pending request": `closed`),
 * and its per-phase `TimeoutError` (`timeout`, with `sent: false` for the
 * phases before the request could leave).
 */
export const got: Recognizer = Object.freeze({ name: "got", match });
