/**
 * `connect()` on `Bun.connect`, with its `tls` option: every failure is a
 * `ConnectionError`. Loads anywhere; calls Bun only when `connect()` runs.
 *
 * @example
 * ```ts
 * import { connect } from "@faultline/faultline/adapters/bun";
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

// The parts of Bun's socket API used here, typed locally so that this file
// type-checks and loads outside Bun.
interface BunSocket {
  data: State;
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
}
interface BunNamespace {
  connect(options: {
    hostname: string;
    port: number;
    tls?: boolean | { serverName?: string; ca?: string[]; ALPNProtocols?: string[] };
    data: State;
    socket: Handlers;
    allowHalfOpen?: boolean;
  }): Promise<BunSocket>;
}
interface Handlers {
  open(socket: BunSocket): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: unknown): void;
  error(socket: BunSocket, error: unknown): void;
  connectError(socket: BunSocket, error: unknown): void;
  handshake(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
}

/** Per-connection state, kept on `socket.data` so the handlers can be shared. */
interface State {
  options: CheckedConnectOptions;
  socket?: BunSocket;
  controller?: ReadableStreamDefaultController<Uint8Array>;
  /** Data that arrived before the stream started. */
  early: Uint8Array[];
  /** The bytes of the current write that Bun has not taken yet. */
  pending?: { bytes: Uint8Array; resolve(): void; reject(error: unknown): void };
  handshake?: { resolve(): void; reject(error: unknown): void };
  ended: boolean;
  closed: boolean;
  error?: ConnectionError;
}

function fail(state: State, error: unknown, operation: "read" | "write" | "tls"): ConnectionError {
  return state.error ??= connectionErrorFor(error, state.options, "bun", operation);
}

function closedError(state: State): ConnectionError {
  return state.error ?? new ConnectionError("closed", {
    host: state.options.hostname,
    port: state.options.port,
    operation: "write",
    runtime: "bun",
    message: `The connection to ${state.options.hostname}:${state.options.port} is already closed`,
  });
}

/** Offers Bun as much of the pending write as it takes; resolves when all is taken. */
function flush(state: State): void {
  const pending = state.pending;
  if (!pending || !state.socket) return;
  const written = state.socket.write(pending.bytes);
  if (written < 0) {
    state.pending = undefined;
    pending.reject(closedError(state));
  } else if (written >= pending.bytes.byteLength) {
    state.pending = undefined;
    pending.resolve();
  } else {
    pending.bytes = pending.bytes.subarray(written);
  }
}

function settleAll(state: State, error: ConnectionError | undefined): void {
  if (state.pending) {
    const { reject } = state.pending;
    state.pending = undefined;
    reject(error ?? closedError(state));
  }
  if (state.handshake) {
    const { reject } = state.handshake;
    state.handshake = undefined;
    reject(
      error ?? new ConnectionError("tls", {
        host: state.options.hostname,
        port: state.options.port,
        operation: "tls",
        runtime: "bun",
        message: "The peer closed the connection during the TLS handshake",
      }),
    );
  }
  const controller = state.controller;
  if (controller && !state.ended) {
    state.ended = true;
    try {
      if (error) controller.error(error);
      else controller.close();
    } catch {
      // The reader cancelled already.
    }
  }
}

const handlers: Handlers = {
  open() {},
  data(socket, chunk) {
    const state = socket.data;
    // Bun reuses the buffer behind `chunk`: copy before queuing it.
    const copy = chunk.slice();
    if (!state.controller) {
      state.early.push(copy);
      return;
    }
    state.controller.enqueue(copy);
    if ((state.controller.desiredSize ?? 1) <= 0) socket.pause();
  },
  drain(socket) {
    flush(socket.data);
  },
  end(socket) {
    const state = socket.data;
    if (state.controller && !state.ended) {
      state.ended = true;
      state.controller.close();
    }
  },
  close(socket, error) {
    const state = socket.data;
    state.closed = true;
    settleAll(state, error === undefined ? state.error : fail(state, error, "read"));
  },
  error(socket, error) {
    const state = socket.data;
    settleAll(state, fail(state, error, state.handshake ? "tls" : "read"));
  },
  connectError() {
    // The promise from Bun.connect rejects with the same error.
  },
  handshake(socket, success, authorizationError) {
    const state = socket.data;
    const waiting = state.handshake;
    if (!waiting) return;
    state.handshake = undefined;
    if (success && !authorizationError) waiting.resolve();
    else {
      waiting.reject(
        connectionErrorFor(
          authorizationError ?? new Error("TLS handshake failed"),
          state.options,
          "bun",
          "tls",
        ),
      );
    }
  },
};

