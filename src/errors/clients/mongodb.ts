/**
 * Recognizes the errors of mongodb. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** mongodb's errors. */
export const mongodb: Recognizer = { name: "mongodb" };
