/**
 * {@link normalizeError}: whatever a runtime or a client threw, one
 * {@link ConnectionError}; {@link createNormalizer} for clients it does not know.
 *
 * @module
 */

import { detectRuntime, type RuntimeName } from "../runtime.ts";
import {
  type AnyConnectionError,
  ConnectionError,
  type ConnectionErrorOptions,
  hasBrand,
} from "./connection_error.ts";
import {
  CONNECTION_ERROR_KINDS,
  CONNECTION_OPERATIONS,
  type ConnectionErrorKind,
  type ConnectionOperation,
} from "./kinds.ts";
import type { ErrorFields, Recognition, Recognizer } from "./recognizer.ts";
import { CLIENT_RECOGNIZERS } from "./clients/_all.ts";
import { runtimeErrors } from "./_runtime_errors.ts";

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

// How far into cause chains and AggregateErrors to look: enough for undici's
// `fetch failed` ← AggregateError ← Error nesting, bounded against hostile input.
const MAX_DEPTH = 8;
const MAX_NODES = 48;
const MAX_MESSAGE = 2048;

const OPERATION_BY_SYSCALL: Record<string, ConnectionOperation> = Object.assign(
  Object.create(null),
  {
    connect: "connect",
    read: "read",
    write: "write",
    writev: "write",
    shutdown: "write",
    getaddrinfo: "lookup",
    getnameinfo: "lookup",
    queryA: "lookup",
    queryAaaa: "lookup",
    listen: "listen",
    bind: "listen",
  },
);

