// Builds the npm package `faultline` from the Deno sources:
//
//   node scripts/build_npm.mjs [--out DIR]      (default DIR: npm/)
//
// Everything is derived from deno.json: the version (which must agree with
// src/version.ts and CHANGELOG.md: scripts/version.mjs), the license, and every
// subpath in "exports" (a subpath added there is built and exported without
// touching this script). The TypeScript compiler from npm (options in
// tsconfig.build.json) emits ESM JavaScript and .d.ts files next to each other
// in the source layout (mod.ts -> mod.js + mod.d.ts, src/... -> src/...);
// `rewriteRelativeImportExtensions` turns the `.ts` import specifiers into
// `.js`. The package is ESM only: Node >= 22.12 loads it with require() too
// (require(esm)), so there is no CommonJS copy and no dual-package hazard.
//
// An entry whose import graph reaches `cloudflare:*` (the Workers adapter) is
// exported under the "workerd" condition; elsewhere its "default" condition
// loads a stub that throws a clear error instead of an unsupported URL scheme.
//
// Plain JavaScript, runs under any Node >= 20. Ends by running
// scripts/check_exports.mjs on the result.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import {
  builtPaths,
  checkExports,
  denoExports,
  externalImports,
  unsupportedStub,
} from "./check_exports.mjs";
import { versionProblems } from "./version.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const JSR_NAME = "@faultline/faultline";
const NPM_NAME = "faultline";
// A relative import/export specifier ending in .ts (in `from "…"` or `import("…")`).
const RELATIVE_TS = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"'\n]*?)\.ts\2/g;

function fail(message) {
  console.error(`build_npm: ${message}`);
  process.exit(1);
}

const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const outDir = resolve(
  outIndex >= 0 && args[outIndex + 1] ? args[outIndex + 1] : join(root, "npm"),
);
const up = relative(outDir, root);
if (!up.startsWith("..") && !isAbsolute(up)) {
  fail(`refusing to build into ${outDir}: it contains the repository`);
}

// 1. deno.json: version, license, exports (every listed file must exist).
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
if (deno.name !== JSR_NAME) fail(`deno.json name is ${deno.name}, expected ${JSR_NAME}`);
if (typeof deno.version !== "string") fail("deno.json has no version");
// The one version (deno.json) must already be in src/version.ts and CHANGELOG.md.
const versionIssues = versionProblems(root);
if (versionIssues.length > 0) fail(versionIssues.join("\nbuild_npm: "));
const exportsMap = denoExports(deno);
const missing = Object.entries(exportsMap).filter(([, file]) => !existsSync(join(root, file)));
if (missing.length > 0) {
  fail(
    missing.map(([subpath, file]) =>
      `deno.json exports "${subpath}" -> ${file}, which does not exist (yet): ` +
      "write the file or remove the subpath from deno.json"
    ).join("\nbuild_npm: "),
  );
}
const entries = Object.entries(exportsMap).map(([subpath, source]) => {
  try {
    return { subpath, source, ...builtPaths(source) };
  } catch (error) {
    return fail(error.message);
  }
});

// 2. Compile with the options in tsconfig.build.json and the entries above.
const configPath = join(root, "tsconfig.build.json");
const configFile = ts.readConfigFile(configPath, ts.sys.readFile);
if (configFile.error) fail(ts.flattenDiagnosticMessageText(configFile.error.messageText, "\n"));
const parsed = ts.parseJsonConfigFileContent(
  { ...configFile.config, files: entries.map((e) => e.source) },
  ts.sys,
  root,
  { outDir },
  configPath,
);
if (parsed.errors.length > 0) fail(format(parsed.errors));
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
const emitted = [];
const writeFile = (fileName, text, bom) => {
  // Doc examples and messages name the JSR package; on npm it is `faultline`.
  let out = text.replaceAll(JSR_NAME, NPM_NAME);
  // tsc rewrites `./x.ts` to `./x.js` in JavaScript but leaves declaration
  // files' specifiers as written; `.js` is what every consumer resolves.
  if (fileName.endsWith(".d.ts")) out = out.replace(RELATIVE_TS, "$1$2$3.js$2");
  const left = out.match(RELATIVE_TS);
  if (left) fail(`${fileName} still imports ${left[0]}`);
  ts.sys.writeFile(fileName, out, bom);
  emitted.push(fileName);
};
const result = program.emit(undefined, writeFile);
const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
if (diagnostics.length > 0 || result.emitSkipped) {
  rmSync(outDir, { recursive: true, force: true });
  fail(`tsc reported errors, nothing written:\n${format(diagnostics)}`);
}
for (const file of emitted) {
  if (/_test\.(d\.ts|js)$/.test(file)) fail(`a test file was compiled into the package: ${file}`);
}

