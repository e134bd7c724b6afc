// A chaos proxy: a TCP proxy on loopback in front of a healthy loopback line
// server, that for each accepted connection draws a fault from a seeded PRNG:
//
//   pass          forwards both ways untouched
//   slice         forwards, cutting every chunk into 1..4-byte pieces sent with small delays
//   delay         waits 0..maxDelayMs before forwarding anything
//   reset         answers the accept with an RST (resetAndDestroy)
//   reset_mid     forwards the request, then sends part of the reply and an RST
//   close_mid     forwards the request, then sends part of the reply and a FIN
//   close_at_once closes (FIN) at once, without a byte
//   stall         accepts and never answers
//
// and, on a schedule (after every refuseEvery[0]..refuseEvery[1] accepts),
// refuses: it closes its listener for refuseWindowMs, so connects meet
// ECONNREFUSED, then listens again on the same port.
//
// The upstream server speaks one line protocol: for each line `<id>` it
// answers `ok <id>`. A client can so check that the reply it got is its own.
//
// Deterministic from `seed`: the n-th accepted connection always gets the
// same fault, slices and delays, and the refusal windows open after the same
// accepts; which client is the n-th depends on timing, so a failing run is
// replayed by its seed and its fault sequence (`ChaosPlan`). Counts of what was
// injected are kept in `stats()`.
//
// Works in-process under Node, Deno and Bun (node:net, resetAndDestroy is in
// all three), or in a Node child process with spawnChaosProxy(), so that every
// runtime under test meets the very same proxy. Loopback only.
import * as net from "node:net";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";

/** What the proxy does to one accepted connection. */
export type FaultKind =
  | "pass"
  | "slice"
  | "delay"
  | "reset"
  | "reset_mid"
  | "close_mid"
  | "close_at_once"
  | "stall";

/** Every fault kind, in a fixed order. */
export const FAULT_KINDS: readonly FaultKind[] = [
  "pass",
  "slice",
  "delay",
  "reset",
  "reset_mid",
  "close_mid",
  "close_at_once",
  "stall",
];

/** How the proxy misbehaves; every field optional. */
export interface ChaosOptions {
  /** The PRNG seed: the same seed, the same decisions. Default 1. */
  seed?: number;
  /** Relative weights of the per-connection faults. Missing kinds weigh 0 when any is given. */
  weights?: Partial<Record<FaultKind, number>>;
  /** Open a refusal window after between [min, max] accepts; `null` never refuses. Default [200, 400]. */
  refuseEvery?: readonly [number, number] | null;
  /** How long a refusal window lasts, in ms. Default 20. */
  refuseWindowMs?: number;
  /** The longest `delay` fault, in ms. Default 50. */
  maxDelayMs?: number;
  /** The longest pause between two slices of a `slice` fault, in ms. Default 2. */
  maxSliceDelayMs?: number;
  /** The loopback address to listen on. Default 127.0.0.1. */
  host?: string;
  /**
   * Forward to this loopback server (a redis-server, say) instead of the
   * built-in line server, which is then not started. `port` is read at each
   * connection, so it may be changed to a restarted server's.
   */
  upstream?: { host?: string; port: number };
}

/** What the proxy injected so far. */
export interface ChaosStats {
  seed: number;
  /** Connections accepted. */
  accepted: number;
  /** Accepted connections per fault. */
  faults: Record<FaultKind, number>;
  /** Refusal windows opened, and how long the listener was closed in all. */
  refuseWindows: number;
  refusedMs: number;
  /** Connections opened to the upstream server. */
  upstream: number;
  /** Sockets open now (client side and upstream side). */
  openSockets: number;
  /** Sockets that stop() destroyed but whose 'close' never came (should be 0). */
  stuckSockets: number;
}

/** A running chaos proxy. */
export interface ChaosProxy {
  /** The proxy's port: clients connect here. */
  readonly port: number;
  /** The healthy server's port, for a control path without faults. */
  readonly upstreamPort: number;
  readonly host: string;
  /** The counts so far. */
  stats(): Promise<ChaosStats>;
  /** Stops listening, destroys every socket and timer; resolves with the final counts. */
  stop(): Promise<ChaosStats>;
  /** Last resort when stop() does not end: kills the child, or drops everything at once. */
  kill(): void;
  /** In-process proxies only: the faults drawn for connections accepted from now on. */
  setWeights?(weights: Partial<Record<FaultKind, number>>): void;
  /**
   * In-process proxies only: hits every connection open now: `"reset"` sends
   * the client an RST, `"stall"` stops forwarding both ways (until reset).
   */
  cut?(fault: "reset" | "stall"): void;
  /** In-process proxies only: closes the listener for `ms` (connects are refused). */
  refuseFor?(ms: number): void;
}

