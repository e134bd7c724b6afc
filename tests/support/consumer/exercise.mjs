// Drives the installed `faultline` package the way a user would. The caller
// passes `load`, its own `import()` or `require()`, so that smoke.mjs tests the
// package through ESM and smoke.cjs through require(). Prints one JSON line.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** A loopback port that was just listening and is now closed. */
async function closedPort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function check(condition, message) {
  if (!condition) throw new Error(`exercise: ${message}`);
}

export async function exercise(mode, load) {
  const f = await load("faultline");
  const port = await closedPort();

  // 1. A refused connect() rejects with a ConnectionError of kind "refused".
  const error = await f.connect({ hostname: "127.0.0.1", port, timeout: 5000 }).then(
    (conn) => conn.close().then(() => undefined),
    (e) => e,
  );
  check(error instanceof f.ConnectionError, `connect() rejected with ${error}`);
  check(f.isConnectionError(error, "refused"), `kind is ${error?.kind}, not refused`);

  // 2. pipeline(retry, timeout): two refused attempts, the third succeeds.
  const policy = f.pipeline(
    f.retry({ maxAttempts: 3, backoff: f.constantBackoff(0) }),
    f.timeout(5000),
  );
  const kinds = [];
  const result = await policy.execute(async (ctx) => {
    if (ctx.attempt < 3) {
      await f.connect({ hostname: "127.0.0.1", port, signal: ctx.signal }).catch((e) => {
        kinds.push(e.kind);
        throw e;
      });
    }
    return `ok after ${ctx.attempt}`;
  });
  check(result === "ok after 3", `pipeline returned ${result}`);

  // 3. Every subpath loads; a workerd-only one refuses clearly elsewhere.
  const pkgUrl = new URL("./node_modules/faultline/package.json", import.meta.url);
  const pkg = JSON.parse(readFileSync(pkgUrl, "utf8"));
  const subpaths = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const specifier = subpath === "." ? "faultline" : `faultline/${subpath.slice(2)}`;
    try {
      const mod = await load(specifier);
      const functions = Object.keys(mod).filter((k) => typeof mod[k] === "function");
      check(functions.length > 0, `${specifier} exports no function`);
      check("workerd" in target === false, `${specifier} loaded outside workerd`);
      subpaths[subpath] = "loaded";
    } catch (e) {
      if (!("workerd" in target) || !/runs only in Cloudflare Workers/.test(String(e))) throw e;
      subpaths[subpath] = "workerd only";
    }
  }

  const runtime = globalThis.Deno ? "deno" : globalThis.Bun ? "bun" : `node ${process.version}`;
  console.log(
    JSON.stringify({ mode, runtime, kind: error.kind, retried: kinds, result, subpaths }),
  );
}
