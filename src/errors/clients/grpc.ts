/**
 * Recognizes the errors of @grpc/grpc-js. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** @grpc/grpc-js's errors. */
export const grpc: Recognizer = { name: "@grpc/grpc-js" };
