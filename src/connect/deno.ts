/**
 * `connect()` on `Deno.connect` and `Deno.startTls`: every failure is a
 * `ConnectionError`. Loads anywhere; calls Deno only when `connect()` runs.
 *
 * @example
 * ```ts
 * import { connect } from "@faultline/faultline/adapters/deno";
 *
 * const failure = await connect({ hostname: "127.0.0.1", port: 1 }).catch((e) => e);
 * console.log(failure.kind); // "refused"
 * ```
 *
 * @module
 */

import {
  checkConnectOptions,
  type CheckedConnectOptions,
  type Connection,
  type ConnectOptions,
  type NetAddress,
} from "./connection.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import { cancelledError, connectionErrorFor, guardConnect, runtimeNamespace } from "./_common.ts";

// The few parts of the Deno namespace used here, typed locally so that this
// file type-checks (and loads) outside Deno too.
interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  readonly remoteAddr: { hostname?: string; port?: number };
  readonly localAddr: { hostname?: string; port?: number };
  close(): void;
  handshake?(): Promise<unknown>;
}
interface DenoNamespace {
  connect(options: { hostname: string; port: number; signal?: AbortSignal }): Promise<DenoConn>;
  startTls(
    conn: DenoConn,
    options: { hostname?: string; caCerts?: string[]; alpnProtocols?: string[] },
  ): Promise<DenoConn>;
}

export type { Connection, ConnectOptions, NetAddress, TlsOptions } from "./connection.ts";

/**
 * Opens a TCP (or TLS) connection with `Deno.connect`/`Deno.startTls`.
 *
 * @example
 * ```ts
 * import { connect } from "@faultline/faultline/adapters/deno";
 *
 * try {
 *   await connect({ hostname: "127.0.0.1", port: 1, timeout: 1000 });
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const checked = checkConnectOptions(options);
  const ns = runtimeNamespace<DenoNamespace>("Deno");
  const conn = await guardConnect(checked, "deno", (abort) => open(ns, checked, abort), close);
  return new DenoConnection(conn, checked);
}

function close(conn: DenoConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

async function open(
  ns: DenoNamespace,
  options: CheckedConnectOptions,
  abort: AbortSignal,
): Promise<DenoConn> {
  const tcp = await ns.connect({ hostname: options.hostname, port: options.port, signal: abort });
  if (!options.tls) return tcp;
  // TLS over a TCP connection we own, so that an abort or a timeout during
  // the handshake can close it; connectTls takes no signal.
  const onAbort = () => close(tcp);
  abort.addEventListener("abort", onAbort, { once: true });
  try {
    const tls = await ns.startTls(tcp, {
      hostname: options.tls.serverName ?? options.hostname,
      caCerts: options.tls.caCerts,
      alpnProtocols: options.tls.alpnProtocols,
    });
    // The handshake is lazy in Deno; run it now so TLS failures surface here.
    await tls.handshake?.();
    return tls;
  } catch (error) {
    close(tcp);
    if (abort.aborted) throw abort.reason;
    // A peer that hangs up mid-handshake is UnexpectedEof to Deno and a
    // "disconnected before secure TLS connection" to Node and Bun: TLS never
    // started, which is the one thing all three agree on.
    if ((error as { name?: unknown })?.name === "UnexpectedEof") {
      throw new ConnectionError("tls", {
        host: options.hostname,
        port: options.port,
        operation: "tls",
        runtime: "deno",
        cause: error,
        message:
          `${options.hostname}:${options.port} closed the connection during the TLS handshake`,
      });
    }
    throw error;
  } finally {
    abort.removeEventListener("abort", onAbort);
  }
}

const READ_SIZE = 64 * 1024;

function closedError(options: CheckedConnectOptions, operation: "read" | "write"): ConnectionError {
  return new ConnectionError("closed", {
    host: options.hostname,
    port: options.port,
    operation,
    runtime: "deno",
    message: `The connection to ${options.hostname}:${options.port} is already closed`,
  });
}

function address(addr: { hostname?: string; port?: number }, fallback: NetAddress): NetAddress {
  return { hostname: addr.hostname ?? fallback.hostname, port: addr.port ?? fallback.port };
}

class DenoConnection implements Connection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly remoteAddr: NetAddress;
  readonly localAddr: NetAddress;
  #conn: DenoConn;
  #closed = false;
  #error: ConnectionError | undefined;
  #detach: (() => void) | undefined;

  constructor(conn: DenoConn, options: CheckedConnectOptions) {
    this.#conn = conn;
    this.remoteAddr = address(conn.remoteAddr, { hostname: options.hostname, port: options.port });
    this.localAddr = address(conn.localAddr, { hostname: "", port: 0 });
    const fail = (error: unknown, operation: "read" | "write"): ConnectionError => {
      // After our own close (or the caller's abort), Deno reports BadResource
      // or Interrupted: the first error is the one that matters.
      if (this.#error) return this.#error;
      if (this.#closed) return closedError(options, operation);
      return (this.#error = connectionErrorFor(error, options, "deno", operation));
    };
    // conn.read/write rather than conn.readable/writable: Deno closes the
    // whole resource when its readable ends, which would turn a half-closed
    // connection's next write into BadResource instead of the peer's EPIPE.
    this.readable = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const buffer = new Uint8Array(READ_SIZE);
        let n: number | null;
        try {
          n = await conn.read(buffer);
        } catch (error) {
          controller.error(fail(error, "read"));
          return;
        }
        if (n === null) controller.close();
        else controller.enqueue(buffer.subarray(0, n));
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      async write(chunk) {
        try {
          for (let offset = 0; offset < chunk.byteLength;) {
            offset += await conn.write(chunk.subarray(offset));
          }
        } catch (error) {
          throw fail(error, "write");
        }
      },
      async close() {
        try {
          await conn.closeWrite();
        } catch (error) {
          throw fail(error, "write");
        }
      },
      abort: () => this.close(),
    });
    const signal = options.signal;
    if (signal) {
      const onAbort = () => {
        this.#error ??= cancelledError(options, "deno", signal.reason);
        void this.close();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#detach = () => signal.removeEventListener("abort", onAbort);
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#detach?.();
      close(this.#conn);
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
