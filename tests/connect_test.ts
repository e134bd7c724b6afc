import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, ConnectionError, detectRuntime } from "../mod.ts";
import { connect as nodeConnect } from "../src/connect/node.ts";
import { connect as denoConnect } from "../src/connect/deno.ts";
import { connect as bunConnect } from "../src/connect/bun.ts";
import { runtimeName } from "./support/faults.ts";

test("detectRuntime() names the runtime running the tests, Deno and Bun before Node", () => {
  const expected = runtimeName.startsWith("node") ? "node" : runtimeName;
  assert.equal(detectRuntime(), expected);
});

test("connect() rejects bad arguments before any socket opens", async () => {
  const cases: Array<[unknown, typeof TypeError | typeof RangeError, string]> = [
    [{ hostname: "127.0.0.1", port: 70000 }, RangeError, "'port'"],
    [{ hostname: "127.0.0.1", port: -1 }, RangeError, "'port'"],
    [{ hostname: "127.0.0.1", port: 1.5 }, RangeError, "'port'"],
    [{ hostname: "127.0.0.1", port: "80" }, TypeError, "'port'"],
    [{ hostname: "", port: 80 }, TypeError, "'hostname'"],
    [{ hostname: 42, port: 80 }, TypeError, "'hostname'"],
    [{ hostname: "127.0.0.1", port: 80, timeout: -1 }, RangeError, "'timeout'"],
    [{ hostname: "127.0.0.1", port: 80, timeout: NaN }, RangeError, "'timeout'"],
    [{ hostname: "127.0.0.1", port: 80, signal: {} }, TypeError, "'signal'"],
    [{ hostname: "127.0.0.1", port: 80, tls: "yes" }, TypeError, "'tls'"],
    [null, TypeError, "'options'"],
  ];
  for (const connectFn of [connect, nodeConnect, denoConnect, bunConnect]) {
    for (const [options, Ctor, name] of cases) {
      await assert.rejects(
        connectFn(options as never),
        (e: unknown) => e instanceof Ctor && (e as Error).message.includes(name),
        `${JSON.stringify(options)}`,
      );
    }
  }
  await assert.rejects(connect({ hostname: "127.0.0.1", port: 70000 }), {
    message: "Cannot connect as 'port' must be an integer from 0 to 65535: current value is 70000",
  });
});

test("connect() errors carry host, port, runtime and a hint", async () => {
  const net = await import("node:net");
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const error = await connect({ hostname: "127.0.0.1", port }).then(() => undefined, (e) => e);
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.kind, "refused");
  assert.equal(error.host, "127.0.0.1");
  assert.equal(error.port, port);
  assert.equal(error.runtime, detectRuntime());
  assert.equal(error.operation, "connect");
  assert.equal(error.code, "ECONNREFUSED");
  assert.ok(error.hint.includes(`127.0.0.1:${port}`));
  assert.ok(error.cause !== undefined);
});
