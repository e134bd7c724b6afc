/**
 * Recognizes the errors of ky. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** ky's errors. */
export const ky: Recognizer = { name: "ky" };
