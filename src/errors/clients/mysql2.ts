/**
 * Recognizes the errors of mysql2. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** mysql2's errors. */
export const mysql2: Recognizer = { name: "mysql2" };
