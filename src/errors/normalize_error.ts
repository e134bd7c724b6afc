/**
 * {@link normalizeError}: whatever a runtime or a client threw, one
 * {@link ConnectionError}; {@link createNormalizer} for clients it does not know.
 *
 * Where it lives: the search through an error, its causes and its members is
 * in `_search.ts`, building the ConnectionError from what was found in
 * `_build.ts`, the recognizers in `_runtime_errors.ts` and `clients/`.
 *
 * @module
 */

import type { RuntimeName } from "../runtime.ts";
import { carries, REFUSAL } from "./_brand.ts";
import { type AnyConnectionError, hasBrand } from "./connection_error.ts";
import { type ConnectionErrorKind, type ConnectionOperation, RETRYABLE_BY_KIND } from "./kinds.ts";
import type { Recognizer } from "./recognizer.ts";
import { CLIENT_RECOGNIZERS } from "./clients/_all.ts";
import { build, cleanContext } from "./_build.ts";
import { runtimeErrors } from "./_runtime_errors.ts";
import { type Found, safeSearch, systemError } from "./_search.ts";

/** What the caller knows that the error may not say. */
export interface NormalizeContext {
  /** The host that was addressed, as the caller wrote it. */
  host?: string;
  /** The port that was addressed. */
  port?: number;
  /** What was being done. */
  operation?: ConnectionOperation;
  /** The runtime the error came from; the current one by default. */
  runtime?: RuntimeName;
  /** For a timeout: the limit that ran out. */
  timeoutMs?: number;
}

/**
 * A function that turns anything thrown into a {@link ConnectionError}:
 * {@link normalizeError}, or one made by {@link createNormalizer}. Every
 * policy takes one as its `normalize` option.
 *
 * @example
 * ```ts
 * import { type Normalizer, normalizeError } from "@faultline/faultline";
 *
 * const normalize: Normalizer = normalizeError;
 * console.log(normalize(new Error("boom")).kind); // "unknown"
 * ```
 */
export type Normalizer = (error: unknown, context?: NormalizeContext) => AnyConnectionError;

/** Options of {@link createNormalizer}. */
export interface NormalizerOptions {
  /**
   * Recognizers for clients faultline does not know, asked in order before
   * its own (which still apply after them).
   */
  recognizers?: readonly Recognizer[];
}

const BUILT_IN: readonly Recognizer[] = Object.freeze([...CLIENT_RECOGNIZERS, runtimeErrors]);

/**
 * What `recognizers` know of `error`. With faultline's own alone, a runtime's
 * system error is decided by the runtime's recognizer at once (see
 * `systemError`); a user's recognizers, asked first, always see every error.
 */
function find(error: object, recognizers: readonly Recognizer[]): Found | undefined {
  if (recognizers === BUILT_IN) {
    const found = systemError(error, runtimeErrors);
    if (found !== undefined) return found;
  }
  return safeSearch(error, recognizers);
}

// The judge of each normalizer made here, so that a policy given one decides
// without building a ConnectionError for every failure it sees.
const JUDGE_OF = new WeakMap<Normalizer, Judge>();

/**
 * What a policy needs to decide about a failure without building anything:
 * the kind, and what makes it retryable. A ConnectionError is its own verdict.
 * Internal.
 */
export interface Verdict {
  readonly kind: ConnectionErrorKind;
  readonly temporary?: boolean;
}

/** Whether a verdict is worth retrying, as `ConnectionError.retryable` would say. */
export function retryable(verdict: Verdict): boolean {
  if (hasBrand(verdict)) return (verdict as AnyConnectionError).retryable;
  return verdict.kind === "dns"
    ? verdict.temporary === true
    : RETRYABLE_BY_KIND[verdict.kind] === true;
}

/**
 * How a policy tells connection failures from everything else: `classify`
 * decides cheaply (no ConnectionError is built: that is the cost of a
 * failure, its stack trace above all), `recognize` builds the error that
 * leaves. Internal.
 */