/** Reads a property without letting a getter or a Proxy trap throw at us. */
function read(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

interface Found {
  match: Recognition;
  node: object;
  code: string | undefined;
}

const KINDS: ReadonlySet<string> = new Set(CONNECTION_ERROR_KINDS);

/** A recognizer's answer, if it is one: a user's recognizer may return anything. */
function valid(answer: unknown): answer is Recognition {
  return typeof answer === "object" && answer !== null &&
    KINDS.has((answer as Recognition).kind);
}

function ask(
  recognizers: readonly Recognizer[],
  node: object,
  byMessage: boolean,
): Recognition | undefined {
  let message: string | undefined;
  if (byMessage) {
    message = str(read(node, "message"));
    if (message === undefined || message.length === 0) return undefined;
    if (message.length > MAX_MESSAGE) message = message.slice(0, MAX_MESSAGE);
  }
  for (let i = 0; i < recognizers.length; i++) {
    const r = recognizers[i]!;
    try {
      const answer: unknown = byMessage
        ? r.matchMessage?.(message!, node as ErrorFields)
        : r.match?.(node as ErrorFields);
      if (valid(answer)) return answer;
    } catch {
      // A throwing getter on the error, or a recognizer's own bug: not a match.
    }
  }
  return undefined;
}

/**
 * Walks the error, its `cause` chain and an AggregateError's `errors`, breadth
 * first, bounded in depth and count, and never visiting a node twice.
 */
function search(
  root: object,
  recognizers: readonly Recognizer[],
  byMessage: boolean,
): Found | undefined {
  const queue: Array<[object, number]> = [[root, 0]];
  const seen = new Set<object>();
  for (let i = 0; i < queue.length && i < MAX_NODES; i++) {
    const [node, depth] = queue[i]!;
    if (seen.has(node)) continue;
    seen.add(node);
    const match = ask(recognizers, node, byMessage);
    if (match) return { match, node, code: str(read(node, "code")) };
    if (depth >= MAX_DEPTH) continue;
    const cause = read(node, "cause");
    if (typeof cause === "object" && cause !== null) queue.push([cause, depth + 1]);
    const errors = read(node, "errors");
    if (Array.isArray(errors)) {
      const n = Math.min(errors.length, 16);
      for (let j = 0; j < n; j++) {
        const e: unknown = errors[j];
        if (typeof e === "object" && e !== null) queue.push([e, depth + 1]);
      }
    }
  }
  return undefined;
}

function safeSearch(root: object, recognizers: readonly Recognizer[]): Found | undefined {
  try {
    return search(root, recognizers, false) ?? search(root, recognizers, true);
  } catch {
    // Array.isArray on a revoked Proxy throws; such input is simply unknown.
    return undefined;
  }
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

// The `recognize` of each normalizer made here, so that a policy given one
// decides without building an "unknown" error for every failure it sees.
const RECOGNIZE_OF = new WeakMap<Normalizer, Recognize>();

/** A normalizer's decision without the "unknown" error: internal. */
export type Recognize = (error: unknown, context?: NormalizeContext) => AnyConnectionError | undefined;

function makeRecognize(recognizers: readonly Recognizer[]): Recognize {
  return (error, context) => {
    if (hasBrand(error)) return error as AnyConnectionError;
    if (typeof error !== "object" || error === null) return undefined;
    const found = safeSearch(error, recognizers);
    return found && found.match.kind !== "unknown"
      ? build(error, found, cleanContext(context))
      : undefined;
  };
}

function makeNormalizer(recognizers: readonly Recognizer[]): Normalizer {
  const normalize: Normalizer = (error, context) => {
    if (hasBrand(error)) return error as AnyConnectionError;
    const found = typeof error === "object" && error !== null
      ? safeSearch(error, recognizers)
      : undefined;
    return build(error, found, cleanContext(context));
  };
  RECOGNIZE_OF.set(normalize, makeRecognize(recognizers));
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
  const found = typeof error === "object" && error !== null
    ? safeSearch(error, BUILT_IN)
    : undefined;
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
 * The {@link ConnectionError} for `error` when `normalize` recognizes it as a
 * connection failure (never kind `"unknown"`), else `undefined`: what the
 * policies decide with. Internal. A normalizer that did not come from
 * {@link createNormalizer} is called and its `"unknown"` read as not
 * recognized; if it throws, the error is not recognized.
 */
export function recognizerFor(normalize: Normalizer | undefined): Recognize {
  if (normalize === undefined) return recognize;
  const known = RECOGNIZE_OF.get(normalize);
  if (known !== undefined) return known;
  return (error, context) => {
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
}

/**
 * The context with only well-typed fields, each read once: a caller's
 * mistake (a numeric host, a throwing getter) must not make the total
 * function throw.
 */
function cleanContext(context: unknown): NormalizeContext | undefined {
  if (context === undefined) return undefined;
  const out: NormalizeContext = {};
  if (typeof context !== "object" || context === null) return out;
  const host = read(context, "host");
  if (typeof host === "string") out.host = host;
  const port = read(context, "port");
  if (typeof port === "number" && Number.isInteger(port)) out.port = port;
  const operation = read(context, "operation");
  if (typeof operation === "string" && CONNECTION_OPERATIONS.includes(operation as never)) {
    out.operation = operation as ConnectionOperation;
  }
  const runtime = read(context, "runtime");
  if (typeof runtime === "string" && RUNTIMES.has(runtime)) out.runtime = runtime as RuntimeName;
  const timeoutMs = read(context, "timeoutMs");
  if (typeof timeoutMs === "number" && timeoutMs >= 0) out.timeoutMs = timeoutMs;
  return out;
}

const RUNTIMES: ReadonlySet<string> = new Set([
  "deno",
  "bun",
  "node",
  "workerd",
  "edge-light",
  "browser",
  "unknown",
]);

/**
 * Like {@link normalizeError}, but gives `undefined` instead of building an
 * `"unknown"` error: what the policies use to decide, allocation-free for
 * errors that are not connection failures. Internal.
 */
export const recognize: Recognize = makeRecognize(BUILT_IN);
RECOGNIZE_OF.set(normalizeError, recognize);

function build(
  error: unknown,
  found: Found | undefined,
  context: NormalizeContext | undefined,
): AnyConnectionError {
  const kind: ConnectionErrorKind = found ? found.match.kind : "unknown";
  const options: ConnectionErrorOptions = {
    cause: error,
    runtime: context?.runtime ?? detectRuntime(),
  };
  try {
    fill(options, found, context);
  } catch {
    // Only ever reached through hostile input; the kind alone is still right.
  }
  return new ConnectionError(kind, options) as AnyConnectionError;
}

function fill(
  options: ConnectionErrorOptions,
  found: Found | undefined,
  context: NormalizeContext | undefined,
): void {
  const node = found?.node;
  const match = found?.match;
  options.code = match?.code ?? codeOf(match?.kind) ?? found?.code;
  options.host = context?.host ?? (node ? str(read(node, "address")) : undefined);
  const port = context?.port ?? (node ? read(node, "port") : undefined);
  if (typeof port === "number" && Number.isInteger(port)) options.port = port;
  const syscall = node ? str(read(node, "syscall")) : undefined;
  options.operation = context?.operation ?? match?.operation ??
    (syscall !== undefined ? OPERATION_BY_SYSCALL[syscall] : undefined) ??
    (match?.kind === "dns" ? "lookup" : match?.kind === "tls" ? "tls" : undefined);
  if (match?.kind === "dns") {
    options.temporary = match.temporary === true;
    options.hostname = (node ? str(read(node, "hostname")) : undefined) ?? context?.host;
  }
  const timeoutMs = context?.timeoutMs ?? match?.timeoutMs;
  if (typeof timeoutMs === "number") options.timeoutMs = timeoutMs;
  if (typeof match?.sent === "boolean") options.sent = match.sent;
  const message = str(read(found ? found.node : options.cause as object ?? {}, "message"));
  if (message) options.message = message;
}

/** The POSIX name for kinds whose code is certain when the runtime gave none. */
function codeOf(kind: ConnectionErrorKind | undefined): string | undefined {
  switch (kind) {
    case "refused":
      return "ECONNREFUSED";
    case "reset":
      return "ECONNRESET";
    case "aborted":
      return "ECONNABORTED";
    case "broken_pipe":
      return "EPIPE";
    case "address_in_use":
      return "EADDRINUSE";
    case "address_unavailable":
      return "EADDRNOTAVAIL";
    default:
      return undefined;
  }
}
