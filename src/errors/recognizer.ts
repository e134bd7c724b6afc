/**
 * {@link Recognizer}: how {@link normalizeError} is taught one client's
 * errors, and how a user teaches it one more.
 *
 * @module
 */

import type { ConnectionErrorKind, ConnectionOperation } from "./kinds.ts";

/**
 * What a {@link Recognizer} says of one error: its kind, and what else it
 * knows for certain. `kind: "unknown"` is a verdict too: "this is that
 * client's own status error (an HTTP 503, a SQL syntax error), not a
 * connection failure", and it ends the search.
 *
 * @example
 * ```ts
 * import type { Recognition } from "@faultline/faultline";
 *
 * const refusedBeforeSending: Recognition = { kind: "refused", sent: false };
 * ```
 */
export interface Recognition {
  /** The kind of failure. */
  kind: ConnectionErrorKind;
  /** For `dns`: whether the failure may pass (EAI_AGAIN). */
  temporary?: boolean;
  /**
   * `false` when the request certainly never reached the server, `true` when
   * it certainly did. Left out: faultline decides from the kind.
   */
  sent?: boolean;
  /** The POSIX-style code to report, such as `"ECONNRESET"`, when certain. */
  code?: string;
  /** What was being done, when the error says. */
  operation?: ConnectionOperation;
  /** For `timeout`: the limit that ran out, when the error says. */
  timeoutMs?: number;
}

/**
 * The fields of one error as a recognizer sees them. Reading a field can
 * throw (a getter, a Proxy): {@link normalizeError} catches that and treats
 * the recognizer as not matching.
 *
 * @example
 * ```ts
 * import type { ErrorFields } from "@faultline/faultline";
 *
 * const isMine = (e: ErrorFields) => e.name === "MyClientError";
 * ```
 */
export type ErrorFields = { readonly [key: string]: unknown };

/**
 * Teaches {@link normalizeError} (or a normalizer of your own, from
 * {@link createNormalizer}) the errors of one client.
 *
 * The normalizer walks the error, its `cause` chain and an AggregateError's
 * `errors`, breadth first. It first asks every recognizer's `match` of every
 * error in the chain (codes, classes, fields); only when nothing matched
 * anywhere does it ask `matchMessage` (message phrases), because a phrase is
 * the weakest evidence. Recognizers are asked in order, before faultline's
 * own tables of runtime codes; the first answer wins. Never import the
 * client: recognize its errors by shape.
 *
 * @example
 * ```ts
 * import { createNormalizer, type Recognizer } from "@faultline/faultline";
 *
 * // A client that throws { name: "AcmeError", code: "ACME_DOWN" } when its server is gone.
 * const acme: Recognizer = {
 *   name: "acme",
 *   match: (e) => e.name === "AcmeError" && e.code === "ACME_DOWN" ? { kind: "closed" } : undefined,
 * };
 * const normalize = createNormalizer({ recognizers: [acme] });
 * const raw = Object.assign(new Error("server went away"), { name: "AcmeError", code: "ACME_DOWN" });
 * console.log(normalize(raw).kind); // "closed"
 * ```
 */
export interface Recognizer {
  /** A short name, such as the client's package name. */
  readonly name: string;
  /** Decides by code, class or fields; `undefined` when the error is not this client's. */
  readonly match?: (error: ErrorFields) => Recognition | undefined;
  /**
   * Decides by the error's message, asked only when no `match` (of any
   * recognizer, or of faultline's code tables) decided for any error in the
   * chain. `message` is as thrown, at most 2 048 characters.
   */
  readonly matchMessage?: (message: string, error: ErrorFields) => Recognition | undefined;
}
