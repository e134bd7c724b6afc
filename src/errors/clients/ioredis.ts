/**
 * Recognizes the errors of ioredis. Internal: part of normalizeError's
 * built-ins.
 *
 * Observed against redis-server 7 and raw faults on loopback
 * (scripts/capture_db_errors.ts, Node 22/24, Deno, Bun alike): the socket's
 * own errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT) go to the client's
 * `error` event only. What a caller's promise gets is a bare `Error` with a
 * fixed message: "Connection is closed." when no reconnect follows, whatever
 * ended the connection (a refusal, a DNS failure, a connect timeout, an RST,
 * a FIN, `CLIENT KILL`; `connect()` even says it for a wrong password), or a
 * `MaxRetriesPerRequestError` when reconnects go on failing; the server's
 * replies are `ReplyError`s.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

function match(e: ErrorFields): Recognition | undefined {
  switch (e.name) {
    // The command waited through `maxRetriesPerRequest` reconnects that all
    // failed; why they failed went to the `error` event.
    case "MaxRetriesPerRequestError":
      return { kind: "connect_failed" };
    // The server's answer (WRONGTYPE, WRONGPASS, NOAUTH, …): its status.
    case "ReplyError":
      return { kind: "unknown" };
    default:
      return undefined;
  }
}

// ioredis's own messages (built/utils, built/Redis.js), matched whole.
const BY_MESSAGE: Readonly<Record<string, Recognition>> = Object.assign(Object.create(null), {
  "Connection is closed.": Object.freeze({ kind: "closed" }),
  // commandTimeout: the command was written, the answer did not come.
  "Command timed out": Object.freeze({ kind: "timeout" }),
  // enableOfflineQueue: false and no connection up: rejected before writing.
  "Stream isn't writeable and enableOfflineQueue options is false": Object.freeze({
    kind: "connect_failed",
    sent: false,
  }),
});

function matchMessage(message: string): Recognition | undefined {
  return BY_MESSAGE[message];
}

/**
 * ioredis's errors: "Connection is closed." (`closed`),
 * `MaxRetriesPerRequestError` (`connect_failed`), "Command timed out"
 * (`timeout`), an offline command with the offline queue disabled
 * (`connect_failed`, `sent: false`), and the server's `ReplyError`s (`unknown`).
 */
export const ioredis: Recognizer = Object.freeze({ name: "ioredis", match, matchMessage });
