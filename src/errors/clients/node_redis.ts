/**
 * Recognizes the errors of redis. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** redis's errors. */
export const nodeRedis: Recognizer = { name: "redis" };
