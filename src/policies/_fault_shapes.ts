/**
 * The errors {@link chaos} injects: for each kind, the error the runtime
 * itself throws, shaped as recorded in `tests/fixtures/errors_*.json` (Node
 * 24, Deno, Bun, workerd, all on Linux), then turned into a
 * {@link ConnectionError} exactly as `normalizeError` turns the real one.
 * No runtime global is touched: a Deno error is an `Error` with Deno's name,
 * message and code. Internal.
 *
 * @module
 */

import type { AnyConnectionError } from "../errors/connection_error.ts";
import {
  CONNECTION_ERROR_KINDS,
  type ConnectionErrorKind,
  type ConnectionOperation,
} from "../errors/kinds.ts";
import { recognize } from "../errors/normalize_error.ts";
import type { RuntimeName } from "../runtime.ts";

/** The kinds chaos can inject: every kind but the caller's own `cancelled` and `unknown`. */
export type ChaosFault = Exclude<ConnectionErrorKind, "cancelled" | "unknown">;

/** Every {@link ChaosFault}, for validating options. */
export const CHAOS_FAULTS: readonly ChaosFault[] = Object.freeze(
  CONNECTION_ERROR_KINDS.filter((k): k is ChaosFault => k !== "cancelled" && k !== "unknown"),
);

/** Where the injected failure pretends to have happened. */
export interface FaultTarget {
  readonly host: string | undefined;
  readonly port: number | undefined;
}

/**
 * libuv's name for each kind that has one: code, Linux errno, syscall, and
 * libuv's description where a message quotes it (Bun's reads and connects,
 * Node's listen).
 */
const UV: Partial<Record<ChaosFault, readonly [string, number, string, string?]>> = {
  refused: ["ECONNREFUSED", 111, "connect"], // Bun says "Failed to connect", Node no description
  reset: ["ECONNRESET", 104, "read", "connection reset by peer"],
  aborted: ["ECONNABORTED", 103, "read", "software caused connection abort"],
  broken_pipe: ["EPIPE", 32, "write", "broken pipe"],
  timeout: ["ETIMEDOUT", 110, "connect", "connection timed out"],
  unreachable: ["EHOSTUNREACH", 113, "connect", "host is unreachable"],
  address_in_use: ["EADDRINUSE", 98, "listen", "address already in use"],
  address_unavailable: ["EADDRNOTAVAIL", 99, "bind"], // Node binding a localAddress, Bun "Failed to listen"
};

/** Deno's `Deno.errors.*` class, message and code for each kind it reports. */
const DENO: Partial<Record<ChaosFault, readonly [string, string, string | undefined]>> = {
  refused: ["ConnectionRefused", "Connection refused (os error 111)", "ECONNREFUSED"],
  reset: ["ConnectionReset", "Connection reset by peer (os error 104)", "ECONNRESET"],
  aborted: ["ConnectionAborted", "Software caused connection abort (os error 103)", "ECONNABORTED"],
  broken_pipe: ["BrokenPipe", "Broken pipe (os error 32)", "EPIPE"],
  closed: ["UnexpectedEof", "unexpected end of file", undefined],
  timeout: ["TimedOut", "Connection timed out (os error 110)", "ETIMEDOUT"],
  dns: ["Error", "failed to lookup address information: Name or service not known", undefined],
  unreachable: ["NetworkUnreachable", "Network is unreachable (os error 101)", "ENETUNREACH"],
  address_in_use: ["AddrInUse", "Address already in use (os error 98)", "EADDRINUSE"],
  address_unavailable: [
    "AddrNotAvailable",
    "Cannot assign requested address (os error 99)",
    "EADDRNOTAVAIL",
  ],
  tls: ["InvalidData", "received corrupt message of type InvalidContentType", undefined],
};

/**
 * What each kind was doing, where the error alone may not tell it (a Deno
 * error has no syscall). A DNS failure says `lookup`, and a TLS one `tls`, of
 * itself.
 */
const OPERATION: Partial<Record<ChaosFault, ConnectionOperation>> = {
  refused: "connect",
  reset: "read",
  aborted: "read",
  broken_pipe: "write",
  closed: "read",
  timeout: "connect",
  unreachable: "connect",
  address_in_use: "listen",
  address_unavailable: "listen",
  connect_failed: "connect",
};

type Fields = Record<string, unknown>;

function error(message: string, fields: Fields, name?: string): Error {
  const e = name === "TypeError" ? new TypeError(message) : new Error(message);
  if (name !== undefined && name !== "Error" && name !== "TypeError") e.name = name;
  for (const key in fields) {
    if (fields[key] !== undefined) (e as unknown as Fields)[key] = fields[key];
  }
  return e;
}

function at(target: FaultTarget): string {
  const { host, port } = target;
  if (host === undefined) return "";
  return port === undefined ? ` ${host}` : ` ${host}:${port}`; // Node writes ::1:5432 as is
}

