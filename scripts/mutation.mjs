// `npm run mutation`: Stryker on src/policies and src/errors, under Node 24.
// The tap runner spawns plain `node` for each test file, and the test files
// are TypeScript, so Node 24 (type stripping) goes first on PATH. Any extra
// arguments go to `stryker run`; MUTATION_SCOPE=errors|policies picks one directory.
import { spawn } from "node:child_process";
import { delimiter, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const nodeDir = join(root, "node_modules", "node24", "bin");
const stryker = join(root, "node_modules", "@stryker-mutator", "core", "bin", "stryker.js");
const started = Date.now();
const child = spawn(
  join(nodeDir, "node"),
  [stryker, "run", join(root, "stryker.config.mjs"), ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, PATH: `${nodeDir}${delimiter}${process.env.PATH ?? ""}` },
  },
);
child.on("exit", (code, signal) => {
  console.log(`mutation: ${((Date.now() - started) / 60000).toFixed(1)} min`);
  process.exit(code ?? (signal ? 1 : 0));
});