export interface Judge {
  /** The verdict on `error` when it is a recognized connection failure, else `undefined`. */
  readonly classify: (error: unknown) => Verdict | undefined;
  /** The ConnectionError for `error` when recognized, else `undefined`. */
  readonly recognize: Recognize;
}

function makeClassify(recognizers: readonly Recognizer[]): (error: unknown) => Verdict | undefined {
  return (error) => {
    if (hasBrand(error)) return error as AnyConnectionError;
    if (typeof error !== "object" || error === null || carries(error, REFUSAL)) return undefined;
    const found = find(error, recognizers);
    return found && found.match.kind !== "unknown" ? found.match : undefined;
  };
}

function makeJudge(recognizers: readonly Recognizer[]): Judge {
  return Object.freeze({
    classify: makeClassify(recognizers),
    recognize: makeRecognize(recognizers),
  });
}

/** A normalizer's decision without the "unknown" error: internal. */
export type Recognize = (
  error: unknown,
  context?: NormalizeContext,
) => AnyConnectionError | undefined;

function makeRecognize(recognizers: readonly Recognizer[]): Recognize {
  return (error, context) => {
    if (hasBrand(error)) return error as AnyConnectionError;
    if (typeof error !== "object" || error === null || carries(error, REFUSAL)) return undefined;
    const found = find(error, recognizers);
    return found && found.match.kind !== "unknown"
      ? build(error, found, cleanContext(context))
      : undefined;
  };
}

function makeNormalizer(recognizers: readonly Recognizer[]): Normalizer {
  const normalize: Normalizer = (error, context) => {
    if (hasBrand(error)) return error as AnyConnectionError;
    const found = typeof error === "object" && error !== null
      ? find(error, recognizers)
      : undefined;
    return build(error, found, cleanContext(context));
  };
  JUDGE_OF.set(normalize, makeJudge(recognizers));
  return normalize;
}

/**
 * Turns anything thrown into a {@link ConnectionError}.
 *
 * Total: it never throws, for any input. A `ConnectionError` comes back as the
 * same object; an error that is not recognized as a connection failure comes
 * back as kind `"unknown"`, with the original as `cause`. Recognized are
 * Node/libuv and undici codes (also inside `fetch failed` cause chains and
 * Happy-Eyeballs `AggregateError`s), Bun's codes, `Deno.errors.*` classes,
 * `DOMException` `AbortError`/`TimeoutError`, the message-only errors of
 * Deno's, workerd's and browsers' `fetch`, and what popular clients throw:
 * pg, postgres.js, mysql2, mongodb, ioredis, node-redis, Bun's `SQL` and
 * `RedisClient`, axios, got, undici, node-fetch, ky, ws and @grpc/grpc-js.
 * A client's own status errors (an HTTP 503, a SQL syntax error) stay
 * `"unknown"`. To teach it another client, see {@link createNormalizer}.
 *
 * @example
 * ```ts
 * import { normalizeError } from "@faultline/faultline";
 *
 * const raw = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
 *   code: "ECONNREFUSED",
 * });
 * const e = normalizeError(raw, { host: "127.0.0.1", port: 5432 });
 * console.log(e.kind, e.retryable, e.sent); // "refused" true false
 * console.log(e.cause === raw); // true
 * ```
 */
export function normalizeError(error: unknown, context?: NormalizeContext): AnyConnectionError {
  if (hasBrand(error)) return error as AnyConnectionError;
  const found = typeof error === "object" && error !== null ? find(error, BUILT_IN) : undefined;
  return build(error, found, cleanContext(context));
}

