// The worker that tests/workerd_test.ts bundles (esbuild, `cloudflare:sockets`
// external) and runs inside workerd with Miniflare. Each request runs one
// scenario against the loopback servers whose ports come in the query string,
// and answers with what happened, as JSON. Loopback only: every address here
// is 127.0.0.1, and the worker's outbound network allows nothing else.
import { connect } from "../../../src/connect/cloudflare.ts";
import type { Connection, ConnectOptions } from "../../../src/connect/connection.ts";
import { ConnectionError } from "../../../src/errors/connection_error.ts";
import { normalizeError } from "../../../src/errors/normalize_error.ts";
import * as root from "../../../mod.ts";
import { resilientFetch } from "../../../src/http/mod.ts";
import { constantBackoff } from "../../../src/policies/backoff.ts";

export interface WorkerPorts {
  echo: number;
  reset: number;
  resetAfterGreeting: number;
  closeEarly: number;
  hangUp: number;
  plainText: number;
  silent: number;
  closed: number;
  stall: number;
  http: number;
}

type Result = Record<string, unknown>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HOST = "127.0.0.1";

/** A thrown value, described: a ConnectionError's fields, or the constructor and message. */
function describe(error: unknown): Result {
  if (error instanceof ConnectionError) {
    const cause = error.cause as { message?: unknown } | undefined;
    return {
      connectionError: true,
      kind: error.kind,
      operation: error.operation,
      runtime: error.runtime,
      host: error.host,
      port: error.port,
      timeoutMs: (error as { timeoutMs?: unknown }).timeoutMs,
      retryable: error.retryable,
      message: error.message,
      causeMessage: typeof cause?.message === "string" ? cause.message : undefined,
    };
  }
  const e = error as { constructor?: { name?: string }; message?: unknown };
  return { connectionError: false, constructor: e?.constructor?.name, message: e?.message };
}

async function outcome(run: () => Promise<Result | void>): Promise<Result> {
  try {
    return { ok: true, ...(await run()) };
  } catch (error) {
    return { ok: false, ...describe(error) };
  }
}

async function readAll(conn: Connection): Promise<string> {
  const reader = conn.readable.getReader();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += decoder.decode(value);
    }
  } finally {
    reader.releaseLock();
  }
}

/** An AbortSignal that counts the abort listeners left on it. */
function countingSignal(): { signal: AbortSignal; live: () => number } {
  const controller = new AbortController();
  const signal = controller.signal;
  let live = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: EventListener, options?: unknown) => {
    if (type === "abort") live++;
    add(type, listener, options as AddEventListenerOptions);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListener, options?: unknown) => {
    if (type === "abort") live--;
    remove(type, listener, options as EventListenerOptions);
  }) as typeof signal.removeEventListener;
  return { signal, live: () => live };
}

