/**
 * Recognizes the errors of Bun's built-in `SQL` (`Bun.SQL`, `import { SQL }
 * from "bun"`), postgres and MySQL adapters. Internal: part of
 * normalizeError's built-ins.
 *
 * Observed under Bun 1.4 (scripts/capture_db_errors.ts), against postgres 15
 * and a minimal MySQL server on loopback: every error is a `PostgresError` or
 * `MySQLError` whose `code` is Bun's `ERR_POSTGRES_*` / `ERR_MYSQL_*` name;
 * a server error has the SQLSTATE (postgres) in `errno`.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";
import { serverError, SQLSTATE } from "./pg.ts";

const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });

// The part after ERR_POSTGRES_ / ERR_MYSQL_.
const BY_SUFFIX: Readonly<Record<string, Recognition>> = Object.assign(Object.create(null), {
  // "Failed to connect": said for a refused port, for a name that does not
  // resolve, and (racing) for an RST at accept alike. Despite its name it
  // does not tell why, so no more than connect_failed; nothing was sent.
  CONNECTION_REFUSED: Object.freeze({ kind: "connect_failed", operation: "connect", sent: false }),
  // "Connection timeout after 300ms", the TCP connect or the startup.
  CONNECTION_TIMEOUT: Object.freeze({ kind: "timeout", operation: "connect", sent: false }),
  // "Connection closed before the connection was established": an RST or a
  // FIN during the startup alike, so closed, not reset. No query left.
  CONNECTION_FAILED: Object.freeze({ kind: "closed", operation: "connect", sent: false }),
  // "Connection closed": a killed backend, an immediate shutdown, sql.close().
  CONNECTION_CLOSED: Object.freeze({ kind: "closed" }),
  // The server's own answer (and its syntax-error variant): status, unless
  // its SQLSTATE says the server ended the session (57P01…).
  SERVER_ERROR: UNKNOWN,
  SYNTAX_ERROR: UNKNOWN,
});

function match(e: ErrorFields): Recognition | undefined {
  const code = e.code;
  if (typeof code !== "string") return undefined;
  const suffix = code.startsWith("ERR_POSTGRES_")
    ? code.slice(13)
    : code.startsWith("ERR_MYSQL_")
    ? code.slice(10)
    : undefined;
  if (suffix === undefined) return undefined;
  const found = BY_SUFFIX[suffix];
  if (found === UNKNOWN && code.startsWith("ERR_POSTGRES_")) {
    const state = e.errno;
    if (typeof state === "string" && SQLSTATE.test(state)) return serverError(state);
  }
  return found;
}

/**
 * Bun `SQL`'s errors: `*_CONNECTION_REFUSED` (`connect_failed`: Bun uses it
 * for DNS failures too), `*_CONNECTION_TIMEOUT` (`timeout`), `*_CONNECTION_FAILED`
 * and `*_CONNECTION_CLOSED` (`closed`), a server error whose SQLSTATE ends
 * the session (57P01… `closed`), and every other server error (`unknown`).
 */
export const bunSql: Recognizer = Object.freeze({ name: "bun-sql", match });
