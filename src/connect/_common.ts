/**
 * What every adapter shares: the signal and timeout around an attempt to
 * connect, and turning a runtime's stream errors into ConnectionErrors.
 * Nothing here touches a runtime's own API.
 *
 * @module
 */

import type { CheckedConnectOptions } from "./connection.ts";
import { ConnectionError } from "../errors/connection_error.ts";
import type { ConnectionOperation } from "../errors/kinds.ts";
import { normalizeError } from "../errors/normalize_error.ts";
import type { RuntimeName } from "../runtime.ts";

/**
 * The runtime's own namespace (`Deno`, `Bun`), looked up when a connect
 * starts, never at load time: outside its runtime the adapter rejects with a
 * TypeError that says so.
 */
export function runtimeNamespace<T extends { connect: unknown }>(name: "Deno" | "Bun"): T {
  const ns = (globalThis as Record<string, unknown>)[name] as Partial<T> | undefined;
  if (!ns || typeof ns.connect !== "function") {
    throw new TypeError(
      `Cannot connect as the ${name} adapter needs the ${name} runtime: use connect() from the package root`,
    );
  }
  return ns as T;
}

/** Normalizes an error from one connection, filling in what the adapter knows. */
export function connectionErrorFor(
  error: unknown,
  options: CheckedConnectOptions,
  runtime: RuntimeName,
  operation: ConnectionOperation,
): ConnectionError {
  return normalizeError(error, {
    host: options.hostname,
    port: options.port,
    operation,
    runtime,
    timeoutMs: options.timeout,
  });
}

/** The error for the caller's own abort: kind `cancelled`, the reason as its cause. */
export function cancelledError(
  options: CheckedConnectOptions,
  runtime: RuntimeName,
  reason: unknown,
): ConnectionError {
  if (reason instanceof ConnectionError) return reason;
  return new ConnectionError("cancelled", {
    host: options.hostname,
    port: options.port,
    operation: "connect",
    runtime,
    cause: reason,
  });
}

/**
 * Runs `attempt` under the caller's signal and the connect timeout. Whichever
 * ends it first, the timer and the listener are removed; a connection that
 * opens after the caller gave up is closed with `discard`.
 */
export async function guardConnect<T>(
  options: CheckedConnectOptions,
  runtime: RuntimeName,
  attempt: (abort: AbortSignal) => Promise<T>,
  discard: (value: T) => void,
): Promise<T> {
  const { signal, timeout } = options;
  const operation: ConnectionOperation = options.tls ? "tls" : "connect";
  if (signal?.aborted) throw cancelledError(options, runtime, signal.reason);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const gate = new Promise<never>((_, reject) => {
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        const error = new ConnectionError("timeout", {
          host: options.hostname,
          port: options.port,
          operation,
          runtime,
          timeoutMs: timeout,
          message:
            `Timed out after ${timeout} ms connecting to ${options.hostname}:${options.port}`,
        });
        controller.abort(error);
        reject(error);
      }, timeout);
    }
    if (signal) {
      onAbort = () => {
        const error = cancelledError(options, runtime, signal.reason);
        controller.abort(error);
        reject(error);
      };
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  const pending = attempt(controller.signal);
  try {
    return timer === undefined && onAbort === undefined
      ? await pending
      : await Promise.race([pending, gate]);
  } catch (error) {
    pending.then(discard, () => {});
    throw connectionErrorFor(error, options, runtime, operation);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onAbort) signal!.removeEventListener("abort", onAbort);
  }
}
