/**
 * Recognizes the errors of bun-redis. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** bun-redis's errors. */
export const bunRedis: Recognizer = { name: "bun-redis" };
