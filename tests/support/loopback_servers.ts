/**
 * Loopback-only helper servers for tests and for scripts/capture_errors.ts.
 *
 * Everything here binds to 127.0.0.1 / ::1 only and is built on `node:net`, which works in
 * Deno, Bun and Node alike, so the same helper produces the same fault on the wire whichever
 * runtime is the client under test. The one exception is `startBacklogFullListener`, which needs a
 * listener that never calls accept(); it runs a tiny helper in a child process (python3 if
 * present, else the current runtime with a blocked event loop).
 */
import * as net from "node:net";
import { spawn } from "node:child_process";
import process from "node:process";

export interface LoopbackServer {
  host: string;
  port: number;
  /** Destroys every accepted socket and closes the listener. */
  close(): Promise<void>;
}

/**
 * What the server does with each accepted connection.
 * - `reset`: wait `delayMs` (default 50) then `resetAndDestroy()` (TCP RST).
 * - `reset-on-data`: RST as soon as the first bytes from the client arrive.
 * - `close`: read and discard everything, send FIN at once (clean close, no answer); the
 *   server keeps reading (half-close) until the client ends.
 * - `close-now`: `destroy()` right after accept, before anything is read: a FIN, then the kernel
 *   answers any later data from the client with RST.
 * - `stall`: read and discard everything, never answer, never close.
 * - `garbage`: on the first bytes, answer `HTTP/1.1 400 Bad Request\r\n\r\n` and FIN.
 * - `partial`: send `partial` (7 bytes) and FIN at once.
 * - `http-partial-body`: on the first bytes, answer a 200 with `Content-Length: 100`, send 10 body
 *   bytes and FIN.
 * - `http-headers-then-reset`: on the first bytes, answer a 200 with `Content-Length: 100`, send
 *   10 body bytes, then RST after `delayMs` (default 50).
 */
export type Behavior =
  | "reset"
  | "reset-on-data"
  | "close"
  | "close-now"
  | "stall"
  | "garbage"
  | "partial"
  | "http-partial-body"
  | "http-headers-then-reset";

export const GARBAGE_REPLY = "HTTP/1.1 400 Bad Request\r\n\r\n";
export const PARTIAL_HTTP_HEAD =
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\nConnection: close\r\n\r\n";

function rst(socket: net.Socket): void {
  // resetAndDestroy exists in Node >= 16.17, Deno's and Bun's node:net; fall back to destroy.
  const s = socket as net.Socket & { resetAndDestroy?: () => void };
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else s.destroy();
}

function onConnection(behavior: Behavior, delayMs: number, socket: net.Socket): void {
  socket.on("error", () => {});
  switch (behavior) {
    case "reset": {
      const t = setTimeout(() => rst(socket), delayMs);
      socket.once("close", () => clearTimeout(t));
      return;
    }
    case "reset-on-data":
      socket.once("data", () => rst(socket));
      return;
    case "close":
      socket.resume();
      socket.end();
      return;
    case "close-now":
      socket.destroy();
      return;
    case "stall":
      socket.resume();
      return;
    case "garbage":
      socket.once("data", () => socket.end(GARBAGE_REPLY));
      socket.resume();
      return;
    case "partial":
      socket.resume();
      socket.end("partial");
      return;
    case "http-partial-body":
      socket.once("data", () => socket.end(PARTIAL_HTTP_HEAD + "0123456789"));
      socket.resume();
      return;
    case "http-headers-then-reset":
      socket.once("data", () => {
        socket.write(PARTIAL_HTTP_HEAD + "0123456789");
        const t = setTimeout(() => rst(socket), delayMs);
        socket.once("close", () => clearTimeout(t));
      });
      socket.resume();
      return;
  }
}

/** Starts a loopback TCP server with the given behavior on an ephemeral (or given) port. */
export function startServer(
  behavior: Behavior,
  options: { host?: string; port?: number; delayMs?: number } = {},
): Promise<LoopbackServer> {
  const host = options.host ?? "127.0.0.1";
  const delayMs = options.delayMs ?? 50;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    onConnection(behavior, delayMs, socket);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off("error", reject);
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        host,
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            sockets.clear();
            server.close(() => done());
          }),
      });
    });
  });
}

export { closedPort } from "./closed_port.ts";

export interface BacklogFullListener {
  host: string;
  port: number;
  /** Which helper holds the listener, and how many connections filled its accept queue. */
  helper: string;
  fillers: number;
  /** False when every probe connected: the accept queue never filled (connects will not hang). */
  full: boolean;
  close(): Promise<void>;
}

const PY_HELPER = "import socket,sys,time\n" +
  "s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(0)\n" +
  "print(s.getsockname()[1]); sys.stdout.flush()\n" +
  "time.sleep(60)\n";

const JS_HELPER = "const net=require('node:net');const s=net.createServer();" +
  "s.listen({host:'127.0.0.1',port:0,backlog:1},()=>{console.log(s.address().port);" +
  "setTimeout(()=>{const a=new Int32Array(new SharedArrayBuffer(4));const end=Date.now()+60000;" +
  "while(Date.now()<end)Atomics.wait(a,0,0,100);process.exit(0)},0)});";

function spawnHelper(cmd: string, args: string[]): Promise<{ port: number; kill(): void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    const fail = (e: unknown) => reject(e);
    child.once("error", fail);
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = /^(\d+)\s/.exec(out);
      if (m) {
        child.off("error", fail);
        child.stdout!.removeAllListeners("data");
        child.stdout!.destroy();
        resolve({ port: Number(m[1]), kill: () => child.kill("SIGKILL") });
      }
    });
    child.once("exit", (code) => reject(new Error(`helper exited early (${code})`)));
  });
}

function tryConnect(host: string, port: number, waitMs: number): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on("error", () => {});
    const t = setTimeout(() => {
      s.destroy();
      resolve(null);
    }, waitMs);
    s.once("connect", () => {
      clearTimeout(t);
      resolve(s);
    });
  });
}

/**
 * A listener on 127.0.0.1 whose accept queue is full, so a new connect() hangs in SYN_SENT
 * (Linux drops the SYN) until the caller's own timeout fires. The listener lives in a child
 * process that never calls accept(); this process opens filler connections until one stops
 * completing within 200 ms.
 */
export async function startBacklogFullListener(): Promise<BacklogFullListener> {
  let helper = "python3 (socket.listen(0), never accepts)";
  let h: { port: number; kill(): void };
  try {
    h = await spawnHelper("python3", ["-c", PY_HELPER]);
  } catch {
    helper = `${process.execPath} -e (node:net listen backlog 1, event loop blocked)`;
    h = await spawnHelper(process.execPath, ["-e", JS_HELPER]);
  }
  const fillers: net.Socket[] = [];
  let full = false;
  for (let i = 0; i < 8; i++) {
    const s = await tryConnect("127.0.0.1", h.port, 200);
    if (!s) {
      full = true;
      break;
    }
    s.on("error", () => {});
    fillers.push(s);
  }
  return {
    host: "127.0.0.1",
    port: h.port,
    helper,
    fillers: fillers.length,
    full,
    close: () => {
      for (const s of fillers) s.destroy();
      h.kill();
      return Promise.resolve();
    },
  };
}
