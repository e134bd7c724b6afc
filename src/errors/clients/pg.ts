/**
 * Recognizes the errors of pg. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** pg's errors. */
export const pg: Recognizer = { name: "pg" };
