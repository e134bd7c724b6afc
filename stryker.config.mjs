// Stryker on src/errors and src/policies, subfolders included (src/errors/clients,
// src/policies/trip): `npm run mutation` (scripts/mutation.mjs, which puts
// Node 24 first on PATH: the tap runner spawns plain `node`). The tests are each
// module's sibling `*_test.ts` files, at any depth, src/fleet's tests and
// tests/options_safety*_test.ts.
// MUTATION_SCOPE=errors|policies|all (default all) picks what is mutated and
// which test files run; MUTATION_FILES=a.ts,b.ts narrows the mutated files.
const scope = process.env.MUTATION_SCOPE ?? "all";
const dirs = scope === "all" ? ["errors", "policies"] : [scope];
for (const d of dirs) {
  if (d !== "errors" && d !== "policies") throw new Error(`MUTATION_SCOPE: ${scope}`);
}
const files = process.env.MUTATION_FILES?.split(",").filter(Boolean);

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "tap",
  plugins: ["@stryker-mutator/tap-runner"],
  mutate: files ?? [...dirs.map((d) => `src/${d}/**/*.ts`), "!src/**/*_test.ts"],
  tap: {
    testFiles: [
      ...dirs.map((d) => `src/${d}/**/*_test.ts`),
      // Breakers and budgets shared across a fleet are policies too: their
      // fleet paths are tested beside the fleet code, against a memory store.
      ...(dirs.includes("policies")
        ? [
          "src/fleet/*_test.ts",
          "tests/options_safety_test.ts",
          "tests/options_safety_latency_test.ts",
        ]
        : []),
    ],
    nodeArgs: ["--no-warnings", "--test-reporter=tap", "-r", "{{hookFile}}", "{{testFile}}"],
    forceBail: true,
  },
  // The tap runner reports coverage per test file: a mutant runs only the files that reach it.
  coverageAnalysis: "perTest",
  concurrency: 2,
  timeoutMS: 10000,
  timeoutFactor: 2,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: `reports/mutation/${scope}.html` },
  jsonReporter: { fileName: `reports/mutation/${scope}.json` },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  thresholds: { high: 90, low: 80, break: null },
};
