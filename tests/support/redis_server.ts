/**
 * A throwaway redis-server for tests and for scripts/capture_db_errors.ts, on
 * a free 127.0.0.1 port, with nothing persisted (`--save "" --appendonly no`,
 * working dir in a temp dir removed on stop). node:child_process only, so it
 * works from Node, Deno and Bun.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { findProgram } from "./requirements.ts";

export interface RedisServer {
  host: string;
  port: number;
  /** SIGTERM, then SIGKILL after 5 s; removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Debian's redis-server, when installed. */
export function findRedisServer(): string | undefined {
  return findProgram(["redis-server", "/usr/bin/redis-server", "/usr/sbin/redis-server"]);
}

/** Waits for `p`, at most `ms`, leaving no timer behind. */
function within(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))])
    .finally(() => clearTimeout(timer));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts redis-server. Throws when it is not installed. */
export async function startRedis(): Promise<RedisServer> {
  const bin = findRedisServer();
  if (bin === undefined) throw new Error("redis-server is not installed (Debian: redis-server)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "faultline-redis-"));
  const port = await freePort();
  const child = spawn(bin, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--protected-mode",
    "yes",
  ], { stdio: ["ignore", "pipe", "ignore"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let log = "";
  let earlyExit: (code: number | null) => void = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start: ${log}`)),
        10_000,
      );
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once("exit", onExit);
      function onExit(code: number | null) {
        clearTimeout(timer);
        reject(new Error(`redis-server exited ${code}: ${log}`));
      }
      earlyExit = onExit;
      child.stdout!.on("data", (d) => {
        log += String(d);
        if (log.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (e) {
    child.kill("SIGKILL");
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  child.off("exit", earlyExit);
  child.stdout!.removeAllListeners("data");
  child.stdout!.resume();
  const signal = (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(sig);
      } catch {
        // Already gone.
      }
    }
    return exited;
  };
  let stopped: Promise<void> | undefined;
  return {
    host: "127.0.0.1",
    port,
    stop: () =>
      stopped ??= (async () => {
        await within(signal("SIGTERM"), 5000);
        await signal("SIGKILL");
        child.stdout!.destroy();
        fs.rmSync(dir, { recursive: true, force: true });
      })(),
  };
}
