/**
 * Recognizes the errors of bun-sql. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** bun-sql's errors. */
export const bunSql: Recognizer = { name: "bun-sql" };
