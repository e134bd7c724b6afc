/**
 * The error vocabulary: {@link ConnectionError}, its kinds, and
 * {@link normalizeError}. No runtime imports.
 *
 * @module
 */
export * from "./kinds.ts";
export * from "./connection_error.ts";
export * from "./normalize_error.ts";
export * from "./is_connection_error.ts";