/** Node (libuv) errors: `Error` with errno, code, syscall, and the address where Node gives it. */
function node(kind: ChaosFault, target: FaultTarget): Error {
  const { host, port } = target;
  switch (kind) {
    case "dns":
      return error(`getaddrinfo ENOTFOUND ${host ?? ""}`.trimEnd(), {
        errno: -3008,
        code: "ENOTFOUND",
        syscall: "getaddrinfo",
        hostname: host,
      });
    case "closed":
      // node:http when the server ended the connection before answering.
      return error("socket hang up", { code: "ECONNRESET" });
    case "tls":
      // OpenSSL's text, less the thread id Node puts before it ("407DA524A47F0000:").
      return error(
        "error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:" +
          "../deps/openssl/openssl/ssl/record/methods/tlsany_meth.c:77:\n",
        {
          library: "SSL routines",
          reason: "wrong version number",
          code: "ERR_SSL_WRONG_VERSION_NUMBER",
        },
      );
    case "connect_failed":
      return workerd(kind);
  }
  const [code, errno, syscall, description] = UV[kind]!;
  const withAddress = syscall !== "read" && syscall !== "write";
  const message = kind === "address_in_use"
    ? `listen ${code}: ${description}${at(target)}`
    : kind === "address_unavailable"
    ? `${syscall} ${code}${at({ host, port: undefined })}` // the local address it could not bind
    : `${syscall} ${code}${withAddress ? at(target) : ""}`;
  return error(message, {
    errno: -errno,
    code,
    syscall,
    address: withAddress ? host : undefined,
    port: withAddress && kind !== "address_unavailable" ? port : undefined,
  });
}

/** Deno's errors: its `Deno.errors.*` name and message, and the code Deno sets. */
function deno(kind: ChaosFault, target: FaultTarget): Error {
  const shape = DENO[kind];
  if (shape === undefined) return node(kind, target);
  const [name, message, code] = shape;
  return error(message, { code }, name);
}

/** Bun.connect's errors: `${code}: ${description}, ${syscall}`, a few of its own wording. */
function bun(kind: ChaosFault, target: FaultTarget): Error {
  const { host, port } = target;
  switch (kind) {
    case "refused":
      return error("Failed to connect", { code: "ECONNREFUSED", syscall: "connect", errno: -111 });
    case "dns":
      return error(`getaddrinfo ENOTFOUND ${host ?? ""}`.trimEnd(), {
        code: "ENOTFOUND",
        syscall: "getaddrinfo",
        errno: 4,
        hostname: host,
      });
    case "address_in_use":
    case "address_unavailable": {
      const [code, errno] = UV[kind]!;
      return error(`Failed to listen at ${host ?? "0.0.0.0"}`, {
        syscall: "listen",
        errno,
        address: host,
        port,
        code,
      });
    }
    case "tls":
      return error("error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER", {
        code: "EPROTO",
        errno: 0,
      });
    case "closed":
    case "connect_failed":
      return node(kind, target); // Bun.connect reports neither
  }
  const [code, errno, uvSyscall, description] = UV[kind]!;
  // Bun reports a broken pipe when it next reads (recorded: "EPIPE: broken pipe, read").
  const syscall = kind === "broken_pipe" ? "read" : uvSyscall;
  return error(`${code}: ${description}, ${syscall}`, { code, syscall, errno: -errno });
}

/**
 * workerd says only that it could not connect; a timeout is the DOM's. Other
 * kinds it never reports take Node's shape.
 */
function workerd(kind: ChaosFault, target?: FaultTarget): Error {
  if (kind === "connect_failed") {
    return error("proxy request failed, cannot connect to the specified address", {});
  }
  if (kind === "timeout") return timeoutDOMException("The operation was aborted due to timeout");
  return node(kind, target!);
}

function timeoutDOMException(message: string): Error {
  return new DOMException(message, "TimeoutError") as Error;
}

/**
 * A browser's `fetch` says "Failed to fetch" for everything; a timeout is the
 * DOM's. Chromium's wording, as recorded in `tests/fixtures/clients/chromium.browser.json`.
 */
function browser(kind: ChaosFault, target: FaultTarget): Error {
  if (kind === "connect_failed") return error("Failed to fetch", {}, "TypeError");
  if (kind === "timeout") return timeoutDOMException("signal timed out");
  return node(kind, target);
}

/** The error `runtime` throws for a failure of `kind` at `target`: the cause of an injected fault. */
export function runtimeError(kind: ChaosFault, runtime: RuntimeName, target: FaultTarget): Error {
  switch (runtime) {
    case "deno":
      return deno(kind, target);
    case "bun":
      return bun(kind, target);
    case "workerd":
      return workerd(kind, target);
    case "browser":
      return browser(kind, target);
    default:
      return node(kind, target);
  }
}

/**
 * The {@link ConnectionError} of an injected fault: the runtime's own error
 * as its `cause`, normalized as production would normalize it.
 */
export function injectedError(
  kind: ChaosFault,
  runtime: RuntimeName,
  target: FaultTarget,
): AnyConnectionError {
  const cause = runtimeError(kind, runtime, target);
  const context = { host: target.host, port: target.port, operation: OPERATION[kind], runtime };
  // Every shape above is recognized as its own kind: _fault_shapes_test.ts
  // checks every kind in every runtime.
  return recognize(cause, context)!;
}
