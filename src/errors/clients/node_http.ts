/**
 * Recognizes what Node's `node:http` client module makes up (and Deno's and
 * Bun's `node:http`, which say the same), under every client built on it:
 * axios, got, node-fetch, ws, and code that uses `http.request` itself.
 * Internal: part of normalizeError's built-ins.
 *
 * Node's http module reports two things that are not a TCP reset with the
 * code ECONNRESET, told apart from a real reset ("read ECONNRESET", with
 * `errno` and `syscall`) only by their fixed messages:
 * - "socket hang up": the connection ended (a FIN) before any response;
 * - "aborted": the connection ended, by FIN or RST alike, before the
 *   response body was complete (the response stream is destroyed with it).
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const HUNG_UP: Recognition = Object.freeze({ kind: "closed", code: "ECONNRESET" });
const BODY_CUT: Recognition = Object.freeze({
  kind: "closed",
  code: "ECONNRESET",
  operation: "read",
  sent: true,
});

function match(e: ErrorFields): Recognition | undefined {
  if (e.code !== "ECONNRESET") return undefined;
  // A real reset carries the failed syscall ("read ECONNRESET"); these two
  // are made up by the http module and carry none.
  if (typeof e.syscall === "string") return undefined;
  if (e.message === "socket hang up") return HUNG_UP;
  if (e.message === "aborted") return BODY_CUT;
  return undefined;
}

/**
 * Node's http module: ECONNRESET "socket hang up" (a FIN before the answer)
 * and ECONNRESET "aborted" (a body cut short) are `closed`, not `reset`.
 */
export const nodeHttp: Recognizer = Object.freeze({ name: "node:http", match });
