// Types for scripts/version.mjs, for the tests that import it.

/** The version in deno.json (the one source). */
export declare function denoVersion(root?: string): string;
/** Every disagreement between the places that carry the version ([] when none). */
export declare function versionProblems(
  root?: string,
  options?: { tag?: string; packageDir?: string },
): string[];
/** -1, 0 or 1, by semver precedence. */
export declare function compareVersions(a: string, b: string): -1 | 0 | 1;
/** Writes `version` into deno.json, src/version.ts and CHANGELOG.md's headings. */
export declare function setVersion(
  version: string,
  options?: { root?: string; date?: string },
): { from: string; to: string; date: string };
