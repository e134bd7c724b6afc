/**
 * Recognizes the errors of postgres (postgres.js). Internal: part of
 * normalizeError's built-ins.
 *
 * Observed against postgres 15 on loopback (scripts/capture_db_errors.ts,
 * Node 22/24, Deno, Bun alike): socket failures come through as the
 * runtime's own errors; postgres.js's own connection errors are a plain
 * `Error` with `code` and `errno` both set to one of its names and the
 * message `write <NAME> <host>:<port>` (src/errors.js, `connection()`);
 * server errors are a `PostgresError` carrying the SQLSTATE in `code`.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";
import { serverError, SQLSTATE } from "./pg.ts";

const CLOSED: Recognition = Object.freeze({ kind: "closed" });

const BY_CODE: Readonly<Record<string, Recognition>> = Object.assign(Object.create(null), {
  // connect_timeout ran out, whether the TCP connect or the startup hung: no query left.
  CONNECT_TIMEOUT: Object.freeze({ kind: "timeout", operation: "connect", sent: false }),
  // The socket ended under a query: pg_terminate_backend (postgres.js reports
  // the 57P01 this way, not as a PostgresError), a killed backend, an
  // immediate shutdown.
  CONNECTION_CLOSED: CLOSED,
  // A query in flight when the caller's sql.end({ timeout }) destroyed the connection.
  CONNECTION_DESTROYED: CLOSED,
  // A query after sql.end(): rejected before anything is written.
  CONNECTION_ENDED: Object.freeze({ kind: "closed", sent: false }),
});

function match(e: ErrorFields): Recognition | undefined {
  const code = e.code;
  if (typeof code !== "string") return undefined;
  // Its connection errors carry the same name in code and errno.
  if (e.errno === code) {
    const found = BY_CODE[code];
    if (found !== undefined) return found;
  }
  if (!SQLSTATE.test(code)) return undefined;
  // A server error: PostgresError, or (seen under Deno for a cancelled query)
  // a plain Error whose message is `<SQLSTATE>: <text>`.
  const message = e.message;
  if (
    e.name === "PostgresError" ||
    (typeof message === "string" && message.startsWith(`${code}: `))
  ) {
    return serverError(code);
  }
  return undefined;
}

/**
 * postgres.js's errors: `CONNECT_TIMEOUT` (`timeout`, `sent: false`),
 * `CONNECTION_CLOSED` and `CONNECTION_DESTROYED` (`closed`), `CONNECTION_ENDED`
 * (`closed`, `sent: false`), the server ending or refusing the session
 * (57P01, 57P03…, as for pg), and every other server error (`unknown`).
 */
export const postgresJs: Recognizer = Object.freeze({ name: "postgres", match });
