// A child process that serves misbehaving endpoints on loopback, so that every
// runtime under test meets the very same faults. It is always run by the Node
// from node_modules (resetAndDestroy is Node's), prints its ports as one JSON
// line, and exits when its stdin closes.
//
//   stall: a listener whose process never accepts (see stalled mode below)
import * as net from "node:net";
import process from "node:process";

const host = process.argv[2] ?? "127.0.0.1";

if (process.argv[3] === "stall") {
  // A listener with a backlog of 1 in a process whose event loop is blocked:
  // the kernel queues the first connections, then drops further SYNs, so a
  // client's connect hangs until its own timeout. A watchdog ends the child.
  const server = net.createServer();
  server.listen({ host, port: 0, backlog: 1 }, () => {
    const { port } = server.address() as net.AddressInfo;
    process.stdout.write(JSON.stringify({ stall: port }) + "\n", () => {
      const deadline = Date.now() + 30_000;
      const cell = new Int32Array(new SharedArrayBuffer(4));
      while (Date.now() < deadline) Atomics.wait(cell, 0, 0, 1000);
      process.exit(0);
    });
  });
} else {
  const servers: net.Server[] = [];
  const listen = (onConnection: (socket: net.Socket) => void): Promise<number> =>
    new Promise((resolve) => {
      const server = net.createServer(onConnection);
      servers.push(server);
      server.listen({ host, port: 0 }, () => resolve((server.address() as net.AddressInfo).port));
    });

  const ports = {
    // Accepts, then answers with an RST at once.
    reset: await listen((socket) => socket.resetAndDestroy()),
    // Sends a greeting, then an RST once the client has written something.
    resetAfterGreeting: await listen((socket) => {
      socket.write("hello\n");
      socket.once("data", () => socket.resetAndDestroy());
    }),
    // Sends part of a reply and closes cleanly (FIN).
    closeEarly: await listen((socket) => socket.end("partial")),
    // Sends part of a reply and closes both ways: later writes meet an RST.
    hangUp: await listen((socket) => socket.end("partial", () => socket.destroy())),
    // Answers a TLS ClientHello with plain text, then closes.
    plainText: await listen((socket) => {
      socket.once("data", () => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    }),
    // Accepts and closes at once, without a byte.
    closeAtOnce: await listen((socket) => socket.end()),
    // Echoes, for the happy path.
    echo: await listen((socket) => socket.pipe(socket)),
    // Accepts and never answers.
    silent: await listen((socket) => socket.on("error", () => {})),
  };
  for (const s of servers) s.on("connection", (socket) => socket.on("error", () => {}));
  process.stdout.write(JSON.stringify(ports) + "\n");
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}
