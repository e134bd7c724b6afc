/**
 * Recognizes the errors of ioredis. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** ioredis's errors. */
export const ioredis: Recognizer = { name: "ioredis" };
