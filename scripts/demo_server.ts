// The demo's chaos server: a tiny line protocol on loopback ("GET n\n" →
// "OK n\n") whose behaviour changes on a schedule. Run by Node (it needs
// resetAndDestroy), it prints its port, then each phase, as JSON lines on
// stdout, and exits when its stdin closes or the schedule ends. In the phase
// "client chaos" it answers as when healthy: the client breaks its own calls
// with chaos().
import * as net from "node:net";
import process from "node:process";

export type Phase =
  | "healthy"
  | "flaky"
  | "refuse"
  | "reset"
  | "stall"
  | "close early"
  | "slow"
  | "client chaos";

export const SCHEDULE: ReadonlyArray<readonly [Phase, number]> = [
  ["healthy", 1500],
  ["flaky", 2000],
  ["refuse", 2000],
  ["healthy", 1500],
  ["reset", 1000],
  ["stall", 2500],
  ["close early", 1500],
  ["slow", 1500],
  ["client chaos", 2000],
  ["healthy", 2500],
];

if (import.meta.main ?? process.argv[1]?.endsWith("demo_server.ts")) {
  let phase: Phase = "healthy";
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    // Flaky: every other connection is reset, so a retry gets through.
    const mode = phase === "flaky" ? (accepted++ % 2 === 0 ? "reset" : "healthy") : phase;
    if (mode === "reset") return void socket.resetAndDestroy();
    socket.once("data", (line) => {
      const id = String(line).trim().split(" ")[1] ?? "?";
      if (mode === "stall") return;
      if (mode === "close early") return void socket.end("OK");
      const answer = () => socket.end(`OK ${id}\n`);
      if (mode === "slow") setTimeout(answer, 120);
      else answer();
    });
  });
  const listen = (port: number) =>
    new Promise<number>((resolve) =>
      server.listen(
        { host: "127.0.0.1", port },
        () => resolve((server.address() as net.AddressInfo).port),
      )
    );
  const port = await listen(0);
  process.stdout.write(JSON.stringify({ port }) + "\n");
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
  for (const [next, ms] of SCHEDULE) {
    if (next === "refuse" && server.listening) {
      await new Promise((r) => server.close(r));
      for (const s of sockets) s.destroy();
    } else if (next !== "refuse" && !server.listening) {
      await listen(port);
    }
    phase = next;
    process.stdout.write(JSON.stringify({ phase: next, ms }) + "\n");
    await new Promise((r) => setTimeout(r, ms));
  }
  process.exit(0);
}
