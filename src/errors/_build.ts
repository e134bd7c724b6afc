/**
 * How {@link normalizeError} builds its {@link ConnectionError}: the kind a
 * recognizer found, and the code, address, operation, DNS and timeout fields
 * from the node it found, the caller's context (cleaned first) and the
 * runtime. Internal.
 *
 * @module
 */

import { detectRuntime, type RuntimeName } from "../runtime.ts";
import {
  type AnyConnectionError,
  ConnectionError,
  type ConnectionErrorOptions,
} from "./connection_error.ts";
import {
  CONNECTION_OPERATIONS,
  type ConnectionErrorKind,
  type ConnectionOperation,
} from "./kinds.ts";
import type { NormalizeContext } from "./normalize_error.ts";
import { type Found, read, str } from "./_search.ts";

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

/**
 * The context with only well-typed fields, each read once: a caller's
 * mistake (a numeric host, a throwing getter) must not make the total
 * function throw.
 */
export function cleanContext(context: unknown): NormalizeContext | undefined {
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

/** The ConnectionError for `error`: kind `"unknown"` when nothing was found. Never throws. */
export function build(
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
