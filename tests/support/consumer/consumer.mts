// A TypeScript user of the published types, compiled with `tsc --noEmit`
// under moduleResolution node16 (tsconfig.node16.json) and bundler
// (tsconfig.bundler.json) by tests/npm_package_test.ts. `.mts` keeps it out of
// the repository's own tsconfig (it imports "faultline", which resolves only
// where the package is installed).
import {
  type AnyConnectionError,
  circuitBreaker,
  connect,
  type Connection,
  ConnectionError,
  type ConnectionErrorKind,
  consecutiveFailures,
  exponentialBackoff,
  fallback,
  isConnectionError,
  ManualClock,
  normalizeError,
  pipeline,
  type Policy,
  retry,
  timeout,
} from "faultline";
import { connect as nodeConnect } from "faultline/adapters/node";
import { connect as denoConnect } from "faultline/adapters/deno";
import { connect as bunConnect } from "faultline/adapters/bun";

// Narrowing on kind, exhaustively.
export function describe(error: AnyConnectionError): string {
  switch (error.kind) {
    case "dns":
      return `dns ${error.hostname} temporary=${error.temporary}`;
    case "timeout":
      return `timeout after ${error.timeoutMs} ms`;
    case "refused":
    case "reset":
    case "aborted":
    case "broken_pipe":
    case "closed":
    case "unreachable":
    case "address_in_use":
    case "address_unavailable":
    case "tls":
    case "connect_failed":
    case "cancelled":
    case "unknown":
      return `${error.kind}: ${error.hint}`;
    default: {
      const never: never = error;
      return never;
    }
  }
}

const clock = new ManualClock(0);
const policy: Policy = pipeline(
  fallback("offline", { on: ["refused"] }),
  retry({ maxAttempts: 3, backoff: exponentialBackoff({ initial: 10, jitter: "full" }), clock }),
  circuitBreaker({ trip: consecutiveFailures(5), halfOpenAfter: 1000, clock }),
  timeout(1000, { clock }),
);

export async function run(): Promise<string> {
  const value: string = await policy.execute(async ({ signal, attempt }) => {
    const conn: Connection = await connect({ hostname: "127.0.0.1", port: 1, signal });
    await conn.close();
    return `attempt ${attempt}`;
  });
  return value;
}

export function classify(e: unknown): ConnectionErrorKind | "other" {
  if (isConnectionError(e, ["refused", "reset"])) return e.kind;
  const n = normalizeError(e, { host: "127.0.0.1", port: 1 });
  if (!(n instanceof ConnectionError)) throw new TypeError("normalizeError is total");
  return n.kind === "unknown" ? "other" : n.kind;
}

export const adapters: Array<typeof connect> = [nodeConnect, denoConnect, bunConnect];

// Errors must be caught by the compiler, not only accepted: this one has to fail.
// @ts-expect-error: kind is a closed union
export const wrong: ConnectionErrorKind = "connection_refused";
