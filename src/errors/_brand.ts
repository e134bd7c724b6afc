/**
 * The one way faultline marks the classes that must be recognized across two
 * copies of the library (an ESM and a CJS build, two versions in one
 * `node_modules`): a registry symbol per class, read without letting a
 * getter or a Proxy trap throw. Internal.
 *
 * @module
 */

/** The registry symbol that marks instances of faultline's class `name`. */
export function brandFor(name: string): symbol {
  return Symbol.for(`faultline.${name}`);
}

/** True when `value` carries `brand`; never throws. */
export function carries(value: unknown, brand: symbol): boolean {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  try {
    return (value as Record<symbol, unknown>)[brand] === true;
  } catch {
    return false;
  }
}

/**
 * Marks a policy's own refusal (an open circuit, a full bulkhead, a throttle,
 * a rate limit): never a connection failure, so the normalizer does not
 * search it, and the refusals of many calls cost no search each.
 */
export const REFUSAL: symbol = brandFor("Refusal");
