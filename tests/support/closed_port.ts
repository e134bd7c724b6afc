// One way to find a loopback port that nothing listens on, for every suite.
//
// Not from port 0. The kernel hands out the ephemeral range to every bind(0)
// and every outgoing connection on the machine, so a port just released there
// can be listening again before the test connects to it: workerd, postgres, a
// suite of another runtime running beside this one. A CI run saw exactly that
// (four "refused" tests in the workerd suite, which starts Miniflare after
// choosing its closed port). A port below the ephemeral range goes only to a
// process that asks for it by number, and no test here does.
import { readFileSync } from "node:fs";
import * as net from "node:net";

const LOWEST = 10_000;

/** Where the ephemeral range starts: Linux says; elsewhere it starts at 49 152. */
function ephemeralStart(): number {
  try {
    const range = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8");
    const low = Number(range.trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > LOWEST + 1_000) return low;
  } catch {
    // Not Linux, or no permission to read /proc: use Linux's default start,
    // which is also below macOS's, the BSDs' and Windows'.
  }
  return 32_768;
}

function free(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port }, () => server.close(() => resolve(true)));
  });
}

/** A port on `host` with nothing listening, chosen below the ephemeral range. */
export async function closedPort(host = "127.0.0.1"): Promise<number> {
  const end = ephemeralStart();
  for (let i = 0; i < 100; i++) {
    const port = LOWEST + Math.floor(Math.random() * (end - LOWEST));
    if (await free(host, port)) return port;
  }
  throw new Error(`closedPort: no free port on ${host} in ${LOWEST}-${end - 1}`);
}
