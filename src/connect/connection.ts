/**
 * The shape every adapter's `connect()` takes and gives, the same in every
 * runtime. Types and argument checks only: no runtime access.
 *
 * @module
 */

/**
 * TLS settings for {@link ConnectOptions.tls}.
 *
 * @example
 * ```ts
 * import type { TlsOptions } from "@faultline/faultline";
 *
 * const tls: TlsOptions = { serverName: "db.example", alpnProtocols: ["h2"] };
 * ```
 */
export interface TlsOptions {
  /** The name to verify the certificate against (SNI); the hostname by default. */
  serverName?: string;
  /** Extra PEM-encoded CA certificates to trust. */
  caCerts?: string[];
  /** ALPN protocols to offer. */
  alpnProtocols?: string[];
}

/**
 * What to connect to, and how long to try.
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "@faultline/faultline";
 *
 * const options: ConnectOptions = { hostname: "127.0.0.1", port: 5432, timeout: 2000 };
 * ```
 */
export interface ConnectOptions {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port, 0–65535. */
  port: number;
  /** `true`, or settings, for a TLS connection. */
  tls?: boolean | TlsOptions;
  /** Cancels the attempt to connect: it rejects as kind `cancelled`. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the connection (and TLS handshake): past it, kind `timeout`. */
  timeout?: number;
}

/**
 * An address at one end of a {@link Connection}.
 *
 * @example
 * ```ts
 * import type { NetAddress } from "@faultline/faultline";
 *
 * const addr: NetAddress = { hostname: "127.0.0.1", port: 8080 };
 * ```
 */
export interface NetAddress {
  /** The IP address (or host name when the runtime gives no address). */
  hostname: string;
  /** The port. */
  port: number;
}

/**
 * An open connection, as Web Streams. Errors while reading or writing are
 * `ConnectionError`s (`reset`, `broken_pipe`, `closed`, …). The end of the
 * stream is `done: true` from the reader; only the protocol on top can tell
 * whether it came too early.
 *
 * @example
 * ```ts
 * import { connect } from "@faultline/faultline";
 *
 * async function ping(port: number) {
 *   await using conn = await connect({ hostname: "127.0.0.1", port });
 *   const writer = conn.writable.getWriter();
 *   await writer.write(new TextEncoder().encode("PING\r\n"));
 *   writer.releaseLock();
 * }
 * ```
 */
export interface Connection {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; closing it half-closes the connection. */
  readonly writable: WritableStream<Uint8Array>;
  /** The peer's address. */
  readonly remoteAddr: NetAddress;
  /** This end's address. */
  readonly localAddr: NetAddress;
  /** Closes both directions and releases the socket; safe to call twice. */
  close(): Promise<void>;
  /** The same as {@link Connection.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The checked, normalized form of {@link ConnectOptions}. */
export interface CheckedConnectOptions {
  hostname: string;
  port: number;
  tls: TlsOptions | undefined;
  signal: AbortSignal | undefined;
  timeout: number | undefined;
}

function fail(
  Ctor: typeof TypeError | typeof RangeError,
  option: string,
  rule: string,
  value: unknown,
): never {
  let shown: string;
  try {
    shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    shown = typeof value;
  }
  throw new Ctor(`Cannot connect as '${option}' must be ${rule}: current value is ${shown}`);
}

/**
 * Checks every option before any socket opens; bad input is a `TypeError` or
 * `RangeError` naming the option, never a network error.
 */
export function checkConnectOptions(options: ConnectOptions): CheckedConnectOptions {
  if (typeof options !== "object" || options === null) {
    fail(TypeError, "options", "an object", options);
  }
  const { hostname, port, tls, signal, timeout } = options;
  if (typeof hostname !== "string") fail(TypeError, "hostname", "a string", hostname);
  if (hostname.length === 0) fail(TypeError, "hostname", "a non-empty string", hostname);
  if (typeof port !== "number") fail(TypeError, "port", "a number", port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(RangeError, "port", "an integer from 0 to 65535", port);
  }
  if (timeout !== undefined) {
    if (typeof timeout !== "number") {
      fail(TypeError, "timeout", "a number of milliseconds", timeout);
    }
    if (Number.isNaN(timeout) || timeout < 0) {
      fail(RangeError, "timeout", "a non-negative number of milliseconds", timeout);
    }
  }
  if (
    signal !== undefined &&
    (typeof signal !== "object" || signal === null || typeof signal.aborted !== "boolean")
  ) {
    fail(TypeError, "signal", "an AbortSignal", signal);
  }
  let checkedTls: TlsOptions | undefined;
  if (tls === true) checkedTls = {};
  else if (tls !== undefined && tls !== false) {
    if (typeof tls !== "object" || tls === null) {
      fail(TypeError, "tls", "a boolean or an object", tls);
    }
    // Read once: a getter must not hand the adapter a value that was never checked.
    const { serverName, caCerts, alpnProtocols } = tls;
    if (serverName !== undefined && typeof serverName !== "string") {
      fail(TypeError, "tls.serverName", "a string", serverName);
    }
    if (caCerts !== undefined && !Array.isArray(caCerts)) {
      fail(TypeError, "tls.caCerts", "an array of PEM strings", caCerts);
    }
    if (alpnProtocols !== undefined && !Array.isArray(alpnProtocols)) {
      fail(TypeError, "tls.alpnProtocols", "an array of strings", alpnProtocols);
    }
    checkedTls = { serverName, caCerts, alpnProtocols };
  }
  return {
    hostname,
    port,
    tls: checkedTls,
    signal,
    timeout: timeout === undefined || timeout === Infinity ? undefined : timeout,
  };
}