export type { Connection, ConnectOptions, NetAddress, TlsOptions } from "./connection.ts";

/**
 * Opens a TCP (or TLS) connection with `Bun.connect`.
 *
 * A timed-out or cancelled attempt is given up at once, but Bun's
 * `connect()` cannot be cancelled: the kernel's attempt ends by itself.
 *
 * @example
 * ```ts
 * import { connect } from "@faultline/faultline/adapters/bun";
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
  const ns = runtimeNamespace<BunNamespace>("Bun");
  const conn = await guardConnect(
    checked,
    "bun",
    (abort) => open(ns, checked, abort),
    (s) => s.terminate(),
  );
  return new BunConnection(conn, checked);
}

async function open(
  ns: BunNamespace,
  options: CheckedConnectOptions,
  abort: AbortSignal,
): Promise<BunSocket> {
  const state: State = { options, early: [], ended: false, closed: false };
  const tls = options.tls
    ? {
      serverName: options.tls.serverName ?? options.hostname,
      ca: options.tls.caCerts,
      ALPNProtocols: options.tls.alpnProtocols,
    }
    : undefined;
  const handshake = tls
    ? new Promise<void>((resolve, reject) => (state.handshake = { resolve, reject }))
    : undefined;
  handshake?.catch(() => {});
  const socket = await ns.connect({
    hostname: options.hostname,
    port: options.port,
    tls,
    data: state,
    socket: handlers,
    // Half-open, as in Deno and Node here: the peer's FIN ends our reading,
    // and a later write meets the peer's EPIPE instead of a silent close.
    allowHalfOpen: true,
  });
  state.socket = socket;
  if (handshake) {
    const onAbort = () => socket.terminate();
    abort.addEventListener("abort", onAbort, { once: true });
    try {
      await handshake;
    } catch (error) {
      socket.terminate();
      throw error;
    } finally {
      abort.removeEventListener("abort", onAbort);
    }
  }
  return socket;
}

class BunConnection implements Connection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly remoteAddr: NetAddress;
  readonly localAddr: NetAddress;
  #socket: BunSocket;
  #detach: (() => void) | undefined;

  constructor(socket: BunSocket, options: CheckedConnectOptions) {
    this.#socket = socket;
    const state = socket.data;
    this.remoteAddr = {
      hostname: socket.remoteAddress ?? options.hostname,
      port: socket.remotePort ?? options.port,
    };
    this.localAddr = { hostname: socket.localAddress ?? "", port: socket.localPort ?? 0 };
    this.readable = new ReadableStream<Uint8Array>({
      start(controller) {
        state.controller = controller;
        for (const chunk of state.early) controller.enqueue(chunk);
        state.early.length = 0;
        if (state.closed) settleAll(state, state.error);
      },
      pull() {
        socket.resume();
      },
      cancel() {
        state.ended = true;
        socket.terminate();
      },
    }, { highWaterMark: 1 });
    this.writable = new WritableStream<Uint8Array>({
      write(chunk) {
        if (state.closed) return Promise.reject(closedError(state));
        return new Promise<void>((resolve, reject) => {
          state.pending = { bytes: chunk, resolve, reject };
          flush(state);
        });
      },
      close() {
        if (!state.closed) socket.end();
      },
      abort() {
        socket.terminate();
      },
    });
    const signal = options.signal;
    if (signal) {
      const onAbort = () => {
        state.error ??= cancelledError(options, "bun", signal.reason);
        socket.terminate();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#detach = () => signal.removeEventListener("abort", onAbort);
    }
  }

  close(): Promise<void> {
    this.#detach?.();
    this.#detach = undefined;
    if (!this.#socket.data.closed) this.#socket.terminate();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