const scenarios: Record<string, (p: WorkerPorts) => Promise<Result>> = {
  echo: (p) =>
    outcome(async () => {
      const conn = await connect({ hostname: HOST, port: p.echo, timeout: 5000 });
      try {
        const writer = conn.writable.getWriter();
        await writer.write(encoder.encode("ping"));
        const reader = conn.readable.getReader();
        const { value } = await reader.read();
        reader.releaseLock();
        // Half-close: our end of stream makes the echo server end too.
        await writer.close();
        const rest = await readAll(conn);
        return {
          text: decoder.decode(value),
          rest,
          remoteAddr: conn.remoteAddr,
          localAddr: conn.localAddr,
          echoPort: p.echo,
        };
      } finally {
        await conn.close();
      }
    }),
  refused: (p) => outcome(() => connect({ hostname: HOST, port: p.closed }).then(() => {})),
  "reset while reading": (p) =>
    outcome(async () => {
      // The server greets, then answers our first bytes with an RST.
      const conn = await connect({ hostname: HOST, port: p.resetAfterGreeting });
      try {
        const reader = conn.readable.getReader();
        const greeting = await reader.read();
        const writer = conn.writable.getWriter();
        await writer.write(encoder.encode("x"));
        const after = await reader.read();
        return {
          greeting: decoder.decode(greeting.value),
          afterReset: after.done ? "eof" : "data",
        };
      } finally {
        await conn.close();
      }
    }),
  "write after the peer closed": (p) =>
    outcome(async () => {
      // The server sends "partial", closes, and destroys its socket: our
      // writes then meet an RST (or workerd's closed stream).
      const conn = await connect({ hostname: HOST, port: p.hangUp });
      try {
        const text = await readAll(conn);
        const writer = conn.writable.getWriter();
        let writes = 0;
        try {
          for (; writes < 50; writes++) {
            await writer.write(new Uint8Array(64 * 1024));
            await new Promise((r) => setTimeout(r, 5));
          }
        } catch (error) {
          // The same error again for the next write, at once.
          const again = await writer.write(new Uint8Array(1)).then(() => "ok", (e) => e === error);
          return { text, writes, again, ...describe(error), ok: false };
        }
        return { text, writes };
      } finally {
        await conn.close();
      }
    }),
  "half-open: write after the peer's FIN": (p) =>
    outcome(async () => {
      // The server sends "partial" and FIN, but keeps reading.
      const conn = await connect({ hostname: HOST, port: p.closeEarly });
      try {
        const text = await readAll(conn);
        const writer = conn.writable.getWriter();
        await writer.write(encoder.encode("still here"));
        writer.releaseLock();
        return { text };
      } finally {
        await conn.close();
      }
    }),
  "write after close()": (p) =>
    outcome(async () => {
      const conn = await connect({ hostname: HOST, port: p.echo });
      const writer = conn.writable.getWriter();
      await conn.close();
      await writer.write(encoder.encode("late"));
    }),
  "connect timeout": (p) =>
    outcome(async () => {
      // The first connections fill the stalled listener's backlog; then SYNs
      // are dropped and a connect hangs until our timeout.
      const held: Connection[] = [];
      try {
        for (let i = 0; i < 16; i++) {
          held.push(await connect({ hostname: HOST, port: p.stall, timeout: 300 }));
        }
        return { held: held.length };
      } finally {
        await Promise.all(held.map((c) => c.close()));
      }
    }),
  "TLS against a plain TCP server": (p) =>
    outcome(() =>
      connect({ hostname: HOST, port: p.plainText, tls: true, timeout: 5000 }).then(() => {})
    ),
  "TLS handshake that never answers": (p) =>
    outcome(() =>
      connect({ hostname: HOST, port: p.silent, tls: true, timeout: 300 }).then(() => {})
    ),
  "already-aborted signal": (p) =>
    outcome(() =>
      connect({ hostname: HOST, port: p.echo, signal: AbortSignal.abort(new Error("stop")) })
        .then(() => {})
    ),
  "abort while connecting": (p) =>
    outcome(async () => {
      const controller = new AbortController();
      const held: Connection[] = [];
      try {
        for (let i = 0; i < 16; i++) {
          const pending = connect({ hostname: HOST, port: p.stall, signal: controller.signal });
          const timer = setTimeout(() => controller.abort(new Error("enough")), 200);
          try {
            held.push(await pending);
          } finally {
            clearTimeout(timer);
          }
        }
        return { held: held.length };
      } finally {
        await Promise.all(held.map((c) => c.close()));
      }
    }),
  "abort during a read": (p) =>
    outcome(async () => {
      const controller = new AbortController();
      const conn = await connect({ hostname: HOST, port: p.silent, signal: controller.signal });
      try {
        const reading = conn.readable.getReader().read();
        setTimeout(() => controller.abort(new Error("enough")), 20);
        await reading;
      } finally {
        await conn.close();
      }
    }),
  "bad arguments": async (p) => {
    const cases: Record<string, unknown> = {
      "port 70000": { hostname: HOST, port: 70000 },
      "empty hostname": { hostname: "", port: p.echo },
      "negative timeout": { hostname: HOST, port: p.echo, timeout: -1 },
      "hostname workerd refuses": { hostname: "a b", port: p.echo },
      "tls.serverName": { hostname: HOST, port: p.echo, tls: { serverName: "other.example" } },
      "tls.caCerts": { hostname: HOST, port: p.echo, tls: { caCerts: ["PEM"] } },
    };
    const result: Result = { ok: true };
    for (const [name, options] of Object.entries(cases)) {
      result[name] = await connect(options as ConnectOptions).then(
        () => "connected",
        (e) => `${(e as Error).constructor.name}: ${(e as Error).message}`,
      );
    }
    return result;
  },
  "no listener left on a long-lived signal": async (p) => {
    const { signal, live } = countingSignal();
    const kinds: string[] = [];
    for (let i = 0; i < 10; i++) {
      const conn = await connect({ hostname: HOST, port: p.echo, signal, timeout: 5000 });
      await conn.close();
      await connect({ hostname: HOST, port: p.closed, signal, timeout: 5000 }).catch((e) =>
        kinds.push((e as ConnectionError).kind)
      );
    }
    return { ok: true, live: live(), refusedKinds: [...new Set(kinds)] };
  },
  "fetch to a closed port": (p) =>
    outcome(async () => {
      try {
        await fetch(`http://${HOST}:${p.closed}/`);
      } catch (error) {
        throw normalizeError(error);
      }
    }),
  "fetch to a server that resets": (p) =>
    outcome(async () => {
      try {
        const response = await fetch(`http://${HOST}:${p.reset}/`);
        await response.text();
      } catch (error) {
        throw normalizeError(error);
      }
    }),
  "fetch to a server that does not speak HTTP": (p) =>
    outcome(async () => {
      try {
        const response = await fetch(`http://${HOST}:${p.echo}/`);
        await response.text();
      } catch (error) {
        throw normalizeError(error);
      }
    }),
  "fetch works": (p) =>
    outcome(async () => {
      const response = await fetch(`http://${HOST}:${p.http}/`);
      return { status: response.status, body: await response.text() };
    }),
  "resilientFetch in workerd": (p) =>
    outcome(async () => {
      const http = resilientFetch({ maxAttempts: 3, backoff: constantBackoff(0) });
      let retries = 0;
      http.onRetry(() => retries++);
      // /flaky answers 503 (Retry-After: 0) and 200 in turn: one retry, then the 200.
      const flaky = await http(`http://${HOST}:${p.http}/flaky`);
      const flakyRetries = retries;
      // A POST is not retried on a 503: the caller gets the response, body intact.
      const post = await http(`http://${HOST}:${p.http}/always503`, { method: "POST", body: "x" });
      const postRetries = retries - flakyRetries;
      const refused = await http(`http://${HOST}:${p.closed}/`).then(() => undefined, (e) => e);
      return {
        flakyStatus: flaky.status,
        flakyBody: await flaky.text(),
        flakyRetries,
        postStatus: post.status,
        postBody: await post.text(),
        postRetries,
        refused: describe(refused),
      };
    }),
  "mod.ts in workerd": async (p) => {
    const refusal = await root.connect({ hostname: HOST, port: p.echo }).then(
      () => "connected",
      (e) => `${(e as Error).constructor.name}: ${(e as Error).message}`,
    );
    return { ok: true, runtime: root.detectRuntime(), refusal };
  },
};

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const name = url.searchParams.get("scenario") ?? "";
    const ports = JSON.parse(url.searchParams.get("ports") ?? "{}") as WorkerPorts;
    const scenario = scenarios[name];
    if (!scenario) return Response.json({ error: `no scenario ${name}` }, { status: 404 });
    return Response.json(await scenario(ports));
  },
};
