/**
 * Starts tests/support/fleet_child.ts under Node 24, Bun and Deno (from
 * node_modules), and talks to each by lines: config in, results out.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const child = fileURLToPath(new URL("./fleet_child.ts", import.meta.url));

export type FleetRuntime = "node" | "bun" | "deno";
export const FLEET_RUNTIMES: readonly FleetRuntime[] = ["node", "bun", "deno"];

export function commandFor(runtime: FleetRuntime, file: string): [string, string[]] {
  if (runtime === "node") return [`${root}node_modules/node24/bin/node`, [file]];
  if (runtime === "bun") return [`${root}node_modules/.bin/bun`, [file]];
  return [`${root}node_modules/.bin/deno`, ["run", "-A", "--no-check", file]];
}

export interface FleetChild {
  readonly runtime: FleetRuntime;
  /** The next JSON line it printed. */
  next(): Promise<Record<string, unknown>>;
  send(line: string): void;
  /** Says "quit" and waits for it to exit by itself: its code and how long that took. */
  quit(): Promise<{ code: number | null; ms: number }>;
  kill(): void;
  /** What it wrote to stderr. */
  stderr(): string;
}

export function startFleetChild(runtime: FleetRuntime, config: object): Promise<FleetChild> {
  const [cmd, args] = commandFor(runtime, child);
  const p = spawn(cmd, args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const waiting: Array<(line: string) => void> = [];
  const lines: string[] = [];
  p.stdout!.setEncoding("utf8");
  p.stdout!.on("data", (text: string) => {
    out += text;
    let nl: number;
    while ((nl = out.indexOf("\n")) !== -1) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  p.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
  const handle: FleetChild = {
    runtime,
    next: () => {
      const line = lines.shift();
      const got = line !== undefined ? Promise.resolve(line) : Promise.race([
        new Promise<string>((r) => waiting.push(r)),
        exited.then((code) => {
          throw new Error(`${runtime} child exited ${code}: ${err}`);
        }),
      ]);
      return got.then((l) => JSON.parse(l) as Record<string, unknown>);
    },
    send: (line) => void p.stdin!.write(line + "\n"),
    async quit() {
      const start = performance.now();
      p.stdin!.end("quit\n");
      const code = await exited;
      return { code, ms: performance.now() - start };
    },
    kill: () => void p.kill("SIGKILL"),
    stderr: () => err,
  };
  handle.send(JSON.stringify(config));
  return handle.next().then((ready) => {
    if (ready.ready !== runtime) throw new Error(`${runtime}: unexpected ${JSON.stringify(ready)}`);
    return handle;
  });
}
