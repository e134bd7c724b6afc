/**
 * The checks of a trip counter's `restore()`: a snapshot field that does not
 * fit throws a `TypeError` (a wrong type) or a `RangeError` (a wrong value)
 * that names it, as `snapshot.trip.<field>`.
 *
 * @module
 */

import { show } from "../_validate.ts";

/** Throws the error for a snapshot field that does not fit. */
export function badSnapshot(field: string, rule: string, value: unknown, range = false): never {
  const Ctor = range ? RangeError : TypeError;
  throw new Ctor(
    `Cannot restore circuit breaker as 'snapshot.${field}' must be ${rule}: current value is ${
      show(value)
    }`,
  );
}

/** The snapshot as an object written by a strategy of `type`. */
export function snapshotObject(snapshot: unknown, type: string): Record<string, unknown> {
  if (typeof snapshot !== "object" || snapshot === null || Array.isArray(snapshot)) {
    badSnapshot("trip", "an object", snapshot);
  }
  const s = snapshot as Record<string, unknown>;
  if (s.type !== type) {
    badSnapshot("trip.type", `"${type}", the strategy of this breaker`, s.type, true);
  }
  return s;
}

/** A whole count from 0 to `max`. */
export function snapshotCount(s: Record<string, unknown>, field: string, max: number): number {
  const v = s[field];
  if (typeof v !== "number") badSnapshot(`trip.${field}`, "a non-negative integer", v);
  if (!Number.isInteger(v) || v < 0 || v > max) {
    badSnapshot(`trip.${field}`, `an integer from 0 to ${max}`, v, true);
  }
  return v;
}

/** An array of `length` whole counts from 0 to `max`. */
export function snapshotCounts(
  s: Record<string, unknown>,
  field: string,
  length: number,
  max: number,
): number[] {
  const v = s[field];
  if (!Array.isArray(v)) badSnapshot(`trip.${field}`, `an array of ${length} counts`, v);
  if (v.length !== length) {
    badSnapshot(`trip.${field}`, `an array of ${length} counts, as this breaker keeps`, v, true);
  }
  for (let i = 0; i < length; i++) {
    const n = v[i];
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) {
      badSnapshot(`trip.${field}[${i}]`, `an integer from 0 to ${max}`, n, typeof n === "number");
    }
  }
  return v as number[];
}
