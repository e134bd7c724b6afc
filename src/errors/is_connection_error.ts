/**
 * {@link isConnectionError}: a type guard that can also check the kind.
 *
 * @module
 */

import { type AnyConnectionError, hasBrand } from "./connection_error.ts";
import type { ConnectionErrorKind } from "./kinds.ts";

/**
 * True when `value` is a faultline {@link ConnectionError} (from any copy of
 * the library), and, when `kind` is given, of that kind or one of those kinds.
 * It does not normalize: pass a raw runtime error through
 * {@link normalizeError} first.
 *
 * @example
 * ```ts
 * import { isConnectionError, normalizeError } from "@faultline/faultline";
 *
 * const e: unknown = normalizeError(Object.assign(new Error("x"), { code: "ECONNRESET" }));
 * if (isConnectionError(e, ["refused", "reset"])) console.log(e.hint);
 * ```
 */
export function isConnectionError(
  value: unknown,
  kind?: ConnectionErrorKind | readonly ConnectionErrorKind[],
): value is AnyConnectionError {
  if (!hasBrand(value)) return false;
  if (kind === undefined) return true;
  const actual = (value as AnyConnectionError).kind;
  return typeof kind === "string" ? actual === kind : kind.includes(actual);
}