// 3. Exports: types first, default last; cloudflare:* entries only for workerd.
const checker = program.getTypeChecker();
const exportsField = {};
for (const e of entries) {
  const external = externalImports(outDir, e.js);
  const cloudflareOnly = [...external.keys()].some((s) => s.startsWith("cloudflare:"));
  if (!cloudflareOnly) {
    exportsField[e.subpath] = { types: e.dts, default: e.js };
    continue;
  }
  const stub = unsupportedStub(e.js);
  writeFileSync(join(outDir, stub), unsupportedModule(e, valueExports(e.source)));
  exportsField[e.subpath] = { types: e.dts, workerd: e.js, default: stub };
}

// 4. package.json, README, LICENSE, CHANGELOG.
const root0 = entries.find((e) => e.subpath === ".");
const pkg = {
  name: NPM_NAME,
  version: deno.version,
  description: "Every way a connection can fail, in every JavaScript runtime, as one typed " +
    "ConnectionError with a kind; and one pipeline of policies (retry, circuit breaker, " +
    "timeout, fallback, bulkhead) that decides what to do about it.",
  license: deno.license,
  keywords: [
    "connection",
    "errors",
    "retry",
    "circuit-breaker",
    "timeout",
    "resilience",
    "deno",
    "bun",
    "cloudflare-workers",
  ],
  type: "module",
  sideEffects: false,
  engines: { node: ">=22.12.0" },
  exports: exportsField,
  ...(root0 ? { main: root0.js, types: root0.dts } : {}),
};
writeFileSync(join(outDir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
for (const file of ["README.md", "LICENSE", "CHANGELOG.md"]) {
  if (!existsSync(join(root, file))) fail(`${file} is missing`);
  copyFileSync(join(root, file), join(outDir, file));
}

// 5. The package and deno.json must agree.
const problems = checkExports(outDir);
if (problems.length > 0) fail(`check_exports:\n  ${problems.join("\n  ")}`);
const js = emitted.filter((f) => f.endsWith(".js")).length;
const dts = emitted.filter((f) => f.endsWith(".d.ts")).length;
console.log(
  `build_npm: ${NPM_NAME}@${deno.version} -> ${relative(process.cwd(), outDir) || "."} ` +
    `(${js} .js, ${dts} .d.ts; subpaths: ${Object.keys(exportsField).join(", ")})`,
);

function format(list) {
  return ts.formatDiagnostics(list, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => "\n",
  });
}

/** The names an entry exports as values (what an `import { x }` of it may name). */
function valueExports(source) {
  const file = program.getSourceFile(join(root, source));
  const moduleSymbol = file && checker.getSymbolAtLocation(file);
  if (!moduleSymbol) return [];
  return checker.getExportsOfModule(moduleSymbol).filter((s) => {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    return (target.flags & ts.SymbolFlags.Value) !== 0;
  }).map((s) => s.getName()).sort();
}

/** A module with the same value exports that throws when loaded outside workerd. */
function unsupportedModule(entry, names) {
  const specifier = entry.subpath === "." ? NPM_NAME : `${NPM_NAME}/${entry.subpath.slice(2)}`;
  const message = `${specifier} runs only in Cloudflare Workers (workerd), as it imports ` +
    `cloudflare:sockets. Elsewhere use connect() from "${NPM_NAME}".`;
  const lines = [
    `// Loaded instead of ${entry.js} outside workerd (see the "workerd" condition in`,
    "// package.json). The exports below exist only so that importing one of them",
    "// reaches the error rather than a link error.",
    `throw new Error(${JSON.stringify(message)});`,
  ];
  for (const name of names) {
    lines.push(name === "default" ? "export default undefined;" : `export let ${name};`);
  }
  return lines.join("\n") + "\n";
}
