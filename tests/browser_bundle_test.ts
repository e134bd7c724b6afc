// mod.ts and the fetch layer must load in a browser: bundle each with esbuild
// as a browser build would (platform "browser", bundle, ESM, nothing written)
// and look at what survives in the output.
//
// The rule, and why:
// - No `node:` module specifier (import, export-from, import(), require) in
//   any input or in the output: a browser cannot load one, and esbuild for the
//   browser fails on it. A "node:net" string handed at run time to
//   `process.getBuiltinModule` is not a specifier (no bundler resolves it), and
//   is allowed.
// - No bare `Deno.<api>`, `Bun.<api>` or `process.<api>`: a free reference to
//   a runtime's global throws (ReferenceError) outside that runtime, and makes
//   some bundlers inject a `process` polyfill. Runtime detection by property
//   checks on `globalThis` (`globalThis.Deno`, `g.Bun?.connect`,
//   `typeof g.process`) is allowed: it is explicit, and safe everywhere. So a
//   name preceded by `.` (a property of something) is not flagged.
//
// - The same rule holds for every source file outside src/connect/, read on
//   its own (comments left out): src/connect/ is the only code that may touch
//   `Deno`, `Bun`, `node:*`, `process` or `cloudflare:sockets`.
//
// esbuild's JS API runs under Node, Deno and Bun alike (it talks to its own
// service process), so the test runs in every runtime; it stops the service
// when done so nothing is left behind.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Block and line comments (not a `//` inside a URL such as "http://"). */
const COMMENTS = /\/\*[\s\S]*?\*\/|(?<![:"'`\\])\/\/.*$/gm;

/** Every source file under `dir` (tests left out), as a path from the root with `/`. */
function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith(".ts") && !name.endsWith("_test.ts")) {
      out.push(relative(root, path).split("\\").join("/"));
    }
  }
  return out;
}

const NODE_SPECIFIER =
  /\b(?:from|import)\s*\(?\s*["']node:[^"']*["']|\brequire\s*\(\s*["']node:[^"']*["']/g;
const RUNTIME_GLOBAL = /(?<![.\w$])(Deno|Bun|process)\s*\.\s*[A-Za-z_$]/g;

interface Finding {
  what: string;
  excerpt: string;
}

async function bundle(
  entry: string,
): Promise<{ text: string; inputs: esbuild.Metafile["inputs"] }> {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  assert.equal(result.errors.length, 0);
  return { text: result.outputFiles[0]!.text, inputs: result.metafile.inputs };
}

/** What breaks the rule in a bundle's output and its inputs' imports. */
function findings(text: string, inputs: esbuild.Metafile["inputs"]): Finding[] {
  const out: Finding[] = [];
  for (const [file, input] of Object.entries(inputs)) {
    for (const imp of input.imports) {
      if (imp.path.startsWith("node:")) {
        out.push({ what: `${file} imports ${imp.path}`, excerpt: "" });
      }
    }
  }
  for (const re of [NODE_SPECIFIER, RUNTIME_GLOBAL]) {
    for (const m of text.matchAll(re)) {
      const at = m.index ?? 0;
      out.push({ what: m[0], excerpt: text.slice(Math.max(0, at - 80), at + 60) });
    }
  }
  return out;
}

after(async () => {
  await esbuild.stop();
});

test("the rule catches what it is meant to catch", () => {
  const bad = [
    `import net from "node:net";`,
    `const m = await import("node:tls");`,
    `const fs = require("node:fs");`,
    `Deno.connect({ port: 1 });`,
    `Bun . listen({});`,
    `if (process.env.X) {}`,
  ];
  for (const code of bad) assert.notDeepEqual(findings(code, {}), [], code);
  const good = [
    `const ns = globalThis.Deno; ns?.connect();`,
    `const g = globalThis; if (typeof g.Bun === "object") g.Bun.connect();`,
    `proc.getBuiltinModule("node:net");`,
    `throw new TypeError("needs the Deno runtime");`,
    `const p = globalThis.process; p?.versions;`,
  ];
  for (const code of good) assert.deepEqual(findings(code, {}), [], code);
});

for (
  const entry of [
    "mod.ts",
    "src/http/mod.ts",
    "src/adapters/fetch.ts",
    "src/otel/mod.ts",
    "src/fleet/redis.ts",
  ]
) {
  test(`${entry} bundles for the browser with no node: specifier and no Deno/Bun/process global`, async () => {
    const { text, inputs } = await bundle(entry);
    assert.ok(text.length > 1000, "the bundle has the code");
    assert.deepEqual(findings(text, inputs), []);
  });
}

test("the fetch layer's bundle (./http) pulls in no connect() and no adapter", async () => {
  const { inputs } = await bundle("src/http/mod.ts");
  const files = Object.keys(inputs);
  assert.ok(files.includes("src/http/resilient_fetch.ts"));
  const others = files.filter((f) => f.startsWith("src/connect/") || f.startsWith("src/adapters/"));
  assert.deepEqual(others, []);
});

test("the Redis store's bundle (./fleet/redis) pulls in no connect(), no adapter and no package", async () => {
  const { inputs } = await bundle("src/fleet/redis.ts");
  const files = Object.keys(inputs);
  assert.ok(files.includes("src/fleet/redis.ts"));
  const others = files.filter((f) => !f.startsWith("src/") || f.startsWith("src/connect/"));
  assert.deepEqual(others, []);
});

test("the OpenTelemetry entry's bundle (./otel) pulls in no connect(), no adapter and no package", async () => {
  const { inputs } = await bundle("src/otel/mod.ts");
  const files = Object.keys(inputs);
  assert.ok(files.includes("src/otel/instrument.ts"));
  const others = files.filter((f) => !f.startsWith("src/") || f.startsWith("src/connect/"));
  assert.deepEqual(others, []);
});

// Only src/connect/ may touch Deno, Bun, node:* or process: every other
// source file bundles for the browser clean on its own, whatever imports it.
test("no source file outside src/connect/ names a node: module or a runtime's global", () => {
  const outside = sourceFiles(join(root, "src")).filter((f) => !f.startsWith("src/connect/"));
  assert.ok(outside.includes("src/errors/normalize_error.ts"), "the walk finds the sources");
  const found: string[] = [];
  for (const file of outside) {
    const text = readFileSync(join(root, file), "utf8").replace(COMMENTS, "");
    for (const f of findings(text, {})) found.push(`${file}: ${f.what}`);
    if (/["']cloudflare:/.test(text)) found.push(`${file}: cloudflare:`);
  }
  assert.deepEqual(found, []);
});
