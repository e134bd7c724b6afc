/**
 * {@link ConnectionError}: one error class for every connection failure.
 *
 * @module
 */

import type { RuntimeName } from "../runtime.ts";
import { brandFor, carries } from "./_brand.ts";
import {
  CONNECTION_ERROR_KINDS,
  type ConnectionErrorKind,
  type ConnectionOperation,
  formatTarget,
  hintFor,
  RETRYABLE_BY_KIND,
  sentByDefault,
} from "./kinds.ts";

/** The fields only some kinds have; `switch (error.kind)` narrows to them. */
export interface ConnectionErrorKindFields {
  /** A failed name lookup. */
  dns: {
    /** The name that did not resolve, when known. */
    readonly hostname: string | undefined;
    /** True for a failure that may pass (EAI_AGAIN): such an error is retryable. */
    readonly temporary: boolean;
  };
  /** Nothing happened in time. */
  timeout: {
    /** The limit that ran out, when known. */
    readonly timeoutMs: number | undefined;
  };
}

/**
 * A {@link ConnectionError} whose type follows its `kind`: `switch (e.kind)`
 * narrows it to the fields of that kind, and an exhaustive switch can end in
 * `never`. {@link normalizeError}, {@link isConnectionError} and `instanceof`
 * all give this type.
 *
 * @example
 * ```ts
 * import { type AnyConnectionError, normalizeError } from "@faultline/faultline";
 *
 * function describe(e: AnyConnectionError): string {
 *   switch (e.kind) {
 *     case "dns":
 *       return `cannot resolve ${e.hostname}`;
 *     case "timeout":
 *       return `timed out after ${e.timeoutMs} ms`;
 *     default:
 *       return e.hint;
 *   }
 * }
 * describe(normalizeError(new Error("boom")));
 * ```
 */
export type AnyConnectionError = {
  [K in ConnectionErrorKind]:
    & ConnectionError<K>
    & (K extends keyof ConnectionErrorKindFields ? ConnectionErrorKindFields[K] : unknown);
}[ConnectionErrorKind];

/** Everything a {@link ConnectionError} can be built from; all of it optional. */
export interface ConnectionErrorOptions {
  /** The message; a plain one is written from the kind and the target when omitted. */
  message?: string;
  /** The POSIX-style code, such as `"ECONNREFUSED"`, when known. */
  code?: string | undefined;
  /** The original error, kept untouched. */
  cause?: unknown;
  /** The runtime the error came from. */
  runtime?: RuntimeName;
  /** What was being done. */
  operation?: ConnectionOperation | undefined;
  /** The host that was addressed, as the caller gave it. */
  host?: string | undefined;
  /** The port that was addressed. */
  port?: number | undefined;
  /** For `dns`: the name that did not resolve. */
  hostname?: string | undefined;
  /** For `dns`: whether the failure may pass. */
  temporary?: boolean | undefined;
  /** For `timeout`: the limit that ran out. */
  timeoutMs?: number | undefined;
  /**
   * Whether the request reached the server: `false` when it certainly did
   * not, `true` when it certainly did. Left out, it follows from the kind
   * (see {@link ConnectionError.sent}).
   */
  sent?: boolean | undefined;
  /** Overrides the kind's default. */
  retryable?: boolean;
  /** Overrides the kind's hint. */
  hint?: string;
}

/**
 * The plain object {@link ConnectionError.toJSON} returns.
 *
 * @example
 * ```ts
 * import { ConnectionError, type ConnectionErrorJSON } from "@faultline/faultline";
 *
 * const json: ConnectionErrorJSON = new ConnectionError("reset").toJSON();
 * console.log(json.kind); // "reset"
 * ```
 */
export interface ConnectionErrorJSON {
  /** Always `"ConnectionError"`. */
  name: "ConnectionError";
  /** See {@link ConnectionError.kind}. */
  kind: ConnectionErrorKind;
  /** See `Error.message`. */
  message: string;
  /** See {@link ConnectionError.code}. */
  code: string | undefined;
  /** See {@link ConnectionError.retryable}. */
  retryable: boolean;
  /** See {@link ConnectionError.runtime}. */
  runtime: RuntimeName;
  /** See {@link ConnectionError.operation}. */
  operation: ConnectionOperation | undefined;
  /** See {@link ConnectionError.host}. */
  host: string | undefined;
  /** See {@link ConnectionError.port}. */
  port: number | undefined;
  /** See {@link ConnectionError.sent}. */
  sent: boolean | undefined;
  /** See {@link ConnectionError.hint}. */
  hint: string;
  /** For `dns` only. */
  hostname?: string | undefined;
  /** For `dns` only. */
  temporary?: boolean;
  /** For `timeout` only. */
  timeoutMs?: number | undefined;
  /** A summary of the original error: never the whole object, which may not serialize. */
  cause?: { name: string; message: string; code?: string | number };
}

// A registry symbol, so that two copies of faultline (an ESM and a CJS build,
// or two versions in one node_modules) still recognize each other's errors.
const BRAND: unique symbol = brandFor("ConnectionError") as never;

const KIND_NAMES: ReadonlySet<string> = new Set(CONNECTION_ERROR_KINDS);

const MESSAGES: Record<ConnectionErrorKind, string> = {
  refused: "Connection refused",
  reset: "Connection reset",
  aborted: "Connection aborted",
  broken_pipe: "Broken pipe",
  closed: "Connection closed early",
  timeout: "Timed out",
  dns: "DNS lookup failed",
  unreachable: "Host or network unreachable",
  address_in_use: "Address in use",
  address_unavailable: "Address not available",
  tls: "TLS failure",
  connect_failed: "Could not connect",
  cancelled: "Cancelled",
  unknown: "Unrecognized error",
};

