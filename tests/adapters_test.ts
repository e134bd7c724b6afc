// Every connect() adapter this runtime can run, through every loopback fault
// scenario; then the parity test: all of them must agree on each scenario.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../mod.ts";
import { connect as nodeConnect } from "../src/connect/node.ts";
import { connect as denoConnect } from "../src/connect/deno.ts";
import { connect as bunConnect } from "../src/connect/bun.ts";
import { type FaultPorts, type Running, runtimeName, startFaultServer } from "./support/faults.ts";
import { type ConnectFn, expected, hasIPv6Loopback, scenarios } from "./support/scenarios.ts";

const apis: Record<string, ConnectFn> = { "node:net": nodeConnect };
if (runtimeName === "deno") apis["Deno.connect"] = denoConnect;
if (runtimeName === "bun") apis["Bun.connect"] = bunConnect;

let server: Running<FaultPorts>;
let ipv6 = false;
before(async () => {
  server = await startFaultServer();
  ipv6 = await hasIPv6Loopback();
});
after(() => server.stop());

function check(name: string, got: string): void {
  const want = expected[name];
  if (Array.isArray(want)) assert.ok(want.includes(got), `${name}: got ${got}`);
  else assert.equal(got, want, name);
}

for (const [api, fn] of Object.entries(apis)) {
  describe(`${api} adapter under ${runtimeName}`, () => {
    for (const [name, scenario] of Object.entries(scenarios)) {
      test(`connect() via ${api}: ${name}`, async () => {
        check(name, await scenario(fn, { ports: server.ports, ipv6 }));
      });
    }
  });
}

describe(`parity of every connect API under ${runtimeName}`, () => {
  const all: Record<string, ConnectFn> = { "connect()": connect, ...apis };
  for (const [name, scenario] of Object.entries(scenarios)) {
    if (name === "connect timeout") continue; // slow; each adapter's run above covers it
    test(`every API gives the same outcome for: ${name}`, async () => {
      const outcomes: Record<string, string> = {};
      for (const [api, fn] of Object.entries(all)) {
        outcomes[api] = await scenario(fn, { ports: server.ports, ipv6 });
      }
      for (const got of Object.values(outcomes)) check(name, got);
      // Where the runtime itself is ambiguous (a documented set of kinds),
      // each API must land inside the set; elsewhere all must agree.
      const want = expected[name];
      if (Array.isArray(want) && want.length > 1) return;
      assert.equal(
        new Set(Object.values(outcomes)).size,
        1,
        `${name}: ${JSON.stringify(outcomes)}`,
      );
    });
  }
});

test("an adapter outside its runtime rejects with a TypeError that says so", async () => {
  if (runtimeName !== "deno") {
    await assert.rejects(denoConnect({ hostname: "127.0.0.1", port: 1 }), /needs the Deno runtime/);
  }
  if (runtimeName !== "bun") {
    await assert.rejects(bunConnect({ hostname: "127.0.0.1", port: 1 }), /needs the Bun runtime/);
  }
});
