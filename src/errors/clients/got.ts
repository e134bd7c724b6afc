/**
 * Recognizes the errors of got. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** got's errors. */
export const got: Recognizer = { name: "got" };
