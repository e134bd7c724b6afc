/**
 * Recognizes the errors of undici. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** undici's errors. */
export const undici: Recognizer = { name: "undici" };
