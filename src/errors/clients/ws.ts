/**
 * Recognizes the errors of ws. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** ws's errors. */
export const ws: Recognizer = { name: "ws" };
