/**
 * The one parser of the `on` option that retry, circuitBreaker and fallback
 * (and the policies after them) share: which errors a policy acts on. A kind,
 * a non-empty list of kinds, or a predicate; anything else is refused at
 * construction, with the same words whichever policy it is given to.
 *
 * @module
 */

import { CONNECTION_ERROR_KINDS } from "../errors/kinds.ts";
import { rangeError, typeError } from "./_validate.ts";

const KINDS: ReadonlySet<string> = new Set(CONNECTION_ERROR_KINDS);
const KIND_RULE = "a connection error kind (one of CONNECTION_ERROR_KINDS)";

/** `on`, parsed: a set of kinds, or a predicate, or neither (the policy's default). */
export interface On<P> {
  readonly kinds: ReadonlySet<string> | undefined;
  readonly predicate: P | undefined;
}

const NONE: On<never> = Object.freeze({ kinds: undefined, predicate: undefined });

/**
 * Parses `value` (read once by the caller). The list is copied, so a later
 * change to the caller's array changes nothing.
 */
export function parseOn<P>(api: string, value: unknown): On<P> {
  if (value === undefined) return NONE;
  if (typeof value === "function") return { kinds: undefined, predicate: value as P };
  if (typeof value === "string") {
    if (!KINDS.has(value)) rangeError(api, "on", KIND_RULE, value);
    return { kinds: new Set([value]), predicate: undefined };
  }
  if (!Array.isArray(value)) {
    typeError(api, "on", "a kind, a non-empty list of kinds or a predicate", value);
  }
  const list = value as readonly unknown[];
  if (list.length === 0) rangeError(api, "on", "a non-empty list of connection error kinds", value);
  const kinds = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const kind = list[i];
    if (typeof kind !== "string") typeError(api, `on[${i}]`, KIND_RULE, kind);
    if (!KINDS.has(kind)) rangeError(api, `on[${i}]`, KIND_RULE, kind);
    kinds.add(kind);
  }
  return { kinds, predicate: undefined };
}
