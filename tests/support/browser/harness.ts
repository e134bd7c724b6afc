/**
 * The host side of the browser and edge-runtime suites, shared with
 * scripts/capture_browser_errors.ts: the esbuild bundle of
 * ./web_scenarios.ts, the loopback servers the page fetches from, and
 * headless Chromium (Debian's, driven by playwright-core; no downloaded
 * browser). Loopback only: every server listens on 127.0.0.1, and Chromium
 * is told to resolve no name but 127.0.0.1 and to use no proxy.
 */
import * as net from "node:net";
import * as http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import type { BrowserContext, Page } from "playwright-core";
import {
  closedPort,
  type HttpAction,
  type HttpFaultServer,
  script,
  startHttpServer,
} from "../http_faults.ts";
import { findProgram } from "../requirements.ts";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const entry = fileURLToPath(new URL("./web_scenarios.ts", import.meta.url));

/**
 * ./web_scenarios.ts (with mod.ts and src/http/) as one IIFE
 * script: for a `<script>` in the page, or `EdgeRuntime`'s `initialCode`
 * (a vm script, where `import`/`export` cannot appear). "browser" bundles as a
 * browser build does; "edge" as Next.js does for Vercel's edge runtime
 * (conditions `edge-light`, `worker`, `browser`).
 */
export async function bundleWebScenarios(target: "browser" | "edge"): Promise<string> {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    format: "iife",
    write: false,
    logLevel: "silent",
    ...(target === "browser" ? { platform: "browser" as const, target: "chrome120" } : {
      platform: "neutral" as const,
      conditions: ["edge-light", "worker", "browser"],
      mainFields: ["browser", "module", "main"],
      target: "es2022",
    }),
  });
  await esbuild.stop();
  return result.outputFiles[0]!.text;
}

/** Lets a cross-origin page read the answer. */
export const CORS_OK = { "access-control-allow-origin": "*" } as const;

/** A server on 127.0.0.1 that answers every request with `reply` as raw bytes, then FIN. */
export interface RawServer {
  readonly port: number;
  readonly origin: string;
  /** Requests read (request heads complete). */
  readonly requests: number;
  close(): Promise<void>;
}

