/**
 * How an error leaves a policy: recognized connection failures as
 * {@link ConnectionError}, everything else exactly as thrown.
 *
 * @module
 */

import type { AnyConnectionError } from "../errors/connection_error.ts";
import { recognize } from "../errors/normalize_error.ts";

/**
 * The {@link ConnectionError} for `error` when it is a recognized connection
 * failure (the same object when it already is one), else `undefined`.
 */
export function recognizeConnectionError(error: unknown): AnyConnectionError | undefined {
  return recognize(error);
}

/** What a policy rethrows: the ConnectionError when recognized, else `error` untouched. */
export function outgoing(error: unknown): unknown {
  return recognize(error) ?? error;
}
