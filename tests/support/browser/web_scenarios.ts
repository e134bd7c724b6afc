/**
 * The code that runs INSIDE a browser page (tests/browser_test.ts) or the
 * edge-runtime sandbox (tests/edge_runtime_test.ts): it imports `mod.ts` and
 * the resilientFetch entry exactly as an app would, is bundled with esbuild
 * (IIFE, no `node:` import) and installs `globalThis.faultlineWeb`, whose
 * scenarios fetch from the loopback fault servers the Node-side test started
 * and answer with plain JSON: what was thrown (serialized as
 * scripts/capture_errors.ts does), and what faultline made of it.
 *
 * A scenario that needs the host to act between attempts (start a server on
 * a port that refused a moment ago) calls `globalThis.faultlineHost(command)`,
 * which the host provides: `page.exposeFunction` in the browser, a property
 * of the sandbox's context in edge-runtime.
 */
import {
  BrokenCircuitError,
  circuitBreaker,
  consecutiveFailures,
  constantBackoff,
  detectRuntime,
  isConnectionError,
  normalizeError,
  retry,
} from "../../../mod.ts";
import { resilientFetch } from "../../../src/http/mod.ts";
import { serialize } from "../serialize_error.ts";

/** One fetch, and what to do around it. */
export interface FetchSpec {
  url: string;
  method?: string;
  /** `AbortSignal.timeout(timeoutMs)` as the request's signal. */
  timeoutMs?: number;
  /** The caller's own AbortController, aborted after this many ms. */
  abortAfterMs?: number;
  /** Read the body too (`response.text()`): a cut body fails there. */
  readBody?: boolean;
}

/** What faultline made of an error. */
export interface Classified {
  /** The error as thrown, serialized as scripts/capture_errors.ts does. */
  error: unknown;
  name: string;
  message: string;
  constructorName: string;
  kind: string;
  sent: boolean | null;
  retryable: boolean;
  runtime: string;
  hint: string;
}

/** The outcome of one fetch. */
export interface FetchOutcome {
  /** Where it ended: a response (with its body if read) or an error at `phase`. */
  settled: "response" | "error";
  phase?: "fetch" | "body";
  status?: number;
  body?: string;
  failure?: Classified;
  ms: number;
}

function classify(e: unknown): Classified {
  const c = normalizeError(e);
  const o = (typeof e === "object" && e !== null ? e : {}) as Record<string, unknown>;
  return {
    error: serialize(e),
    name: String(o.name),
    message: String(o.message),
    constructorName: String((o.constructor as { name?: unknown } | undefined)?.name),
    kind: c.kind,
    sent: c.sent ?? null,
    retryable: c.retryable,
    runtime: c.runtime ?? "",
    hint: c.hint,
  };
}

type Host = (command: string) => Promise<unknown>;

function host(command: string): Promise<unknown> {
  const h = (globalThis as { faultlineHost?: Host }).faultlineHost;
  if (typeof h !== "function") throw new Error("the host gave no faultlineHost()");
  return h(command);
}

