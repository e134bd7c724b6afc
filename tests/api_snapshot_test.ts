// The public API snapshot (api/faultline.api.md, written by
// scripts/api_snapshot.mjs): the surface that the source exports now must be
// the one committed, entry point by entry point, so that no change to what
// users import goes unnoticed. A deliberate change is one command:
// `npm run api:update`.
//
// Making the surface runs the TypeScript compiler over every source file: about
// 4-5 s under Node and Deno, 13 s under Bun on this project's 2-core machine. The
// surface comes from the source, not from the runtime (the four runtimes make
// the same text), so it is compared once, under Node 24; the checks that cost
// nothing (the file covers every entry point, the diff is readable, `./http`
// and `./adapters/fetch` are one module) run everywhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  apiSnapshot,
  checkSnapshot,
  SNAPSHOT_PATH,
  unifiedDiff,
  UPDATE_COMMAND,
} from "../scripts/api_snapshot.mjs";
import * as http from "../src/http/mod.ts";
import * as adaptersFetch from "../src/adapters/fetch.ts";

const g = globalThis as Record<string, unknown>;
const nodeMajor = Number(process.versions.node?.split(".")[0]);
const isNode24 = g.Deno === undefined && g.Bun === undefined && nodeMajor === 24;
const ONCE = isNode24 ? false : "the surface comes from the source: compared once, under Node 24";

const deno = JSON.parse(readFileSync(new URL("../deno.json", import.meta.url), "utf8")) as {
  name: string;
  exports: Record<string, string>;
};
const committed = readFileSync(SNAPSHOT_PATH, "utf8");

/** The snapshot's sections: "## specifier" -> its text. */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split(/^## /m).slice(1);
  for (const part of parts) {
    const nl = part.indexOf("\n");
    out.set(part.slice(0, nl), part.slice(nl + 1).trim());
  }
  return out;
}

function specifier(subpath: string): string {
  return subpath === "." ? deno.name : `${deno.name}/${subpath.slice(2)}`;
}

test("api/faultline.api.md is the public API of the source now", { skip: ONCE }, (t) => {
  const started = performance.now();
  const current = apiSnapshot();
  t.diagnostic(`made the surface in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const problem = checkSnapshot({ current });
  if (problem) assert.fail(problem);
  // The tool shows what it is meant to show: a change in a signature is a diff.
  const tampered = join(mkdtempSync(join(tmpdir(), "faultline-api-")), "tampered.api.md");
  try {
    writeFileSync(
      tampered,
      current.replace(
        "function retry(options?: RetryOptions): RetryPolicy;",
        "function retry(options: RetryOptions): RetryPolicy;",
      ),
    );
    const message = checkSnapshot({ snapshotPath: tampered, current });
    assert.match(message, /^-function retry\(options: RetryOptions\): RetryPolicy;$/m);
    assert.match(message, /^\+function retry\(options\?: RetryOptions\): RetryPolicy;$/m);
    assert.ok(message.includes(UPDATE_COMMAND), message);
  } finally {
    rmSync(join(tampered, ".."), { recursive: true, force: true });
  }
});

test("the snapshot has one section per entry point in deno.json, and no other", () => {
  const have = [...sections(committed).keys()].sort();
  const want = Object.keys(deno.exports).map(specifier).sort();
  assert.deepEqual(have, want, `run ${UPDATE_COMMAND}`);
  for (const [name, text] of sections(committed)) {
    assert.match(text, /```ts\n[\s\S]+\n```/, `${name} lists no export`);
  }
});

test("./adapters/fetch is an alias of ./http: the same exports, the same objects", () => {
  assert.deepEqual(Object.keys(adaptersFetch).sort(), Object.keys(http).sort());
  for (const [name, value] of Object.entries(http)) {
    assert.equal((adaptersFetch as Record<string, unknown>)[name], value, name);
  }
  assert.ok(Object.keys(http).includes("resilientFetch"));
  // And in the snapshot, types included; only the deprecation line differs.
  const s = sections(committed);
  const body = (k: string) => (s.get(specifier(k)) ?? "").replace(/^Deprecated: .*\n\n/, "");
  assert.equal(body("./adapters/fetch"), body("./http"));
  assert.match(s.get(specifier("./adapters/fetch")) ?? "", /^Deprecated: Use "\.\/http"/m);
  assert.doesNotMatch(s.get(specifier("./http")) ?? "", /Deprecated/);
});

test("unifiedDiff: equal texts give nothing; a change gives hunks with context", () => {
  assert.equal(unifiedDiff("a\nb\n", "a\nb\n"), "");
  const a = ["# t", "", "## one", "1", "2", "3", "4", "5", "6", "7", "8", "9", ""].join("\n");
  const b = ["# t", "", "## one", "1", "2", "3", "four", "5", "6", "7", "8", "9", "10", ""]
    .join("\n");
  assert.equal(
    unifiedDiff(a, b, "old", "new", 1),
    [
      "--- old",
      "+++ new",
      "@@ -6,3 +6,3 @@ ## one",
      " 3",
      "-4",
      "+four",
      " 5",
      "@@ -12,1 +12,2 @@ ## one",
      " 9",
      "+10",
      "",
    ].join("\n"),
  );
  // Changes closer than twice the context share one hunk.
  const joined = unifiedDiff("1\n2\n3\n4\n", "1\nx\n3\ny\n", "a", "b", 1);
  assert.equal(joined.match(/^@@/gm)?.length, 1, joined);
  assert.match(joined, /^@@ -1,4 \+1,4 @@$/m);
  // From nothing, to nothing.
  assert.match(unifiedDiff("", "x\n", "a", "b"), /^\+x$/m);
  assert.match(unifiedDiff("x\n", "", "a", "b"), /^-x$/m);
});
