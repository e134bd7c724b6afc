/**
 * Recognizes the errors of pg (node-postgres, and pg-pool's `pg.Pool`).
 * Internal: part of normalizeError's built-ins. Also the home of the
 * postgres SQLSTATE rules that postgres.js and Bun's `SQL` share.
 *
 * Observed against postgres 15 on loopback (scripts/capture_db_errors.ts,
 * Node 22/24, Deno, Bun alike): socket failures come through as the
 * runtime's own errors (ECONNREFUSED, ENOTFOUND, ECONNRESET), which the
 * runtime table classifies; everything else pg says with a bare `Error`
 * and a fixed message, or a `DatabaseError` carrying the server's SQLSTATE.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const CLOSED: Recognition = Object.freeze({ kind: "closed" });
const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });
// The server turned the connection away before any query: nothing was sent.
const NOT_ACCEPTING: Recognition = Object.freeze({
  kind: "connect_failed",
  operation: "connect",
  sent: false,
});

/**
 * The SQLSTATEs with which postgres ends a session (a FATAL message, then it
 * closes the socket), and the one with which it turns a new one away.
 * Observed: 57P01 (`pg_terminate_backend`, "terminating connection due to
 * administrator command"), 57P05 (`idle_session_timeout`), 57P03 (a smart
 * shutdown: "the database system is shutting down"). From the postgres
 * documentation, same family: 57P02 (crash of another backend; in practice
 * the socket closes before clients read it) and 25P03
 * (`idle_in_transaction_session_timeout`, FATAL since postgres 14).
 * Internal.
 */
export function sqlStateRecognition(state: string): Recognition | undefined {
  switch (state) {
    case "57P01":
    case "57P02":
    case "57P05":
    case "25P03":
      return CLOSED;
    case "57P03":
      return NOT_ACCEPTING;
    default:
      return undefined;
  }
}

/**
 * A five-character SQLSTATE: one of postgres's classes (00–58, F0, HV, P0,
 * XX), then three more. The classes are spelled out because errno names are
 * five capitals too: Bun's `EPIPE: broken pipe` must not read as a server
 * error.
 */
export const SQLSTATE: RegExp = /^(?:[0-5][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/;

/**
 * A postgres error answer: the connection ones by {@link sqlStateRecognition},
 * every other one (a syntax error, a constraint, `statement_timeout` 57014, a
 * wrong password 28P01) is the server's status and stays `unknown`, whatever
 * its message says ("canceling statement due to statement timeout"). Internal.
 */
export function serverError(state: string): Recognition {
  return sqlStateRecognition(state) ?? UNKNOWN;
}

function match(e: ErrorFields): Recognition | undefined {
  // pg's DatabaseError (name "error"): the server's ErrorResponse, with its
  // SQLSTATE in `code` and ERROR/FATAL in `severity`.
  const code = e.code;
  if (typeof code !== "string" || !SQLSTATE.test(code) || typeof e.severity !== "string") {
    return undefined;
  }
  const ctor = e.constructor as { name?: unknown } | undefined;
  if (e.name !== "error" && ctor?.name !== "DatabaseError") return undefined;
  return serverError(code);
}

// pg's own messages (pg/lib/client.js, pg-pool/index.js), matched whole.
const BY_MESSAGE: Readonly<Record<string, Recognition>> = Object.assign(Object.create(null), {
  // connectionTimeoutMillis: pg destroys the socket with this error while
  // connecting (whether the TCP connect or the startup hung), so no query left.
  "timeout expired": Object.freeze({ kind: "timeout", operation: "connect", sent: false }),
  // pg-pool's wrapper of the same timeout (its cause says how the socket ended).
  "Connection terminated due to connection timeout": Object.freeze({
    kind: "timeout",
    operation: "connect",
    sent: false,
  }),
  // pg-pool: no client became free within connectionTimeoutMillis; the query
  // waited in the pool and never left.
  "timeout exceeded when trying to connect": Object.freeze({ kind: "timeout", sent: false }),
  // query_timeout: the query was sent, the answer did not come.
  "Query read timeout": Object.freeze({ kind: "timeout", operation: "read" }),
  // The socket ended (a FIN before the startup answer, a backend killed, an
  // immediate shutdown): pg cannot tell which.
  "Connection terminated unexpectedly": CLOSED,
  // In-flight queries when the caller's own end() closed the connection.
  "Connection terminated": CLOSED,
  // A query on a client whose connection had already failed or closed:
  // rejected before anything is written.
  "Client has encountered a connection error and is not queryable": Object.freeze({
    kind: "closed",
    sent: false,
  }),
  "Client was closed and is not queryable": Object.freeze({ kind: "closed", sent: false }),
});

function matchMessage(message: string): Recognition | undefined {
  return BY_MESSAGE[message];
}

/**
 * pg's errors: its connection timeouts (`timeout`, `sent: false`), a
 * connection that ended (`closed`), a client no longer queryable (`closed`,
 * `sent: false`), `query_timeout` (`timeout`), the server ending the session
 * (57P01, 57P05… `closed`) or refusing it while shutting down (57P03,
 * `connect_failed`), and every other server error (`unknown`).
 */
export const pg: Recognizer = Object.freeze({ name: "pg", match, matchMessage });
