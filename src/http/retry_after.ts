/**
 * `Retry-After` (RFC 9110 §10.2.3): {@link parseRetryAfter}.
 *
 * @module
 */

/**
 * How long a `Retry-After` header value asks to wait, in ms: delta-seconds
 * (`"120"`) or an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`, measured
 * against `nowMs`, never negative). `undefined` for a missing or malformed
 * value.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "@faultline/faultline/http";
 *
 * console.log(parseRetryAfter("2", 0)); // 2000
 * const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
 * console.log(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now)); // 30000
 * console.log(parseRetryAfter("soon", now)); // undefined
 * ```
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  if (typeof value !== "string") return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with a day name:
  // this keeps Date.parse's leniency ("1.5" is a date to V8) out.
  if (!/^[A-Za-z]{3,9},? /.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
