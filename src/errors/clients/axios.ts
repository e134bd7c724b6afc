/**
 * Recognizes the errors of axios. Internal: part of normalizeError's built-ins.
 *
 * @module
 */

import type { Recognizer } from "../recognizer.ts";

/** axios's errors. */
export const axios: Recognizer = { name: "axios" };
