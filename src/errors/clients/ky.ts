/**
 * Recognizes the errors of ky. Internal: part of normalizeError's built-ins.
 *
 * ky runs on the runtime's `fetch` and lets its network errors through
 * untouched (`TypeError: fetch failed` and its cause chain, Bun's and Deno's
 * shapes), which the runtime table knows. ky adds two errors of its own.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const TIMEOUT: Recognition = Object.freeze({ kind: "timeout" });
const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });

function match(e: ErrorFields): Recognition | undefined {
  const message = e.message;
  if (typeof message !== "string") return undefined;
  // ky's own `timeout` option: TimeoutError "Request timed out: GET <url>".
  if (e.name === "TimeoutError" && message.startsWith("Request timed out: ")) return TIMEOUT;
  // A status error ("Request failed with status code 500 ...: GET <url>"):
  // the server answered.
  if (e.name === "HTTPError" && message.startsWith("Request failed with ")) return UNKNOWN;
  return undefined;
}

/** ky's errors: its `TimeoutError` (`timeout`) and its `HTTPError` (`unknown`). */
export const ky: Recognizer = Object.freeze({ name: "ky", match });
