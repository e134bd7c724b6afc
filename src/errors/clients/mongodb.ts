/**
 * Recognizes the errors of mongodb (the Node driver). Internal: part of
 * normalizeError's built-ins.
 *
 * Observed with driver 7.9 against raw faults and a minimal MongoDB server on
 * loopback (no MongoDB server was at hand; scripts/capture_db_errors.ts, Node
 * 22/24, Deno, Bun alike). Every error has its class name in `name`. A
 * failure to connect surfaces as a `MongoServerSelectionError` once
 * serverSelectionTimeoutMS runs out, whose `cause` is the last
 * `MongoNetworkError` of the server, whose `cause` (when there is one) is the
 * runtime's socket error (ECONNREFUSED, ENOTFOUND, ECONNRESET).
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

// Server selection failed: no server was chosen, so the operation never left.
const SELECTION_TIMEOUT: Recognition = Object.freeze({ kind: "timeout", sent: false });
const SELECTION_CLOSED: Recognition = Object.freeze({ kind: "closed", sent: false });
const CONNECT_TIMEOUT: Recognition = Object.freeze({
  kind: "timeout",
  operation: "connect",
  sent: false,
});

/** The `name` of an error-like value; `undefined` for anything else. */
function name(value: unknown): unknown {
  return typeof value === "object" && value !== null
    ? (value as { name?: unknown }).name
    : undefined;
}

// The driver passes `{ cause: undefined }` when it has none, so a cause counts
// only when it is an error (it has a name).
const hasCause = (e: ErrorFields) => typeof name(e.cause) === "string";

function match(e: ErrorFields): Recognition | undefined {
  switch (e.name) {
    case "MongoServerSelectionError": {
      // No reason recorded: the selection timed out, nothing more is known.
      if (!hasCause(e)) return SELECTION_TIMEOUT;
      const cause = e.cause as ErrorFields;
      const causeName = cause.name;
      // The connection (or its hello) timed out: connectTimeoutMS.
      if (causeName === "MongoNetworkTimeoutError") return CONNECT_TIMEOUT;
      // "connection <monitor> to host:port closed": a FIN while connecting.
      if (causeName === "MongoNetworkError" && !hasCause(cause)) return SELECTION_CLOSED;
      // Otherwise the socket's own error further down decides (refused, dns, reset).
      return undefined;
    }
    case "MongoNetworkTimeoutError": {
      // "Socket 'connect' timed out after 300ms (connectTimeoutMS: 300)" is
      // the TCP connect; "connection 2 to … timed out" is socketTimeoutMS on
      // an operation that was sent.
      const message = e.message;
      return typeof message === "string" && message.startsWith("Socket 'connect' timed out")
        ? CONNECT_TIMEOUT
        : { kind: "timeout" };
    }
    case "MongoNetworkError": {
      // With a cause, the socket's error decides; without one the driver saw
      // the stream end: "connection 2 to 127.0.0.1:27017 closed".
      if (hasCause(e)) return undefined;
      const message = e.message;
      return typeof message === "string" && message.endsWith(" closed")
        ? { kind: "closed" }
        : undefined;
    }
    // The server's answer to a command (CommandNotFound, AuthenticationFailed
    // 18, a duplicate key…): its status.
    case "MongoServerError":
    case "MongoWriteConcernError":
    case "MongoBulkWriteError":
      return { kind: "unknown" };
    default:
      return undefined;
  }
}

/**
 * mongodb's errors: a server-selection timeout (its cause's kind, `timeout`
 * when it has none; never sent), `MongoNetworkTimeoutError` (`timeout`),
 * `MongoNetworkError` without a cause (`closed`; with one, the socket error
 * decides), and the server's answers (`unknown`).
 */
export const mongodb: Recognizer = Object.freeze({ name: "mongodb", match });
