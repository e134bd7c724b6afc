/**
 * {@link connect}: the adapter for the current runtime, loaded on first use.
 *
 * The adapters are imported through computed specifiers on purpose: a
 * bundler (esbuild for a browser, wrangler for Workers) then never pulls
 * `node:net` into a build that cannot run it. Deno, Bun and Node allow such
 * imports; workerd does not, so Workers import
 * `@faultline/faultline/adapters/cloudflare` directly.
 *
 * @module
 */

import { checkConnectOptions, type ConnectOptions, type Connection } from "./connection.ts";
import { detectRuntime } from "./runtime.ts";

type Adapter = { connect(options: ConnectOptions): Promise<Connection> };

let loading: Promise<Adapter> | undefined;

function load(): Promise<Adapter> {
  const runtime = detectRuntime();
  if (runtime !== "deno" && runtime !== "bun" && runtime !== "node") {
    return Promise.reject(
      new TypeError(
        runtime === "workerd"
          ? "Cannot connect from the package root in workerd: import connect from '@faultline/faultline/adapters/cloudflare'"
          : `Cannot connect as raw TCP sockets are not available in this runtime (${runtime})`,
      ),
    );
  }
  // Unbuilt source is .ts; the npm build is .js. Keep the same extension.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const specifier = new URL(`./adapters/${runtime}${ext}`, import.meta.url).href;
  return import(specifier) as Promise<Adapter>;
}

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
  checkConnectOptions(options);
  const adapter = await (loading ??= load().catch((error) => {
    loading = undefined;
    throw error;
  }));
  return adapter.connect(options);
}
