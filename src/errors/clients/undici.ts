/**
 * Recognizes the errors of undici (its `request`, `stream`, `fetch`, and
 * Node's own `fetch`, which is undici). Internal: part of normalizeError's
 * built-ins.
 *
 * The runtime table already gives every `UND_ERR_*` code its kind; this adds
 * what a code alone does not say: whether the request certainly did or did
 * not reach the server, the limit that ran out, and that a status error
 * (`throwOnError`, a retry agent out of retries) is the server's answer.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const HEADERS_TIMEOUT: Recognition = Object.freeze({ kind: "timeout" });
// The head has arrived, so the server had the request.
const BODY_TIMEOUT: Recognition = Object.freeze({ kind: "timeout", operation: "read", sent: true });
const BODY_CUT: Recognition = Object.freeze({ kind: "closed", operation: "read", sent: true });
const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });

// ConnectTimeoutError: "Connect Timeout Error (attempted address: 127.0.0.1:80, timeout: 300ms)".
const CONNECT_TIMEOUT_MS = /timeout: (\d+)ms\)$/;

function match(e: ErrorFields): Recognition | undefined {
  const code = e.code;
  if (typeof code !== "string" || !code.startsWith("UND_ERR_")) return undefined;
  switch (code) {
    // The socket never connected: nothing was sent.
    case "UND_ERR_CONNECT_TIMEOUT": {
      const message = typeof e.message === "string" ? e.message : "";
      const ms = CONNECT_TIMEOUT_MS.exec(message)?.[1];
      const out: Recognition = { kind: "timeout", operation: "connect", sent: false };
      if (ms !== undefined) out.timeoutMs = Number(ms);
      return out;
    }
    case "UND_ERR_HEADERS_TIMEOUT":
      return HEADERS_TIMEOUT;
    case "UND_ERR_BODY_TIMEOUT":
      return BODY_TIMEOUT;
    // Fewer body bytes than Content-Length, then the end of the connection.
    // undici also ends up here when an RST follows the head of a
    // `Connection: close` response (it reads that RST as the end of the
    // body), so `closed` is all that can be said.
    case "UND_ERR_RES_CONTENT_LENGTH_MISMATCH":
      return BODY_CUT;
    // The server answered, with a status the caller asked to fail on.
    case "UND_ERR_RESPONSE":
    case "UND_ERR_RESPONSE_STATUS_CODE":
    case "UND_ERR_REQ_RETRY":
      return UNKNOWN;
    default:
      return undefined;
  }
}

/**
 * undici's errors: connect timeouts (`sent: false`, with `timeoutMs`), header
 * and body timeouts, a body cut short, and its status errors (`unknown`).
 * Every other `UND_ERR_*` code is left to the runtime table.
 */
export const undici: Recognizer = Object.freeze({ name: "undici", match });
