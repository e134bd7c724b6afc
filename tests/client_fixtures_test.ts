// normalizeError() against what popular clients really threw, recorded from
// real faults on real servers by scripts/capture_client_errors.ts into
// tests/fixtures/clients/<client>.<runtime>.json. Each entry names the fault
// that was provoked and the kind it must give; negative cases (a client's
// own status errors) must stay "unknown".
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createNormalizer, normalizeError } from "../src/errors/normalize_error.ts";
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

// normalizeError() decides a runtime's system error (errno and syscall) by the
// runtime's recognizer alone, without asking the clients' first. A normalizer
// with recognizers of its own always runs the whole search: the two must agree
// on every error recorded, and on every error in its cause chain.
test("normalizeError() decides a runtime's system error alone exactly as the whole search does", () => {
  const whole = createNormalizer({ recognizers: [] });
  const runtimeFiles = readdirSync(new URL("./fixtures/", import.meta.url))
    .filter((f) => f.endsWith(".json"))
    .map((f) => new URL(`./fixtures/${f}`, import.meta.url));
  const nodes: unknown[] = [];
  const collect = (e: unknown, depth: number): void => {
    if (typeof e !== "object" || e === null || depth > 8) return;
    nodes.push(e);
    collect((e as { cause?: unknown }).cause, depth + 1);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) { for (const x of errors) collect(x, depth + 1); }
  };
  for (const url of [...files.map((f) => new URL(f, dir)), ...runtimeFiles]) {
    const data = JSON.parse(readFileSync(url, "utf8")) as { captured: { error: unknown }[] };
    for (const c of data.captured) collect(rebuild(c.error), 0);
  }
  const system = nodes.filter((n) =>
    typeof (n as { errno?: unknown }).errno === "number" &&
    typeof (n as { syscall?: unknown }).syscall === "string"
  );
  assert.ok(system.length >= 100, `${system.length} system errors recorded`);
  const differ = nodes.filter((n) =>
    JSON.stringify(normalizeError(n).toJSON()) !== JSON.stringify(whole(n).toJSON())
  );
  assert.deepEqual(differ, []);
});
