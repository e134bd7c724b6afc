// One version: "version" in deno.json. src/version.ts (the exported VERSION),
// CHANGELOG.md's headings and the npm package.json (scripts/build_npm.mjs;
// checked in tests/npm_package_test.ts) are written from it; these tests check
// that they agree, and that cutting a release (`node scripts/version.mjs set`)
// writes every place, on a copy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { VERSION } from "../mod.ts";
import { compareVersions, denoVersion, setVersion, versionProblems } from "../scripts/version.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const g = globalThis as Record<string, unknown>;
const nodeMajor = Number(process.versions.node?.split(".")[0]);
const isNode24 = g.Deno === undefined && g.Bun === undefined && nodeMajor === 24;

/** A scratch copy of the files that carry the version. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "faultline-version-"));
  mkdirSync(join(dir, "src"));
  for (const f of ["deno.json", "src/version.ts", "CHANGELOG.md"]) {
    copyFileSync(join(root, f), join(dir, f));
  }
  return dir;
}

test("VERSION, deno.json and CHANGELOG.md agree", () => {
  assert.equal(VERSION, denoVersion(root));
  assert.deepEqual(versionProblems(root), []);
  assert.match(VERSION, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
});

test("a disagreement is reported, naming the files and the fix", () => {
  const dir = scratch();
  try {
    const file = join(dir, "src/version.ts");
    writeFileSync(file, readFileSync(file, "utf8").replace(/= "[^"]*";/, '= "9.9.9";'));
    const [problem, ...rest] = versionProblems(dir, { tag: "v0.0.0-nope" });
    assert.match(problem ?? "", /src\/version\.ts exports VERSION "9\.9\.9" but deno\.json says/);
    assert.match(problem ?? "", /node scripts\/version\.mjs set/);
    assert.match(rest.join("\n"), /the tag v0\.0\.0-nope does not match/);
    assert.deepEqual(versionProblems(root, { tag: `v${VERSION}` }), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("set X.Y.Z writes deno.json, src/version.ts and the CHANGELOG heading", () => {
  const dir = scratch();
  try {
    const next = "99.0.0";
    const result = setVersion(next, { root: dir, date: "2030-01-02" });
    assert.deepEqual(result, { from: VERSION, to: next, date: "2030-01-02" });
    assert.equal(denoVersion(dir), next);
    assert.match(
      readFileSync(join(dir, "src/version.ts"), "utf8"),
      /^export const VERSION: string = "99\.0\.0";$/m,
    );
    const changelog = readFileSync(join(dir, "CHANGELOG.md"), "utf8");
    assert.match(changelog, /^## \[Unreleased\]\n\n## \[99\.0\.0\] - 2030-01-02\n/m);
    assert.deepEqual(versionProblems(dir), []);
    // deno.json keeps its layout: only the version changed.
    assert.equal(
      readFileSync(join(dir, "deno.json"), "utf8"),
      readFileSync(join(root, "deno.json"), "utf8").replace(`"${VERSION}"`, `"${next}"`),
    );
    // Again: not greater, and now Unreleased is empty.
    assert.throws(() => setVersion(next, { root: dir }), /not greater than the current/);
    assert.throws(() => setVersion("99.0.1", { root: dir }), /Unreleased section lists nothing/);
    assert.throws(() => setVersion("1.0", { root: dir }), /not a semantic version/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("compareVersions follows semver precedence", () => {
  const ordered = [
    "0.1.0",
    "0.1.1",
    "0.2.0-alpha",
    "0.2.0-alpha.1",
    "0.2.0-beta",
    "0.2.0",
    "1.0.0",
  ];
  for (let i = 0; i < ordered.length - 1; i++) {
    assert.equal(
      compareVersions(ordered[i]!, ordered[i + 1]!),
      -1,
      `${ordered[i]} < ${ordered[i + 1]}`,
    );
    assert.equal(compareVersions(ordered[i + 1]!, ordered[i]!), 1);
  }
  assert.equal(compareVersions("1.2.3", "1.2.3+build"), 0);
  assert.equal(compareVersions("1.0.0-2", "1.0.0-10"), -1);
});

test("the command line: check, and check --tag", {
  skip: isNode24 ? false : "runs the script once, under Node 24",
}, () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["scripts/version.mjs", ...args], { cwd: root, encoding: "utf8" });
  const ok = run("check", "--tag", `v${VERSION}`);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`${VERSION.replaceAll(".", "\\.")} everywhere`));
  const bad = run("check", "--tag", "v0.0.0-other");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /the tag v0\.0\.0-other does not match/);
});
