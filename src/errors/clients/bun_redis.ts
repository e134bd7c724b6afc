/**
 * Recognizes the errors of Bun's built-in `RedisClient` (`Bun.redis`,
 * `new RedisClient()`). Internal: part of normalizeError's built-ins.
 *
 * Observed under Bun 1.4 against redis-server 7 and raw faults on loopback
 * (scripts/capture_db_errors.ts): every error is an `Error` named
 * `RedisError` whose `code` is Bun's `ERR_REDIS_*` name. Bun says
 * `ERR_REDIS_CONNECTION_CLOSED` for a refused port, a name that does not
 * resolve, an RST, a FIN and `CLIENT KILL` alike, and `connect()` says it even
 * for a timeout or a wrong password (a command waiting for the connection gets
 * the precise code).
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });

const BY_CODE: Readonly<Record<string, Recognition>> = Object.assign(Object.create(null), {
  // "Connection closed", "Connection has failed", "Connection is closed and
  // offline queue is disabled": all Bun tells, whatever ended the connection.
  ERR_REDIS_CONNECTION_CLOSED: Object.freeze({ kind: "closed" }),
  // "Connection timeout reached after 300ms": connectionTimeout, while connecting.
  ERR_REDIS_CONNECTION_TIMEOUT: Object.freeze({
    kind: "timeout",
    operation: "connect",
    sent: false,
  }),
  // The server's answers: WRONGTYPE and the like, WRONGPASS / NOAUTH.
  ERR_REDIS_SERVER_ERROR: UNKNOWN,
  ERR_REDIS_AUTHENTICATION_FAILED: UNKNOWN,
});

function match(e: ErrorFields): Recognition | undefined {
  const code = e.code;
  return typeof code === "string" && code.startsWith("ERR_REDIS_") ? BY_CODE[code] : undefined;
}

/**
 * Bun `RedisClient`'s errors: `ERR_REDIS_CONNECTION_CLOSED` (`closed`),
 * `ERR_REDIS_CONNECTION_TIMEOUT` (`timeout`, `sent: false`), and the server's
 * replies, `ERR_REDIS_SERVER_ERROR` and `ERR_REDIS_AUTHENTICATION_FAILED`
 * (`unknown`).
 */
export const bunRedis: Recognizer = Object.freeze({ name: "bun-redis", match });
