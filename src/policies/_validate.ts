/**
 * Construction-time checks, in Deno std's style:
 * `Cannot create retry as 'maxAttempts' must be a positive integer: current value is 0`.
 *
 * @module
 */

import { type Clock, realClock } from "../clock.ts";
import type { RetryBudget } from "./retry_budget.ts";
import {
  type Judge,
  judgeOf,
  type Normalizer,
  type Recognize,
  recognizerFor,
} from "../errors/normalize_error.ts";

/** A value as an error message shows it: JSON where JSON can say it, `NaN` as `NaN`. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return "an object";
    }
  }
  return String(value);
}

/** Throws a `RangeError` naming the option. */
export function rangeError(api: string, option: string, rule: string, value: unknown): never {
  throw new RangeError(
    `Cannot create ${api} as '${option}' must be ${rule}: current value is ${show(value)}`,
  );
}

/** Throws a `TypeError` naming the option. */
export function typeError(api: string, option: string, rule: string, value: unknown): never {
  throw new TypeError(
    `Cannot create ${api} as '${option}' must be ${rule}: current value is ${show(value)}`,
  );
}

/** A whole number ≥ 1. */
export function positiveInteger(api: string, option: string, value: unknown): number {
  if (typeof value !== "number") typeError(api, option, "a positive integer", value);
  if (!Number.isInteger(value) || value < 1) rangeError(api, option, "a positive integer", value);
  return value;
}

/** A whole number ≥ 0. */
export function nonNegativeInteger(api: string, option: string, value: unknown): number {
  if (typeof value !== "number") typeError(api, option, "a non-negative integer", value);
  if (!Number.isInteger(value) || value < 0) {
    rangeError(api, option, "a non-negative integer", value);
  }
  return value;
}

/** A duration in milliseconds: finite and ≥ 0 (or `Infinity` when `allowInfinity`). */
export function duration(
  api: string,
  option: string,
  value: unknown,
  allowInfinity = false,
): number {
  const rule = allowInfinity
    ? "a non-negative number of milliseconds or Infinity"
    : "a finite non-negative number of milliseconds";
  if (typeof value !== "number") typeError(api, option, rule, value);
  if (Number.isNaN(value) || value < 0 || (!allowInfinity && !Number.isFinite(value))) {
    rangeError(api, option, rule, value);
  }
  return value;
}

/** A number in [0, 1] (or (0, 1] when `exclusiveZero`). */
export function ratio(api: string, option: string, value: unknown, exclusiveZero = false): number {
  const rule = exclusiveZero ? "a number above 0 and at most 1" : "a number from 0 to 1";
  if (typeof value !== "number") typeError(api, option, rule, value);
  if (Number.isNaN(value) || value > 1 || value < 0 || (exclusiveZero && value === 0)) {
    rangeError(api, option, rule, value);
  }
  return value;
}

/** A function, or `undefined` when optional. */
export function fn<F>(api: string, option: string, value: unknown): F {
  if (typeof value !== "function") typeError(api, option, "a function", value);
  return value as F;
}

/**
 * A {@link Clock}: `undefined` gives the real clock. Every method a policy
 * may call is checked, so a half clock fails here and not mid-call.
 */
export function clock(api: string, value: unknown): Clock {
  if (value === undefined) return realClock;
  const c = value as Partial<Clock> | null;
  if (
    typeof c !== "object" || c === null || typeof c.now !== "function" ||
    typeof c.setTimeout !== "function" || typeof c.clearTimeout !== "function" ||
    typeof c.sleep !== "function"
  ) {
    typeError(api, "clock", "a Clock (now, setTimeout, clearTimeout and sleep)", value);
  }
  return c as Clock;
}

/**
 * A {@link RetryBudget} (both methods checked, so a half budget fails here
 * and not mid-call), or `undefined` when not given.
 */
export function budget(api: string, value: unknown): RetryBudget | undefined {
  if (value === undefined) return undefined;
  const b = value as Partial<RetryBudget> | null | undefined;
  if (typeof b?.recordCall !== "function" || typeof b.tryRetry !== "function") {
    typeError(api, "budget", "a RetryBudget (see retryBudget())", value);
  }
  return b as RetryBudget;
}

/** An options bag: a plain object or undefined. */
export function optionsObject<T extends object>(api: string, value: unknown): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    typeError(api, "options", "an object", value);
  }
  return value as Partial<T>;
}

/**
 * The `normalize` option: a {@link Normalizer} or `undefined` (the built-in
 * one), as the policy's way to decide what is a connection failure.
 */
export function normalizer(api: string, value: unknown): Recognize {
  if (value !== undefined && typeof value !== "function") {
    typeError(api, "normalize", "a function (normalizeError or one from createNormalizer)", value);
  }
  return recognizerFor(value as Normalizer | undefined);
}

/** The `normalize` option as a policy decides with it: see {@link normalizer}. */
export function judge(api: string, value: unknown): Judge {
  normalizer(api, value);
  return judgeOf(value as Normalizer | undefined);
}
