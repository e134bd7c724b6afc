// `npm run demo`: provokes each kind of connection fault on loopback, with the
// runtime's own API, and prints what faultline makes of it: one line each.
// Runs under Node (npm run demo), Deno (deno task demo) and Bun (bun run demo).
import { connect, type ConnectionError, detectRuntime, normalizeError } from "../mod.ts";
import { closedPort, startFaultServer, startStalledListener } from "../tests/support/faults.ts";

const useColor = !(globalThis as { Deno?: { noColor?: boolean } }).Deno?.noColor &&
  (globalThis as { process?: { stdout?: { isTTY?: boolean } } }).process?.stdout?.isTTY === true;
const paint = (code: number, text: string) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);

async function provoke(label: string, run: () => Promise<unknown>): Promise<void> {
  let error: ConnectionError | undefined;
  try {
    await run();
  } catch (e) {
    error = normalizeError(e);
  }
  if (!error) {
    console.log(`${label.padEnd(34)} ${paint(32, "ok")}`);
    return;
  }
  const raw = error.cause as { name?: string; code?: string; message?: string } | undefined;
  const original = raw && typeof raw === "object"
    ? `${raw.name ?? "?"}${raw.code ? ` ${raw.code}` : ""}`
    : String(raw);
  console.log(
    `${label.padEnd(34)} ${paint(1, error.kind.padEnd(12))} ${
      paint(2, `retryable=${error.retryable}`.padEnd(16))
    } ` +
      `${paint(2, `from ${original}`)}\n${"".padEnd(35)}${paint(36, error.hint)}`,
  );
}

const encoder = new TextEncoder();
console.log(
  `faultline demo on ${detectRuntime()}: real faults on loopback, one normalized error each\n`,
);

const faults = await startFaultServer("127.0.0.1");
const stalled = await startStalledListener("127.0.0.1");
const held: Array<{ close(): Promise<void> }> = [];
try {
  const p = faults.ports;
  const closed = await closedPort("127.0.0.1");
  await provoke("refused (127.0.0.1)", () => connect({ hostname: "127.0.0.1", port: closed }));
  const closed6 = await closedPort("::1").catch(() => undefined);
  if (closed6 !== undefined) {
    await provoke("refused (::1)", () => connect({ hostname: "::1", port: closed6 }));
  }
  await provoke("reset while reading", async () => {
    const conn = await connect({ hostname: "127.0.0.1", port: p.resetAfterGreeting });
    held.push(conn);
    const reader = conn.readable.getReader();
    await reader.read();
    const writer = conn.writable.getWriter();
    await writer.write(encoder.encode("hi"));
    for (;;) if ((await reader.read()).done) break;
  });
  await provoke("writing after the peer reset", async () => {
    const conn = await connect({ hostname: "127.0.0.1", port: p.reset });
    held.push(conn);
    const writer = conn.writable.getWriter();
    for (let i = 0; i < 200; i++) {
      await writer.write(new Uint8Array(65536));
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  await provoke("connect timeout (300 ms)", async () => {
    for (let i = 0; i < 16; i++) {
      held.push(await connect({ hostname: "127.0.0.1", port: stalled.ports.stall, timeout: 300 }));
    }
  });
  await provoke("DNS failure", () => connect({ hostname: "no-such-host.invalid", port: 80 }));
  await provoke(
    "TLS to a plain TCP server",
    () => connect({ hostname: "127.0.0.1", port: p.plainText, tls: true }),
  );
  await provoke("cancelled by the caller", () => {
    const controller = new AbortController();
    const pending = connect({ hostname: "127.0.0.1", port: p.silent, signal: controller.signal })
      .then(async (conn) => {
        held.push(conn);
        const reading = conn.readable.getReader().read();
        controller.abort();
        await reading;
      });
    return pending;
  });
  await provoke(
    "a bug in our own code",
    () => Promise.reject(new TypeError("x.y is not a function")),
  );
} finally {
  await Promise.all(held.map((c) => c.close()));
  await faults.stop();
  await stalled.stop();
}
console.log(
  "\nEvery line above came from a real socket; the kinds are the same under Deno, Bun and Node.",
);
