// `npm run demo` (also `deno task demo`, `bun run demo`).
//
// Part 1, the vocabulary: provokes each kind of connection fault on loopback
// with the runtime's own API and prints what faultline makes of it.
// Part 2, the pipeline: a chaos server on loopback refuses, resets, stalls,
// closes early and answers slowly on a schedule, while a client calls it
// through instrument(pipeline(fallback, retry, circuitBreaker, timeout,
// chaos)). On a terminal it is a live panel redrawn in place (breaker state,
// attempts per second by kind, retries, fallbacks, p50/p99 latency and a
// sparkline, from what instrument() records); piped or in CI, a plain log.
//
//   --runtime-matrix   run part 1 under Deno, Bun, Node 22 and Node 24 and
//                      show the kinds side by side
//   --vocabulary       part 1 only (--json: as JSON, for the matrix)
//   --log              part 2 as a plain log even on a terminal
import {
  chaos,
  circuitBreaker,
  connect,
  ConnectionError,
  consecutiveFailures,
  detectRuntime,
  exponentialBackoff,
  fallback,
  isConnectionError,
  normalizeError,
  pipeline,
  retry,
  timeout,
} from "../mod.ts";
import { instrument } from "../src/otel/mod.ts";
import { LiveStats, liveView, Panel } from "./demo_panel.ts";
import {
  closedPort,
  startFaultServer,
  startStalledListener,
  UNRESOLVABLE_HOST,
} from "../tests/support/faults.ts";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";

const args = process.argv.slice(2);
const json = args.includes("--json");
const color = !json && process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const dim = (t: string) => paint(2, t);
const bold = (t: string) => paint(1, t);
const red = (t: string) => paint(31, t);
const green = (t: string) => paint(32, t);
const yellow = (t: string) => paint(33, t);
const cyan = (t: string) => paint(36, t);
const root = fileURLToPath(new URL("..", import.meta.url));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------- part 1

