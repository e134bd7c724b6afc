/**
 * `connect()` for Cloudflare Workers (workerd), on `connect()` from
 * `cloudflare:sockets`: the same {@link Connection} as the other adapters,
 * with `timeout` and `signal`, and every failure a `ConnectionError`.
 *
 * This is the Workers entry: it imports `cloudflare:sockets` statically, so it
 * loads only in workerd (bundlers such as wrangler and esbuild keep
 * `cloudflare:*` external). Everywhere else use `connect()` from the package
 * root.
 *
 * What workerd tells, and what it does not (measured with workerd from npm):
 * - A refused connection, a failed DNS lookup, a disallowed address and a
 *   failed TLS handshake all reject with one message, "proxy request failed,
 *   cannot connect to the specified address": kind `connect_failed`, never a
 *   guess at a more precise one.
 * - A TCP reset from the peer usually reads as a clean end of stream
 *   (`done: true`): workerd hides it. Where workerd does report a lost
 *   connection while reading or writing ("Network connection lost."), it
 *   does not say whether it was a reset, a broken pipe or a peer that went
 *   away: kind `closed`.
 * - A write after workerd closed the stream is kind `closed`.
 * - `socket.close()` does not cancel a connect in progress: after a timeout
 *   or an abort faultline gives up at once, and the attempt ends with the
 *   request (or when the kernel gives up).
 * - TLS verifies the certificate against `hostname`: `tls.serverName` (other
 *   than the hostname itself), `tls.caCerts` and `tls.alpnProtocols` are not
 *   supported by `cloudflare:sockets` and are refused with a `TypeError`.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@faultline/faultline/adapters/cloudflare";
 *
 * export default {
 *   async fetch(): Promise<Response> {
 *     try {
 *       await using conn = await connect({ hostname: "db.example", port: 5432, timeout: 2000 });
 *       return new Response(`connected to ${conn.remoteAddr.hostname}`);
 *     } catch (e) {
 *       return new Response(String(e), { status: 502 });
 *     }
 *   },
 * };
 * ```
 *
 * @module
 */

// @ts-ignore: cloudflare:sockets exists only in workerd; its types live in @cloudflare/workers-types, which faultline does not depend on.
import { connect as socketsConnect } from "cloudflare:sockets";
import {
  checkConnectOptions,
  type CheckedConnectOptions,
  type Connection,
  type ConnectOptions,
  type NetAddress,
} from "./connection.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { cancelledError, connectionErrorFor, guardConnect } from "./_common.ts";

export type { Connection, ConnectOptions, NetAddress, TlsOptions } from "./connection.ts";

// The parts of cloudflare:sockets used here, typed locally.
interface SocketInfo {
  remoteAddress?: string;
  localAddress?: string;
}
interface Socket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly opened: Promise<SocketInfo>;
  readonly closed: Promise<void>;
  close(): Promise<void>;
}
type SocketsConnect = (
  address: { hostname: string; port: number },
  options?: { secureTransport?: "off" | "on" | "starttls"; allowHalfOpen?: boolean },
) => Socket;

const openSocket = socketsConnect as unknown as SocketsConnect;

const RUNTIME = "workerd";

/** workerd's message for a connection it lost while reading or writing. */
const CONNECTION_LOST = "Network connection lost.";
/** workerd's message for a write to a stream it has already closed. */
const STREAM_CLOSED = "This WritableStream has been closed.";

/**
 * Opens a TCP (or TLS) connection with `connect()` from `cloudflare:sockets`.
 *
 * The connection is half-open like the other adapters': the peer's end of
 * stream ends the readable, and writing stays possible until either side
 * closes. Bad arguments reject with a `TypeError` or `RangeError`; every
 * network failure rejects as a `ConnectionError` (see the module notes for
 * what workerd cannot tell apart).
 *
 * @example
 * ```ts ignore
 * import { connect } from "@faultline/faultline/adapters/cloudflare";
 *
 * const conn = await connect({ hostname: "127.0.0.1", port: 6379, timeout: 1000 });
 * const writer = conn.writable.getWriter();
 * await writer.write(new TextEncoder().encode("PING\r\n"));
 * writer.releaseLock();
 * await conn.close();
 * ```
 */
export function connect(options: ConnectOptions): Promise<Connection> {
  let checked: CheckedConnectOptions;
  let socket: Socket;
  try {
    checked = checkConnectOptions(options);
    checkTls(checked);
    if (checked.signal?.aborted) {
      return Promise.reject(cancelledError(checked, RUNTIME, checked.signal.reason));
    }
    socket = start(checked);
  } catch (error) {
    return Promise.reject(error);
  }
  // `closed` rejects with the same error as `opened`: handled here, reported once.
  socket.closed.catch(() => {});
  return guardConnect(
    checked,
    RUNTIME,
    (abort) => opened(socket, abort),
    () => void socket.close().catch(() => {}),
  ).then((info) => new WorkerdConnection(socket, info, checked));
}

function checkTls(options: CheckedConnectOptions): void {
  const tls = options.tls;
  if (!tls) return;
  if (tls.serverName !== undefined && tls.serverName !== options.hostname) {
    throw new TypeError(
      `Cannot connect as 'tls.serverName' is not supported by cloudflare:sockets, which verifies the certificate against the hostname: current value is ${
        JSON.stringify(tls.serverName)
      }`,
    );
  }
  for (const option of ["caCerts", "alpnProtocols"] as const) {
    const value = tls[option];
    if (value !== undefined && value.length > 0) {
      throw new TypeError(
        `Cannot connect as 'tls.${option}' is not supported by cloudflare:sockets: leave it out`,
      );
    }
  }
}

