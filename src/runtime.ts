/**
 * Which JavaScript runtime this code is running in.
 *
 * Only feature detection lives here: it checks which globals exist and never
 * calls a runtime's API, so it loads anywhere (a browser, workerd, Deno, Bun,
 * Node). Deno and Bun both define `process.release.name === "node"`, so they
 * are checked first.
 *
 * @module
 */

/** A runtime that faultline can tell apart. */
export type RuntimeName =
  | "deno"
  | "bun"
  | "node"
  | "workerd"
  | "edge-light"
  | "browser"
  | "unknown";

let detected: RuntimeName | undefined;

/**
 * Detects the runtime once and remembers it.
 *
 * @example
 * ```ts
 * import { detectRuntime } from "@faultline/faultline";
 *
 * if (detectRuntime() === "deno") console.log("hello from Deno");
 * ```
 */
export function detectRuntime(): RuntimeName {
  return detected ??= detect();
}

function detect(): RuntimeName {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Deno === "object" && g.Deno !== null) return "deno";
  if (typeof g.Bun === "object" && g.Bun !== null) return "bun";
  if (typeof g.EdgeRuntime === "string") return "edge-light";
  const nav = g.navigator as { userAgent?: unknown } | undefined;
  if (nav && nav.userAgent === "Cloudflare-Workers") return "workerd";
  const proc = g.process as { versions?: { node?: unknown } } | undefined;
  if (proc && typeof proc.versions?.node === "string") return "node";
  if (typeof g.document === "object" || typeof g.WorkerGlobalScope === "function") return "browser";
  return "unknown";
}
