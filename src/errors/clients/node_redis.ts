/**
 * Recognizes the errors of redis (node-redis, `@redis/client`). Internal:
 * part of normalizeError's built-ins.
 *
 * Observed with redis 6.3 against redis-server 7 and raw faults on loopback
 * (scripts/capture_db_errors.ts, Node 22/24, Deno, Bun alike): socket
 * failures come through as the runtime's own errors; node-redis's own errors
 * are classes that keep `name: "Error"` (lib/errors.js), so only the class
 * name tells them apart.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });

const BY_CLASS: Readonly<Record<string, Recognition>> = Object.assign(Object.create(null), {
  // socket.connectTimeout ran out before the TCP connection was up.
  ConnectionTimeoutError: Object.freeze({ kind: "timeout", operation: "connect", sent: false }),
  // socket.socketTimeout: no data for that long on an open connection.
  SocketTimeoutError: Object.freeze({ kind: "timeout", operation: "read" }),
  // The socket ended without the client closing it (a FIN, CLIENT KILL).
  SocketClosedUnexpectedlyError: Object.freeze({ kind: "closed" }),
  // A command on a client that is closed (after such an end, with no
  // reconnect): rejected before anything is written.
  ClientClosedError: Object.freeze({ kind: "closed", sent: false }),
  // disableOfflineQueue and the connection is not up: rejected before writing.
  ClientOfflineError: Object.freeze({ kind: "connect_failed", sent: false }),
  // The server's replies (WRONGTYPE, WRONGPASS, …).
  ErrorReply: UNKNOWN,
  SimpleError: UNKNOWN,
  BlobError: UNKNOWN,
  MultiErrorReply: UNKNOWN,
});

function match(e: ErrorFields): Recognition | undefined {
  if (e.name !== "Error") return undefined;
  const ctor = e.constructor as { name?: unknown } | undefined;
  const name = typeof ctor === "function" ? ctor.name : undefined;
  if (typeof name !== "string") return undefined;
  // The caller's AbortSignal, honoured while the command waits in the queue.
  if (name === "AbortError") {
    return e.message === "The command was aborted" ? { kind: "cancelled", sent: false } : undefined;
  }
  return BY_CLASS[name];
}

/**
 * node-redis's errors: `ConnectionTimeoutError` and `SocketTimeoutError`
 * (`timeout`), `SocketClosedUnexpectedlyError` (`closed`), `ClientClosedError`
 * (`closed`, `sent: false`), `ClientOfflineError` (`connect_failed`, `sent:
 * false`), its `AbortError` (`cancelled`), and the server's replies (`unknown`).
 */
export const nodeRedis: Recognizer = Object.freeze({ name: "redis", match });
