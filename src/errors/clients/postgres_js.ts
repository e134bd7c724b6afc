/**
 * Recognizes the errors of postgres. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** postgres's errors. */
export const postgresJs: Recognizer = { name: "postgres" };