const DEFAULT_WEIGHTS: Record<FaultKind, number> = {
  pass: 50,
  slice: 10,
  delay: 10,
  reset: 6,
  reset_mid: 6,
  close_mid: 6,
  close_at_once: 6,
  stall: 3,
};

/** mulberry32: a small, fast, seedable PRNG; enough for test schedules. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One accepted connection's fate. */
export interface Decision {
  index: number;
  fault: FaultKind;
  /** For `delay`: the wait. */
  delayMs: number;
  /** For `reset_mid`/`close_mid`: how many bytes of the reply go through first. */
  prefix: number;
  /** True when a refusal window opens after this accept. */
  refuseAfter: boolean;
}

/** The seeded sequence of decisions: the same seed gives the same sequence. */
export class ChaosPlan {
  readonly #random: () => number;
  readonly #kinds: FaultKind[];
  readonly #cumulative: number[];
  readonly #total: number;
  readonly #refuseEvery: readonly [number, number] | null;
  readonly #maxDelayMs: number;
  readonly #maxSliceDelayMs: number;
  #index = 0;
  #untilRefuse: number;

  constructor(options: ChaosOptions = {}) {
    this.#random = prng(options.seed ?? 1);
    const weights = options.weights ?? DEFAULT_WEIGHTS;
    this.#kinds = [];
    this.#cumulative = [];
    let total = 0;
    for (const kind of FAULT_KINDS) {
      const w = weights[kind] ?? 0;
      if (!(w >= 0)) throw new RangeError(`weight of ${kind} must be >= 0`);
      if (w === 0) continue;
      total += w;
      this.#kinds.push(kind);
      this.#cumulative.push(total);
    }
    if (total === 0) throw new RangeError("at least one fault must have a weight above 0");
    this.#total = total;
    this.#refuseEvery = options.refuseEvery === undefined ? [200, 400] : options.refuseEvery;
    this.#maxDelayMs = options.maxDelayMs ?? 50;
    this.#maxSliceDelayMs = options.maxSliceDelayMs ?? 2;
    this.#untilRefuse = this.#drawRefuse();
  }

