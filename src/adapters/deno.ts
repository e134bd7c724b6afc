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
  type ConnectOptions,
  type Connection,
  type NetAddress,
} from "../connection.ts";
import type { ConnectionError } from "../errors/connection_error.ts";
import { cancelledError, connectionErrorFor, guardConnect, wrapStreams } from "./common.ts";

// The few parts of the Deno namespace used here, typed locally so that this
// file type-checks (and loads) outside Deno too.
interface DenoConn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
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

function deno(): DenoNamespace {
  const ns = (globalThis as { Deno?: DenoNamespace }).Deno;
  if (!ns || typeof ns.connect !== "function") {
    throw new TypeError("Cannot connect as the Deno adapter needs the Deno runtime: use connect() from the package root");
  }
  return ns;
}

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
export function connect(options: ConnectOptions): Promise<Connection> {
  let checked: CheckedConnectOptions;
  let ns: DenoNamespace;
  try {
    checked = checkConnectOptions(options);
    ns = deno();
  } catch (error) {
    return Promise.reject(error);
  }
  return guardConnect(checked, "deno", (abort) => open(ns, checked, abort), close)
    .then((conn) => new DenoConnection(conn, checked));
}

function close(conn: DenoConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

async function open(ns: DenoNamespace, options: CheckedConnectOptions, abort: AbortSignal): Promise<DenoConn> {
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
    throw abort.aborted ? abort.reason : error;
  } finally {
    abort.removeEventListener("abort", onAbort);
  }
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
    const streams = wrapStreams(conn, (error, operation) => {
      // After our own close (or the caller's abort), Deno reports a
      // BadResource or Interrupted: the first error is the one that matters.
      if (this.#error) return this.#error;
      if (this.#closed) return connectionErrorFor(new Error("closed"), options, "deno", operation);
      return (this.#error = connectionErrorFor(error, options, "deno", operation));
    });
    this.readable = streams.readable;
    this.writable = streams.writable;
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
