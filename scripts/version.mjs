// faultline's one version: "version" in deno.json. Everything else is written
// from it: src/version.ts (the exported VERSION) by `set` below, the npm
// package.json by scripts/build_npm.mjs, and the release heading in
// CHANGELOG.md by `set` below.
//
//   node scripts/version.mjs [check] [--tag vX.Y.Z] [--package DIR] [--root DIR]
//       Checks that deno.json's version is semver, that src/version.ts exports
//       the same, and that CHANGELOG.md has an "Unreleased" section and one for
//       this version. --tag: the git tag being published must be "v" + version.
//       --package: a built npm package (npm/) must carry the same version.
//       Exits 1 with one line per problem.
//
//   node scripts/version.mjs set X.Y.Z [--date YYYY-MM-DD] [--root DIR]
//       Cuts a release: writes X.Y.Z into deno.json and src/version.ts, and
//       turns CHANGELOG.md's Unreleased section into "## [X.Y.Z] - date"
//       under a new, empty Unreleased. X.Y.Z must be greater than the current
//       version, and Unreleased must say something.
//
// Plain JavaScript, runs under any Node >= 20. scripts/build_npm.mjs calls
// versionProblems() and refuses to build when it finds any.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const defaultRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Semantic Versioning 2.0.0 (semver.org), the recommended regular expression.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const VERSION_LINE = /^export const VERSION: string = "([^"]*)";$/m;
const DENO_VERSION = /("version"\s*:\s*)"([^"]*)"/;
const UNRELEASED = /^## \[Unreleased\][^\n]*\n/m;

/** The version in deno.json (the one source). */
export function denoVersion(root = defaultRoot) {
  return JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).version;
}

/** The body of a "## [heading]" section of CHANGELOG.md, or undefined. */
function section(changelog, heading) {
  const lines = changelog.split("\n");
  const start = lines.findIndex((l) =>
    l.startsWith(`## [${heading}]`) && /^## \[[^\]]+\](\s|$)/.test(l)
  );
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** Every disagreement between the places that carry the version. */
export function versionProblems(root = defaultRoot, { tag, packageDir } = {}) {
  const problems = [];
  const version = denoVersion(root);
  if (typeof version !== "string" || !SEMVER.test(version)) {
    problems.push(`deno.json "version" is ${JSON.stringify(version)}: not a semantic version`);
    return problems;
  }
  const versionFile = join(root, "src/version.ts");
  const m = existsSync(versionFile) ? readFileSync(versionFile, "utf8").match(VERSION_LINE) : null;
  if (!m) {
    problems.push('src/version.ts has no line `export const VERSION: string = "…";`');
  } else if (m[1] !== version) {
    problems.push(
      `src/version.ts exports VERSION "${m[1]}" but deno.json says "${version}": ` +
        `run node scripts/version.mjs set ${version} (or set the version you meant)`,
    );
  }
  const changelogFile = join(root, "CHANGELOG.md");
  if (!existsSync(changelogFile)) {
    problems.push("CHANGELOG.md is missing");
  } else {
    const changelog = readFileSync(changelogFile, "utf8");
    if (section(changelog, "Unreleased") === undefined) {
      problems.push('CHANGELOG.md has no "## [Unreleased]" section');
    }
    const own = section(changelog, version);
    if (own === undefined) {
      problems.push(`CHANGELOG.md has no "## [${version}] - YYYY-MM-DD" section`);
    } else if (
      !new RegExp(`^## \\[${escape(version)}\\] - \\d{4}-\\d{2}-\\d{2}$`, "m").test(changelog)
    ) {
      problems.push(
        `CHANGELOG.md's heading for ${version} must read "## [${version}] - YYYY-MM-DD"`,
      );
    }
  }
  if (tag !== undefined && tag !== `v${version}`) {
    problems.push(`the tag ${tag} does not match deno.json's version: expected v${version}`);
  }
  if (packageDir !== undefined) {
    const pkgFile = join(packageDir, "package.json");
    const pkgVersion = existsSync(pkgFile)
      ? JSON.parse(readFileSync(pkgFile, "utf8")).version
      : undefined;
    if (pkgVersion !== version) {
      problems.push(`${pkgFile} has version ${pkgVersion}, deno.json ${version}: rebuild it`);
    }
  }
  return problems;
}

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** -1, 0 or 1, by semver precedence (build metadata ignored). */
export function compareVersions(a, b) {
  const pa = a.match(SEMVER), pb = b.match(SEMVER);
  if (!pa || !pb) throw new TypeError(`not a semantic version: ${pa ? b : a}`);
  for (let i = 1; i <= 3; i++) {
    if (+pa[i] !== +pb[i]) return +pa[i] < +pb[i] ? -1 : 1;
  }
  if (pa[4] === pb[4]) return 0;
  if (pa[4] === undefined) return 1;
  if (pb[4] === undefined) return -1;
  const xa = pa[4].split("."), xb = pb[4].split(".");
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    if (xa[i] === undefined) return -1;
    if (xb[i] === undefined) return 1;
    if (xa[i] === xb[i]) continue;
    const na = /^\d+$/.test(xa[i]), nb = /^\d+$/.test(xb[i]);
    if (na && nb) return +xa[i] < +xb[i] ? -1 : 1;
    if (na !== nb) return na ? -1 : 1;
    return xa[i] < xb[i] ? -1 : 1;
  }
  return 0;
}

