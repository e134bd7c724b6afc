/**
 * The checks of {@link resilientFetch}'s options, in Deno std's style
 * (`Cannot create resilientFetch as 'maxAttempts' must be ...`): each option
 * is read once, checked, and handed on as a value the policies take as is.
 * An option a policy checks too is checked here first, so that the error
 * names `resilientFetch` and the option as the caller wrote it.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Normalizer, Recognize } from "../errors/normalize_error.ts";
import type { Backoff } from "../policies/backoff.ts";
import type { HalfOpenBackoff } from "../policies/breaker_options.ts";
import type { TripStrategy } from "../policies/trip/types.ts";
import type { Policy } from "../policies/types.ts";
import {
  clock as checkClock,
  duration,
  fn as checkFn,
  normalizer,
  optionsObject,
  positiveInteger,
  rangeError,
  typeError,
} from "../policies/_validate.ts";
import {
  DEFAULT_BREAKER_STATUSES,
  DEFAULT_RETRY_METHODS,
  DEFAULT_RETRY_STATUSES,
  type FetchFunction,
  type ResilientFetchBreakerOptions,
  type ResilientFetchOptions,
} from "./options.ts";

const API = "resilientFetch";

/** The options of one `resilientFetch()`, checked, with their defaults. */
export interface CheckedFetchOptions {
  /** `undefined`: the global `fetch`, looked up at each call. */
  fetch: FetchFunction | undefined;
  maxAttempts: number;
  backoff: Backoff | undefined;
  deadline: number | undefined;
  retryMethods: ReadonlySet<string>;
  retryStatuses: ReadonlySet<number>;
  maxRetryAfter: number;
  timeout: number | undefined;
  /** `undefined`: no breakers (`breaker: false`). */
  breaker: CheckedBreakerOptions | undefined;
  policy: Policy | undefined;
  clock: Clock;
  random: (() => number) | undefined;
  normalize: Normalizer | undefined;
  /** The `normalize` option as a recognizer: a ConnectionError, or `undefined` for any other error. */
  recognize: Recognize;
}

/** The `breaker` option, checked; `undefined` fields take the breaker's defaults. */
export interface CheckedBreakerOptions {
  trip: TripStrategy | undefined;
  halfOpenAfter: number | ((openings: number) => number) | HalfOpenBackoff | undefined;
  halfOpenMaxProbes: number | undefined;
  halfOpenSuccesses: number | undefined;
  probeTimeout: number | undefined;
  maxOrigins: number | undefined;
  statuses: ReadonlySet<number>;
}

/** Reads and checks every option once; throws a `TypeError`/`RangeError` naming a bad one. */
export function checkFetchOptions(options: ResilientFetchOptions | undefined): CheckedFetchOptions {
  const o = optionsObject<ResilientFetchOptions>(API, options);
  // Each option read once.
  const fetchOption = o.fetch;
  const maxAttemptsOption = o.maxAttempts;
  const backoff = o.backoff;
  const deadline = o.deadline;
  const retryMethodsOption = o.retryMethods;
  const retryStatusesOption = o.retryStatuses;
  const maxRetryAfterOption = o.maxRetryAfter;
  const timeoutOption = o.timeout;
  const breakerOption = o.breaker;
  const policy = o.policy;
  const clockOption = o.clock;
  const random = o.random;
  const normalize = o.normalize;

  const underlying = fetchOption === undefined
    ? undefined
    : checkFn<FetchFunction>(API, "fetch", fetchOption);
  let maxAttempts = 3;
  if (maxAttemptsOption !== undefined) {
    const rule = "a positive integer or Infinity";
    if (typeof maxAttemptsOption !== "number") {
      typeError(API, "maxAttempts", rule, maxAttemptsOption);
    }
    if (maxAttemptsOption !== Infinity) positiveInteger(API, "maxAttempts", maxAttemptsOption);
    maxAttempts = maxAttemptsOption;
  }
  if (
    backoff !== undefined &&
    (typeof backoff !== "object" || backoff === null ||
      typeof (backoff as Partial<Backoff>).delay !== "function")
  ) {
    typeError(API, "backoff", "a Backoff (an object with a delay() method)", backoff);
  }
  if (deadline !== undefined) duration(API, "deadline", deadline, true);
  const retryMethods = retryMethodsOption === undefined
    ? new Set(DEFAULT_RETRY_METHODS)
    : methodList(retryMethodsOption);
  const retryStatuses = statusList("retryStatuses", retryStatusesOption ?? DEFAULT_RETRY_STATUSES);
  const maxRetryAfter = maxRetryAfterOption === undefined
    ? 30_000
    : duration(API, "maxRetryAfter", maxRetryAfterOption);
  if (timeoutOption !== undefined) {
    const rule = "a finite positive number of milliseconds";
    if (typeof timeoutOption !== "number") typeError(API, "timeout", rule, timeoutOption);
    if (!(timeoutOption > 0) || !Number.isFinite(timeoutOption)) {
      rangeError(API, "timeout", rule, timeoutOption);
    }
  }
  if (
    policy !== undefined &&
    (typeof policy !== "object" || policy === null ||
      typeof (policy as Partial<Policy>).execute !== "function")
  ) {
    typeError(API, "policy", "a Policy (an object with an execute() method)", policy);
  }
  const clock = checkClock(API, clockOption);
  if (random !== undefined) checkFn(API, "random", random);
  const recognize = normalizer(API, normalize);
  const breaker = breakerOption === false ? undefined : checkBreakerOptions(breakerOption);

  return {
    fetch: underlying,
    maxAttempts,
    backoff,
    deadline,
    retryMethods,
    retryStatuses,
    maxRetryAfter,
    timeout: timeoutOption,
    breaker,
    policy,
    clock,
    random,
    normalize,
    recognize,
  };
}

