import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../src/adapters/bun.ts";
import { type FaultPorts, type Running, startFaultServer } from "./support/faults.ts";
import { expected, hasIPv6Loopback, scenarios } from "./support/scenarios.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun === "object";

describe("Bun.connect adapter", { skip: isBun ? false : "runs only under Bun" }, () => {
  let server: Running<FaultPorts>;
  let ipv6 = false;
  before(async () => {
    server = await startFaultServer();
    ipv6 = await hasIPv6Loopback();
  });
  after(() => server.stop());

  for (const [name, scenario] of Object.entries(scenarios)) {
    test(`connect() via Bun.connect: ${name}`, async () => {
      const got = await scenario(connect, { ports: server.ports, ipv6 });
      const want = expected[name];
      if (Array.isArray(want)) assert.ok(want.includes(got), `${name}: got ${got}`);
      else assert.equal(got, want, name);
    });
  }
});

test(
  "the Bun adapter outside Bun rejects with a TypeError that says so",
  { skip: isBun },
  async () => {
    await assert.rejects(connect({ hostname: "127.0.0.1", port: 1 }), TypeError);
  },
);
