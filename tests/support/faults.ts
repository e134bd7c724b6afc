// Test helpers that start loopback servers and provoke faults. Loopback only.
import { spawn } from "node:child_process";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { closedPort } from "./closed_port.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const nodeBin = `${root}node_modules/node22/bin/node`;
const serverFile = fileURLToPath(new URL("./fault_server.ts", import.meta.url));

export interface FaultPorts {
  reset: number;
  resetAfterGreeting: number;
  closeEarly: number;
  hangUp: number;
  plainText: number;
  closeAtOnce: number;
  echo: number;
  silent: number;
}

export interface Running<T> {
  ports: T;
  stop(): Promise<void>;
}

function startChild<T>(args: string[]): Promise<Running<T>> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [serverFile, ...args], { stdio: ["pipe", "pipe", "inherit"] });
    let buffer = "";
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.once("error", reject);
    child.stdout!.on("data", (chunk) => {
      buffer += chunk;
      const nl = buffer.indexOf("\n");
      if (nl === -1) return;
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      resolve({
        ports: JSON.parse(buffer.slice(0, nl)) as T,
        stop: () => {
          child.stdin!.end();
          child.kill();
          return exited;
        },
      });
    });
  });
}

/**
 * A name that fails to resolve without a DNS query leaving the machine: a
 * label may not start with a hyphen, so the resolver (glibc's, which Node,
 * Deno and Bun all use) refuses it locally, where `no-such-host.invalid`
 * would be sent to the configured nameserver. Checked with strace: no packet
 * to port 53 in any runtime; Node and Bun say ENOTFOUND, Deno "failed to
 * lookup address information".
 */
export const UNRESOLVABLE_HOST = "-no-such-host.invalid";

/** Starts the fault server (a Node child process) on `host`. */
export function startFaultServer(host = "127.0.0.1"): Promise<Running<FaultPorts>> {
  return startChild<FaultPorts>([host]);
}

/** Starts a listener whose process never accepts: connects to it hang. */
export async function startStalledListener(
  host = "127.0.0.1",
): Promise<Running<{ stall: number }>> {
  return await startChild<{ stall: number }>([host, "stall"]);
}

export { closedPort };

/** A port closed on both 127.0.0.1 and ::1, for `localhost`. */
export async function closedPortBothFamilies(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await closedPort("127.0.0.1");
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen({ host: "::1", port }, () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no port free on both families");
}

/** True when this machine has a usable ::1. */
export function hasIPv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen({ host: "::1", port: 0 }, () => s.close(() => resolve(true)));
  });
}

export const runtimeName: string = typeof (globalThis as { Deno?: unknown }).Deno === "object"
  ? "deno"
  : typeof (globalThis as { Bun?: unknown }).Bun === "object"
  ? "bun"
  : `node${process.versions.node.split(".")[0]}`;
