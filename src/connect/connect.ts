/**
 * {@link connect}: the adapter for the current runtime.
 *
 * Every adapter is imported statically: none touches its runtime at load
 * time, and none names a `node:` module (the Node adapter asks
 * `process.getBuiltinModule` when it runs), so importing the package root
 * works in a browser and in workerd. Workers connect through
 * `@faultline/faultline/adapters/cloudflare`.
 *
 * @module
 */

import { connect as bunConnect } from "./bun.ts";
import { connect as denoConnect } from "./deno.ts";
import { connect as nodeConnect } from "./node.ts";
import { checkConnectOptions, type Connection, type ConnectOptions } from "./connection.ts";
import { detectRuntime } from "../runtime.ts";

/**
 * Opens a TCP (or TLS) connection with the current runtime's own API
 * (`Deno.connect`, `Bun.connect` or `node:net`). Every network failure
 * rejects as a `ConnectionError`; bad arguments reject with a `TypeError` or
 * `RangeError` before any socket opens.
 *
 * @example
 * ```ts
 * import { connect, isConnectionError } from "@faultline/faultline";
 *
 * try {
 *   const conn = await connect({ hostname: "127.0.0.1", port: 1, timeout: 1000 });
 *   await conn.close();
 * } catch (e) {
 *   if (isConnectionError(e, "refused")) console.log(e.hint);
 * }
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  // The adapter gets the checked copy: the caller's object is read once.
  const checked: ConnectOptions = checkConnectOptions(options);
  const runtime = detectRuntime();
  switch (runtime) {
    case "deno":
      return await denoConnect(checked);
    case "bun":
      return await bunConnect(checked);
    case "node":
      return await nodeConnect(checked);
    case "workerd":
      throw new TypeError(
        "Cannot connect from the package root in workerd: import connect from '@faultline/faultline/adapters/cloudflare'",
      );
    default:
      throw new TypeError(
        `Cannot connect as raw TCP sockets are not available in this runtime (${runtime})`,
      );
  }
}
