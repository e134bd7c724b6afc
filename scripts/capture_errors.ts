// deno-lint-ignore-file no-explicit-any
/**
 * Captures what each runtime REALLY throws for connection faults, as JSON fixtures.
 *
 *   node_modules/.bin/deno run -A scripts/capture_errors.ts   -> tests/fixtures/errors_deno.json
 *   node_modules/.bin/bun scripts/capture_errors.ts           -> tests/fixtures/errors_bun.json
 *   node_modules/node22/bin/node scripts/capture_errors.ts    -> tests/fixtures/errors_node22.json
 *   node_modules/node24/bin/node scripts/capture_errors.ts    -> tests/fixtures/errors_node24.json
 *
 * Network: loopback only (127.0.0.1 / ::1, servers started here), plus name resolution of
 * `-no-such-host.invalid` (refused by the resolver locally: no query leaves the machine). EADDRNOTAVAIL uses 192.0.2.1 only as a *local* bind address, which
 * fails in bind() before any packet is sent.
 *
 * Each entry: { api, scenario, target?, via?, error?, outcome?, events?, note?, unavailable? }.
 * A scenario may produce several entries (one per place an error surfaced, told apart by `via`).
 * Every scenario is bounded by a 3 s guard; all sockets are closed after each scenario.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  type BacklogFullListener,
  closedPort,
  type LoopbackServer,
  startBacklogFullListener,
  startServer,
} from "../tests/support/loopback_servers.ts";
import { safe, serialize } from "../tests/support/serialize_error.ts";

const G = globalThis as any;
const RUNTIME: "deno" | "bun" | "node" = G.Deno ? "deno" : G.Bun ? "bun" : "node";
const VERSION: string = RUNTIME === "deno"
  ? G.Deno.version.deno
  : RUNTIME === "bun"
  ? G.Bun.version
  : process.versions.node;
const FILE = RUNTIME === "node"
  ? `errors_node${VERSION.split(".")[0]}.json`
  : `errors_${RUNTIME}.json`;

const GUARD_MS = 3000;
// A leading hyphen makes the resolver refuse the name locally: no DNS query
// leaves the machine (see UNRESOLVABLE_HOST in tests/support/faults.ts).
const DNS_HOST = "-no-such-host.invalid";
const UNASSIGNED_LOCAL = "192.0.2.1"; // TEST-NET-1, not configured on any interface here
const CHUNK = new Uint8Array(1 << 20).fill(120); // 1 MiB of "x"

// Serialization: tests/support/serialize_error.ts (shared with the other capture scripts).

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

interface Entry {
  api: string;
  scenario: string;
  target?: unknown;
  via?: string;
  error?: unknown;
  outcome?: string;
  events?: string[];
  note?: string;
  unavailable?: string;
  [k: string]: unknown;
}

interface Rec {
  /** Record one captured error value. */
  error(e: unknown, via: string, extra?: Record<string, unknown>): void;
  /** Record a non-error result (e.g. a clean EOF where a reset was sent). */
  outcome(text: string, extra?: Record<string, unknown>): void;
  unavailable(reason: string): void;
  /** Free-form notes and event log, attached to every entry of this scenario. */
  note(text: string): void;
  event(text: string): void;
  target(t: unknown): void;
  /** Registers something to close when the scenario ends. */
  defer(f: () => unknown): void;
}

const captured: Entry[] = [];
/** Operations that could not be cancelled when their scenario ended (awaited, bounded, at exit). */
const lingering: Promise<unknown>[] = [];
const stray: Entry[] = [];
let current: { api: string; scenario: string } | null = null;

function shortCode(e: unknown): string {
  const c = safe(() => (e as any)?.code);
  const n = safe(() => (e as any)?.name);
  return [n, c].filter((x) => x !== undefined).join("/");
}

/** CAPTURE_ONLY=<substring> limits the run to APIs whose name contains it (for debugging). */
const ONLY = process.env.CAPTURE_ONLY;
/** CAPTURE_SCENARIO=<substring> likewise limits the run to matching scenario names. */
const ONLY_SCENARIO = process.env.CAPTURE_SCENARIO;