async function vocabulary(): Promise<Record<string, string>> {
  const kinds: Record<string, string> = {};
  const faults = await startFaultServer("127.0.0.1");
  const stalled = await startStalledListener("127.0.0.1");
  const held: Array<{ close(): Promise<void> }> = [];
  const provoke = async (label: string, run: () => Promise<unknown>) => {
    let error: ConnectionError | undefined;
    try {
      await run();
    } catch (e) {
      error = normalizeError(e);
    }
    kinds[label] = error?.kind ?? "ok";
    if (json) return;
    if (!error) return console.log(`  ${label.padEnd(32)} ${green("ok")}`);
    const raw = error.cause as { name?: string; code?: string } | undefined;
    const from = raw && typeof raw === "object"
      ? `${raw.name ?? "?"}${raw.code ? ` ${raw.code}` : ""}`
      : "";
    console.log(
      `  ${label.padEnd(32)} ${bold(error.kind.padEnd(12))} ${
        dim(`retryable=${error.retryable}`.padEnd(16))
      } ${dim(from ? `from ${from}` : "")}`,
    );
    console.log(`  ${"".padEnd(32)} ${cyan(error.hint)}`);
  };
  try {
    const p = faults.ports;
    const closed = await closedPort("127.0.0.1");
    await provoke("refused (127.0.0.1)", () => connect({ hostname: "127.0.0.1", port: closed }));
    const closed6 = await closedPort("::1").catch(() => undefined);
    if (closed6 !== undefined) {
      await provoke("refused (::1)", () => connect({ hostname: "::1", port: closed6 }));
    }
    await provoke("reset while reading", async () => {
      const conn = await connect({ hostname: "127.0.0.1", port: p.resetAfterGreeting });
      held.push(conn);
      const reader = conn.readable.getReader();
      await reader.read();
      await conn.writable.getWriter().write(encoder.encode("hi"));
      for (;;) if ((await reader.read()).done) break;
    });
    await provoke("writing after the peer closed", async () => {
      const conn = await connect({ hostname: "127.0.0.1", port: p.hangUp });
      held.push(conn);
      const reader = conn.readable.getReader();
      while (!(await reader.read()).done);
      const writer = conn.writable.getWriter();
      for (let i = 0; i < 200; i++) {
        await writer.write(new Uint8Array(1024));
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    await provoke("connect timeout (300 ms)", async () => {
      for (let i = 0; i < 16; i++) {
        held.push(
          await connect({ hostname: "127.0.0.1", port: stalled.ports.stall, timeout: 300 }),
        );
      }
    });
    await provoke("DNS failure", () => connect({ hostname: UNRESOLVABLE_HOST, port: 80 }));
    await provoke(
      "TLS to a plain TCP server",
      () => connect({ hostname: "127.0.0.1", port: p.plainText, tls: true }),
    );
    await provoke("cancelled by the caller", async () => {
      const controller = new AbortController();
      const conn = await connect({
        hostname: "127.0.0.1",
        port: p.silent,
        signal: controller.signal,
      });
      held.push(conn);
      const reading = conn.readable.getReader().read();
      controller.abort();
      await reading;
    });
    await provoke(
      "a bug in our own code",
      () => Promise.reject(new TypeError("x.y is not a function")),
    );
  } finally {
    await Promise.all(held.map((c) => c.close()));
    await faults.stop();
    await stalled.stop();
  }
  return kinds;
}

// ---------------------------------------------------------------- part 2

interface ServerLine {
  port?: number;
  phase?: string;
  ms?: number;
}

function startChaosServer(onPhase: (phase: string, ms: number) => void) {
  const child = spawn(`${root}node_modules/node22/bin/node`, [`${root}scripts/demo_server.ts`], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let buffer = "";
  const port = new Promise<number>((resolve) => {
    child.stdout!.on("data", (chunk) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
        const line = JSON.parse(buffer.slice(0, nl)) as ServerLine;
        buffer = buffer.slice(nl + 1);
        if (line.port !== undefined) resolve(line.port);
        if (line.phase !== undefined) onPhase(line.phase, line.ms ?? 0);
      }
    });
  });
  return { port, done, stop: () => (child.stdin!.end(), done) };
}

async function request(port: number, id: number, signal: AbortSignal): Promise<string> {
  const conn = await connect({ hostname: "127.0.0.1", port, signal });
  try {
    const writer = conn.writable.getWriter();
    await writer.write(encoder.encode(`GET ${id}\n`));
    let text = "";
    const reader = conn.readable.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    if (text !== `OK ${id}\n`) {
      // The protocol knows the answer was cut short; the socket does not.
      throw new ConnectionError("closed", {
        host: "127.0.0.1",
        port,
        operation: "read",
        message: `answer cut short: ${JSON.stringify(text)}`,
      });
    }
    return text.trim();
  } finally {
    await conn.close();
  }
}

async function livePipeline(): Promise<void> {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
  const t = () => dim(elapsed());
  const stats = { calls: 0, firstTry: 0, afterRetry: 0, fallback: 0, rejected: 0, opened: 0 };
  const attemptKinds: Record<string, number> = {};
  let pending: string[] = [];
  // The live view when stdout is a terminal; a plain log otherwise (CI, pipes).
  const live = color && process.stdout.isTTY === true && !args.includes("--log");
  const recent: string[] = [];
  const say = (line: string) => {
    if (!live) return console.log(line);
    recent.push(line);
    if (recent.length > 5) recent.shift();
  };

  let phase = "starting";
  let phaseMs = 0;
  let phaseSince = Date.now();
  const breaker = circuitBreaker({ trip: consecutiveFailures(3), halfOpenAfter: 1000 });
  const retries = retry({
    maxAttempts: 3,
    backoff: exponentialBackoff({ initial: 40, max: 300, jitter: "full" }),
  });
  // Innermost, switched on by the server's "client chaos" phase: the policies
  // outside it see resets shaped as this runtime throws them.
  const clientChaos = chaos({ rate: 0.5, fault: "reset", enabled: () => phase === "client chaos" });
  // What instrument() records, collected in-process for the panel and the summary.
  const telemetry = new LiveStats();
  const policy = instrument(
    pipeline(
      fallback((error) =>
        `cached answer (${isConnectionError(error) ? error.kind : (error as Error).name})`
      ),
      retries,
      breaker,
      timeout(300),
      clientChaos,
    ),
    { name: "demo", meter: telemetry },
  );
  let injected = false;
  clientChaos.onFaultInjected(() => (injected = true));
  retries.onRetry((e) => {
    const kind = isConnectionError(e.error) ? e.error.kind : "other";
    attemptKinds[kind] = (attemptKinds[kind] ?? 0) + 1;
    const how = injected ? dim(" (injected)") : "";
    injected = false;
    pending.push(`${red("✗")} ${kind}${how} ${dim(`→ retry in ${Math.round(e.delay)} ms`)}`);
  });
  breaker.onStateChange((e) => {
    if (e.to === "open") stats.opened++;
    const to = e.to === "open" ? red(e.to) : e.to === "closed" ? green(e.to) : yellow(e.to);
    say(`${t()}   ${yellow("⚡ breaker")} ${e.from} → ${to}`);
  });
  breaker.onRejected(() => stats.rejected++);

  console.log(bold("\nPart 2: a pipeline under chaos, live"));
  console.log(
    dim(
      "instrument(pipeline(fallback, retry(3 attempts), circuitBreaker(3 failures, 1 s),\n" +
        '  timeout(300 ms), chaos(50% reset, switched on by the server\'s "client chaos" phase)))\n' +
        "A chaos server on 127.0.0.1 changes its behaviour on a schedule; one call every 200 ms.\n",
    ),
  );
  let running = true;
  const server = startChaosServer((next, ms) => {
    phase = next;
    phaseMs = ms;
    phaseSince = Date.now();
    if (running && (next !== "healthy" || stats.calls > 0)) {
      const what = next === "client chaos" ? "healthy, but chaos() breaks half the attempts" : next;
      say(`${t()} ${bold(cyan(`── server: ${what} for ${ms / 1000} s`))}`);
    }
  });

  const panel = live ? new Panel(process.stdout) : undefined;
  const restore = () => panel?.close();
  const interrupted = () => {
    restore();
    process.exit(130);
  };
  process.once("exit", restore);
  process.once("SIGINT", interrupted);
  const draw = () => panel?.draw(panelLines());
  const timer = live ? setInterval(draw, 100) : undefined;

  const panelLines = () =>
    liveView({
      elapsed: elapsed().trim(),
      phase,
      leftMs: Math.max(0, phaseMs - (Date.now() - phaseSince)),
      phaseMs,
      breaker: breaker.state,
      stats,
      rejected: stats.rejected,
      opened: stats.opened,
      telemetry,
      recent,
      columns: process.stdout.columns ?? 100,
      style: { dim, bold, red, green, yellow, cyan },
    });

  const port = await server.port;
  const end = server.done.then(() => (running = false));
  while (running) {
    const id = ++stats.calls;
    const tick = new Promise((r) => setTimeout(r, 200));
    pending = [];
    const failedBefore = Object.values(attemptKinds).reduce((a, b) => a + b, 0);
    const value = await policy.execute((ctx) => request(port, id, ctx.signal));
    const retried = Object.values(attemptKinds).reduce((a, b) => a + b, 0) - failedBefore;
    const line = value.startsWith("OK")
      ? `${green("✓")} ${value}${
        retried ? dim(` after ${retried} failed attempt${retried > 1 ? "s" : ""}`) : ""
      }`
      : `${yellow("↩")} ${value}`;
    if (value.startsWith("OK")) retried ? stats.afterRetry++ : stats.firstTry++;
    else stats.fallback++;
    say(
      `${t()}   #${String(id).padStart(2, "0")} ${
        pending.length ? pending.join("  ") + "  " : ""
      }${line}`,
    );
    draw();
    await Promise.race([tick, end]);
  }
  await server.stop();
  if (timer !== undefined) clearInterval(timer);
  draw();
  restore();
  process.off("exit", restore);
  process.off("SIGINT", interrupted);

  console.log(bold("\nSummary"));
  const p50 = telemetry.quantile(0.5, Infinity);
  const p99 = telemetry.quantile(0.99, Infinity);
  const rows: Array<[string, number | string]> = [
    ["calls", stats.calls],
    ["answered on the first try", stats.firstTry],
    ["answered after a retry", stats.afterRetry],
    ["served by the fallback", stats.fallback],
    ["rejected at once by the open breaker", stats.rejected],
    ["times the breaker opened", stats.opened],
    ...Object.entries(attemptKinds).map(([k, n]) =>
      [`failed attempts: ${k}`, n] as [string, number]
    ),
    ["faults injected by chaos()", telemetry.count("fault_injected")],
    ["call latency p50 / p99 (ms)", `${Math.round(p50 ?? 0)} / ${Math.round(p99 ?? 0)}`],
    ["seconds", ((Date.now() - started) / 1000).toFixed(1)],
  ];
  for (const [label, n] of rows) console.log(`  ${label.padEnd(40)} ${String(n).padStart(9)}`);
  console.log(
    dim(
      "\nEvery error above was a real socket's (or shaped as one, by chaos()), normalized to\n" +
        "one kind in every runtime; no predicate was written to tell a refused connection from a bug.",
    ),
  );
}

// ---------------------------------------------------------------- matrix

async function matrix(): Promise<void> {
  const runtimes: Array<[string, string, string[]]> = [
    ["Deno", `${root}node_modules/.bin/deno`, ["run", "-A", `${root}scripts/demo.ts`]],
    ["Bun", `${root}node_modules/.bin/bun`, [`${root}scripts/demo.ts`]],
    ["Node 22", `${root}node_modules/node22/bin/node`, [`${root}scripts/demo.ts`]],
    ["Node 24", `${root}node_modules/node24/bin/node`, [`${root}scripts/demo.ts`]],
  ];
  const results: Record<string, Record<string, string>> = {};
  for (const [name, cmd, argv] of runtimes) {
    process.stdout.write(dim(`running the vocabulary under ${name}…\n`));
    const out = await new Promise<string>((resolve) => {
      let text = "";
      const child = spawn(cmd, [...argv, "--vocabulary", "--json"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      child.stdout!.on("data", (c) => (text += c));
      child.once("exit", () => resolve(text));
    });
    try {
      results[name] = JSON.parse(out.trim().split("\n").pop()!);
    } catch {
      results[name] = {};
    }
  }
  const labels = [...new Set(Object.values(results).flatMap((r) => Object.keys(r)))];
  const names = Object.keys(results);
  console.log(`\n${"".padEnd(32)} ${names.map((n) => bold(n.padEnd(12))).join(" ")}`);
  for (const label of labels) {
    const cells = names.map((n) => results[n][label] ?? "—");
    const same = new Set(cells).size === 1;
    console.log(
      `${label.padEnd(32)} ${cells.map((c) => (same ? green : yellow)(c.padEnd(12))).join(" ")}`,
    );
  }
}

if (args.includes("--runtime-matrix")) {
  await matrix();
} else if (json) {
  console.log(JSON.stringify(await vocabulary()));
} else {
  console.log(bold(`faultline demo on ${detectRuntime()}\n`));
  console.log(bold("Part 1: real faults on loopback, one normalized error each"));
  await vocabulary();
  if (!args.includes("--vocabulary")) await livePipeline();
}