function checkBreakerOptions(value: unknown): CheckedBreakerOptions {
  if (
    value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))
  ) {
    typeError(API, "breaker", "false or an object of breaker options", value);
  }
  const b: ResilientFetchBreakerOptions = value ?? {};
  const trip = b.trip;
  const halfOpenAfter = b.halfOpenAfter;
  const maxProbes = b.halfOpenMaxProbes;
  const successes = b.halfOpenSuccesses;
  const probeTimeout = b.probeTimeout;
  const maxOrigins = b.maxOrigins;
  const statuses = b.statuses;
  if (
    trip !== undefined &&
    (typeof trip !== "object" || trip === null ||
      typeof (trip as TripStrategy).create !== "function")
  ) {
    typeError(API, "breaker.trip", "a trip strategy such as consecutiveFailures(5)", trip);
  }
  if (
    halfOpenAfter !== undefined && typeof halfOpenAfter !== "function" &&
    !(typeof halfOpenAfter === "object" && halfOpenAfter !== null &&
      typeof (halfOpenAfter as HalfOpenBackoff).delay === "function")
  ) {
    duration(API, "breaker.halfOpenAfter", halfOpenAfter);
  }
  if (maxProbes !== undefined) positiveInteger(API, "breaker.halfOpenMaxProbes", maxProbes);
  if (successes !== undefined) positiveInteger(API, "breaker.halfOpenSuccesses", successes);
  if (probeTimeout !== undefined) duration(API, "breaker.probeTimeout", probeTimeout, true);
  if (maxOrigins !== undefined) positiveInteger(API, "breaker.maxOrigins", maxOrigins);
  return {
    trip,
    halfOpenAfter,
    halfOpenMaxProbes: maxProbes,
    halfOpenSuccesses: successes,
    probeTimeout,
    maxOrigins,
    statuses: statusList("breaker.statuses", statuses ?? DEFAULT_BREAKER_STATUSES),
  };
}

function statusList(option: string, value: unknown): ReadonlySet<number> {
  const rule = "a list of HTTP status codes (integers from 100 to 599)";
  if (!Array.isArray(value)) typeError(API, option, rule, value);
  const out = new Set<number>();
  for (let i = 0; i < value.length; i++) {
    const s: unknown = value[i];
    if (typeof s !== "number") typeError(API, `${option}[${i}]`, rule, s);
    if (!Number.isInteger(s) || s < 100 || s > 599) rangeError(API, `${option}[${i}]`, rule, s);
    out.add(s);
  }
  return out;
}

function methodList(value: unknown): ReadonlySet<string> {
  const rule = "a list of HTTP method names";
  if (!Array.isArray(value)) typeError(API, "retryMethods", rule, value);
  const out = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const m: unknown = value[i];
    if (typeof m !== "string") typeError(API, `retryMethods[${i}]`, rule, m);
    // An HTTP token (RFC 9110 §5.6.2).
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(m)) {
      rangeError(API, `retryMethods[${i}]`, "an HTTP method name (a token)", m);
    }
    out.add(m.toUpperCase());
  }
  return out;
}