/**
 * A connection failure, the same in every runtime: its `kind` says what went
 * wrong, `hint` what to check, `retryable` whether trying again may help, and
 * `cause` keeps the runtime's original error.
 *
 * @example
 * ```ts
 * import { ConnectionError } from "@faultline/faultline";
 *
 * const e = new ConnectionError("refused", { host: "127.0.0.1", port: 5432, code: "ECONNREFUSED" });
 * console.log(e.message); // "Connection refused: 127.0.0.1:5432 (ECONNREFUSED)"
 * console.log(e.retryable); // true
 * ```
 */
export class ConnectionError<K extends ConnectionErrorKind = ConnectionErrorKind> extends Error {
  /** What went wrong. */
  readonly kind: K;
  /** The POSIX-style code (`"ECONNREFUSED"`), when the runtime gave one. */
  readonly code: string | undefined;
  /** Whether trying again may help; what `retry()` retries by default. */
  readonly retryable: boolean;
  /** The runtime the error came from. */
  readonly runtime: RuntimeName;
  /** What was being done, when known. */
  readonly operation: ConnectionOperation | undefined;
  /** The host that was addressed, when known. */
  readonly host: string | undefined;
  /** The port that was addressed, when known. */
  readonly port: number | undefined;
  /**
   * `false` when the request certainly never reached the server (refused,
   * DNS, unreachable, a local address problem, a TLS handshake that failed,
   * a connect that timed out), `true` when it certainly did, `undefined`
   * when nobody can tell (a reset mid-request, a browser's "Failed to
   * fetch"). A retry of a request that is not idempotent is safe only when
   * this is `false`.
   */
  readonly sent: boolean | undefined;
  /** One line: the likely causes and the first thing to check. */
  readonly hint: string;
  // `declare`: set only for their own kinds, so other kinds carry no
  // undefined own properties.
  /** For `dns`: the name that did not resolve. */
  declare readonly hostname?: string | undefined;
  /** For `dns`: whether the failure may pass. */
  declare readonly temporary?: boolean;
  /** For `timeout`: the limit that ran out. */
  declare readonly timeoutMs?: number | undefined;

  /** Builds a connection error of `kind`; see {@link ConnectionErrorOptions}. */
  constructor(kind: K, options: ConnectionErrorOptions = {}) {
    const target = options.host !== undefined || options.port !== undefined
      ? `: ${formatTarget(options.host, options.port)}`
      : "";
    const code = options.code === undefined ? "" : ` (${options.code})`;
    super(
      options.message ?? `${MESSAGES[kind] ?? "Connection failed"}${target}${code}`,
      "cause" in options ? { cause: options.cause } : undefined,
    );
    this.name = "ConnectionError";
    this.kind = kind;
    this.code = options.code;
    this.runtime = options.runtime ?? "unknown";
    this.operation = options.operation;
    this.host = options.host;
    this.port = options.port;
    if (kind === "dns") {
      this.hostname = options.hostname ?? options.host;
      this.temporary = options.temporary === true;
    } else if (kind === "timeout") {
      this.timeoutMs = options.timeoutMs;
    }
    this.retryable = options.retryable ??
      (kind === "dns" ? options.temporary === true : RETRYABLE_BY_KIND[kind] ?? false);
    this.sent = typeof options.sent === "boolean"
      ? options.sent
      : sentByDefault(kind, options.operation);
    this.hint = options.hint ?? hintFor(kind, options);
  }

  /** The brand that `instanceof` and {@link isConnectionError} look for. */
  get [BRAND](): true {
    return true;
  }

  /**
   * True for any faultline `ConnectionError`, even one made by another copy of
   * the library; subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): value is AnyConnectionError {
    if (this !== ConnectionError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasBrand(value);
  }

  /** A plain, JSON-safe object: the cause is summarized, never serialized whole. */
  toJSON(): ConnectionErrorJSON {
    const json: ConnectionErrorJSON = {
      name: "ConnectionError",
      kind: this.kind,
      message: this.message,
      code: this.code,
      retryable: this.retryable,
      runtime: this.runtime,
      operation: this.operation,
      host: this.host,
      port: this.port,
      sent: this.sent,
      hint: this.hint,
    };
    if (this.kind === "dns") {
      json.hostname = this.hostname;
      json.temporary = this.temporary === true;
    } else if (this.kind === "timeout") {
      json.timeoutMs = this.timeoutMs;
    }
    const cause = summarizeCause(this.cause);
    if (cause) json.cause = cause;
    return json;
  }
}

/** True when `value` carries the ConnectionError brand; never throws. */
export function hasBrand(value: unknown): boolean {
  if (typeof value !== "object" || value === null || !carries(value, BRAND)) return false;
  try {
    // A Proxy can answer `true` to any read, so the brand alone is not
    // enough: a ConnectionError also carries one of the known kinds.
    return KIND_NAMES.has((value as { kind?: unknown }).kind as string);
  } catch {
    return false;
  }
}

function summarizeCause(cause: unknown): ConnectionErrorJSON["cause"] | undefined {
  if (cause === undefined) return undefined;
  try {
    if (typeof cause === "object" && cause !== null) {
      const c = cause as { name?: unknown; message?: unknown; code?: unknown };
      const out: NonNullable<ConnectionErrorJSON["cause"]> = {
        name: typeof c.name === "string" ? c.name : "Object",
        message: typeof c.message === "string" ? c.message : "",
      };
      if (typeof c.code === "string" || typeof c.code === "number") out.code = c.code;
      return out;
    }
    return { name: typeof cause, message: String(cause) };
  } catch {
    return { name: "Unknown", message: "" };
  }
}
