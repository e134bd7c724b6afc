/**
 * How an error leaves a policy: recognized connection failures as
 * {@link ConnectionError}, everything else exactly as thrown.
 *
 * @module
 */

import { type AnyConnectionError, ConnectionError, hasBrand } from "../errors/connection_error.ts";
import { type Judge, judgeOf, type Recognize, recognize } from "../errors/normalize_error.ts";
import { detectRuntime } from "../runtime.ts";

/**
 * What a policy rethrows: the ConnectionError when recognized (by the
 * policy's own `normalize`, when it has one), else `error` untouched.
 */
export function outgoing(error: unknown, by: Recognize = recognize): unknown {
  return by(error) ?? error;
}

/**
 * The error for a call the caller's signal ended: its reason when that is a
 * ConnectionError already (a timeout's), else kind `cancelled` with the
 * reason as `cause`.
 */
export function cancelledBy(signal: { readonly reason: unknown }): AnyConnectionError {
  const reason: unknown = signal.reason;
  if (hasBrand(reason)) return reason as AnyConnectionError;
  return new ConnectionError("cancelled", {
    message: "Cancelled by the caller's AbortSignal",
    cause: reason,
    runtime: detectRuntime(),
  }) as AnyConnectionError;
}

const BUILT_IN = judgeOf(undefined);

/**
 * What a layer passes outward on failure. Errors leave a call as
 * ConnectionErrors (the engine converts once, where the error leaves), so a
 * layer hands on the error as it came; only a layer with a normalizer of the
 * user's own converts it here, since nothing outside it knows that client.
 */
export function onward(error: unknown, judge: Judge): unknown {
  return judge === BUILT_IN ? error : judge.recognize(error) ?? error;
}
