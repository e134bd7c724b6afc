// JSR readiness, in three steps, each derived from deno.json:
//
//   1. `deno publish --dry-run`: no slow types, no warnings;
//   2. `deno doc --lint` on every entry point in "exports";
//   3. `deno test --doc` on every published module: each @example is
//      type-checked and run. Examples import "@faultline/faultline" and its
//      subpaths, which Deno resolves from deno.json's own name and "exports"
//      (no "imports" entry needed). Network: loopback only, enforced with
//      --allow-net, so an example that reaches further fails.
//
//   node scripts/doc_test.mjs [--only=publish,doc-lint,doc-test] [file.ts ...]
//
// Plain JavaScript, any Node >= 20. Separate from `npm test`: the doc tests
// alone take about a minute (each example is type-checked on its own).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const deno = join(root, "node_modules/.bin/deno");
const config = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const entries = typeof config.exports === "string" ? { ".": config.exports } : config.exports;
const LOOPBACK = "--allow-net=127.0.0.1,localhost,[::1]";

const args = process.argv.slice(2);
const only = args.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const wanted = (step) => !only || only.includes(step);
const explicitFiles = args.filter((a) => !a.startsWith("--"));

function modules(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) modules(path, out);
    else if (name.endsWith(".ts") && !name.endsWith("_test.ts") && !name.endsWith(".d.ts")) {
      out.push(relative(root, path));
    }
  }
  return out;
}

function run(label, cmdArgs) {
  return new Promise((resolvePromise) => {
    console.log(`\n== ${label}: deno ${cmdArgs.join(" ")}`);
    const child = spawn(deno, cmdArgs, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let pending = "";
    const onData = (d) => {
      out += d;
      // Drop deno's warnings about @types/node's own references (from
      // node_modules, as the Node adapter imports node: types): noise.
      const lines = (pending + d).split("\n");
      pending = lines.pop();
      for (const line of lines) {
        if (/^Warning Failed resolving types\./.test(line)) noise++;
        else if (!(noise > 0 && /^\s+at file:.*node_modules\/@types\//.test(line))) {
          process.stdout.write(line + "\n");
        }
      }
    };
    let noise = 0;
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", (code) => {
      if (pending) process.stdout.write(pending + "\n");
      if (noise > 0) console.log(`(${noise} warnings about node_modules/@types/node left out)`);
      resolvePromise({ code, out });
    });
  });
}

const failures = [];

if (wanted("publish")) {
  const r = await run("publish", ["publish", "--dry-run", "--allow-dirty"]);
  if (r.code !== 0) failures.push(`deno publish --dry-run exited ${r.code}`);
  else if (/^(warning|Warning)/m.test(r.out)) failures.push("deno publish --dry-run warned");
}

if (wanted("doc-lint")) {
  const files = Object.values(entries);
  const r = await run("doc-lint", ["doc", "--lint", ...files]);
  // Warnings about @types/node's own references come from node_modules (the
  // Node adapter imports node: types); only lint errors count.
  if (r.code !== 0 || /^error/m.test(r.out)) failures.push(`deno doc --lint ${files.join(" ")}`);
}

if (wanted("doc-test") && !config.compilerOptions && existsSync(join(root, "tsconfig.json"))) {
  // Without compilerOptions in deno.json, Deno type-checks with tsconfig.json's
  // (lib without the Deno namespace), and every example fails with
  // "Cannot find name 'Deno'" in the Deno.test wrapper it generates.
  failures.push(
    'deno.json needs "compilerOptions" (e.g. { "strict": true }): without it Deno ' +
      "type-checks the examples with tsconfig.json, which has no Deno namespace",
  );
} else if (wanted("doc-test")) {
  const files = explicitFiles.length > 0
    ? explicitFiles
    : ["mod.ts", ...modules(join(root, "src"))].filter((f) => !f.startsWith("src/.."))
      // deno test cannot load a cloudflare: import (its examples are `ignore`d).
      .filter((f) => !readFileSync(join(root, f), "utf8").includes('from "cloudflare:'));
  // A subpath an example imports must be listed in deno.json, or nothing
  // resolves: such a file is reported and left out of the run.
  const subpaths = new Set(Object.keys(entries).map((k) => k.slice(1)));
  const runnable = files.filter((file) => {
    const comments = readFileSync(join(root, file), "utf8").split("\n")
      .filter((line) => /^\s*\*/.test(line)).join("\n");
    const unlisted = new Set();
    for (const m of comments.matchAll(/["']@faultline\/faultline(\/[^"']*)?["']/g)) {
      if (!subpaths.has(m[1] ?? "")) unlisted.add(`@faultline/faultline${m[1]}`);
    }
    for (const s of unlisted) {
      failures.push(`${file}: its examples import ${s}, which deno.json does not export`);
    }
    return unlisted.size === 0;
  });
  const r = await run("doc-test", ["test", "--doc", LOOPBACK, "--allow-env", ...runnable]);
  if (r.code !== 0) failures.push(`deno test --doc exited ${r.code}`);
}

if (failures.length > 0) {
  console.error(`\ndoc_test: ${failures.length} failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log("\ndoc_test: all clean");