/**
 * A {@link normalizeError} of your own that also knows the clients your
 * recognizers describe, without changing any global state: pass it to a
 * policy as `normalize`, and to your own code.
 *
 * Your recognizers are asked first, in order; faultline's own still apply
 * after them. The options are read once, here.
 *
 * @example
 * ```ts
 * import { createNormalizer, type Recognizer, retry } from "@faultline/faultline";
 *
 * // A queue client that throws { code: "QUEUE_GONE" } when the broker drops it.
 * const queueClient: Recognizer = {
 *   name: "queue-client",
 *   match: (e) => e.code === "QUEUE_GONE" ? { kind: "closed" } : undefined,
 * };
 * const normalize = createNormalizer({ recognizers: [queueClient] });
 *
 * const policy = retry({ maxAttempts: 2, normalize });
 * let calls = 0;
 * const result = await policy.execute(() => {
 *   if (++calls === 1) throw Object.assign(new Error("broker went away"), { code: "QUEUE_GONE" });
 *   return "delivered";
 * });
 * console.log(result, calls); // "delivered" 2
 * ```
 */
export function createNormalizer(options?: NormalizerOptions): Normalizer {
  const api = "normalizer";
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(
      `Cannot create ${api} as 'options' must be an object: current value is ${String(options)}`,
    );
  }
  const given: unknown = options?.recognizers;
  if (given === undefined) return makeNormalizer(BUILT_IN);
  if (!Array.isArray(given)) {
    throw new TypeError(
      `Cannot create ${api} as 'recognizers' must be an array of recognizers: current value is ${
        describe(given)
      }`,
    );
  }
  const own: Recognizer[] = [];
  for (let i = 0; i < given.length; i++) {
    const r: unknown = given[i];
    const at = `recognizers[${i}]`;
    if (typeof r !== "object" || r === null) {
      throw new TypeError(
        `Cannot create ${api} as '${at}' must be a recognizer object: current value is ${
          describe(r)
        }`,
      );
    }
    const { name, match, matchMessage } = r as Recognizer;
    if (typeof name !== "string") {
      throw new TypeError(
        `Cannot create ${api} as '${at}.name' must be a string: current value is ${describe(name)}`,
      );
    }
    for (const [key, value] of [["match", match], ["matchMessage", matchMessage]] as const) {
      if (value !== undefined && typeof value !== "function") {
        throw new TypeError(
          `Cannot create ${api} as '${at}.${key}' must be a function: current value is ${
            describe(value)
          }`,
        );
      }
    }
    if (match === undefined && matchMessage === undefined) {
      throw new TypeError(
        `Cannot create ${api} as '${at}' must have 'match' or 'matchMessage': current value is ${
          describe(r)
        }`,
      );
    }
    // Copied, so that changing the object later changes nothing here.
    own.push(Object.freeze({ name, match, matchMessage }));
  }
  return makeNormalizer(Object.freeze([...own, ...BUILT_IN]));
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

/**
 * The {@link Judge} of `normalize`: the built-in one for `undefined`. A
 * normalizer that did not come from {@link createNormalizer} is called, and
 * its `"unknown"` read as not recognized; if it throws, the error is not
 * recognized. Internal.
 */
export function judgeOf(normalize: Normalizer | undefined): Judge {
  if (normalize === undefined) return BUILT_IN_JUDGE;
  const known = JUDGE_OF.get(normalize);
  if (known !== undefined) return known;
  const recognize: Recognize = (error, context) => {
    if (hasBrand(error)) return error as AnyConnectionError;
    try {
      const e: unknown = normalize(error, context);
      return hasBrand(e) && (e as AnyConnectionError).kind !== "unknown"
        ? e as AnyConnectionError
        : undefined;
    } catch {
      return undefined;
    }
  };
  return Object.freeze({ classify: (error: unknown) => recognize(error), recognize });
}

/** The {@link Judge} `recognize` of `normalize` alone. Internal. */
export function recognizerFor(normalize: Normalizer | undefined): Recognize {
  return judgeOf(normalize).recognize;
}

/**
 * Like {@link normalizeError}, but gives `undefined` instead of building an
 * `"unknown"` error: what the policies use to decide, allocation-free for
 * errors that are not connection failures. Internal.
 */
const BUILT_IN_JUDGE: Judge = makeJudge(BUILT_IN);
export const recognize: Recognize = BUILT_IN_JUDGE.recognize;
JUDGE_OF.set(normalizeError, BUILT_IN_JUDGE);
