// normalizeError() against what popular clients really threw, recorded from
// real faults on real servers by scripts/capture_client_errors.ts into
// tests/fixtures/clients/<client>.<runtime>.json. Each entry names the fault
// that was provoked and the kind it must give; negative cases (a client's
// own status errors) must stay "unknown".
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { normalizeError } from "../src/errors/normalize_error.ts";
import { rebuild } from "./support/rebuild_error.ts";

/** One recorded error. */
export interface ClientFixture {
  fault: string;
  expected: string;
  expectedSent?: boolean;
  note?: string;
  error: unknown;
}

/** One fixture file. */
export interface ClientFixtureFile {
  client: string;
  clientVersion: string;
  runtime: string;
  runtimeVersion: string;
  captured: ClientFixture[];
}

const dir = new URL("./fixtures/clients/", import.meta.url);
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];

for (const name of files) {
  const data = JSON.parse(readFileSync(new URL(name, dir), "utf8")) as ClientFixtureFile;
  test(`normalizeError() classifies every ${data.client} ${data.clientVersion} error recorded on ${data.runtime} ${data.runtimeVersion}`, () => {
    assert.ok(data.captured.length > 0, `${name} holds recorded errors`);
    const wrong: string[] = [];
    for (const c of data.captured) {
      const e = normalizeError(rebuild(c.error));
      if (e.kind !== c.expected) wrong.push(`${c.fault}: got ${e.kind}, want ${c.expected}`);
      if (c.expectedSent !== undefined && e.sent !== c.expectedSent) {
        wrong.push(`${c.fault}: sent is ${e.sent}, want ${c.expectedSent}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
}
