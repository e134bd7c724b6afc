// Runs the same test files under Deno, Bun, Node 22 and Node 24, prints the
// counts per runtime, and ends with one `N passed, N failed` line for CI.
// Plain JavaScript so that any Node that runs `npm test` can start it.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const bin = (p) => join(root, "node_modules", p);

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "npm" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith("_test.ts")) out.push(relative(root, path));
  }
  return out;
}

const filter = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const only = process.argv.find((a) => a.startsWith("--runtime="))?.slice(10);
let files = ["src", "tests"].filter((d) => existsSync(join(root, d)))
  .flatMap((d) => findTests(join(root, d))).sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));

const runtimes = [
  {
    name: "deno",
    cmd: bin(".bin/deno"),
    args: ["test", "-A", "--no-check", ...files],
    parse: (out) => {
      const m = out.match(
        /(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?(?: \| (\d+) ignored(?: \((\d+) steps?\))?)?/,
      );
      return m && {
        passed: +m[1] + +(m[2] ?? 0),
        failed: +m[3] + +(m[4] ?? 0),
        skipped: +(m[5] ?? 0) + +(m[6] ?? 0),
      };
    },
  },
  {
    name: "bun",
    cmd: bin(".bin/bun"),
    args: ["test", "--timeout", "30000", ...files.map((f) => "./" + f)],
    parse: (out) => {
      const p = out.match(/^\s*(\d+) pass/m),
        f = out.match(/^\s*(\d+) fail/m),
        s = out.match(/^\s*(\d+) skip/m);
      return p && { passed: +p[1], failed: f ? +f[1] : 0, skipped: s ? +s[1] : 0 };
    },
  },
  ...["node22", "node24"].map((n) => ({
    name: n.replace("node", "node "),
    cmd: bin(`${n}/bin/node`),
    args: ["--test", "--test-reporter=spec", ...files],
    parse: (out) => {
      const p = out.match(/^\S*\s*pass (\d+)/m), f = out.match(/^\S*\s*fail (\d+)/m);
      const s = out.match(/^\S*\s*skipped (\d+)/m), c = out.match(/^\S*\s*cancelled (\d+)/m);
      return p && { passed: +p[1], failed: +f[1] + (c ? +c[1] : 0), skipped: s ? +s[1] : 0 };
    },
  })),
].filter((r) => !only || only.split(",").includes(r.name.replace(" ", "")));
// JSR readiness: publish dry-run, doc lint and every @example run (loopback only).
if (!only || only.split(",").includes("jsr")) {
  runtimes.push({
    name: "jsr docs",
    cmd: process.execPath,
    args: [join(root, "scripts/doc_test.mjs")],
    parse: (out) => {
      const m = out.match(/(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/);
      return m && { passed: +m[1], failed: +m[3], skipped: 0 };
    },
  });
}

function run(r) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(r.cmd, r.args, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const onData = (d) => {
      out += d;
      process.stdout.write(d);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", (code) => {
      // deno-lint-ignore no-control-regex
      const clean = out.replace(/\x1b\[[0-9;]*m/g, "");
      resolve({
        name: r.name,
        code,
        counts: r.parse(clean),
        output: clean,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

if (files.length === 0) {
  console.log("no test files found");
  process.exit(1);
}
const results = [];
for (const r of runtimes) {
  console.log(`\n===== ${r.name}: ${files.length} test files =====`);
  results.push(await run(r));
}
console.log("\nruntime   passed  failed  skipped  exit  seconds");
let passed = 0, failed = 0, skipped = 0, bad = false;
for (const { name, code, counts, seconds } of results) {
  const c = counts ?? { passed: 0, failed: 0, skipped: 0 };
  if (!counts || code !== 0 || c.failed > 0) bad = true;
  passed += c.passed;
  failed += c.failed + (!counts || (code !== 0 && c.failed === 0) ? 1 : 0);
  skipped += c.skipped;
  console.log(
    `${name.padEnd(9)} ${String(c.passed).padStart(6)}  ${String(c.failed).padStart(6)}  ${
      String(c.skipped).padStart(7)
    }  ${String(code).padStart(4)}  ${seconds.toFixed(1).padStart(7)}${
      counts ? "" : "  (no summary found)"
    }`,
  );
}
// A suite that could not run because a system program is missing (postgres,
// redis-server, chromium) says so in one line; repeat each once, loudly.
const notRun = new Set(
  results.flatMap((r) => r.output.match(/^SUITE NOT RUN: .*$/gm) ?? []),
);
if (notRun.size > 0) {
  console.log("\n" + "!".repeat(100));
  for (const line of notRun) console.log(`!!! ${line}`);
  console.log("!".repeat(100));
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(bad ? 1 : 0);