function start(options: CheckedConnectOptions): Socket {
  try {
    return openSocket({ hostname: options.hostname, port: options.port }, {
      secureTransport: options.tls ? "on" : "off",
      allowHalfOpen: true,
    });
  } catch (error) {
    // workerd checks the address before any I/O: "Specified address is empty
    // string, contains unsupported characters or is too long."
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new TypeError(
        `Cannot connect as 'hostname' must be an address cloudflare:sockets accepts: current value is ${
          JSON.stringify(options.hostname)
        } (${error.message})`,
        { cause: error },
      );
    }
    throw error;
  }
}

async function opened(socket: Socket, abort: AbortSignal): Promise<SocketInfo> {
  // workerd's close() does not cancel a connect in progress, but it is the
  // only handle there is; guardConnect has already given up by then.
  const onAbort = () => void socket.close().catch(() => {});
  abort.addEventListener("abort", onAbort, { once: true });
  try {
    return await socket.opened;
  } finally {
    abort.removeEventListener("abort", onAbort);
  }
}

function messageOf(error: unknown): unknown {
  try {
    return (error as { message?: unknown })?.message;
  } catch {
    return undefined;
  }
}

function closedError(
  options: CheckedConnectOptions,
  operation: "read" | "write",
  cause?: unknown,
  message = `The connection to ${options.hostname}:${options.port} is already closed`,
): ConnectionError {
  return new ConnectionError("closed", {
    host: options.hostname,
    port: options.port,
    operation,
    runtime: RUNTIME,
    cause,
    message,
  });
}

/** An error from reading or writing an open socket, as a ConnectionError. */
function streamError(
  error: unknown,
  options: CheckedConnectOptions,
  operation: "read" | "write",
): ConnectionError {
  const message = messageOf(error);
  if (message === CONNECTION_LOST) {
    // The connection was open, so this is not connect_failed; workerd does
    // not say whether the peer reset it, or it broke while we wrote.
    return closedError(
      options,
      operation,
      error,
      `workerd lost the connection to ${options.hostname}:${options.port} (${message})`,
    );
  }
  if (operation === "write" && error instanceof TypeError && message === STREAM_CLOSED) {
    return closedError(options, operation, error);
  }
  return connectionErrorFor(error, options, RUNTIME, operation);
}

function address(text: string | undefined, fallback: NetAddress): NetAddress {
  if (typeof text !== "string") return fallback;
  const colon = text.lastIndexOf(":");
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) return fallback;
  let hostname = text.slice(0, colon);
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  return { hostname, port };
}

class WorkerdConnection implements Connection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly remoteAddr: NetAddress;
  readonly localAddr: NetAddress;
  #socket: Socket;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #error: ConnectionError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #detach: (() => void) | undefined;

  constructor(socket: Socket, info: SocketInfo, options: CheckedConnectOptions) {
    this.#socket = socket;
    this.remoteAddr = address(info.remoteAddress, {
      hostname: options.hostname,
      port: options.port,
    });
    this.localAddr = address(info.localAddress, { hostname: "", port: 0 });
    const reader = this.#reader = socket.readable.getReader();
    const writer = this.#writer = socket.writable.getWriter();
    const fail = (error: unknown, operation: "read" | "write"): ConnectionError => {
      // The first error is the truth; after our own close (or the caller's
      // abort) workerd only echoes it.
      if (this.#error) return this.#error;
      if (this.#closed) return closedError(options, operation, error);
      return this.#error = streamError(error, options, operation);
    };
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          controller.error(fail(error, "read"));
          return;
        }
        // An abort ends a pending read as `cancelled`, whatever workerd said.
        if (this.#error?.kind === "cancelled") controller.error(this.#error);
        else if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        if (this.#error) throw this.#error;
        if (this.#closed) throw closedError(options, "write");
        try {
          await writer.write(chunk);
        } catch (error) {
          const failure = error instanceof TypeError && messageOf(error) === STREAM_CLOSED
            ? closedError(options, "write", error)
            : fail(error, "write");
          // After a failed write workerd leaves its stream stuck (further
          // writes and close() never settle) until it is aborted.
          writer.abort(failure).catch(() => {});
          throw failure;
        }
      },
      close: async () => {
        if (this.#error) throw this.#error;
        try {
          await writer.close();
        } catch (error) {
          throw error instanceof TypeError && messageOf(error) === STREAM_CLOSED
            ? closedError(options, "write", error)
            : fail(error, "write");
        }
      },
      abort: () => this.close(),
    });
    const signal = options.signal;
    if (signal) {
      const onAbort = () => {
        this.#error ??= cancelledError(options, RUNTIME, signal.reason);
        void this.close();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#detach = () => {
        this.#detach = undefined;
        signal.removeEventListener("abort", onAbort);
      };
    }
    // When both directions have ended, nothing more can happen: let the
    // signal go. `closed` may reject (workerd's own error): nothing to report.
    const ended = () => this.#detach?.();
    socket.closed.then(ended, ended);
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#detach?.();
      // A pending read ends only when the reader is cancelled; and after a
      // failed write (or an abort) workerd's close() settles only once the
      // writer is aborted.
      this.#reader.cancel().catch(() => {});
      if (this.#error) this.#writer.abort(this.#error).catch(() => {});
      this.#closing = this.#socket.close().catch(() => {});
    }
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
