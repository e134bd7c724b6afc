/**
 * Recognizes the errors of node-fetch. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** node-fetch's errors. */
export const nodeFetch: Recognizer = { name: "node-fetch" };
