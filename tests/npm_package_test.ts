// The npm package as users get it: build it (scripts/build_npm.mjs) into a
// temporary directory, check it against deno.json, lint it with publint and
// @arethetypeswrong/cli, pack it, install the tarball into a scratch project
// offline, and use it there through `import` and `require()` under Node 22,
// Node 24, Bun and Deno, and from TypeScript under moduleResolution node16 and
// bundler (fixtures in tests/support/consumer/).
//
// All of it runs in child processes, so it runs once: under Node 24. The
// other runtimes skip it (they are each exercised as a consumer here).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const g = globalThis as Record<string, unknown>;
const nodeMajor = Number(process.versions.node?.split(".")[0]);
const isNode24 = g.Deno === undefined && g.Bun === undefined && nodeMajor === 24;
const SKIP = isNode24
  ? false
  : "packs and installs once, under Node 24 (it drives every runtime itself)";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (p: string): string => join(root, "node_modules", p);
const CHILD_TIMEOUT_MS = 60_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after CHILD_TIMEOUT_MS). */
function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = childEnv(),
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The environment without what `npm test` sets for its scripts (npm_*). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NO_COLOR: "1", FORCE_COLOR: "0", DENO_NO_UPDATE_CHECK: "1" };
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== "NODE_OPTIONS" && k !== "NODE_TEST_CONTEXT") env[k] = v;
  }
  return env;
}