async function fetchOnce(spec: FetchSpec): Promise<FetchOutcome> {
  const started = Date.now();
  let signal: AbortSignal | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (spec.timeoutMs !== undefined) signal = AbortSignal.timeout(spec.timeoutMs);
  if (spec.abortAfterMs !== undefined) {
    const controller = new AbortController();
    timer = setTimeout(() => controller.abort(), spec.abortAfterMs);
    signal = controller.signal;
  }
  let phase: "fetch" | "body" = "fetch";
  try {
    const response = await fetch(spec.url, { method: spec.method ?? "GET", signal });
    phase = "body";
    const body = spec.readBody ? await response.text() : undefined;
    if (!spec.readBody) await response.body?.cancel();
    return { settled: "response", status: response.status, body, ms: Date.now() - started };
  } catch (e) {
    return { settled: "error", phase, failure: classify(e), ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `retry()` around a fetch to a port that refuses: before the second attempt
 * the host starts a server there (`faultlineHost("listen")`), so the retry
 * succeeds. Returns the kinds of the failed attempts and the final body.
 */
async function retryRefusedThenOk(url: string): Promise<Record<string, unknown>> {
  const policy = retry({ maxAttempts: 3, backoff: constantBackoff(20) });
  const failures: Classified[] = [];
  policy.onRetry(({ error }) => void failures.push(classify(error)));
  let listening = false;
  try {
    const body = await policy.execute(async (ctx) => {
      if (ctx.attempt > 1 && !listening) {
        listening = true;
        await host("listen");
      }
      const response = await fetch(url, { signal: ctx.signal });
      return await response.text();
    });
    return { ok: true, body, failures };
  } catch (e) {
    return { ok: false, failure: classify(e), failures };
  }
}

/**
 * A breaker with `consecutiveFailures(n)` in front of a fetch to a port
 * that refuses, called `n + 1` times: the first n fail as the runtime says,
 * then the breaker is open and rejects without calling.
 */
async function breakerOpens(url: string, n: number): Promise<Record<string, unknown>> {
  const breaker = circuitBreaker({ trip: consecutiveFailures(n), halfOpenAfter: 60_000 });
  let calls = 0;
  const outcomes: Array<Record<string, unknown>> = [];
  for (let i = 0; i <= n; i++) {
    try {
      await breaker.execute(async (ctx) => {
        calls++;
        return await fetch(url, { signal: ctx.signal });
      });
      outcomes.push({ ok: true });
    } catch (e) {
      outcomes.push({
        broken: e instanceof BrokenCircuitError,
        connectionError: isConnectionError(e),
        kind: isConnectionError(e) ? e.kind : null,
        name: (e as Error).name,
      });
    }
  }
  return { calls, state: breaker.state, outcomes };
}

/**
 * `resilientFetch` once: the status and body it ends with, or the error;
 * and every retry it made (status or kind).
 */
async function resilient(
  url: string,
  options: { method?: string; maxAttempts?: number } = {},
): Promise<Record<string, unknown>> {
  const http = resilientFetch({
    maxAttempts: options.maxAttempts ?? 3,
    backoff: constantBackoff(20),
    breaker: { trip: consecutiveFailures(10), halfOpenAfter: 60_000 },
  });
  const retries: unknown[] = [];
  http.onRetry(({ attempt, result, error }) => {
    retries.push({
      attempt,
      status: result instanceof Response ? result.status : null,
      kind: error === undefined ? null : normalizeError(error).kind,
    });
  });
  const started = Date.now();
  try {
    const response = await http(url, { method: options.method ?? "GET" });
    return {
      ok: true,
      status: response.status,
      body: await response.text(),
      retries,
      ms: Date.now() - started,
    };
  } catch (e) {
    return {
      ok: false,
      isConnectionError: isConnectionError(e),
      failure: classify(e),
      retries,
      ms: Date.now() - started,
    };
  }
}

/** Where the code runs, as faultline and the globals see it. */
function info(): Record<string, unknown> {
  const g = globalThis as Record<string, unknown>;
  const nav = g.navigator as { userAgent?: unknown } | undefined;
  return {
    detectRuntime: detectRuntime(),
    EdgeRuntime: typeof g.EdgeRuntime === "string" ? g.EdgeRuntime : typeof g.EdgeRuntime,
    userAgent: typeof nav?.userAgent === "string" ? nav.userAgent : null,
    hasProcess: typeof g.process !== "undefined",
    hasDocument: typeof g.document !== "undefined",
  };
}

/** What the bundle installs on `globalThis`. */
export const faultlineWeb = { info, fetchOnce, retryRefusedThenOk, breakerOpens, resilient };

/** The scenarios by name, for the host's one-line calls. */
export type WebScenarios = typeof faultlineWeb;

(globalThis as { faultlineWeb?: WebScenarios }).faultlineWeb = faultlineWeb;
