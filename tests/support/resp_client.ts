/**
 * The smallest Redis client that fits redisStore()'s `{ send(args) }` shape:
 * one node:net connection speaking RESP2, replies in order, an error reply as
 * a rejected Error whose message is the server's. Node, Deno and Bun.
 */
import * as net from "node:net";

type Reply = string | number | null | Reply[];

/** Parses one reply from `buf` at `at`: [value, next offset] or undefined when incomplete. */
function parse(buf: Buffer, at: number): [Reply | Error, number] | undefined {
  const nl = buf.indexOf("\r\n", at);
  if (nl === -1) return undefined;
  const head = buf.toString("utf8", at + 1, nl);
  switch (String.fromCharCode(buf[at]!)) {
    case "+":
      return [head, nl + 2];
    case "-":
      return [new Error(head), nl + 2];
    case ":":
      return [Number(head), nl + 2];
    case "$": {
      const n = Number(head);
      if (n < 0) return [null, nl + 2];
      if (buf.length < nl + 2 + n + 2) return undefined;
      return [buf.toString("utf8", nl + 2, nl + 2 + n), nl + 2 + n + 2];
    }
    case "*": {
      const n = Number(head);
      if (n < 0) return [null, nl + 2];
      const out: Reply[] = [];
      let next = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, next);
        if (r === undefined) return undefined;
        out.push(r[0] as Reply);
        next = r[1];
      }
      return [out, next];
    }
    default:
      throw new Error(`bad RESP from the server: ${head}`);
  }
}

export interface RespClient {
  send(args: string[]): Promise<unknown>;
  close(): void;
}

/** Connects to `port` on 127.0.0.1. A dropped connection rejects what is pending; no reconnect. */
export function respClient(port: number): Promise<RespClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const pending: Array<{ ok(v: unknown): void; fail(e: unknown): void }> = [];
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const r = parse(buf, 0);
        if (r === undefined) break;
        buf = buf.subarray(r[1]);
        const p = pending.shift();
        if (r[0] instanceof Error) p?.fail(r[0]);
        else p?.ok(r[0]);
      }
    });
    const dropAll = (e: unknown) => {
      for (const p of pending.splice(0)) p.fail(e);
    };
    socket.on("error", (e) => {
      dropAll(e);
      reject(e);
    });
    socket.on("close", () => dropAll(new Error("connection closed")));
    socket.once("connect", () =>
      resolve({
        send(args) {
          if (socket.destroyed) return Promise.reject(new Error("connection closed"));
          let out = `*${args.length}\r\n`;
          for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
          return new Promise((ok, fail) => {
            pending.push({ ok, fail });
            socket.write(out);
          });
        },
        close() {
          socket.destroy();
        },
      }));
  });
}
