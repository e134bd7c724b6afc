/**
 * `connect()` on `node:net` and `node:tls`. It runs under Node, and under Deno
 * and Bun through their `node:` compatibility; every failure is a
 * `ConnectionError`.
 *
 * @example
 * ```ts
 * import { connect } from "@faultline/faultline/adapters/node";
 *
 * const conn = await connect({ hostname: "127.0.0.1", port: 1 }).catch((e) => e);
 * console.log(conn.kind); // "refused"
 * ```
 *
 * @module
 */

import type * as Net from "node:net";
import type * as Tls from "node:tls";
import type { Buffer } from "node:buffer";
import {
  checkConnectOptions,
  type CheckedConnectOptions,
  type Connection,
  type ConnectOptions,
} from "./connection.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import type { ConnectionOperation } from "../errors/kinds.ts";
import { detectRuntime, type RuntimeName } from "../runtime.ts";
import { cancelledError, connectionErrorFor, guardConnect } from "./_common.ts";

export type { Connection, ConnectOptions, NetAddress, TlsOptions } from "./connection.ts";

/**
 * Opens a TCP (or TLS) connection with `node:net`/`node:tls`.
 *
 * @example
 * ```ts
 * import { connect } from "@faultline/faultline/adapters/node";
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
  const builtin = builtins();
  const runtime = detectRuntime();
  const socket = await guardConnect(
    checked,
    runtime,
    (abort) => open(builtin, checked, abort),
    (s) => s.destroy(),
  );
  return new NodeConnection(socket, checked, runtime);
}

interface Modules {
  net: typeof Net;
  tls: typeof Tls;
}

let modules: Modules | undefined;

// process.getBuiltinModule (Node ≥ 22.3, Deno, Bun) instead of `import
// "node:net"`: no node: specifier appears in the library, so a browser or
// Workers bundle of the package root never meets one.
function builtins(): Modules {
  if (modules) return modules;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== "function") {
    throw new TypeError(
      "Cannot connect as the node adapter needs node:net (Node ≥ 22.3, Deno or Bun)",
    );
  }
  return modules = {
    net: proc.getBuiltinModule("node:net") as typeof Net,
    tls: proc.getBuiltinModule("node:tls") as typeof Tls,
  };
}

function open(
  { net, tls }: Modules,
  options: CheckedConnectOptions,
  abort: AbortSignal,
): Promise<Net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = options.tls
      ? tls.connect({
        host: options.hostname,
        port: options.port,
        servername: options.tls.serverName ??
          (net.isIP(options.hostname) ? undefined : options.hostname),
        ca: options.tls.caCerts,
        ALPNProtocols: options.tls.alpnProtocols,
      })
      // Half-open like Deno and Bun: the peer's FIN ends our reading, not
      // our writing.
      : net.connect({ host: options.hostname, port: options.port, allowHalfOpen: true });
    const ready = options.tls ? "secureConnect" : "connect";
    const cleanup = () => {
      socket.off(ready, onReady);
      socket.off("error", onError);
      abort.removeEventListener("abort", onAbort);
    };
    const onReady = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => {
      cleanup();
      socket.destroy();
      reject(abort.reason);
    };
    socket.once(ready, onReady);
    socket.once("error", onError);
    abort.addEventListener("abort", onAbort, { once: true });
  });
}

class NodeConnection implements Connection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly remoteAddr: { hostname: string; port: number };
  readonly localAddr: { hostname: string; port: number };
  #socket: Net.Socket;
  #error: ConnectionError | undefined;
  #closed: Promise<void>;

  constructor(socket: Net.Socket, options: CheckedConnectOptions, runtime: RuntimeName) {
    this.#socket = socket;
    this.remoteAddr = {
      hostname: socket.remoteAddress ?? options.hostname,
      port: socket.remotePort ?? options.port,
    };
    this.localAddr = { hostname: socket.localAddress ?? "", port: socket.localPort ?? 0 };
    this.#closed = new Promise((resolve) => socket.once("close", () => resolve()));
    const fail = (error: unknown, operation: ConnectionOperation): ConnectionError => {
      // The first socket error is the truth; later ones ("write after
      // destroy") only echo it.
      return this.#error ??= connectionErrorFor(error, options, runtime, operation);
    };
    const closedError = () =>
      this.#error ?? new ConnectionError("closed", {
        host: options.hostname,
        port: options.port,
        operation: "write",
        runtime,
        message: `The connection to ${options.hostname}:${options.port} is already closed`,
      });
    socket.on("error", (error) => fail(error, "read"));
    // The caller's signal governs the connection's whole life, as fetch's
    // does a body: aborting it ends pending reads and writes as `cancelled`.
    const signal = options.signal;
    if (signal) {
      const onAbort = () => {
        this.#error ??= cancelledError(options, runtime, signal.reason);
        socket.destroy(this.#error);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      socket.once("close", () => signal.removeEventListener("abort", onAbort));
    }

    let readDone = false;
    this.readable = new ReadableStream<Uint8Array>({
      start(controller) {
        socket.on("data", (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) socket.pause();
        });
        const finish = () => {
          if (readDone) return;
          readDone = true;
          if (socket.errored || (socket as { _hadError?: boolean })._hadError) {
            controller.error(fail(socket.errored, "read"));
          } else controller.close();
        };
        socket.once("end", finish);
        socket.once("close", finish);
        socket.once("error", (error) => {
          if (readDone) return;
          readDone = true;
          controller.error(fail(error, "read"));
        });
      },
      pull() {
        socket.resume();
      },
      cancel() {
        readDone = true;
        socket.destroy();
      },
    }, { highWaterMark: 1 });

    this.writable = new WritableStream<Uint8Array>({
      write(chunk) {
        if (socket.destroyed || socket.writableEnded) return Promise.reject(closedError());
        return new Promise<void>((resolve, reject) => {
          socket.write(chunk, (error) => {
            if (!error) resolve();
            else {
              const code = (error as { code?: unknown }).code;
              reject(
                code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END"
                  ? closedError()
                  : fail(error, "write"),
              );
            }
          });
        });
      },
      close() {
        if (socket.destroyed || socket.writableEnded) return;
        return new Promise<void>((resolve) => socket.end(() => resolve()));
      },
      abort() {
        socket.destroy();
      },
    });
  }

  close(): Promise<void> {
    if (!this.#socket.destroyed) this.#socket.destroy();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
