/**
 * Finds the system programs a suite needs (postgres, redis-server, chromium)
 * and, when one is missing, says so loudly instead of passing in silence:
 * one line starting `SUITE NOT RUN:` that names the package to install
 * (scripts/run_tests.mjs repeats every such line at the end), a skipped
 * test locally, and a failing test under `CI=true`, so that CI always runs
 * every suite.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import process from "node:process";

/** The first of `candidates` that exists, also searched on PATH for bare names. */
export function findProgram(candidates: readonly string[]): string | undefined {
  const path = (process.env.PATH ?? "").split(":").filter(Boolean);
  for (const c of candidates) {
    if (c.includes("/")) {
      if (existsSync(c)) return c;
    } else {
      for (const dir of path) if (existsSync(`${dir}/${c}`)) return `${dir}/${c}`;
    }
  }
  return undefined;
}

/** Debian's postgres binaries: `/usr/lib/postgresql/<version>/bin`, the newest first. */
export function findPostgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => +b - +a);
    for (const v of versions) {
      const dir = `${root}/${v}/bin`;
      if (existsSync(`${dir}/postgres`) && existsSync(`${dir}/initdb`)) return dir;
    }
  }
  const postgres = findProgram(["postgres"]);
  return postgres && existsSync(postgres.replace(/postgres$/, "initdb"))
    ? postgres.replace(/\/postgres$/, "")
    : undefined;
}

/**
 * Reports a suite that cannot run because `debianPackage` is not installed:
 * a loud line, then a skipped test (or, under CI=true, a failing one).
 */
export function suiteNotRun(suite: string, debianPackage: string): void {
  const line =
    `SUITE NOT RUN: ${suite}: install Debian's ${debianPackage} (apt-get install -y ${debianPackage}; .ci/run does this)`;
  console.error(line);
  if (process.env.CI === "true") {
    test(`${suite} can run (CI=true)`, () => assert.fail(line));
  } else {
    test(suite, { skip: line }, () => {});
  }
}
