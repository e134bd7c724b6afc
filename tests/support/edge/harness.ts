/**
 * Vercel's edge runtime (the npm package `edge-runtime`: the same sandbox
 * `next dev` and `vercel dev` run edge functions in) with the bundle of
 * tests/support/browser/web_scenarios.ts loaded as its `initialCode`.
 * Shared by tests/edge_runtime_test.ts and scripts/capture_browser_errors.ts.
 *
 * The sandbox is a `node:vm` context with web globals only (no `process`,
 * no `require`, `EdgeRuntime === "edge-runtime"`); its `fetch` is the undici
 * bundled in `@edge-runtime/primitives`, which uses the host's `node:net`
 * (Node's, or Deno's or Bun's implementation of it).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EdgeRuntime } from "edge-runtime";

/** The installed `edge-runtime` package's version. */
export function edgeRuntimeVersion(): string {
  const pkg = fileURLToPath(
    new URL("../../../node_modules/edge-runtime/package.json", import.meta.url),
  );
  return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
}

/** A sandbox with the scenarios loaded. */
export interface EdgeSandbox {
  /** Runs `faultlineWeb[name](...args)` in the sandbox; its result, through JSON. */
  call<T = Record<string, unknown>>(name: string, ...args: unknown[]): Promise<T>;
}

/**
 * A new edge-runtime sandbox running `bundle`, with `faultlineHost(command)`
 * (which calls `onHost` on the host) on its global object.
 */
export function startEdgeSandbox(
  bundle: string,
  onHost: (command: string) => Promise<unknown>,
): EdgeSandbox {
  const runtime = new EdgeRuntime({
    initialCode: bundle,
    extend(context) {
      Object.defineProperty(context, "faultlineHost", { value: onHost });
      return context;
    },
  });
  return {
    async call<T>(name: string, ...args: unknown[]): Promise<T> {
      // Plain data crosses the realm boundary as a JSON string.
      const text: unknown = await runtime.evaluate(
        `Promise.resolve(faultlineWeb[${JSON.stringify(name)}](...${JSON.stringify(args)}))` +
          `.then((r) => JSON.stringify(r))`,
      );
      return JSON.parse(String(text)) as T;
    },
  };
}
