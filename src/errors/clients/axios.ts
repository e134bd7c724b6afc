/**
 * Recognizes the errors of axios. Internal: part of normalizeError's built-ins.
 *
 * axios wraps a transport error as an `AxiosError` that copies its `code`
 * (`ECONNREFUSED`, `ECONNRESET`, ...) and keeps it as `cause`: those need
 * nothing here, the runtime's codes decide. What needs axios's own
 * vocabulary is what axios makes up itself: its timeouts, its cancels, a
 * body cut short, and its HTTP status errors.
 *
 * @module
 */

import type { ErrorFields, Recognition, Recognizer } from "../recognizer.ts";

const CANCELLED: Recognition = Object.freeze({ kind: "cancelled" });
const CLOSED: Recognition = Object.freeze({ kind: "closed", operation: "read", sent: true });
const UNKNOWN: Recognition = Object.freeze({ kind: "unknown" });
const CONNECT_FAILED: Recognition = Object.freeze({ kind: "connect_failed" });

const TIMEOUT_MESSAGE = /^timeout of (\d+)ms exceeded$/;

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function codeOf(cause: unknown): string | undefined {
  return typeof cause === "object" && cause !== null ? str((cause as ErrorFields).code) : undefined;
}

function timeout(message: string | undefined): Recognition {
  const ms = message === undefined ? undefined : TIMEOUT_MESSAGE.exec(message)?.[1];
  return ms === undefined ? { kind: "timeout" } : { kind: "timeout", timeoutMs: Number(ms) };
}

function match(e: ErrorFields): Recognition | undefined {
  // Every AxiosError (CanceledError too) carries isAxiosError; axios < 0.22
  // cancelled with a plain `Cancel` object marked only by __CANCEL__.
  if (e.__CANCEL__ === true) return CANCELLED;
  if (e.isAxiosError !== true) return undefined;
  const code = str(e.code);
  const message = str(e.message);
  switch (code) {
    // The caller's AbortSignal or CancelToken (CanceledError).
    case "ERR_CANCELED":
      return CANCELLED;
    // axios's own `timeout`: ECONNABORTED "timeout of 300ms exceeded" (or the
    // caller's timeoutErrorMessage) unless transitional.clarifyTimeoutError
    // makes it ETIMEDOUT. The only other ECONNABORTED is the XHR adapter's
    // "Request aborted" (the browser dropped the request): not a timeout, and
    // left to the runtime table (ECONNABORTED: aborted), as is a socket's own
    // ECONNABORTED that AxiosError.from() copied (then it is also the cause's code).
    case "ECONNABORTED":
      if (message === "Request aborted" || codeOf(e.cause) === "ECONNABORTED") return undefined;
      return timeout(message);
    case "ETIMEDOUT":
      return timeout(message);
    // ERR_BAD_RESPONSE / ERR_BAD_REQUEST are axios's status errors ("Request
    // failed with status code 500"), maxContentLength and parse failures:
    // not connection failures. One exception: Node's http module aborted the
    // response stream (the connection ended before Content-Length bytes
    // arrived), which axios reports as ERR_BAD_RESPONSE "stream has been aborted".
    case "ERR_BAD_RESPONSE":
      return message === "stream has been aborted" ? CLOSED : UNKNOWN;
    case "ERR_BAD_REQUEST":
    case "ERR_BAD_OPTION":
    case "ERR_BAD_OPTION_VALUE":
    case "ERR_INVALID_URL":
    case "ERR_NOT_SUPPORT":
    case "ERR_FR_TOO_MANY_REDIRECTS":
      return UNKNOWN;
    default:
      return undefined;
  }
}

/**
 * ERR_NETWORK "Network Error" is the XHR and fetch adapters' wrapper. The
 * fetch adapter keeps the runtime's error as `cause`, which then decides
 * (Deno's are message-only, so this must not answer first when there is
 * one); the XHR adapter in a browser has nothing more to say, like a
 * browser's "Failed to fetch": connect_failed.
 */
function matchMessage(message: string, e: ErrorFields): Recognition | undefined {
  if (
    e.isAxiosError === true && e.code === "ERR_NETWORK" && message === "Network Error" &&
    (e.cause === undefined || e.cause === null)
  ) {
    return CONNECT_FAILED;
  }
  return undefined;
}

/**
 * axios's errors: its timeout (`ECONNABORTED` "timeout of 300ms exceeded"),
 * its cancel (`ERR_CANCELED`), a body cut short ("stream has been aborted"),
 * its status errors (`unknown`), and the browser adapter's "Network Error".
 */
export const axios: Recognizer = Object.freeze({ name: "axios", match, matchMessage });
