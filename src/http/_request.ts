/**
 * What {@link resilientFetch} reads from a request and does to a response,
 * apart from the policies: its URL, its signal, whether it carries an
 * `Idempotency-Key`, the body of a dropped response, and the response whose
 * status a breaker counts.
 *
 * @module
 */

import { type AnyConnectionError, ConnectionError } from "../errors/connection_error.ts";
import type { ConnectionOperation } from "../errors/kinds.ts";

/** A response whose status a breaker counts: thrown through the breaker, unwrapped after it. */
export class StatusOutcome {
  readonly response: Response;
  constructor(response: Response) {
    this.response = response;
  }
}

/** After the breaker: a counted response is a response again; anything else rethrows. */
export function unwrap(error: unknown): Response {
  if (error instanceof StatusOutcome) return error.response;
  throw error;
}

/** What a per-origin breaker counts: a status it was told to count, or a connection failure. */
export function countsForBreaker(error: unknown, normalized: AnyConnectionError): boolean {
  if (error instanceof StatusOutcome) return true;
  return normalized.kind !== "unknown" && normalized.kind !== "cancelled";
}

/** Where a request goes, as its ConnectionErrors say it. */
export interface FetchContext {
  operation: ConnectionOperation;
  host: string;
  port: number;
}

/** The timeout policy's error knows no address: give it the URL's. */
export function addressed(error: unknown, context: FetchContext): unknown {
  if (!(error instanceof ConnectionError) || error.kind !== "timeout" || error.host !== undefined) {
    return error;
  }
  return new ConnectionError("timeout", {
    message: error.message,
    timeoutMs: (error as ConnectionError<"timeout">).timeoutMs,
    runtime: error.runtime,
    ...context,
  });
}

/** True when the request carries an `Idempotency-Key` header: a retry cannot run it twice. */
export function hasIdempotencyKey(
  init: RequestInit | undefined,
  request: Request | undefined,
): boolean {
  const headers = init?.headers ?? request?.headers;
  if (headers === undefined) return false;
  try {
    return new Headers(headers).has("idempotency-key");
  } catch {
    return false;
  }
}

/** `instanceof Request`, where there is a `Request`. */
export function isRequest(input: unknown): input is Request {
  return typeof Request === "function" && input instanceof Request;
}

/** The URL a fetch input names, or `undefined` when it cannot be parsed. */
export function urlOf(input: Request | string | URL): URL | undefined {
  const href = typeof input === "string"
    ? input
    : input instanceof URL
    ? input.href
    : isRequest(input)
    ? input.url
    : String(input);
  // A relative URL means what it means to fetch: relative to the page (or Deno's --location).
  const base = (globalThis as { location?: { href?: unknown } }).location?.href;
  try {
    return new URL(href, typeof base === "string" ? base : undefined);
  } catch {
    return undefined;
  }
}

/** Cancels a dropped response's body, so that its connection is freed. */
export function cancelBody(response: unknown): void {
  const body = (response as Response | undefined)?.body;
  if (body && typeof body.cancel === "function" && !body.locked) body.cancel().catch(() => {});
}

type AnySignal = typeof AbortSignal & { any?: (signals: AbortSignal[]) => AbortSignal };

/**
 * The signal fetch gets. With no caller's signal, the attempt's. Else one
 * made for this attempt that follows both the caller's signal and the
 * attempt's: the caller's must still cancel the body after the attempt is
 * over (when a timeout made the attempt's signal its own), and a runtime's
 * fetch may leave its abort listener on the signal it is given until the
 * request is garbage-collected (Node's does), which must not pile up on a
 * caller's long-lived signal. `AbortSignal.any` adds no event listener to
 * its sources.
 */
export function signalFor(attempt: AbortSignal, caller: AbortSignal | undefined): AbortSignal {
  if (caller === undefined) return attempt;
  const any = (AbortSignal as AnySignal).any;
  if (typeof any !== "function") return attempt;
  return any.call(AbortSignal, caller === attempt ? [caller] : [caller, attempt]);
}
