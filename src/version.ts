/**
 * The version of faultline this code is.
 *
 * Written by `node scripts/version.mjs set <version>` from the one version in
 * `deno.json`; `npm test` checks that they agree (and the npm build refuses to
 * build when they do not).
 *
 * @module
 */

/**
 * The version of faultline that is running: the same string as on JSR and npm
 * (semantic versioning). Handy in logs and bug reports, and to tell two copies
 * of the library apart.
 *
 * @example
 * ```ts
 * import { VERSION } from "@faultline/faultline";
 *
 * console.log(`faultline ${VERSION}`); // "faultline 0.1.0"
 * ```
 */
export const VERSION: string = "0.1.0";
