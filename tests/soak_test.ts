// The soak's short form, in every runtime: scripts/soak.ts runs a worker in
// this runtime against the chaos proxy (a Node child), checks the invariants
// and measures how long the worker takes to exit after its last call. The
// long form is `npm run soak`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { FAULT_KINDS } from "./support/chaos_proxy.ts";

const CALLS = 3000;
// Generous: a hard stop for a hung run, not a timing assertion.
const HARD_STOP_MS = 120_000;

test(`soak: ${CALLS} calls through the full pipeline against the chaos proxy`, async () => {
  const script = fileURLToPath(new URL("../scripts/soak.ts", import.meta.url));
  const g = globalThis as Record<string, unknown>;
  const pre = g.Deno !== undefined ? ["run", "-A", script] : [script];
  const child = spawn(process.execPath, [
    ...pre,
    "--runtime",
    "self",
    "--calls",
    String(CALLS),
    "--concurrency",
    "50",
    "--seed",
    "11",
    "--max-heap-growth-mb",
    "64",
    "--max-exit-ms",
    "5000",
    "--json",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const code = await new Promise<number | null>((resolve) => {
    timer = setTimeout(() => child.kill("SIGKILL"), HARD_STOP_MS);
    child.on("exit", (c) => resolve(c));
  });
  clearTimeout(timer);
  const line = out.split("\n").find((l) => l.startsWith("SOAK_SUMMARY "));
  assert.ok(line, `no summary:\n${out}\n${err}`);
  const summary = JSON.parse(line.slice("SOAK_SUMMARY ".length));
  const report = out.split("\n").filter((l) => !l.startsWith("SOAK_")).join("\n");
  assert.deepEqual(summary.failures, [], report);
  assert.equal(summary.ok, true, report);
  assert.equal(code, 0, `${report}\n${err}`);
  const w = summary.worker;
  assert.equal(w.calls, CALLS);
  assert.equal(w.settled, CALLS, "every call settled exactly once");
  assert.equal(w.unhandled, 0);
  assert.equal(w.detectorWorks, true, "the unhandled-rejection detector fired on its probe");
  assert.ok(w.attempts <= CALLS * 3, "never more than maxAttempts per call");
  assert.ok((w.outcomes.ok ?? 0) > 0, report);
  assert.ok(summary.exitMs !== undefined && summary.exitMs <= 5000, report);
  // The faults were there to be survived.
  for (const kind of FAULT_KINDS) assert.ok(summary.proxy.faults[kind] > 0, `${kind}: ${report}`);
  assert.equal(summary.proxy.openSockets, 0);
  assert.equal(summary.proxy.stuckSockets, 0);
});