/** Starts a {@link RawServer}, on `port` (0: any free one). */
export function startRawServer(reply: string, port = 0): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  let requests = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let buffer = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      if (buffer.includes("\r\n\r\n")) return;
      buffer += chunk;
      if (!buffer.includes("\r\n\r\n")) return;
      requests++;
      socket.end(reply);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => {
      const bound = (server.address() as net.AddressInfo).port;
      resolve({
        port: bound,
        origin: `http://127.0.0.1:${bound}`,
        get requests() {
          return requests;
        },
        close() {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

/** A 200 `hello` that a cross-origin page may read. */
export const HELLO_REPLY = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" +
  "Access-Control-Allow-Origin: *\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

/** A 200 that promises 100 bytes, sends 10 and ends: readable cross-origin, cut short. */
export const CUT_BODY_REPLY = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" +
  "Access-Control-Allow-Origin: *\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789";

/** Every loopback fault the page or the sandbox fetches from. */
export interface FaultSet {
  /** `http://127.0.0.1:<port>/` of each. */
  urls: {
    /** Nothing listens. */
    refused: string;
    /** RST as soon as the request has arrived. */
    reset: string;
    /** FIN without an answer. */
    close: string;
    /** A 200 with `Content-Length: 100`, 10 bytes, FIN; no CORS header. */
    truncate: string;
    /** The same with `Access-Control-Allow-Origin: *`: the page gets the response, then the body fails. */
    cutBody: string;
    /** Never answers. */
    stall: string;
    /** A 200 without `Access-Control-Allow-Origin`: a CORS refusal for a page of another origin. */
    noCors: string;
    /** A 200 "hello" a page may read. */
    ok: string;
    /** 503 (Retry-After: 0, exposed to CORS) twice, then 200 "hello". */
    flaky: string;
    /** Nothing listens, until `listenLate()` starts a HELLO server there. */
    late: string;
    /** Nothing listens (for a breaker to count). */
    refusedForBreaker: string;
  };
  /** Requests each HTTP fault server has read. */
  requests(name: "reset" | "close" | "flaky" | "ok"): number;
  /** Starts the HELLO server on the `late` port (once). */
  listenLate(): Promise<void>;
  /** Stops every server. */
  close(): Promise<void>;
}

/** Starts the fault servers of a {@link FaultSet}, all on 127.0.0.1. */
export async function startFaults(): Promise<FaultSet> {
  const servers: Array<HttpFaultServer | RawServer> = [];
  const track = <T extends HttpFaultServer | RawServer>(s: T): T => {
    servers.push(s);
    return s;
  };
  const fault = (f: "reset" | "close" | "truncate" | "stall") =>
    startHttpServer(script({ fault: f })).then(track);
  const retryLater: HttpAction = {
    status: 503,
    headers: { ...CORS_OK, "retry-after": "0", "access-control-expose-headers": "retry-after" },
    body: "busy",
  };
  const [reset, close, truncate, stall, noCors, ok, flaky, cutBody] = await Promise.all([
    fault("reset"),
    fault("close"),
    fault("truncate"),
    fault("stall"),
    startHttpServer(script({ status: 200, body: "no CORS header" })).then(track),
    startHttpServer(script({ status: 200, headers: CORS_OK, body: "hello" })).then(track),
    startHttpServer(
      script(retryLater, retryLater, { status: 200, headers: CORS_OK, body: "hello" }),
    ).then(track),
    startRawServer(CUT_BODY_REPLY).then(track),
  ]);
  const [refused, late, refusedForBreaker] = [
    await closedPort(),
    await closedPort(),
    await closedPort(),
  ];
  const url = (port: number) => `http://127.0.0.1:${port}/`;
  let late$: Promise<void> | undefined;
  const byName = { reset, close, flaky, ok };
  return {
    urls: {
      refused: url(refused),
      reset: url(reset.port),
      close: url(close.port),
      truncate: url(truncate.port),
      cutBody: url(cutBody.port),
      stall: url(stall.port),
      noCors: url(noCors.port),
      ok: url(ok.port),
      flaky: url(flaky.port),
      late: url(late),
      refusedForBreaker: url(refusedForBreaker),
    },
    requests: (name) => byName[name].requests.length,
    listenLate() {
      late$ ??= startRawServer(HELLO_REPLY, late).then((s) => void track(s));
      return late$;
    },
    async close() {
      await late$?.catch(() => {});
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

/** Debian's chromium, if installed. */
export function findChromium(): string | undefined {
  return findProgram(["/usr/bin/chromium", "chromium", "chromium-browser"]);
}

/** The flags Chromium runs with: headless, no background traffic, loopback only. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Loopback only, whatever the page asks: no proxy, and no name resolves.
  "--no-proxy-server",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

/** A page of headless Chromium showing the bundle, served from loopback. */
export interface BrowserSession {
  readonly page: Page;
  /** The page's origin, `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** Chromium's version, e.g. "156.0.8078.108". */
  readonly version: string;
  /** Closes the browser, the page server and removes the profile. */
  close(): Promise<void>;
}

/**
 * Serves a page that loads `bundle` from a loopback server, opens it in
 * headless Chromium (a fresh temporary profile), and gives the page
 * `faultlineHost(command)`, which calls `onHost`.
 */
export async function openBrowser(
  executablePath: string,
  bundle: string,
  onHost: (command: string) => Promise<unknown>,
): Promise<BrowserSession> {
  const html = `<!doctype html><meta charset="utf-8"><title>faultline</title>` +
    `<script src="/bundle.js"></script>`;
  const server = http.createServer((req, res) => {
    if (req.url === "/") res.writeHead(200, { "content-type": "text/html" }).end(html);
    else if (req.url === "/bundle.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
  const origin = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const stopServer = () => {
    server.closeAllConnections?.();
    return new Promise<void>((r) => server.close(() => r()));
  };
  const profile = mkdtempSync(join(tmpdir(), "faultline-chromium-"));
  let context: BrowserContext | undefined;
  try {
    const { chromium } = await import("playwright-core");
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS],
      timeout: 20_000,
    });
    const page = context.pages()[0] ?? await context.newPage();
    await page.exposeFunction("faultlineHost", onHost);
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => "faultlineWeb" in globalThis, undefined, { timeout: 5_000 });
    const cdp = await context.newCDPSession(page);
    const { product } = await cdp.send("Browser.getVersion");
    await cdp.detach();
    const version = product.replace(/^.*\//, "");
    const ctx = context;
    return {
      page,
      origin,
      version,
      async close() {
        await ctx.close();
        await stopServer();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await context?.close().catch(() => {});
    await stopServer();
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}
