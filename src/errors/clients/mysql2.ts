/**
 * Recognizes the errors of mysql2. Internal: part of normalizeError's
 * built-ins.
 *
 * Observed against raw faults and a minimal MySQL server on loopback (no
 * MySQL server was at hand; scripts/capture_db_errors.ts, Node 22/24, Deno,
 * Bun alike): socket failures come through as the runtime's own errors with
 * `fatal: true` added; mysql2's own are an `Error` with a `PROTOCOL_*` code,
 * and the server's answers carry `sqlState` and an `ER_*` code.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

function match(e: ErrorFields): Recognition | undefined {
  const code = e.code;
  if (typeof code !== "string") return undefined;
  switch (code) {
    // "Connection lost: The server closed the connection.": a FIN, before the
    // greeting or under a query.
    case "PROTOCOL_CONNECTION_LOST":
      return { kind: "closed" };
    // "Query inactivity timeout": the query's own `timeout` ran out.
    case "PROTOCOL_SEQUENCE_TIMEOUT":
      return { kind: "timeout" };
    // connectTimeout ("connect ETIMEDOUT", syscall "connect"): mysql2 raises it
    // whether the TCP connect or the handshake hung; no query left either way.
    case "ETIMEDOUT":
      return e.fatal === true && e.syscall === "connect"
        ? { kind: "timeout", operation: "connect", sent: false }
        : undefined;
    default:
      // The server's answer (ER_PARSE_ERROR, ER_ACCESS_DENIED_ERROR, …).
      return code.startsWith("ER_") && typeof e.sqlState === "string"
        ? { kind: "unknown" }
        : undefined;
  }
}

function matchMessage(message: string): Recognition | undefined {
  // A query on a connection that has already ended: rejected before writing.
  return message === "Can't add new command when connection is in closed state"
    ? { kind: "closed", sent: false }
    : undefined;
}

/**
 * mysql2's errors: `PROTOCOL_CONNECTION_LOST` (`closed`),
 * `PROTOCOL_SEQUENCE_TIMEOUT` (`timeout`), its connect timeout (`timeout`,
 * `sent: false`), a query on a closed connection (`closed`, `sent: false`),
 * and the server's `ER_*` answers (`unknown`).
 */
export const mysql2: Recognizer = Object.freeze({ name: "mysql2", match, matchMessage });
