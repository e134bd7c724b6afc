import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, ConnectionError, detectRuntime } from "../mod.ts";
import { connect as nodeConnect } from "../src/adapters/node.ts";
import { connect as denoConnect } from "../src/adapters/deno.ts";
import { connect as bunConnect } from "../src/adapters/bun.ts";
import { type FaultPorts, type Running, runtimeName, startFaultServer } from "./support/faults.ts";
import { type ConnectFn, expected, hasIPv6Loopback, scenarios } from "./support/scenarios.ts";

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

// Every API this runtime offers, so that the parity test can compare them.
const apis: Record<string, ConnectFn> = { "connect()": connect, "node:net": nodeConnect };
if (runtimeName === "deno") apis["Deno.connect"] = denoConnect;
if (runtimeName === "bun") apis["Bun.connect"] = bunConnect;

describe(`parity of every connect API under ${runtimeName}`, () => {
  let server: Running<FaultPorts>;
  let ipv6 = false;
  before(async () => {
    server = await startFaultServer();
    ipv6 = await hasIPv6Loopback();
  });
  after(() => server.stop());

  for (const [name, scenario] of Object.entries(scenarios)) {
    if (name === "connect timeout") continue; // slow; each adapter test covers it
    test(`every API gives the same outcome for: ${name}`, async () => {
      const outcomes: Record<string, string> = {};
      for (const [api, fn] of Object.entries(apis)) {
        outcomes[api] = await scenario(fn, { ports: server.ports, ipv6 });
      }
      const want = expected[name];
      if (Array.isArray(want)) {
        // Where the runtime itself is ambiguous, each API must still land
        // inside the documented set.
        for (const got of Object.values(outcomes)) {
          assert.ok(want.includes(got), `${name}: ${JSON.stringify(outcomes)}`);
        }
        if (want.length > 1) return;
      }
      const distinct = new Set(Object.values(outcomes));
      assert.equal(distinct.size, 1, `${name}: ${JSON.stringify(outcomes)}`);
    });
  }
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