describe("the npm package", { skip: SKIP }, () => {
  let tmp = "";
  let pkgDir = "";
  let project = "";
  let tarball = "";

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "faultline-npm-"));
    pkgDir = join(tmp, "package");
    project = join(tmp, "consumer");
    ok(await run(process.execPath, ["scripts/build_npm.mjs", "--out", pkgDir], root), "the build");
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("agrees with deno.json (scripts/check_exports.mjs)", async () => {
    const r = await run(process.execPath, ["scripts/check_exports.mjs", pkgDir], root);
    ok(r, "check_exports");
    assert.match(r.stdout, /agrees with deno\.json/);
  });

  test("packs: npm pack", async (t) => {
    const r = ok(
      await run("npm", ["pack", pkgDir, "--pack-destination", tmp, "--json"], tmp),
      "npm pack",
    );
    const [info] = JSON.parse(r.stdout) as {
      filename: string;
      size: number;
      unpackedSize: number;
      entryCount: number;
      files: { path: string }[];
    }[];
    tarball = join(tmp, info.filename);
    assert.ok(existsSync(tarball));
    const paths = info.files.map((f) => f.path);
    for (
      const f of ["package.json", "README.md", "LICENSE", "CHANGELOG.md", "mod.js", "mod.d.ts"]
    ) {
      assert.ok(paths.includes(f), `${f} is not in the tarball`);
    }
    assert.deepEqual(paths.filter((p) => /_test\.|\.ts$/.test(p) && !p.endsWith(".d.ts")), []);
    t.diagnostic(
      `${info.filename}: ${(info.size / 1024).toFixed(1)} kB packed, ` +
        `${(info.unpackedSize / 1024).toFixed(1)} kB unpacked, ${info.entryCount} files`,
    );
  });

  // What .github/workflows/publish.yml runs, dry: offline, no login needed
  // (npm warns about the missing login, and about nothing else).
  test("npm publish --dry-run --provenance --access public", async () => {
    const version = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).version;
    const r = ok(
      await run(
        "npm",
        ["publish", "--dry-run", "--provenance", "--access", "public", "--offline"],
        pkgDir,
      ),
      "npm publish --dry-run",
    );
    const out = r.stdout + r.stderr;
    assert.match(out, new RegExp(`^\\+ faultline@${version.replaceAll(".", "\\.")}$`, "m"), out);
    const warnings = out.split("\n").filter((l) => /^npm warn/i.test(l))
      .filter((l) => !/requires you to be logged in/.test(l));
    assert.deepEqual(warnings, []);
  });

  test("publint: no errors, warnings or suggestions", async () => {
    const r = ok(await run(bin(".bin/publint"), ["run", tarball, "--strict"], tmp), "publint");
    assert.match(r.stdout, /All good!/, r.stdout);
  });

  // Profile esm-only: the package is ESM only, so attw ignores the node10
  // resolution (no "exports" support: only the root resolves, through "main"
  // and "types") and "node16 (from CJS)", where it reports CJSResolvesToESM
  // because TypeScript before `module: node20` types require() of an ES module
  // as an error. At run time Node >= 22.12 loads it with require() (tested
  // below). --no-definitely-typed: no @types package to look up, offline.
  test("@arethetypeswrong/cli --profile esm-only: no problems", async () => {
    ok(
      await run(
        bin(".bin/attw"),
        [tarball, "--profile", "esm-only", "--no-definitely-typed", "--no-emoji", "--no-color"],
        tmp,
      ),
      "attw",
    );
  });

  test("installs offline into a scratch project", async () => {
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" }),
    );
    const fixtures = join(root, "tests/support/consumer");
    for (const name of readdirSync(fixtures)) {
      copyFileSync(join(fixtures, name), join(project, name));
    }
    ok(
      await run(
        "npm",
        ["install", "--offline", "--no-audit", "--no-fund", "--prefix", project, tarball],
        project,
      ),
      "npm install",
    );
    assert.ok(existsSync(join(project, "node_modules/faultline/mod.js")));
    // Every subpath's types get compiled, including ones consumer.mts does not name.
    const installed = JSON.parse(
      readFileSync(join(project, "node_modules/faultline/package.json"), "utf8"),
    ) as { exports: Record<string, unknown> };
    const lines = Object.keys(installed.exports).map((subpath, i) =>
      `export * as m${i} from "faultline${subpath.slice(1)}";`
    );
    writeFileSync(join(project, "subpaths.mts"), lines.join("\n") + "\n");
    // The node16 consumer compiles with @types/node, as a Node service would.
    mkdirSync(join(project, "node_modules/@types"), { recursive: true });
    symlinkSync(bin("@types/node"), join(project, "node_modules/@types/node"), "dir");
  });

  const runtimes: [string, () => string[]][] = [
    ["Node 22", () => [bin("node22/bin/node")]],
    ["Node 24", () => [bin("node24/bin/node")]],
    ["Bun", () => [bin(".bin/bun")]],
    ["Deno", () => [bin(".bin/deno"), "run", "-A"]],
  ];
  for (const [name, command] of runtimes) {
    for (const [mode, file] of [["import", "smoke.mjs"], ["require()", "smoke.cjs"]]) {
      test(`${name}: ${mode}, a refused connect() and pipeline(retry, timeout)`, async (t) => {
        const [cmd, ...args] = command();
        const r = ok(await run(cmd, [...args, file], project), `${name} ${file}`);
        assert.doesNotMatch(r.stderr, /ExperimentalWarning|Error/, r.stderr);
        const line = r.stdout.trim().split("\n").at(-1) ?? "";
        const out = JSON.parse(line);
        assert.equal(out.mode, file === "smoke.mjs" ? "esm" : "require");
        assert.equal(out.kind, "refused");
        assert.deepEqual(out.retried, ["refused", "refused"]);
        assert.equal(out.result, "ok after 3");
        assert.equal(out.subpaths["."], "loaded");
        t.diagnostic(`${out.runtime} ${mode}: ${JSON.stringify(out.subpaths)}`);
      });
    }
  }

  for (const resolution of ["node16", "bundler"]) {
    test(`TypeScript consumer compiles: moduleResolution ${resolution}`, async () => {
      ok(
        await run(process.execPath, [
          bin("typescript/bin/tsc"),
          "-p",
          `tsconfig.${resolution}.json`,
        ], project),
        `tsc (${resolution})`,
      );
    });
  }
});
