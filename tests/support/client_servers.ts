/**
 * Loopback servers for the HTTP, WebSocket and gRPC client tests and for
 * scripts/capture_http_client_errors.ts. Built on the helpers that already
 * exist (`startHttpServer` from http_faults.ts, `startServer` from
 * loopback_servers.ts), plus the two faults they lack: a body that stalls
 * after the head, and a real gRPC server. 127.0.0.1 only.
 */
import * as net from "node:net";
import { type HttpAction, type HttpFaultServer, startHttpServer } from "./http_faults.ts";

/**
 * One HTTP server whose path picks the fault, so that a client test needs
 * one server for every fault:
 * `/reset` (RST once the request arrived), `/close` (FIN, no answer),
 * `/truncate` (Content-Length 100, 10 bytes, FIN), `/stall` (never answers),
 * `/status/<n>` (an answer with that status), anything else a 200 "ok".
 * The same paths serve a WebSocket client's handshake request.
 */
export function startRoutedHttpServer(): Promise<HttpFaultServer> {
  return startHttpServer((request): HttpAction => {
    const path = request.path.split("?")[0]!;
    if (path === "/reset") return { fault: "reset" };
    if (path === "/close") return { fault: "close" };
    if (path === "/truncate") return { fault: "truncate" };
    if (path === "/stall") return { fault: "stall" };
    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) return { status: Number(status[1]), body: `status ${status[1]}` };
    return { status: 200, body: "ok" };
  });
}

/** A running raw TCP server. */
export interface RawServer {
  readonly port: number;
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Answers the first bytes of each connection with a 200 head
 * (`Content-Length: 100`) and 10 body bytes, then sends nothing more and
 * keeps the connection open: a body that stalls, for a client's body or
 * read timeout.
 */
export function startBodyStallServer(): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    socket.once("data", () => {
      socket.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n" +
          "Connection: close\r\n\r\n0123456789",
      );
    });
    socket.resume();
  });
  return listen(server, sockets);
}

/**
 * Like {@link startBodyStallServer}, but RSTs each connection `delayMs`
 * after the 10 body bytes, and its head carries no `Connection: close`:
 * a reset during the body of a keep-alive response. (With
 * `Connection: close`, undici reads a reset after the head as the end of
 * the body, and reports only that the body was short.)
 */
export function startKeepAliveResetBodyServer(delayMs = 50): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    socket.once("data", () => {
      socket.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789",
      );
      const t = setTimeout(() => rst(socket), delayMs);
      socket.once("close", () => clearTimeout(t));
    });
    socket.resume();
  });
  return listen(server, sockets);
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort` that forwards both ways
 * and, `afterMs` after the client's first bytes, cuts the client's
 * connection: with an RST (`"reset"`) or a FIN (`"close"`). For a call
 * that is in flight when its connection dies (gRPC over HTTP/2).
 */
export function startCuttingProxy(
  targetPort: number,
  how: "reset" | "close",
  afterMs = 150,
): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("error", () => {});
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort });
    sockets.add(upstream);
    upstream.on("error", () => {});
    client.once("close", () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.once("close", () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
    client.once("data", () => {
      const t = setTimeout(() => {
        client.unpipe(upstream);
        upstream.unpipe(client);
        if (how === "reset") rst(client);
        else client.end();
        upstream.destroy();
      }, afterMs);
      client.once("close", () => clearTimeout(t));
    });
  });
  return listen(server, sockets);
}

function rst(socket: net.Socket): void {
  const s = socket as net.Socket & { resetAndDestroy?: () => void };
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else s.destroy();
}

function listen(server: net.Server, sockets: Set<net.Socket>): Promise<RawServer> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      server.off("error", reject);
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        origin: `http://127.0.0.1:${port}`,
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
