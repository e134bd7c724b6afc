/**
 * Recognizes the errors of node-fetch. Internal: part of normalizeError's
 * built-ins.
 *
 * node-fetch (2 and 3) reports a transport failure as a `FetchError` with
 * `type: "system"`, the transport error's `code` and `errno` copied onto it,
 * and no `cause`; its message ends with the transport error's message
 * ("request to <url> failed, reason: connect ECONNREFUSED ..."). The code
 * decides (runtime table) except where Node's http module uses ECONNRESET for
 * something that is not a reset. (Under Bun, `node-fetch` is Bun's own
 * `fetch`, whose errors the runtime table knows.)
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

// The server closed (FIN) before answering: Node's http says ECONNRESET
// "socket hang up" and node-fetch appends that to its own message.
const HUNG_UP: Recognition = Object.freeze({ kind: "closed", code: "ECONNRESET" });
// The connection ended (FIN or RST alike) before the body was complete: Node's
// http destroys the response with ECONNRESET "aborted", and node-fetch reports
// "Invalid response body while trying to fetch <url>: aborted".
const BODY_CUT: Recognition = Object.freeze({
  kind: "closed",
  code: "ECONNRESET",
  operation: "read",
  sent: true,
});
// node-fetch 2's own `timeout` option (gone in 3): FetchError types
// "request-timeout" ("network timeout at: <url>") and "body-timeout".
const TIMEOUT: Recognition = Object.freeze({ kind: "timeout" });
const BODY_TIMEOUT: Recognition = Object.freeze({ kind: "timeout", operation: "read", sent: true });

function match(e: ErrorFields): Recognition | undefined {
  if (e.name !== "FetchError") return undefined;
  switch (e.type) {
    case "system": {
      if (e.code !== "ECONNRESET" || typeof e.message !== "string") return undefined;
      if (e.message.endsWith(", reason: socket hang up")) return HUNG_UP;
      if (e.message.startsWith("Invalid response body") && e.message.endsWith(": aborted")) {
        return BODY_CUT;
      }
      return undefined;
    }
    case "request-timeout":
      return TIMEOUT;
    case "body-timeout":
      return BODY_TIMEOUT;
    default:
      return undefined;
  }
}

/**
 * node-fetch's errors: a `FetchError` whose ECONNRESET is Node's "socket hang
 * up" (a FIN before the answer) or "aborted" (a body cut short) is `closed`;
 * node-fetch 2's own timeouts are `timeout`. Its `AbortError` drops the
 * signal's reason, so an `AbortSignal.timeout()` reads as `cancelled`.
 */
export const nodeFetch: Recognizer = Object.freeze({ name: "node-fetch", match });
