/**
 * The vocabulary: every kind of connection failure, whether it is worth
 * retrying by default, and the one-line hint that goes with it.
 *
 * @module
 */

/**
 * Every way a connection can fail, in every runtime.
 *
 * - `aborted` is ECONNABORTED (Python's `ConnectionAbortedError`), not the caller's abort.
 * - `closed` is the peer ending the stream before the data was complete.
 * - `connect_failed` is a runtime that says only that it could not connect
 *   (workerd reports refused, DNS and TLS failures with one message).
 * - `cancelled` is the caller's own `AbortSignal`: never retried.
 *
 * @example
 * ```ts
 * import type { ConnectionErrorKind } from "@faultline/faultline";
 *
 * const worthAPage: ConnectionErrorKind[] = ["dns", "tls"];
 * ```
 */
export type ConnectionErrorKind =
  | "refused"
  | "reset"
  | "aborted"
  | "broken_pipe"
  | "closed"
  | "timeout"
  | "dns"
  | "unreachable"
  | "address_in_use"
  | "address_unavailable"
  | "tls"
  | "connect_failed"
  | "cancelled"
  | "unknown";

/**
 * What the failing code was doing.
 *
 * @example
 * ```ts
 * import type { ConnectionOperation } from "@faultline/faultline";
 *
 * const op: ConnectionOperation = "connect";
 * ```
 */
export type ConnectionOperation =
  | "connect"
  | "read"
  | "write"
  | "lookup"
  | "tls"
  | "fetch"
  | "listen";

/** Every {@link ConnectionOperation}, for validating options. Internal. */
export const CONNECTION_OPERATIONS: readonly ConnectionOperation[] = Object.freeze([
  "connect",
  "read",
  "write",
  "lookup",
  "tls",
  "fetch",
  "listen",
]);

/**
 * Every {@link ConnectionErrorKind}, in the order of the README's table.
 *
 * @example
 * ```ts
 * import { CONNECTION_ERROR_KINDS } from "@faultline/faultline";
 *
 * console.log(CONNECTION_ERROR_KINDS.includes("refused")); // true
 * ```
 */
export const CONNECTION_ERROR_KINDS: readonly ConnectionErrorKind[] = Object.freeze([
  "refused",
  "reset",
  "aborted",
  "broken_pipe",
  "closed",
  "timeout",
  "dns",
  "unreachable",
  "address_in_use",
  "address_unavailable",
  "tls",
  "connect_failed",
  "cancelled",
  "unknown",
]);

/**
 * Whether each kind is worth retrying when nothing else is known. `dns` is
 * retryable only when the lookup failed temporarily (EAI_AGAIN); that is
 * decided per error, so it is `false` here.
 */
export const RETRYABLE_BY_KIND: Readonly<Record<ConnectionErrorKind, boolean>> = Object.freeze({
  refused: true,
  reset: true,
  aborted: true,
  broken_pipe: true,
  closed: true,
  timeout: true,
  dns: false,
  unreachable: true,
  address_in_use: false,
  address_unavailable: false,
  tls: false,
  connect_failed: true,
  cancelled: false,
  unknown: false,
});

/**
 * Whether a request can have reached the server, from the kind alone:
 * `false` where the failure comes before any byte of the request can leave
 * (nothing listening, no name, no route, no local address, a TLS handshake
 * or a connect that never completed), else `undefined`: unknown.
 */
export function sentByDefault(
  kind: ConnectionErrorKind,
  operation: ConnectionOperation | undefined,
): false | undefined {
  switch (kind) {
    case "refused":
    case "dns":
    case "unreachable":
    case "address_in_use":
    case "address_unavailable":
      return false;
    case "tls":
      // A TLS alert on an established stream comes after the request left.
      return operation === "read" || operation === "write" ? undefined : false;
    case "timeout":
    case "connect_failed":
      return operation === "connect" || operation === "lookup" || operation === "tls"
        ? false
        : undefined;
    default:
      return undefined;
  }
}

/** Formats `host:port`, with brackets around an IPv6 address. */
export function formatTarget(host: string | undefined, port: number | undefined): string {
  if (host === undefined) return port === undefined ? "the peer" : `port ${port}`;
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/** What a hint needs to know. */
export interface HintInput {
  host?: string | undefined;
  port?: number | undefined;
  hostname?: string | undefined;
  temporary?: boolean | undefined;
  timeoutMs?: number | undefined;
  /** A browser's hint also names CORS, which it reports as the same failure. */
  runtime?: string | undefined;
}

/** The one-line hint for a kind: the likely causes, and the first thing to check. */
export function hintFor(kind: ConnectionErrorKind, input: HintInput): string {
  const at = formatTarget(input.host, input.port);
  switch (kind) {
    case "refused":
      return `Nothing is listening at ${at}: is the server running, is the port right, or does a firewall reject the connection?`;
    case "reset":
      return `${at} dropped the connection abruptly: it crashed or restarted, a proxy or firewall cut an idle connection, or it closed with unread data. Check the server's logs.`;
    case "aborted":
      return `The connection to ${at} was aborted on this machine (ECONNABORTED): the local network stack or a firewall ended it. Check local firewall rules and retry.`;
    case "broken_pipe":
      return `Wrote to ${at} after it had closed the connection: the server closed, crashed or timed out the connection while we were sending. Check its logs and idle timeouts.`;
    case "closed":
      return `${at} closed the connection before the data was complete: the server crashed mid-response or a proxy cut it. Check the server's logs and proxy timeouts.`;
    case "timeout":
      return `No answer from ${at}${
        input.timeoutMs === undefined ? "" : ` within ${input.timeoutMs} ms`
      }: the server is overloaded or stalled, or a firewall silently drops packets. Check that it is up and reachable, or raise the timeout.`;
    case "dns": {
      const name = input.hostname ?? input.host;
      const what = name === undefined ? "the host name" : `"${name}"`;
      return input.temporary
        ? `Looking up ${what} failed for now (EAI_AGAIN): the DNS resolver is unreachable or overloaded. Retry, and check the resolver.`
        : `Could not resolve ${what}: check the spelling, the DNS server and /etc/hosts.`;
    }
    case "unreachable":
      return `No route to ${at}: the host or network is down, or a route or firewall rule is missing. Check the address and the network path.`;
    case "address_in_use":
      return `${at} is already in use: another process holds that port. Stop it or choose another port.`;
    case "address_unavailable":
      return `${at} cannot be used from this machine: the local address is not assigned to any interface, or the ephemeral ports are exhausted. Check the address.`;
    case "tls":
      return `The TLS handshake with ${at} failed: the server does not speak TLS on that port, or its certificate is invalid, expired or for another name. Check the port and the certificate.`;
    case "connect_failed":
      if (input.runtime === "browser") {
        return `The browser could not fetch from ${at}, and it does not say why: nothing listening, a reset or cut connection, a DNS or TLS failure, or a CORS refusal (the response lacks Access-Control-Allow-Origin). Check the devtools console and network tab, and the server's CORS headers.`;
      }
      return `Could not connect to ${at}, and the runtime does not say why: nothing listening, a DNS failure or a TLS failure. Check the host, the port and the server.`;
    case "cancelled":
      return "The operation was cancelled by its own AbortSignal: not a network failure, and not retried.";
    case "unknown":
      return "Not recognized as a connection failure: see 'cause' for the original error.";
  }
}
