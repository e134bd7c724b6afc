/**
 * The search of {@link normalizeError}: which node of an error (the error,
 * its `cause` chain, an AggregateError's `errors`) a recognizer knows, first
 * by its fields, then by its message. Bounded against hostile input, and
 * total: a throwing getter or recognizer is simply not a match. Internal.
 *
 * @module
 */

import { CONNECTION_ERROR_KINDS } from "./kinds.ts";
import type { ErrorFields, Recognition, Recognizer } from "./recognizer.ts";

// How far into cause chains and AggregateErrors to look: enough for undici's
// `fetch failed` ← AggregateError ← Error nesting, bounded against hostile input.
const MAX_DEPTH = 8;
const MAX_NODES = 48;
const MAX_MESSAGE = 2048;

/** Reads a property without letting a getter or a Proxy trap throw at us. */
export function read(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** The value when it is a string. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** A recognizer's answer, the node it answered for, and that node's own code. */
export interface Found {
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
  // Most errors are decided by their own fields: no queue for those.
  const first = ask(recognizers, root, byMessage);
  if (first) return { match: first, node: root, code: str(read(root, "code")) };
  const queue: Array<[object, number]> = [[root, 0]];
  const seen = new Set<object>();
  for (let i = 0; i < queue.length && i < MAX_NODES; i++) {
    const [node, depth] = queue[i]!;
    if (seen.has(node)) continue;
    seen.add(node);
    const match = i === 0 ? undefined : ask(recognizers, node, byMessage);
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

/** The node a recognizer knows by its fields, else by its message; never throws. */
export function safeSearch(root: object, recognizers: readonly Recognizer[]): Found | undefined {
  try {
    return search(root, recognizers, false) ?? search(root, recognizers, true);
  } catch {
    // Array.isArray on a revoked Proxy throws; such input is simply unknown.
    return undefined;
  }
}

/**
 * A runtime's own system error, with a numeric `errno` and a `syscall` as
 * Node, Bun and Deno's `node:net` make them, says exactly what happened,
 * whichever client let it through: `runtime` decides it alone, without
 * asking every client's recognizer first. Most failures a policy judges are
 * these, one per failed attempt. `undefined` when `root` is not one, or
 * `runtime` does not know it; never throws.
 */
export function systemError(root: object, runtime: Recognizer): Found | undefined {
  try {
    const e = root as ErrorFields & { errno?: unknown; syscall?: unknown };
    if (typeof e.errno !== "number" || typeof e.syscall !== "string") return undefined;
    const match: unknown = runtime.match?.(e);
    return valid(match) ? { match, node: root, code: str(e.code) } : undefined;
  } catch {
    return undefined; // a throwing getter: the full search decides
  }
}
