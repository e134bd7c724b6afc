/**
 * Starts tests/support/db_fault_server.ts (raw TCP faults, a minimal MySQL and
 * a minimal MongoDB server, all on 127.0.0.1) in a Node child process, so
 * that Deno, Bun and Node clients meet the very same bytes and resets.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const serverFile = fileURLToPath(new URL("./db_fault_server.ts", import.meta.url));

/** The ports of every endpoint; see db_fault_server.ts for what each does. */
export interface DbFaultPorts {
  rst: number;
  fin: number;
  rstOnData: number;
  finOnData: number;
  stall: number;
  mysqlSyntax: number;
  mysqlDenied: number;
  mysqlRst: number;
  mysqlFin: number;
  mysqlStall: number;
  mongoRst: number;
  mongoFin: number;
  mongoStall: number;
  mongoCmdError: number;
  mongoAuthFail: number;
}

export interface DbFaultServer {
  ports: DbFaultPorts;
  stop(): Promise<void>;
}

/** Starts the fault servers; `stop()` ends the child and waits for it. */
export function startDbFaultServer(): Promise<DbFaultServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${root}node_modules/node24/bin/node`, [serverFile], {
      cwd: root,
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    let buffer = "";
    child.once("error", reject);
    child.stdout!.on("data", (chunk) => {
      buffer += chunk;
      const nl = buffer.indexOf("\n");
      if (nl === -1) return;
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      resolve({
        ports: JSON.parse(buffer.slice(0, nl)) as DbFaultPorts,
        stop: () => {
          child.stdin!.end();
          child.kill();
          child.stdout!.destroy();
          return exited;
        },
      });
    });
  });
}