async function scenario(
  api: string,
  name: string,
  body: (r: Rec) => Promise<void>,
): Promise<void> {
  if (ONLY && !api.includes(ONLY)) return;
  if (ONLY_SCENARIO && !name.includes(ONLY_SCENARIO)) return;
  const entries: Entry[] = [];
  const notes: string[] = [];
  const events: string[] = [];
  const cleanups: (() => unknown)[] = [];
  let target: unknown;
  const base = () => ({ api, scenario: name, ...(target !== undefined ? { target } : {}) });
  let open = true;
  const r: Rec = {
    error(e, via, extra) {
      const entry: Entry = { ...base(), via, error: serialize(e), ...extra };
      if (!open) entry.late = true;
      (open ? entries : stray).push(entry);
    },
    outcome(text, extra) {
      (open ? entries : stray).push({ ...base(), outcome: text, ...extra });
    },
    unavailable(reason) {
      entries.push({ ...base(), unavailable: reason });
    },
    note: (t) => void notes.push(t),
    event: (t) => void events.push(t),
    target: (t) => void (target = t),
    defer: (f) => void cleanups.push(f),
  };
  current = { api, scenario: name };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<"guard">((res) => {
    timer = setTimeout(() => res("guard"), GUARD_MS);
  });
  let result: string;
  let bodyP: Promise<unknown> = Promise.resolve();
  try {
    bodyP = body(r);
    result = await Promise.race([bodyP.then(() => "done"), guard]);
  } catch (e) {
    result = "harness-error";
    entries.push({ ...base(), harnessError: serialize(e), note: String((e as any)?.stack) });
  }
  clearTimeout(timer);
  if (result === "guard") {
    entries.push({ ...base(), outcome: `no settle within the ${GUARD_MS} ms guard` });
    lingering.push(bodyP);
  }
  open = false;
  if (cleanups.length) events.push("(scenario cleanup: closing sockets/servers)");
  for (const f of cleanups.reverse()) {
    try {
      await f();
    } catch { /* ignore */ }
  }
  await sleep(20);
  if (entries.length === 0) {
    entries.push({ ...base(), outcome: "no error and no outcome recorded" });
  }
  for (const e of entries) {
    if (events.length) e.events = [...events];
    if (notes.length) e.note = notes.join(" ");
    captured.push(e);
  }
  const summary = entries.map((e) =>
    e.error
      ? `${e.via}: ${(e.error as any).constructorName} ${shortCode(e.error)}`
      : e.unavailable
      ? `unavailable`
      : e.outcome
  ).join(" | ");
  console.log(`[${RUNTIME}] ${api} / ${name}: ${summary}`);
  current = null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// Late errors (after a scenario's guard or cleanup) must not crash the run: keep them as strays.
function onStray(kind: string) {
  return (e: unknown) => {
    stray.push({
      api: current?.api ?? "(between scenarios)",
      scenario: current?.scenario ?? "",
      via: kind,
      error: serialize(e),
    });
  };
}
process.on("unhandledRejection", onStray("unhandledRejection"));
process.on("uncaughtException", onStray("uncaughtException"));
if (RUNTIME === "deno") {
  globalThis.addEventListener?.("unhandledrejection", (ev: any) => {
    ev.preventDefault();
    onStray("unhandledrejection event")(ev.reason);
  });
}

// Shared fixtures --------------------------------------------------------------------------------

async function server(r: Rec, behavior: Parameters<typeof startServer>[0], host = "127.0.0.1") {
  const s: LoopbackServer = await startServer(behavior, { host });
  r.defer(() => s.close());
  return s;
}

let backlog: BacklogFullListener | null | undefined;
async function backlogFull(r: Rec): Promise<BacklogFullListener | null> {
  if (backlog === undefined) {
    try {
      backlog = await startBacklogFullListener();
    } catch (e) {
      backlog = null;
      r.note(`backlog-full listener could not start: ${String(e)}`);
    }
  }
  if (backlog) {
    r.note(
      `connect target is a listener whose accept queue is full (${backlog.helper}; ` +
        `${backlog.fillers} filler connection(s); queue full: ${backlog.full}); ` +
        `Linux drops the SYN so connect() stays in SYN_SENT.`,
    );
  }
  return backlog;
}

function elapsed(t0: number): string {
  const ms = Date.now() - t0;
  return `${Math.round(ms / 50) * 50} ms (rounded to 50)`;
}

// ---------------------------------------------------------------------------------------------
// node:net / node:tls (all three runtimes)
// ---------------------------------------------------------------------------------------------

type NodeSock = net.Socket | tls.TLSSocket;

/** Wires a socket's events into the event log and resolves on connect / rejects on 'error'. */
function watch(r: Rec, s: NodeSock, connectEvent: "connect" | "secureConnect"): Promise<void> {
  r.defer(() => s.destroy());
  return new Promise((resolve) => {
    s.on(connectEvent, () => {
      r.event(connectEvent);
      resolve();
    });
    s.on("error", (e) => {
      r.event(`error(${shortCode(e)})`);
      r.error(e, "'error' event");
      resolve();
    });
    s.on("timeout", () => r.event("timeout"));
    s.on("end", () => r.event("end"));
    s.on("close", (hadError: boolean) => {
      r.event(`close(hadError=${hadError})`);
      resolve();
    });
  });
}

/** Resolves on 'close', or after 500 ms (noted in the event log) if 'close' never comes. */
function closedPromise(r: Rec, s: NodeSock): Promise<void> {
  return new Promise((res) => {
    if ((s as any).closed === true) return res();
    const t = setTimeout(() => {
      r.event("(no 'close' within 500 ms of settling)");
      res();
    }, 500);
    s.once("close", () => {
      clearTimeout(t);
      res();
    });
  });
}

async function nodeConnectScenarios(api: "node:net" | "node:tls") {
  const isTls = api === "node:tls";
  const connect = (opts: Record<string, unknown>): NodeSock =>
    isTls
      ? tls.connect({ rejectUnauthorized: false, ...opts } as tls.ConnectionOptions)
      : net.connect(opts as unknown as net.NetConnectOpts);
  const ev = isTls ? "secureConnect" : "connect";

  const refused = async (r: Rec, host: string, bindHost: string) => {
    const port = await closedPort(bindHost);
    r.target({ host, port });
    const s = connect({ host, port });
    await watch(r, s, ev);
    await closedPromise(r, s);
  };
  await scenario(api, "refused-127.0.0.1", (r) => refused(r, "127.0.0.1", "127.0.0.1"));
  await scenario(api, "refused-::1", (r) => refused(r, "::1", "::1"));
  await scenario(api, "refused-localhost", async (r) => {
    r.note("/etc/hosts here maps localhost to 127.0.0.1 only.");
    await refused(r, "localhost", "127.0.0.1");
  });
  await scenario(api, "refused-dual-stack-lookup", async (r) => {
    // Happy eyeballs without touching /etc/hosts: a custom lookup returning both loopbacks.
    const p4 = await closedPort("127.0.0.1");
    const p6 = await closedPort("::1");
    const port = p4 === p6 ? p4 : p4; // port closed on 127.0.0.1; ::1 side is closed regardless
    r.target({ host: "dual-stack.test (custom lookup -> 127.0.0.1, ::1)", port });
    r.note(
      "net.connect({autoSelectFamily: true, lookup}) where lookup answers [127.0.0.1, ::1]; " +
        "nothing listens on the port on either address.",
    );
    const lookup = (_h: string, opts: any, cb: any) => {
      const all = [{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }];
      if (opts && opts.all) cb(null, all);
      else cb(null, all[0].address, all[0].family);
    };
    const s = connect({ host: "dual-stack.test", port, lookup, autoSelectFamily: true });
    await watch(r, s, ev);
    await closedPromise(r, s);
  });

  await scenario(api, "dns-failure", async (r) => {
    r.target({ host: DNS_HOST, port: 80 });
    const s = connect({ host: DNS_HOST, port: 80 });
    await watch(r, s, ev);
    await closedPromise(r, s);
  });

  if (!isTls) {
    await scenario(api, "reset-while-reading", async (r) => {
      const srv = await server(r, "reset");
      r.target({ host: srv.host, port: srv.port });
      r.note("server accepts, waits 50 ms, resetAndDestroy() (RST); client only reads.");
      const s = connect({ host: srv.host, port: srv.port });
      let bytes = 0;
      s.on("data", (d: Uint8Array) => void (bytes += d.length));
      await watch(r, s, ev);
      await closedPromise(r, s);
      if (!s.errored) r.outcome(`no 'error' event: stream ended cleanly after ${bytes} bytes`);
    });

    for (const mode of ["after-rst", "after-fin", "after-fin-default-options"] as const) {
      await scenario(api, `broken-pipe-${mode}`, async (r) => {
        const srv = await server(r, mode === "after-rst" ? "reset" : "close-now");
        r.target({ host: srv.host, port: srv.port });
        r.note(
          (mode === "after-rst"
            ? "server RSTs 50 ms after accept"
            : "server closes (FIN, nothing unread) right after accept") +
            "; 100 ms later the client writes 1 MiB chunks (awaiting each write callback) " +
            "until a write fails or 200 writes" +
            (mode === "after-fin"
              ? "; client allowHalfOpen: true so its writes reach the peer."
              : "") +
            (mode === "after-fin-default-options"
              ? "; client uses default options (allowHalfOpen false)."
              : "."),
        );
        const s = connect({
          host: srv.host,
          port: srv.port,
          ...(mode === "after-fin" ? { allowHalfOpen: true } : {}),
        }) as net.Socket;
        const done = watch(r, s, ev);
        await new Promise((res) => s.once("connect", res));
        await sleep(100);
        let writes = 0;
        let writeErr: unknown;
        while (writes < 200 && !writeErr) {
          writes++;
          writeErr = await new Promise((res) => {
            try {
              s.write(CHUNK, (err) => res(err ?? null));
            } catch (e) {
              res(e);
            }
          });
        }
        if (writeErr) {
          r.error(writeErr, "write() callback", {
            writesBeforeError: writes,
            sameObjectAsErrorEvent: s.errored ? s.errored === writeErr : null,
          });
        }
        await Promise.race([done, sleep(500)]);
        r.event(`${writes} write() calls made`);
        if (!writeErr && !s.errored) r.outcome(`${writes} writes without error`);
      });
    }

    await scenario(api, "eof-partial", async (r) => {
      const srv = await server(r, "partial");
      r.target({ host: srv.host, port: srv.port });
      r.note("server sends 'partial' (7 bytes) and FIN.");
      const s = connect({ host: srv.host, port: srv.port });
      let bytes = 0;
      s.on("data", (d: Uint8Array) => void (bytes += d.length));
      await watch(r, s, ev);
      await closedPromise(r, s);
      if (!s.errored) r.outcome(`clean 'end' after ${bytes} bytes (no error)`);
    });
  } else {
    for (
      const [name, behavior, note] of [
        [
          "tls-garbage-reply",
          "garbage",
          "plain TCP server answers the ClientHello with " +
          JSON.stringify("HTTP/1.1 400 Bad Request\r\n\r\n") + " and FIN.",
        ],
        ["tls-accept-close", "close", "plain TCP server reads and closes (FIN) without answering."],
        [
          "tls-accept-reset",
          "reset-on-data",
          "plain TCP server RSTs when the ClientHello arrives.",
        ],
      ] as const
    ) {
      await scenario(api, name, async (r) => {
        const srv = await server(r, behavior);
        r.target({ host: srv.host, port: srv.port });
        r.note(note);
        const s = connect({ host: srv.host, port: srv.port });
        await watch(r, s, ev);
        await closedPromise(r, s);
      });
    }
  }

  // Timeouts -------------------------------------------------------------------------------
  await scenario(api, "connect-timeout-option", async (r) => {
    const bl = await backlogFull(r);
    if (!bl?.full) return r.unavailable("could not fill a listener's accept queue on loopback");
    r.target({ host: bl.host, port: bl.port });
    r.note("socket option timeout: 300 (idle timeout).");
    const s = connect({ host: bl.host, port: bl.port, timeout: 300 });
    const t0 = Date.now();
    const done = watch(r, s, ev);
    await Promise.race([done, new Promise((res) => s.once("timeout", res))]);
    if (!s.errored) {
      r.outcome(`'timeout' event after ${elapsed(t0)}; no error emitted (socket left connecting)`);
    }
  });
  await scenario(api, "connect-timeout-signal", async (r) => {
    const bl = await backlogFull(r);
    if (!bl?.full) return r.unavailable("could not fill a listener's accept queue on loopback");
    r.target({ host: bl.host, port: bl.port });
    r.note("option signal: AbortSignal.timeout(300).");
    const t0 = Date.now();
    const s = connect({ host: bl.host, port: bl.port, signal: AbortSignal.timeout(300) });
    await watch(r, s, ev);
    r.event(`settled after ${elapsed(t0)}`);
  });
  await scenario(api, "stalled-server-timeout-option", async (r) => {
    const srv = await server(r, "stall");
    r.target({ host: srv.host, port: srv.port });
    r.note(
      "server accepts, reads, never answers; socket option timeout: 300" +
        (isTls ? " (TLS handshake never completes)." : "."),
    );
    const s = connect({ host: srv.host, port: srv.port, timeout: 300 });
    const t0 = Date.now();
    const timedOut = new Promise((res) => s.once("timeout", res));
    void watch(r, s, ev);
    await Promise.race([timedOut, new Promise((res) => s.once("error", res))]);
    await sleep(50);
    if (!s.errored) r.outcome(`'timeout' event after ${elapsed(t0)}; no error emitted`);
  });

  // Abort ----------------------------------------------------------------------------------
  await scenario(api, "already-aborted-signal", async (r) => {
    const srv = await server(r, "stall");
    r.target({ host: srv.host, port: srv.port });
    r.note("option signal: AbortSignal.abort() (already aborted), server listening.");
    const s = connect({ host: srv.host, port: srv.port, signal: AbortSignal.abort() });
    await watch(r, s, ev);
    await closedPromise(r, s);
  });
  await scenario(api, "abort-during-connect", async (r) => {
    const bl = await backlogFull(r);
    if (!bl?.full) return r.unavailable("could not fill a listener's accept queue on loopback");
    r.target({ host: bl.host, port: bl.port });
    r.note("AbortController.abort() 100 ms after connect() started.");
    const ac = new AbortController();
    const s = connect({ host: bl.host, port: bl.port, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await watch(r, s, ev);
  });

  if (!isTls) {
    // Local address errors -------------------------------------------------------------------
    await scenario(api, "eaddrinuse-listen", async (r) => {
      const a = net.createServer();
      r.defer(() => new Promise((res) => a.close(res)));
      await new Promise<void>((res) => a.listen({ host: "127.0.0.1", port: 0 }, res));
      const port = (a.address() as net.AddressInfo).port;
      r.target({ host: "127.0.0.1", port });
      r.note("second net.createServer().listen() on a port already listened on.");
      const b = net.createServer();
      r.defer(() => new Promise((res) => b.close(() => res(undefined))));
      await new Promise<void>((res) => {
        b.once("error", (e) => {
          r.error(e, "server 'error' event");
          res();
        });
        b.listen({ host: "127.0.0.1", port }, () => {
          r.outcome("second listen succeeded");
          res();
        });
      });
    });
    await scenario(api, "eaddrnotavail-localAddress", async (r) => {
      const port = await closedPort("127.0.0.1");
      r.target({ host: "127.0.0.1", port, localAddress: UNASSIGNED_LOCAL });
      r.note(`connect with localAddress ${UNASSIGNED_LOCAL} (not a local address): bind() fails.`);
      const s = net.connect({ host: "127.0.0.1", port, localAddress: UNASSIGNED_LOCAL });
      await watch(r, s, ev);
      await closedPromise(r, s);
    });
    await scenario(api, "eaddrnotavail-listen", async (r) => {
      r.target({ host: UNASSIGNED_LOCAL, port: 0 });
      r.note(`listen on ${UNASSIGNED_LOCAL} (not a local address): bind() fails.`);
      const b = net.createServer();
      r.defer(() => new Promise((res) => b.close(() => res(undefined))));
      await new Promise<void>((res) => {
        b.once("error", (e) => {
          r.error(e, "server 'error' event");
          res();
        });
        b.listen({ host: UNASSIGNED_LOCAL, port: 0 }, () => {
          r.outcome("listen succeeded (unexpected)");
          res();
        });
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// fetch (all three runtimes)
// ---------------------------------------------------------------------------------------------

async function fetchScenarios() {
  const api = "fetch";
  const tryFetch = async (r: Rec, url: string, init?: RequestInit) => {
    r.target({ url });
    try {
      const res = await fetch(url, init);
      r.event(`response ${res.status}`);
      try {
        const text = await res.text();
        r.outcome(`fetch resolved ${res.status}; res.text() resolved with ${text.length} chars`);
      } catch (e) {
        r.error(e, "res.text() rejection");
      }
    } catch (e) {
      r.error(e, "fetch() rejection");
    }
  };
  const refused = async (r: Rec, host: string, bindHost: string) => {
    const port = await closedPort(bindHost);
    await tryFetch(r, `http://${host}:${port}/`);
  };
  await scenario(api, "refused-127.0.0.1", (r) => refused(r, "127.0.0.1", "127.0.0.1"));
  await scenario(api, "refused-::1", (r) => refused(r, "[::1]", "::1"));
  await scenario(api, "refused-localhost", (r) => refused(r, "localhost", "127.0.0.1"));
  await scenario(api, "dns-failure", (r) => tryFetch(r, `http://${DNS_HOST}/`));

  const against = (
    behavior: Parameters<typeof startServer>[0],
    note: string,
    scheme = "http",
    init?: RequestInit,
  ) =>
  async (r: Rec) => {
    const srv = await server(r, behavior);
    r.note(note);
    await tryFetch(r, `${scheme}://127.0.0.1:${srv.port}/`, init);
  };
  await scenario(
    api,
    "reset-before-response",
    against("reset-on-data", "server RSTs when the request arrives."),
  );
  await scenario(
    api,
    "reset-during-body",
    against(
      "http-headers-then-reset",
      "server sends 200 + Content-Length: 100 + 10 bytes, then RST after 50 ms; error read from res.text().",
    ),
  );
  await scenario(
    api,
    "eof-partial-body",
    against(
      "http-partial-body",
      "server sends 200 + Content-Length: 100 + 10 bytes and FIN; error read from res.text().",
    ),
  );
  await scenario(
    api,
    "eof-no-response",
    against("close", "server reads the request and closes (FIN) without answering."),
  );
  await scenario(
    api,
    "broken-pipe-upload",
    against("reset", "POST of an 8 MiB body; server RSTs 50 ms after accept.", "http", {
      method: "POST",
      body: new Uint8Array(8 << 20),
    }),
  );
  await scenario(
    api,
    "tls-garbage-reply",
    against("garbage", "https:// to a plain TCP server that answers HTTP/1.1 400 + FIN.", "https"),
  );
  await scenario(
    api,
    "tls-accept-close",
    against("close", "https:// to a plain TCP server that reads and closes (FIN).", "https"),
  );
  await scenario(
    api,
    "tls-accept-reset",
    against(
      "reset-on-data",
      "https:// to a plain TCP server that RSTs on the ClientHello.",
      "https",
    ),
  );

  await scenario(api, "stalled-server-signal-timeout", async (r) => {
    const srv = await server(r, "stall");
    r.note("server accepts, reads, never answers; signal: AbortSignal.timeout(300).");
    await tryFetch(r, `http://127.0.0.1:${srv.port}/`, { signal: AbortSignal.timeout(300) });
  });
  await scenario(api, "connect-timeout-signal", async (r) => {
    const bl = await backlogFull(r);
    if (!bl?.full) return r.unavailable("could not fill a listener's accept queue on loopback");
    r.note("signal: AbortSignal.timeout(300).");
    await tryFetch(r, `http://127.0.0.1:${bl.port}/`, { signal: AbortSignal.timeout(300) });
  });
  await scenario(api, "already-aborted-signal", async (r) => {
    const srv = await server(r, "stall");
    r.note("signal: AbortSignal.abort() (already aborted, default reason).");
    await tryFetch(r, `http://127.0.0.1:${srv.port}/`, { signal: AbortSignal.abort() });
  });
  await scenario(api, "already-aborted-controller", async (r) => {
    const srv = await server(r, "stall");
    const ac = new AbortController();
    ac.abort();
    r.note("signal of an AbortController aborted before fetch() with controller.abort().");
    await tryFetch(r, `http://127.0.0.1:${srv.port}/`, { signal: ac.signal });
  });
  await scenario(api, "abort-during-fetch", async (r) => {
    const srv = await server(r, "stall");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    r.note("stalled server; controller.abort() 100 ms after fetch() started.");
    await tryFetch(r, `http://127.0.0.1:${srv.port}/`, { signal: ac.signal });
  });
}

// ---------------------------------------------------------------------------------------------
// Deno.connect / Deno.connectTls / Deno.Conn / Deno.listen
// ---------------------------------------------------------------------------------------------

async function denoScenarios() {
  const D = G.Deno;
  const conns = (r: Rec, c: any) => r.defer(() => safe(() => c.close()));

  for (const api of ["Deno.connect", "Deno.connectTls"] as const) {
    const isTls = api === "Deno.connectTls";
    const doConnect = async (r: Rec, opts: Record<string, unknown>) => {
      try {
        const c = isTls ? await D.connectTls(opts) : await D.connect(opts);
        conns(r, c);
        r.event(`${api} resolved`);
        if (isTls) {
          // handshake() has no timeout of its own: after 1000 ms, close the conn and capture
          // what the pending handshake() rejects with.
          const hs = c.handshake().then(
            () => void r.event("handshake() resolved"),
            (e: unknown) => r.error(e, "conn.handshake() rejection"),
          );
          const res = await Promise.race([
            hs.then(() => "settled"),
            sleep(1000).then(() => "pending"),
          ]);
          if (res === "pending") {
            r.event("handshake() still pending after 1000 ms; conn.close() called");
            safe(() => c.close());
            await Promise.race([hs, sleep(500)]);
          }
        }
        return c;
      } catch (e) {
        r.error(e, `${api}() rejection`);
        return null;
      }
    };
    const refused = async (r: Rec, hostname: string, bindHost: string) => {
      const port = await closedPort(bindHost);
      r.target({ hostname, port });
      await doConnect(r, { hostname, port });
    };
    await scenario(api, "refused-127.0.0.1", (r) => refused(r, "127.0.0.1", "127.0.0.1"));
    await scenario(api, "refused-::1", (r) => refused(r, "::1", "::1"));
    await scenario(api, "refused-localhost", (r) => refused(r, "localhost", "127.0.0.1"));
    await scenario(api, "dns-failure", async (r) => {
      r.target({ hostname: DNS_HOST, port: 80 });
      await doConnect(r, { hostname: DNS_HOST, port: 80 });
    });

    if (isTls) {
      for (
        const [name, behavior, note] of [
          [
            "tls-garbage-reply",
            "garbage",
            "plain TCP server answers the ClientHello with HTTP/1.1 400 + FIN.",
          ],
          [
            "tls-accept-close",
            "close",
            "plain TCP server reads and closes (FIN) without answering.",
          ],
          [
            "tls-accept-reset",
            "reset-on-data",
            "plain TCP server RSTs when the ClientHello arrives.",
          ],
        ] as const
      ) {
        await scenario(api, name, async (r) => {
          const srv = await server(r, behavior);
          r.target({ hostname: "127.0.0.1", port: srv.port });
          r.note(note + " Deno.connectTls() then conn.handshake().");
          await doConnect(r, { hostname: "127.0.0.1", port: srv.port });
        });
      }
    } else {
      for (const how of ["conn.read()", "conn.readable"] as const) {
        await scenario(api, `reset-while-reading (${how})`, async (r) => {
          const srv = await server(r, "reset");
          r.target({ hostname: "127.0.0.1", port: srv.port });
          r.note("server accepts, waits 50 ms, resetAndDestroy() (RST); client reads.");
          const c = await doConnect(r, { hostname: "127.0.0.1", port: srv.port });
          if (!c) return;
          let bytes = 0;
          try {
            if (how === "conn.read()") {
              const buf = new Uint8Array(4096);
              for (;;) {
                const n = await c.read(buf);
                if (n === null) break;
                bytes += n;
              }
            } else {
              const reader = c.readable.getReader();
              for (;;) {
                const { done, value } = await reader.read();
                if (done) break;
                bytes += value.length;
              }
            }
            r.outcome(`clean EOF after ${bytes} bytes (no error)`);
          } catch (e) {
            r.error(e, `${how} rejection`);
          }
        });
      }
      for (const how of ["conn.write()", "conn.writable"] as const) {
        for (const mode of ["after-rst", "after-fin"] as const) {
          await scenario(api, `broken-pipe-${mode} (${how})`, async (r) => {
            const srv = await server(r, mode === "after-rst" ? "reset" : "close-now");
            r.target({ hostname: "127.0.0.1", port: srv.port });
            r.note(
              (mode === "after-rst"
                ? "server RSTs 50 ms after accept"
                : "server closes (FIN, nothing unread) right after accept") +
                "; client writes 1 MiB chunks until a write fails.",
            );
            const c = await doConnect(r, { hostname: "127.0.0.1", port: srv.port });
            if (!c) return;
            await sleep(100);
            let writes = 0;
            const writer = how === "conn.writable" ? c.writable.getWriter() : null;
            try {
              while (writes < 200) {
                writes++;
                if (writer) await writer.write(CHUNK);
                else await c.write(CHUNK);
              }
              r.outcome(`${writes} writes without error`);
            } catch (e) {
              r.error(e, `${how} rejection`, { writesBeforeError: writes });
            }
          });
        }
      }
      await scenario(api, "eof-partial (conn.read())", async (r) => {
        const srv = await server(r, "partial");
        r.target({ hostname: "127.0.0.1", port: srv.port });
        r.note("server sends 'partial' (7 bytes) and FIN.");
        const c = await doConnect(r, { hostname: "127.0.0.1", port: srv.port });
        if (!c) return;
        let bytes = 0;
        try {
          const buf = new Uint8Array(4096);
          for (;;) {
            const n = await c.read(buf);
            if (n === null) break;
            bytes += n;
          }
          r.outcome(`read() returned null (EOF) after ${bytes} bytes (no error)`);
        } catch (e) {
          r.error(e, "conn.read() rejection");
        }
      });
    }

    // Timeouts and abort: Deno.connect / connectTls accept a `signal` option (if the runtime
    // ignores it, the 3 s guard ends the scenario and says so).
    await scenario(api, "connect-timeout-signal", async (r) => {
      const bl = await backlogFull(r);
      if (!bl?.full) return r.unavailable("could not fill a listener's accept queue on loopback");
      r.target({ hostname: bl.host, port: bl.port });
      r.note("option signal: AbortSignal.timeout(300).");
      const t0 = Date.now();
      await doConnect(r, { hostname: bl.host, port: bl.port, signal: AbortSignal.timeout(300) });
      r.event(`settled after ${elapsed(t0)}`);
    });
    await scenario(api, "already-aborted-signal", async (r) => {
      const srv = await server(r, "stall");
      r.target({ hostname: "127.0.0.1", port: srv.port });
      r.note("option signal: AbortSignal.abort(), server listening (stalls).");
      await doConnect(r, { hostname: "127.0.0.1", port: srv.port, signal: AbortSignal.abort() });
    });
    await scenario(api, "abort-during-connect", async (r) => {
      const bl = await backlogFull(r);
      if (!bl?.full) return r.unavailable("could not fill a listener's accept queue on loopback");
      r.target({ hostname: bl.host, port: bl.port });
      r.note("AbortController.abort() 100 ms after connect started.");
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      await doConnect(r, { hostname: bl.host, port: bl.port, signal: ac.signal });
    });
    if (isTls) {
      await scenario(api, "stalled-server-handshake", async (r) => {
        const srv = await server(r, "stall");
        r.target({ hostname: "127.0.0.1", port: srv.port });
        r.note(
          "server accepts, reads, never answers; Deno.connectTls has no timeout option; " +
            "signal: AbortSignal.timeout(300) passed to connectTls.",
        );
        await doConnect(r, {
          hostname: "127.0.0.1",
          port: srv.port,
          signal: AbortSignal.timeout(300),
        });
      });
    }
  }

  const api = "Deno.listen";
  await scenario(api, "eaddrinuse-listen", (r) => {
    const a = D.listen({ hostname: "127.0.0.1", port: 0 });
    r.defer(() => a.close());
    const port = a.addr.port;
    r.target({ hostname: "127.0.0.1", port });
    r.note("second Deno.listen() on a port already listened on.");
    try {
      const b = D.listen({ hostname: "127.0.0.1", port });
      r.defer(() => b.close());
      r.outcome("second listen succeeded");
    } catch (e) {
      r.error(e, "Deno.listen() throw");
    }
    return Promise.resolve();
  });
  await scenario(api, "eaddrnotavail-listen", (r) => {
    r.target({ hostname: UNASSIGNED_LOCAL, port: 0 });
    r.note(`Deno.listen on ${UNASSIGNED_LOCAL} (not a local address): bind() fails.`);
    try {
      const b = D.listen({ hostname: UNASSIGNED_LOCAL, port: 0 });
      r.defer(() => b.close());
      r.outcome("listen succeeded (unexpected)");
    } catch (e) {
      r.error(e, "Deno.listen() throw");
    }
    return Promise.resolve();
  });
}

// ---------------------------------------------------------------------------------------------
// Bun.connect / Bun.connect({tls: true}) / Bun.listen
// ---------------------------------------------------------------------------------------------

async function bunScenarios() {
  const B = G.Bun;

  for (const api of ["Bun.connect", "Bun.connect(tls)"] as const) {
    const isTls = api === "Bun.connect(tls)";
    /**
     * Connects with every handler wired into the event log. Resolves with the socket (or null)
     * once Bun.connect() has settled and, if `waitClose`, once the socket has closed.
     */
    const doConnect = async (
      r: Rec,
      hostname: string,
      port: number,
      opts: { waitClose?: boolean; onOpen?: (s: any) => void; extra?: Record<string, unknown> } =
        {},
    ) => {
      let closed!: () => void;
      const closedP = new Promise<void>((res) => (closed = res));
      let bytes = 0;
      let handlerErr: unknown;
      const socketHandlers = {
        open(s: any) {
          r.event("open");
          opts.onOpen?.(s);
        },
        data(_s: any, d: Uint8Array) {
          bytes += d.length;
        },
        drain() {},
        handshake(_s: any, success: boolean, authError: unknown) {
          r.event(
            `handshake(success=${success}${
              authError ? `, authorizationError=${shortCode(authError)}` : ""
            })`,
          );
          if (authError) {
            r.error(authError, "handshake handler (3rd argument, authorizationError)", {
              handshakeSuccess: success,
            });
          }
        },
        end() {
          r.event(`end (after ${bytes} bytes)`);
        },
        close(_s: any, err?: unknown) {
          r.event(`close(${err === undefined ? "" : shortCode(err) || String(err)})`);
          if (err !== undefined) r.error(err, "close handler (2nd argument)");
          closed();
        },
        error(_s: any, err: unknown) {
          r.event(`error(${shortCode(err)})`);
          r.error(err, "error handler");
        },
        connectError(_s: any, err: unknown) {
          handlerErr = err;
          r.event(`connectError(${shortCode(err)})`);
          r.error(err, "connectError handler");
          closed();
        },
        timeout() {
          r.event("timeout");
        },
      };
      let sock: any = null;
      try {
        sock = await B.connect({
          hostname,
          port,
          ...(isTls ? { tls: { rejectUnauthorized: false } } : {}),
          ...opts.extra,
          socket: socketHandlers,
        });
        r.event("Bun.connect() resolved");
        r.defer(() => safe(() => sock.terminate?.() ?? sock.end()));
      } catch (e) {
        r.error(e, "Bun.connect() rejection", {
          sameObjectAsConnectError: handlerErr === undefined ? null : e === handlerErr,
        });
        return { sock: null, bytes: () => bytes, closedP };
      }
      if (opts.waitClose) await closedP;
      return { sock, bytes: () => bytes, closedP };
    };
    const refused = async (r: Rec, hostname: string, bindHost: string) => {
      const port = await closedPort(bindHost);
      r.target({ hostname, port });
      await doConnect(r, hostname, port);
    };
    await scenario(api, "refused-127.0.0.1", (r) => refused(r, "127.0.0.1", "127.0.0.1"));
    await scenario(api, "refused-::1", (r) => refused(r, "::1", "::1"));
    await scenario(api, "refused-localhost", (r) => refused(r, "localhost", "127.0.0.1"));
    await scenario(api, "dns-failure", async (r) => {
      r.target({ hostname: DNS_HOST, port: 80 });
      await doConnect(r, DNS_HOST, 80);
    });

    if (isTls) {
      for (
        const [name, behavior, note] of [
          [
            "tls-garbage-reply",
            "garbage",
            "plain TCP server answers the ClientHello with HTTP/1.1 400 + FIN.",
          ],
          [
            "tls-accept-close",
            "close",
            "plain TCP server reads and closes (FIN) without answering.",
          ],
          [
            "tls-accept-reset",
            "reset-on-data",
            "plain TCP server RSTs when the ClientHello arrives.",
          ],
        ] as const
      ) {
        await scenario(api, name, async (r) => {
          const srv = await server(r, behavior);
          r.target({ hostname: "127.0.0.1", port: srv.port });
          r.note(note);
          await doConnect(r, "127.0.0.1", srv.port, { waitClose: true });
        });
      }
    } else {
      await scenario(api, "reset-while-reading", async (r) => {
        const srv = await server(r, "reset");
        r.target({ hostname: "127.0.0.1", port: srv.port });
        r.note(
          "server accepts, waits 50 ms, resetAndDestroy() (RST); client only reads (data handler).",
        );
        const c = await doConnect(r, "127.0.0.1", srv.port, { waitClose: true });
        if (c.sock) r.outcome(`socket closed after ${c.bytes()} bytes`);
      });
      for (const mode of ["after-rst", "after-fin", "after-fin-allowHalfOpen"] as const) {
        await scenario(api, `broken-pipe-${mode}`, async (r) => {
          const srv = await server(r, mode === "after-rst" ? "reset" : "close-now");
          r.target({ hostname: "127.0.0.1", port: srv.port });
          r.note(
            (mode === "after-rst"
              ? "server RSTs 50 ms after accept"
              : "server closes (FIN, nothing unread) right after accept") +
              "; client calls socket.write(1 MiB) every 5 ms until it throws or 200 writes" +
              (mode === "after-fin-allowHalfOpen"
                ? "; Bun.connect option allowHalfOpen: true."
                : "."),
          );
          const c = await doConnect(r, "127.0.0.1", srv.port, {
            extra: mode === "after-fin-allowHalfOpen" ? { allowHalfOpen: true } : {},
          });
          if (!c.sock) return;
          await sleep(100);
          const returns: number[] = [];
          try {
            for (let i = 0; i < 200; i++) {
              returns.push(c.sock.write(CHUNK));
              await sleep(5);
            }
          } catch (e) {
            r.error(e, "socket.write() throw", { writesBeforeError: returns.length });
          }
          // Compress the list of return values: "1048576 x1, -1 x199".
          const runs: string[] = [];
          for (const v of returns) {
            const last = runs.at(-1);
            if (last && last.startsWith(`${v} x`)) {
              runs[runs.length - 1] = `${v} x${Number(last.split(" x")[1]) + 1}`;
            } else runs.push(`${v} x1`);
          }
          r.outcome(`socket.write() return values: ${runs.join(", ")}`);
        });
      }
      await scenario(api, "eof-partial", async (r) => {
        const srv = await server(r, "partial");
        r.target({ hostname: "127.0.0.1", port: srv.port });
        r.note("server sends 'partial' (7 bytes) and FIN.");
        const c = await doConnect(r, "127.0.0.1", srv.port, { waitClose: true });
        if (c.sock) r.outcome(`socket closed after ${c.bytes()} bytes`);
      });
    }
    await scenario(api, "connect-timeout", async (r) => {
      const bl = await backlogFull(r);
      if (!bl?.full) return r.unavailable("could not fill a listener's accept queue on loopback");
      r.target({ hostname: bl.host, port: bl.port });
      r.note(
        "Bun.connect has no connect-timeout or signal option; waited up to 1500 ms for any " +
          "handler or settlement.",
      );
      const t0 = Date.now();
      const p = doConnect(r, bl.host, bl.port);
      const res = await Promise.race([p.then(() => "settled"), sleep(1500).then(() => "pending")]);
      if (res === "pending") {
        r.outcome(`Bun.connect() still pending after ${elapsed(t0)} (no error)`);
        lingering.push(p);
      }
    });
    await scenario(api, "stalled-server-socket-timeout", async (r) => {
      const srv = await server(r, "stall");
      r.target({ hostname: "127.0.0.1", port: srv.port });
      r.note(
        "server accepts, reads, never answers; socket.timeout(1) (seconds) set in open(); waited 2500 ms.",
      );
      const t0 = Date.now();
      const c = await doConnect(r, "127.0.0.1", srv.port, { onOpen: (s) => s.timeout(1) });
      void c;
      await sleep(2500);
      r.outcome(`waited ${elapsed(t0)}; see events for 'timeout'`);
    });
    await scenario(api, "aborted-signal", (r) => {
      r.unavailable("Bun.connect() has no signal option");
      return Promise.resolve();
    });
  }

  const api = "Bun.listen";
  const handlers = { data() {}, open() {} };
  await scenario(api, "eaddrinuse-listen", (r) => {
    const a = B.listen({ hostname: "127.0.0.1", port: 0, socket: handlers });
    r.defer(() => a.stop(true));
    r.target({ hostname: "127.0.0.1", port: a.port });
    r.note("second Bun.listen() on a port already listened on.");
    try {
      const b = B.listen({ hostname: "127.0.0.1", port: a.port, socket: handlers });
      r.defer(() => b.stop(true));
      r.outcome("second listen succeeded");
    } catch (e) {
      r.error(e, "Bun.listen() throw");
    }
    return Promise.resolve();
  });
  await scenario(api, "eaddrnotavail-listen", (r) => {
    r.target({ hostname: UNASSIGNED_LOCAL, port: 0 });
    r.note(`Bun.listen on ${UNASSIGNED_LOCAL} (not a local address): bind() fails.`);
    try {
      const b = B.listen({ hostname: UNASSIGNED_LOCAL, port: 0, socket: handlers });
      r.defer(() => b.stop(true));
      r.outcome("listen succeeded (unexpected)");
    } catch (e) {
      r.error(e, "Bun.listen() throw");
    }
    return Promise.resolve();
  });
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  if (RUNTIME === "deno") await denoScenarios();
  if (RUNTIME === "bun") await bunScenarios();
  await nodeConnectScenarios("node:net");
  await nodeConnectScenarios("node:tls");
  await fetchScenarios();
  if (backlog) await backlog.close();
  await sleep(50);
  if (lingering.length) {
    // The backlog listener is gone now, so a still-pending connect gets RST at its next SYN
    // retransmission; its late result lands in `stray` with late: true.
    const t0 = Date.now();
    const all = Promise.allSettled(lingering).then(() => "settled");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<string>((
      res,
    ) => (timer = setTimeout(() => res("still pending"), 10000)));
    const res = await Promise.race([all, cap]);
    clearTimeout(timer);
    console.log(
      `[${RUNTIME}] ${lingering.length} uncancellable operation(s) ${res} ${
        Date.now() - t0
      } ms after their listener closed`,
    );
  }

  const outDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "tests", "fixtures");
  fs.mkdirSync(outDir, { recursive: true });
  const doc = {
    runtime: RUNTIME === "node" ? `node${VERSION.split(".")[0]}` : RUNTIME,
    version: VERSION,
    platform: `${process.platform}-${process.arch}`,
    generatedBy: "scripts/capture_errors.ts",
    captured,
    stray,
  };
  const file = path.join(outDir, FILE);
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
  console.log(
    `[${RUNTIME}] wrote ${file}: ${captured.length} entries, ${stray.length} stray, ${
      Math.round((Date.now() - started) / 1000)
    } s`,
  );

  // Everything was closed above; if something still holds the event loop, say so and exit.
  const t = setTimeout(() => {
    console.error(`[${RUNTIME}] event loop still alive 3 s after writing; forcing exit`);
    process.exit(0);
  }, 3000);
  if (RUNTIME === "deno") G.Deno.unrefTimer(t);
  else (t as any).unref?.();
}

await main();
