/**
 * Misbehaving HTTP servers on loopback, for the fetch tests. Built on
 * `node:net` (raw bytes, so a server can answer half a body, reset or stall
 * on purpose), which runs the same in Deno, Bun and Node: the fault on the
 * wire is the same whichever runtime is the client. 127.0.0.1 only.
 *
 * Every answer carries `Connection: close` and the server closes after it, so
 * no client keeps a pooled connection that outlives a test.
 */
import * as net from "node:net";

/** A request as the server read it. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/**
 * What the server does with one request:
 * - `{ status, headers?, body? }`: answers it;
 * - `{ fault: "reset" }`: TCP RST as soon as the request has arrived;
 * - `{ fault: "stall" }`: never answers (until the client goes or the server closes);
 * - `{ fault: "close" }`: FIN without an answer;
 * - `{ fault: "truncate" }`: a 200 with `Content-Length: 100`, 10 body bytes, then FIN.
 */
export type HttpAction =
  | { status: number; headers?: Record<string, string>; body?: string }
  | { fault: "reset" | "stall" | "close" | "truncate" };

/** A running server. */
export interface HttpFaultServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly port: number;
  /** Every request read so far, in order. */
  readonly requests: RecordedRequest[];
  /** Resolves once `count` requests have arrived. */
  received(count: number): Promise<void>;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function rst(socket: net.Socket): void {
  const s = socket as net.Socket & { resetAndDestroy?: () => void };
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else s.destroy();
}

/** Splits a request head; `undefined` until the head and body are complete. */
function parse(buffer: string): { request: RecordedRequest } | undefined {
  const end = buffer.indexOf("\r\n\r\n");
  if (end === -1) return undefined;
  const [line, ...lines] = buffer.slice(0, end).split("\r\n");
  const [method = "", path = ""] = line!.split(" ");
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const colon = l.indexOf(":");
    if (colon > 0) headers[l.slice(0, colon).trim().toLowerCase()] = l.slice(colon + 1).trim();
  }
  const bodyStart = end + 4;
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const body = dechunk(buffer, bodyStart);
    return body === undefined ? undefined : { request: { method, path, headers, body } };
  }
  const length = Number(headers["content-length"] ?? 0);
  if (buffer.length < bodyStart + length) return undefined;
  return { request: { method, path, headers, body: buffer.slice(bodyStart, bodyStart + length) } };
}

/** A chunked body from `at`, or `undefined` until its last chunk has arrived. */
function dechunk(buffer: string, at: number): string | undefined {
  let body = "";
  for (;;) {
    const eol = buffer.indexOf("\r\n", at);
    if (eol === -1) return undefined;
    const size = parseInt(buffer.slice(at, eol), 16);
    if (Number.isNaN(size)) return body;
    if (size === 0) return buffer.indexOf("\r\n", eol + 2) === -1 ? undefined : body;
    if (buffer.length < eol + 2 + size + 2) return undefined;
    body += buffer.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

function answer(socket: net.Socket, action: HttpAction): void {
  if ("fault" in action) {
    switch (action.fault) {
      case "reset":
        rst(socket);
        return;
      case "stall":
        return;
      case "close":
        socket.end();
        return;
      case "truncate":
        socket.end(
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n" +
            "Connection: close\r\n\r\n0123456789",
        );
        return;
    }
  }
  const body = action.body ?? "";
  const headers: Record<string, string> = {
    "content-type": "text/plain",
    ...action.headers,
    "content-length": String(new TextEncoder().encode(body).length),
    connection: "close",
  };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  const reason = REASONS[action.status] ?? "Status";
  socket.end(`HTTP/1.1 ${action.status} ${reason}\r\n${head}\r\n${body}`);
}

/**
 * Starts a server on 127.0.0.1 that answers each request with
 * `respond(request, index)` (index counts from 0 across all connections).
 */
export function startHttpServer(
  respond: (request: RecordedRequest, index: number) => HttpAction,
): Promise<HttpFaultServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<net.Socket>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let buffer = "";
    let answered = false;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      if (answered) return;
      buffer += chunk;
      const parsed = parse(buffer);
      if (parsed === undefined) return;
      answered = true;
      const index = requests.length;
      requests.push(parsed.request);
      for (const w of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      answer(socket, respond(parsed.request, index));
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        origin: `http://127.0.0.1:${port}`,
        port,
        requests,
        received(count) {
          if (requests.length >= count) return Promise.resolve();
          return new Promise((r) => waiters.push({ count, resolve: r }));
        },
        close() {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

/** Answers the i-th request with `actions[i]`, and every later one with the last action. */
export function script(...actions: HttpAction[]): (r: RecordedRequest, i: number) => HttpAction {
  return (_r, i) => actions[Math.min(i, actions.length - 1)]!;
}

export { closedPort } from "./closed_port.ts";
