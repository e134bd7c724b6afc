/**
 * A throwaway postgres for tests and for scripts/capture_db_errors.ts: `initdb`
 * into a temp dir, `postgres` on a free 127.0.0.1 port (unix sockets in the
 * temp dir, trust auth except for the role {@link PASSWORD_USER}, no fsync),
 * and the temp dir removed when it stops.
 *
 * postgres refuses to run as root: as root, the temp dir is handed to the
 * `postgres` user and both programs run as that user through `setpriv` (which
 * execs, so the child's pid is postgres's own pid and signals reach it), or
 * `runuser` when setpriv is missing. Works from Node, Deno and Bun
 * (node:child_process only).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { findPostgresBin, findProgram } from "./requirements.ts";

/**
 * The one role that must give a password over TCP (scram-sha-256); create it
 * with `CREATE ROLE faultline_pw LOGIN PASSWORD '...'` to provoke an auth failure.
 */
export const PASSWORD_USER = "faultline_pw";

export interface PostgresServer {
  host: string;
  port: number;
  /** The superuser (trust auth: no password) and its database. */
  user: string;
  database: string;
  /** Fast shutdown (SIGINT), then the temp dir is removed. Idempotent. */
  stop(): Promise<void>;
  /**
   * Immediate shutdown (SIGQUIT, what `pg_ctl stop -m immediate` sends): every
   * backend quits at once without a goodbye. The temp dir stays until stop().
   */
  kill(): Promise<void>;
  /**
   * Smart shutdown (SIGTERM, `pg_ctl stop -m smart`): open sessions carry on,
   * new connections are refused with 57P03 "the database system is shutting
   * down", and postgres exits when the last session ends. Does not wait.
   */
  smartShutdown(): void;
  /** Immediate shutdown if still running, then start again on the same port and data. */
  restart(): Promise<void>;
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

/** How to run a program as the postgres user: a command prefix, and the uid/gid to chown to. */
function asPostgres(): { prefix: string[]; uid?: number; gid?: number } {
  const getuid = (process as { getuid?: () => number }).getuid;
  if (typeof getuid !== "function" || getuid() !== 0) return { prefix: [] };
  const id = (flag: string) => {
    const r = spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
    const n = Number(String(r.stdout).trim());
    if (r.status !== 0 || !Number.isInteger(n)) {
      throw new Error("running as root and there is no `postgres` user to run postgres as");
    }
    return n;
  };
  const uid = id("-u"), gid = id("-g");
  const setpriv = findProgram(["setpriv", "/usr/bin/setpriv"]);
  if (setpriv) {
    return {
      prefix: [setpriv, `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", "--"],
      uid,
      gid,
    };
  }
  const runuser = findProgram(["runuser", "/usr/sbin/runuser", "/sbin/runuser"]);
  if (runuser) return { prefix: [runuser, "-u", "postgres", "--"], uid, gid };
  throw new Error("running as root and neither setpriv nor runuser is there to drop to postgres");
}

function run(cmd: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "ignore", "pipe"], env });
    let err = "";
    child.stderr!.on("data", (d) => (err += String(d)));
    child.once("error", reject);
    child.once(
      "close",
      (code) =>
        code === 0 ? resolve() : reject(new Error(`${cmd.join(" ")} exited ${code}: ${err}`)),
    );
  });
}

interface Running {
  /** Sends `sig` unless it has exited; resolves when it has. */
  signal(sig: NodeJS.Signals): Promise<void>;
}

/** Starts the postmaster and waits until it accepts connections. */
async function launch(cmd: string, args: string[], env: Record<string, string>): Promise<Running> {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], env });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let log = "";
  let earlyExit: (code: number | null) => void = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`postgres did not start: ${log}`)), 20_000);
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once("exit", onExit);
      function onExit(code: number | null) {
        clearTimeout(timer);
        reject(new Error(`postgres exited ${code}: ${log}`));
      }
      earlyExit = onExit;
      child.stderr!.on("data", (d) => {
        log += String(d);
        if (log.includes("ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (e) {
    child.kill("SIGKILL");
    await exited;
    throw e;
  }
  child.off("exit", earlyExit);
  // Keep draining its log so that postgres never blocks on a full pipe.
  child.stderr!.removeAllListeners("data");
  child.stderr!.resume();
  const signal = (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(sig);
      } catch {
        // Already gone.
      }
    }
    return exited.then(() => void child.stderr!.destroy());
  };
  return { signal };
}

/** Starts a fresh postgres. Throws when the binaries are not installed. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error("postgres is not installed (Debian: postgresql)");
  const who = asPostgres();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "faultline-pg-"));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    if (who.uid !== undefined) fs.chownSync(dir, who.uid, who.gid!);
    const data = path.join(dir, "data");
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", LANG: "C" };
    await run([
      ...who.prefix,
      `${bin}/initdb`,
      "-D",
      data,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--no-sync",
    ], env);
    // Trust for everyone but `faultline_pw`, who needs a password: so that a
    // wrong password (an auth failure, not a connection failure) can be provoked.
    fs.writeFileSync(
      path.join(data, "pg_hba.conf"),
      "local all all trust\n" +
        "host all faultline_pw 127.0.0.1/32 scram-sha-256\n" +
        "host all all 127.0.0.1/32 trust\n",
    );
    const port = await freePort();
    const args = [
      ...who.prefix.slice(1),
      ...(who.prefix.length ? [`${bin}/postgres`] : []),
      "-D",
      data,
      "-p",
      String(port),
      "-k",
      dir,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "max_connections=50",
    ];
    let running = await launch(who.prefix[0] ?? `${bin}/postgres`, args, env);
    let stopped: Promise<void> | undefined;
    return {
      host: "127.0.0.1",
      port,
      user: "postgres",
      database: "postgres",
      kill: () => running.signal("SIGQUIT"),
      smartShutdown: () => void running.signal("SIGTERM"),
      restart: async () => {
        await running.signal("SIGQUIT");
        running = await launch(who.prefix[0] ?? `${bin}/postgres`, args, env);
      },
      stop: () =>
        stopped ??= (async () => {
          await within(running.signal("SIGINT"), 5000);
          await running.signal("SIGKILL");
          cleanup();
        })(),
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}
