// The client side of the chaos proxy's line protocol, through the library's
// own connect(): one connection per request, `<id>\n` out, `ok <id>\n` back.
import { connect, type Connection, ConnectionError } from "../../mod.ts";

const encoder = new TextEncoder();

/**
 * Writes `line` and reads one line back. A stream that ends before the line
 * is complete is a `closed` ConnectionError, as the library would call it.
 */
export async function exchange(conn: Connection, line: string): Promise<string> {
  const writer = conn.writable.getWriter();
  try {
    await writer.write(encoder.encode(line + "\n"));
  } finally {
    writer.releaseLock();
  }
  const decoder = new TextDecoder();
  const reader = conn.readable.getReader();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        throw new ConnectionError("closed", {
          operation: "read",
          message: `The peer closed the connection after ${text.length} of the reply's bytes`,
        });
      }
      text += decoder.decode(value, { stream: true });
      const nl = text.indexOf("\n");
      if (nl !== -1) return text.slice(0, nl);
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * One request: connect to `port` on loopback, exchange `line`, close. An
 * abort of `signal` (a timeout policy's) closes the connection, so nothing
 * is left behind however the call ends.
 */
export async function request(
  port: number,
  line: string,
  signal?: AbortSignal,
  hostname = "127.0.0.1",
): Promise<string> {
  const conn = await connect({ hostname, port, signal });
  const onAbort = (): void => {
    conn.close().catch(() => {});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (signal?.aborted) throw signal.reason;
    return await exchange(conn, line);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await conn.close().catch(() => {});
  }
}
