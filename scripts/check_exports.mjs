// Checks that the built npm package (npm/ by default) agrees with deno.json:
// the same subpaths, each pointing at the build of the same source file, with
// its types, and that no entry point loads something its runtimes lack (the
// root never reaches `cloudflare:` or `node:` modules; an entry that reaches
// `cloudflare:` is only exported under the `workerd` condition).
//
//   node scripts/check_exports.mjs [package-dir]
//
// Plain JavaScript, runs under any Node >= 20. Exits 1 with one line per
// problem. The build (scripts/build_npm.mjs) and tests/npm_package_test.ts
// call checkExports() too.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Reads deno.json's exports as a map from subpath to `./source.ts`. */
export function denoExports(denoJson) {
  const e = denoJson.exports;
  if (typeof e === "string") return { ".": e };
  if (e === null || typeof e !== "object" || Array.isArray(e)) {
    throw new TypeError('deno.json: "exports" must be a string or an object');
  }
  return { ...e };
}

/** `./src/a.ts` -> `./src/a.js` / `./src/a.d.ts`. */
export function builtPaths(source) {
  if (!/^\.\/.+\.(ts|mts)$/.test(source) || source.endsWith(".d.ts")) {
    throw new TypeError(`deno.json export ${source} is not a relative .ts file`);
  }
  const base = source.replace(/\.m?ts$/, "");
  const ext = source.endsWith(".mts") ? "mjs" : "js";
  return { js: `${base}.${ext}`, dts: `${base}.d.${ext === "mjs" ? "mts" : "ts"}` };
}

/**
 * Every module specifier a JS file's static graph reaches (relative ones are
 * followed; comments are ignored), as a map from bare/scheme specifier to the
 * file that imports it.
 */
export function externalImports(pkgDir, entry) {
  const seen = new Set();
  const found = new Map();
  const queue = [resolve(pkgDir, entry)];
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    if (!existsSync(file)) {
      found.set(`(missing file ${file})`, file);
      continue;
    }
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith("./") || fileName.startsWith("../")) {
        queue.push(normalize(join(dirname(file), fileName)));
      } else if (!found.has(fileName)) {
        found.set(fileName, file);
      }
    }
  }
  return found;
}

/** Returns a list of problems (empty when the package agrees with deno.json). */
export function checkExports(pkgDir = join(root, "npm"), denoPath = join(root, "deno.json")) {
  const problems = [];
  const deno = JSON.parse(readFileSync(denoPath, "utf8"));
  const pkgPath = join(pkgDir, "package.json");
  if (!existsSync(pkgPath)) return [`${pkgPath} does not exist: run npm run build first`];
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));

  if (pkg.name !== "faultline") problems.push(`package.json name is ${pkg.name}, not faultline`);
  if (pkg.version !== deno.version) {
    problems.push(`package.json version ${pkg.version} != deno.json version ${deno.version}`);
  }
  if (pkg.type !== "module") problems.push('package.json "type" is not "module"');
  if (pkg.sideEffects !== false) problems.push('package.json "sideEffects" is not false');

  const want = denoExports(deno);
  const have = pkg.exports ?? {};
  const wantKeys = Object.keys(want).sort();
  const haveKeys = Object.keys(have).sort();
  for (const k of wantKeys) {
    if (!(k in have)) problems.push(`subpath ${k} is in deno.json but not in package.json`);
  }
  for (const k of haveKeys) {
    if (!(k in want)) problems.push(`subpath ${k} is in package.json but not in deno.json`);
  }

  for (const subpath of wantKeys) {
    const target = have[subpath];
    if (target === undefined) continue;
    const where = `package.json exports["${subpath}"]`;
    let expected;
    try {
      expected = builtPaths(want[subpath]);
    } catch (error) {
      problems.push(error.message);
      continue;
    }
    if (target === null || typeof target !== "object") {
      problems.push(`${where} must be an object of conditions`);
      continue;
    }
    const conditions = Object.keys(target);
    if (conditions[0] !== "types") problems.push(`${where}: "types" must come first`);
    if (conditions.at(-1) !== "default") problems.push(`${where}: "default" must come last`);
    if (target.types !== expected.dts) {
      problems.push(`${where}.types is ${target.types}, expected ${expected.dts}`);
    }
    const runtimeTargets = Object.entries(target).filter(([c]) => c !== "types");
    const external = externalImports(pkgDir, expected.js);
    const cloudflareOnly = [...external.keys()].some((s) => s.startsWith("cloudflare:"));
    for (const [condition, file] of runtimeTargets) {
      const ok = file === expected.js ||
        (cloudflareOnly && condition === "default" && file === unsupportedStub(expected.js));
      if (!ok) {
        problems.push(
          `${where}.${condition} is ${file}, expected ${expected.js} (built from ${want[subpath]})`,
        );
      }
    }
    for (const [condition, file] of Object.entries(target)) {
      if (typeof file === "string" && !existsSync(join(pkgDir, file))) {
        problems.push(`${where}.${condition}: ${file} is not in the package`);
      }
    }
    if (cloudflareOnly && target.workerd !== expected.js) {
      problems.push(`${where} imports cloudflare:* but has no "workerd" condition`);
    }
    if (!cloudflareOnly && "workerd" in target) {
      problems.push(`${where} has a "workerd" condition but does not import cloudflare:*`);
    }
    for (const [specifier, file] of external) {
      if (specifier.startsWith("(missing")) problems.push(`${where}: ${specifier}`);
      if (
        subpath === "." && (specifier.startsWith("node:") || specifier.startsWith("cloudflare:"))
      ) {
        problems.push(`the package root imports ${specifier} (in ${file}): it must load anywhere`);
      }
      if (!/^(node|cloudflare):/.test(specifier) && !specifier.startsWith("(missing")) {
        problems.push(
          `${where} imports ${specifier} (in ${file}): the package has no dependencies`,
        );
      }
    }
  }
  if (pkg.dependencies && Object.keys(pkg.dependencies).length > 0) {
    problems.push("package.json has dependencies: faultline has none");
  }
  return problems;
}

/** The file a workerd-only entry's "default" condition points at. */
export function unsupportedStub(js) {
  return js.replace(/\.(m?js)$/, ".unsupported.$1");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const dir = resolve(process.argv[2] ?? join(root, "npm"));
  const problems = checkExports(dir);
  if (problems.length > 0) {
    for (const p of problems) console.error(`check_exports: ${p}`);
    process.exit(1);
  }
  const n = Object.keys(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).exports).length;
  console.log(`check_exports: ${dir}/package.json agrees with deno.json (${n} subpaths)`);
}
