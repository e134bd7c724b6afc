/**
 * Recognizes the errors of ws (the WebSocket client for Node, and Bun's
 * built-in `ws`, which says the same). Internal: part of normalizeError's
 * built-ins.
 *
 * ws emits the transport error itself for a refusal, a reset or a DNS
 * failure (Node's codes, which the runtime table knows; a FIN during the
 * handshake is Node's ECONNRESET "socket hang up": `closed`). What ws makes
 * up itself is a plain `Error` with a fixed message and no code, so only the
 * message can tell: these are asked last, when nothing matched by code.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const TIMEOUT: Recognition = Object.freeze({ kind: "timeout" });
const CANCELLED: Recognition = Object.freeze({ kind: "cancelled" });
const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });

const UNEXPECTED_RESPONSE = /^Unexpected server response: \d{3}$/;

function matchMessage(message: string, _e: ErrorFields): Recognition | undefined {
  // The `handshakeTimeout` option ran out before the server's 101.
  if (message === "Opening handshake has timed out") return TIMEOUT;
  // The caller's own close() or terminate() while the handshake was running.
  if (message === "WebSocket was closed before the connection was established") return CANCELLED;
  // The server answered the upgrade with a status other than 101: it is up
  // and said no.
  if (UNEXPECTED_RESPONSE.test(message)) return UNKNOWN;
  return undefined;
}

/**
 * ws's errors: "Opening handshake has timed out" (`timeout`), a close during
 * the handshake by the caller (`cancelled`), and "Unexpected server response"
 * (`unknown`: the server answered).
 */
export const ws: Recognizer = Object.freeze({ name: "ws", matchMessage });
