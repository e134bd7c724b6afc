// Runs a TypeScript script with a Node that strips types: this one when it
// can (Node ≥ 22.18), else the Node 24 that `npm install` brings as a dev
// dependency, so `npm run demo` works whatever Node runs npm.
// Usage: node scripts/ts.mjs <script.ts> [args...]
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const [major, minor] = process.versions.node.split(".").map(Number);
const strips = major > 22 || (major === 22 && minor >= 18);
const node24 = join(root, "node_modules", "node24", "bin", "node");
const node = strips || !existsSync(node24) ? process.execPath : node24;
const child = spawn(node, process.argv.slice(2), { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