/** Cuts a release: see the comment at the top. Returns what it wrote. */
export function setVersion(version, { root = defaultRoot, date } = {}) {
  if (!SEMVER.test(version)) throw new Error(`${version} is not a semantic version (X.Y.Z)`);
  const current = denoVersion(root);
  if (compareVersions(version, current) <= 0) {
    throw new Error(`${version} is not greater than the current version ${current}`);
  }
  const day = date ?? new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`--date ${day} is not YYYY-MM-DD`);

  const changelogFile = join(root, "CHANGELOG.md");
  const changelog = readFileSync(changelogFile, "utf8");
  const unreleased = section(changelog, "Unreleased");
  if (unreleased === undefined) throw new Error('CHANGELOG.md has no "## [Unreleased]" section');
  if (!/^\s*- /m.test(unreleased)) {
    throw new Error(
      "CHANGELOG.md's Unreleased section lists nothing: write what this release changes first",
    );
  }
  if (section(changelog, version) !== undefined) {
    throw new Error(`CHANGELOG.md already has a section for ${version}`);
  }

  const denoFile = join(root, "deno.json");
  const deno = readFileSync(denoFile, "utf8");
  if (!DENO_VERSION.test(deno)) throw new Error('deno.json has no "version"');
  const versionFile = join(root, "src/version.ts");
  const source = readFileSync(versionFile, "utf8");
  if (!VERSION_LINE.test(source)) {
    throw new Error('src/version.ts has no line `export const VERSION: string = "…";`');
  }

  writeFileSync(denoFile, deno.replace(DENO_VERSION, `$1"${version}"`));
  writeFileSync(
    versionFile,
    source.replace(VERSION_LINE, `export const VERSION: string = "${version}";`)
      .replace(/(\/\/ "faultline )[^"]*(")/, `$1${version}$2`),
  );
  writeFileSync(
    changelogFile,
    changelog.replace(UNRELEASED, (heading) => `${heading}\n## [${version}] - ${day}\n`),
  );
  return { from: current, to: version, date: day };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const value = args[i + 1];
    if (value === undefined || value.startsWith("--")) {
      console.error(`version: ${name} needs a value`);
      process.exit(2);
    }
    args.splice(i, 2);
    return value;
  };
  const root = resolve(option("--root") ?? defaultRoot);
  const tag = option("--tag");
  const packageDir = option("--package");
  const date = option("--date");
  const [command = "check", value, ...rest] = args;
  if (rest.length > 0 || (command === "check" && value !== undefined)) {
    console.error(`version: unexpected ${rest.length > 0 ? rest.join(" ") : value}`);
    process.exit(2);
  }
  if (command === "set") {
    if (!value) {
      console.error("version: usage: node scripts/version.mjs set X.Y.Z [--date YYYY-MM-DD]");
      process.exit(2);
    }
    try {
      const r = setVersion(value, { root, date });
      console.log(
        `version: ${r.from} -> ${r.to} in deno.json and src/version.ts; CHANGELOG.md: ` +
          `Unreleased is now "## [${r.to}] - ${r.date}". Next: review, commit, ` +
          `git tag v${r.to}, push the tag.`,
      );
    } catch (error) {
      console.error(`version: ${error.message}`);
      process.exit(1);
    }
  } else if (command === "check") {
    const problems = versionProblems(root, { tag, packageDir });
    if (problems.length > 0) {
      for (const p of problems) console.error(`version: ${p}`);
      process.exit(1);
    }
    console.log(`version: ${denoVersion(root)} everywhere`);
  } else {
    console.error(`version: unknown command ${command} (check or set)`);
    process.exit(2);
  }
}