  #drawRefuse(): number {
    if (this.#refuseEvery === null) return Infinity;
    const [lo, hi] = this.#refuseEvery;
    return lo + Math.floor(this.#random() * (hi - lo + 1));
  }

  /** The next accepted connection's fate. */
  next(): Decision {
    const r = this.#random() * this.#total;
    let i = 0;
    while (this.#cumulative[i]! <= r) i++;
    const fault = this.#kinds[i]!;
    const delayMs = Math.floor(this.#random() * (this.#maxDelayMs + 1));
    const prefix = Math.floor(this.#random() * 4);
    const refuseAfter = --this.#untilRefuse <= 0;
    if (refuseAfter) this.#untilRefuse = this.#drawRefuse();
    return { index: this.#index++, fault, delayMs, prefix, refuseAfter };
  }

  /** A slice length (1..4 bytes) and the pause before it. */
  slice(): [number, number] {
    return [
      1 + Math.floor(this.#random() * 4),
      Math.floor(this.#random() * (this.#maxSliceDelayMs + 1)),
    ];
  }
}

const noop = (): void => {};

/** Starts the healthy line server and the chaos proxy in this process. */
export async function startChaosProxy(options: ChaosOptions = {}): Promise<ChaosProxy> {
  const host = options.host ?? "127.0.0.1";
  if (host !== "127.0.0.1" && host !== "::1" && host !== "localhost") {
    throw new RangeError("the chaos proxy listens on loopback only");
  }
  let plan = new ChaosPlan(options);
  const target = options.upstream;
  // Client socket -> its upstream socket, for cut().
  const pairs = new Map<net.Socket, net.Socket>();
  const refuseWindowMs = options.refuseWindowMs ?? 20;
  const sockets = new Set<net.Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const counts = { accepted: 0, refuseWindows: 0, refusedMs: 0, upstream: 0, stuckSockets: 0 };
  let stopped = false;

  const track = (socket: net.Socket): net.Socket => {
    sockets.add(socket);
    socket.on("error", noop);
    socket.once("close", () => sockets.delete(socket));
    return socket;
  };
  // Node's resetAndDestroy() on a socket already shut down (the client's FIN
  // made it end ours) fails with EINVAL, emits only 'error', never 'close',
  // and leaves the handle open: such a socket just gets destroyed.
  const reset = (socket: net.Socket): void => {
    if (socket.destroyed) return;
    if (socket.writableEnded || socket.connecting) socket.destroy();
    else socket.resetAndDestroy();
  };
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
  };

  // The healthy server: `<id>\n` -> `ok <id>\n`.
  const upstream = net.createServer((socket) => {
    track(socket);
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      buffer += text;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        socket.write(`ok ${line}\n`);
      }
    });
  });
  const upstreamHost = target?.host ?? host;
  const upstreamPort = target === undefined ? await listen(upstream, host, 0) : target.port;

  /** Writes `data` to `to` in seeded slices, in order, with small pauses. */
  const sliced = (to: net.Socket) => {
    const queue: Buffer[] = [];
    let busy = false;
    const pump = (): void => {
      if (to.destroyed) return void (queue.length = 0);
      const head = queue[0];
      if (head === undefined) return void (busy = false);
      const [n, pause] = plan.slice();
      const piece = head.subarray(0, n);
      if (piece.length === head.length) queue.shift();
      else queue[0] = head.subarray(n);
      to.write(piece);
      later(pause, pump);
    };
    return (chunk: Buffer): void => {
      queue.push(chunk);
      if (!busy) {
        busy = true;
        pump();
      }
    };
  };

  /** Connects upstream and forwards both ways; `reset_mid`/`close_mid` cut the reply short. */
  const forward = (
    client: net.Socket,
    mode: "pass" | "slice" | "reset_mid" | "close_mid",
    prefix: number,
  ): void => {
    counts.upstream++;
    // Read at each connection: a test may point `upstream.port` at a restarted server.
    const up = track(net.connect({ host: upstreamHost, port: target?.port ?? upstreamPort }));
    pairs.set(client, up);
    client.once("close", () => {
      pairs.delete(client);
      up.destroy();
    });
    up.once("close", () => client.destroy());
    client.on("end", () => up.end());
    up.on("end", () => client.end());
    client.on("data", mode === "slice" ? sliced(up) : (chunk: Buffer) => up.write(chunk));
    if (mode === "pass") {
      up.on("data", (chunk: Buffer) => client.write(chunk));
    } else if (mode === "slice") {
      up.on("data", sliced(client));
    } else {
      up.once("data", (chunk: Buffer) => {
        // Never the whole reply: the client must see it cut.
        const part = chunk.subarray(0, Math.min(prefix, chunk.length - 1));
        if (mode === "close_mid") {
          client.end(part);
          up.destroy();
        } else {
          if (part.length > 0) client.write(part);
          reset(client);
          up.destroy();
        }
      });
    }
    client.resume();
  };

  const onConnection = (client: net.Socket): void => {
    track(client);
    if (stopped) return void client.destroy();
    counts.accepted++;
    const d = plan.next();
    faults[d.fault]++;
    client.pause();
    switch (d.fault) {
      case "pass":
      case "slice":
      case "reset_mid":
      case "close_mid":
        forward(client, d.fault, d.prefix);
        break;
      case "delay":
        later(d.delayMs, () => {
          if (!client.destroyed) forward(client, "pass", 0);
        });
        break;
      case "reset":
        reset(client);
        break;
      case "close_at_once":
        client.end();
        break;
      case "stall":
        // Accept, read nothing, answer nothing; gone when the client gives up.
        client.once("end", () => client.destroy());
        client.resume();
        client.on("data", noop);
        break;
    }
    if (d.refuseAfter) refuse();
  };

  let server = net.createServer(onConnection);
  const port = await listen(server, host, 0);
  // While a refusal window is open: the listener is closed, and this ends the
  // window early (stop() uses it; its timer is cleared).
  let refusing: (() => void) | undefined;
  let reopening: Promise<void> | undefined;
  let relistening = false;

  const refuse = (windowMs = refuseWindowMs): void => {
    if (stopped || refusing || reopening) return;
    counts.refuseWindows++;
    counts.refusedMs += windowMs;
    server.close();
    let done!: () => void;
    refusing = () => done();
    reopening = new Promise<void>((resolve) => (done = resolve));
    later(windowMs, () => {
      relistening = true;
      const next = net.createServer(onConnection);
      listen(next, host, port).then(() => {
        if (stopped) next.close();
        else server = next;
      }, () => {
        // The port was taken meanwhile (not by us): stay closed; the run will show it.
      }).finally(() => {
        relistening = false;
        refusing = undefined;
        reopening = undefined;
        done();
      });
    });
  };

  const stats = (): ChaosStats => ({
    seed: options.seed ?? 1,
    accepted: counts.accepted,
    faults: { ...faults },
    refuseWindows: counts.refuseWindows,
    refusedMs: counts.refusedMs,
    upstream: counts.upstream,
    openSockets: sockets.size,
    stuckSockets: counts.stuckSockets,
  });

  return {
    port,
    upstreamPort,
    host,
    stats: () => Promise.resolve(stats()),
    setWeights(weights): void {
      plan = new ChaosPlan({ ...options, weights });
    },
    cut(fault): void {
      for (const [client, up] of pairs) {
        if (fault === "reset") {
          reset(client);
          up.destroy();
        } else {
          client.pause();
          up.pause();
        }
      }
    },
    refuseFor(ms): void {
      refuse(ms);
    },
    kill(): void {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close();
      if (upstream.listening) upstream.close();
    },
    async stop(): Promise<ChaosStats> {
      if (!stopped) {
        stopped = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        // A window still waiting for its timer ends now; one listening again is awaited.
        if (!relistening) refusing?.();
        await reopening;
        const closing = [...sockets].map((s) =>
          new Promise<void>((resolve) => {
            // Still in the set: its "close" has not been emitted yet.
            s.once("close", () => resolve());
            s.destroy();
          })
        );
        // Bounded: a socket whose 'close' never comes is counted, not waited for.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const allClosed = await Promise.race([
          Promise.all([...closing, closeServer(server), closeServer(upstream)]).then(() => true),
          new Promise<false>((r) => (timer = setTimeout(() => r(false), 5000))),
        ]);
        clearTimeout(timer);
        if (!allClosed) {
          counts.stuckSockets = sockets.size;
          for (const s of sockets) s.unref();
          sockets.clear();
        }
      }
      return stats();
    },
  };
}

function listen(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once("error", onError);
    server.listen({ host, port }, () => {
      server.off("error", onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

// --------------------------------------------------------------- child mode

const CHILD_FLAG = "--chaos-proxy-child";
const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Runs the proxy in a Node child process (the Node 24 from node_modules), so
 * that the runtime under test shares nothing with it but loopback sockets.
 */
export function spawnChaosProxy(options: ChaosOptions = {}): Promise<ChaosProxy> {
  const file = fileURLToPath(import.meta.url);
  const child = spawn(`${root}node_modules/node24/bin/node`, [file, CHILD_FLAG], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  child.stdin!.write(JSON.stringify(options) + "\n");
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const waiting: Array<(line: string) => void> = [];
  let buffer = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (text: string) => {
    buffer += text;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      waiting.shift()?.(line);
    }
  });
  const nextLine = (): Promise<string> => new Promise((r) => waiting.push(r));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    exited.then(() => reject(new Error("the chaos proxy child exited early")));
    nextLine().then((line) => {
      const { port, upstreamPort, host } = JSON.parse(line);
      let last: ChaosStats | undefined;
      resolve({
        port,
        upstreamPort,
        host,
        async stats(): Promise<ChaosStats> {
          if (last) return last;
          const reply = nextLine();
          child.stdin!.write("stats\n");
          return JSON.parse(await reply);
        },
        kill(): void {
          child.kill("SIGKILL");
        },
        async stop(): Promise<ChaosStats> {
          if (!last) {
            const reply = nextLine();
            child.stdin!.end("stop\n");
            last = JSON.parse(await reply) as ChaosStats;
            await exited;
          }
          return last;
        },
      });
    });
  });
}

async function childMain(): Promise<void> {
  let buffer = "";
  process.stdin.setEncoding("utf8");
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  process.stdin.on("data", (text: string) => {
    buffer += text;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) !== -1) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    wake?.();
  });
  process.stdin.on("end", () => {
    lines.push("stop");
    wake?.();
  });
  const next = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((r) => (wake = r));
    return lines.shift()!;
  };
  const proxy = await startChaosProxy(JSON.parse(await next()) as ChaosOptions);
  process.stdout.write(
    JSON.stringify({ port: proxy.port, upstreamPort: proxy.upstreamPort, host: proxy.host }) +
      "\n",
  );
  for (;;) {
    const command = await next();
    if (command === "stats") {
      process.stdout.write(JSON.stringify(await proxy.stats()) + "\n");
    } else if (command === "stop") {
      const final = await proxy.stop();
      process.stdout.write(JSON.stringify(final) + "\n", () => process.exit(0));
      return;
    }
  }
}

if (process.argv.includes(CHILD_FLAG)) await childMain();
