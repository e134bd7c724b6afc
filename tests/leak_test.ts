import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";

// Generous: the assertion is that the child exits by itself at all, not how fast.
const EXIT_WITHIN_MS = 20_000;

function childArgs(file: string): string[] {
  const g = globalThis as Record<string, unknown>;
  if (g.Deno !== undefined) return ["run", "-A", file];
  return [file];
}

async function expectExitsByItself(name: string): Promise<void> {
  const file = fileURLToPath(new URL(`./support/${name}`, import.meta.url));
  const child = spawn(process.execPath, childArgs(file), { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await new Promise<{ code: number | null; timedOut: boolean }>((resolve) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ code: null, timedOut: true });
    }, EXIT_WITHIN_MS);
    child.on("exit", (code) => resolve({ code, timedOut: false }));
  });
  clearTimeout(timer);
  assert.equal(
    result.timedOut,
    false,
    `the child did not exit within ${EXIT_WITHIN_MS} ms\n${stderr}`,
  );
  assert.equal(result.code, 0, `the child failed:\n${stdout}\n${stderr}`);
  assert.match(stdout, /leak child done/);
}

test("a process that used every policy exits by itself once its calls settle", () =>
  expectExitsByItself("leak_child.ts"));

test("a process whose connects were refused, timed out, cancelled or failed TLS exits by itself", () =>
  expectExitsByItself("connect_leak_child.ts"));
