// The fault scenarios every connect() adapter must classify the same way,
// each provoked for real on loopback.
import type { Connection, ConnectOptions } from "../../src/connect/connection.ts";
import { ConnectionError } from "../../src/errors/connection_error.ts";
import {
  closedPort,
  closedPortBothFamilies,
  type FaultPorts,
  hasIPv6Loopback,
  runtimeName,
  startStalledListener,
  UNRESOLVABLE_HOST,
} from "./faults.ts";

export type ConnectFn = (options: ConnectOptions) => Promise<Connection>;

/** What a scenario ended with: a ConnectionError's kind, "ok", or the non-ConnectionError thrown. */
export type Outcome = string;

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    await run();
    return "ok";
  } catch (error) {
    if (error instanceof ConnectionError) return error.kind;
    return `not a ConnectionError: ${String(error)}`;
  }
}

const encoder = new TextEncoder();

async function readAll(conn: Connection): Promise<string> {
  let text = "";
  const reader = conn.readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += new TextDecoder().decode(value);
    }
  } finally {
    reader.releaseLock();
  }
}

export interface ScenarioEnv {
  ports: FaultPorts;
  ipv6: boolean;
}

export type Scenario = (connect: ConnectFn, env: ScenarioEnv) => Promise<Outcome>;

export const scenarios: Record<string, Scenario> = {
  "echo on 127.0.0.1 works": (connect, { ports }) =>
    outcome(async () => {
      const conn = await connect({ hostname: "127.0.0.1", port: ports.echo });
      try {
        const writer = conn.writable.getWriter();
        await writer.write(encoder.encode("ping"));
        const reader = conn.readable.getReader();
        const { value } = await reader.read();
        if (new TextDecoder().decode(value) !== "ping") throw new Error("echo mismatch");
        reader.releaseLock();
        await writer.close();
      } finally {
        await conn.close();
      }
    }),
  "refused on 127.0.0.1": async (connect) => {
    const port = await closedPort("127.0.0.1");
    return outcome(() => connect({ hostname: "127.0.0.1", port }));
  },
  "refused on ::1": async (connect, { ipv6 }) => {
    if (!ipv6) return "skipped: no ::1";
    const port = await closedPort("::1");
    return outcome(() => connect({ hostname: "::1", port }));
  },
  "refused on localhost": async (connect) => {
    const port = await closedPortBothFamilies();
    return outcome(() => connect({ hostname: "localhost", port }));
  },
  "reset while reading": (connect, { ports }) =>
    outcome(async () => {
      const conn = await connect({ hostname: "127.0.0.1", port: ports.resetAfterGreeting });
      try {
        const reader = conn.readable.getReader();
        await reader.read(); // the greeting
        const writer = conn.writable.getWriter();
        await writer.write(encoder.encode("x"));
        for (;;) {
          const { done } = await reader.read();
          if (done) throw new Error("clean EOF instead of a reset");
        }
      } finally {
        await conn.close();
      }
    }),
  "writing after the peer reset": (connect, { ports }) =>
    outcome(async () => {
      const conn = await connect({ hostname: "127.0.0.1", port: ports.reset });
      try {
        const writer = conn.writable.getWriter();
        const chunk = new Uint8Array(64 * 1024);
        for (let i = 0; i < 200; i++) {
          await writer.write(chunk);
          await new Promise((r) => setTimeout(r, 5));
        }
        throw new Error("every write succeeded");
      } finally {
        await conn.close();
      }
    }),
  "writing after the peer closed (broken pipe)": (connect, { ports }) =>
    outcome(async () => {
      const conn = await connect({ hostname: "127.0.0.1", port: ports.hangUp });
      try {
        await readAll(conn);
        const writer = conn.writable.getWriter();
        for (let i = 0; i < 200; i++) {
          await writer.write(new Uint8Array(1024));
          await new Promise((r) => setTimeout(r, 5));
        }
        throw new Error("every write succeeded");
      } finally {
        await conn.close();
      }
    }),
  "unexpected EOF reads as the end of the stream": (connect, { ports }) =>
    outcome(async () => {
      const conn = await connect({ hostname: "127.0.0.1", port: ports.closeEarly });
      try {
        const text = await readAll(conn);
        if (text !== "partial") throw new Error(`read ${JSON.stringify(text)}`);
      } finally {
        await conn.close();
      }
    }),
  "a read cut by the signal": (connect, { ports }) =>
    outcome(async () => {
      const controller = new AbortController();
      const conn = await connect({
        hostname: "127.0.0.1",
        port: ports.silent,
        signal: controller.signal,
      });
      try {
        const reading = conn.readable.getReader().read();
        setTimeout(() => controller.abort(new Error("enough")), 20);
        await reading;
      } finally {
        await conn.close();
      }
    }),
  "connect timeout": async (connect) => {
    const stalled = await startStalledListener("127.0.0.1");
    const held: Connection[] = [];
    try {
      // The first few connections fill the backlog; then SYNs are dropped.
      for (let i = 0; i < 16; i++) {
        const result = await connect({
          hostname: "127.0.0.1",
          port: stalled.ports.stall,
          timeout: 300,
        })
          .then(
            (conn) => (held.push(conn), "ok"),
            (error) => error instanceof ConnectionError ? error.kind : String(error),
          );
        if (result !== "ok") return result;
      }
      return "ok";
    } finally {
      await Promise.all(held.map((c) => c.close()));
      await stalled.stop();
    }
  },
  "DNS failure": (connect) => outcome(() => connect({ hostname: UNRESOLVABLE_HOST, port: 80 })),
  "TLS handshake against a plain TCP server": (connect, { ports }) =>
    outcome(() =>
      connect({ hostname: "127.0.0.1", port: ports.plainText, tls: true, timeout: 5000 })
    ),
  "TLS handshake against a server that hangs up": (connect, { ports }) =>
    outcome(() =>
      connect({ hostname: "127.0.0.1", port: ports.closeAtOnce, tls: true, timeout: 5000 })
    ),
  "an already aborted signal": (connect, { ports }) =>
    outcome(() =>
      connect({ hostname: "127.0.0.1", port: ports.echo, signal: AbortSignal.abort() })
    ),
};

export const expected: Record<string, Outcome | Outcome[]> = {
  "echo on 127.0.0.1 works": "ok",
  "refused on 127.0.0.1": "refused",
  "refused on ::1": ["refused", "skipped: no ::1"],
  "refused on localhost": "refused",
  "reset while reading": "reset",
  // After an RST, Linux fails the next write with ECONNRESET unless a read
  // took that error first; then it is EPIPE. Either is the truth, in every
  // runtime. Bun now and then reports an RST as a clean end and close (seen
  // in 1 to 9 runs in 100 here), so under Bun a write may find only "closed".
  "writing after the peer reset": runtimeName === "bun"
    ? ["reset", "broken_pipe", "closed"]
    : ["reset", "broken_pipe"],
  "writing after the peer closed (broken pipe)": "broken_pipe",
  "unexpected EOF reads as the end of the stream": "ok",
  "a read cut by the signal": "cancelled",
  "connect timeout": "timeout",
  "DNS failure": "dns",
  "TLS handshake against a plain TCP server": "tls",
  "TLS handshake against a server that hangs up": "tls",
  "an already aborted signal": "cancelled",
};

export { hasIPv6Loopback };
