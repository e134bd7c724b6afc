// The demo's live view (part 2 of scripts/demo.ts): what instrument() records,
// collected in-process by a tiny meter, and drawn as a panel redrawn in place
// with plain ANSI escape codes when stdout is a terminal.
import type { MeterLike } from "../src/otel/mod.ts";

type Attrs = Record<string, string | number | boolean>;

interface Sample {
  at: number;
  seconds: number;
  error?: string;
}

/**
 * A meter that keeps what instrument() records, for the panel: the events by
 * policy and kind, each attempt (when, its error.type), each call's duration.
 */
export class LiveStats implements MeterLike {
  readonly events = new Map<string, number>();
  readonly attempts: Sample[] = [];
  readonly calls: Sample[] = [];

  createCounter(_name: string) {
    return {
      add: (n: number, a?: Attrs) => {
        const event = String(a?.["faultline.event"]);
        this.events.set(event, (this.events.get(event) ?? 0) + n);
      },
    };
  }

  createHistogram(name: string) {
    const into = name === "faultline.attempt.duration" ? this.attempts : this.calls;
    return {
      record: (seconds: number, a?: Attrs) => {
        const error = a?.["error.type"];
        into.push({ at: Date.now(), seconds, ...(error ? { error: String(error) } : {}) });
        if (into.length > 2000) into.splice(0, 1000);
      },
    };
  }

  /** How many events of this kind (`retry`, `fallback`, `rejected`…) so far. */
  count(event: string): number {
    return this.events.get(event) ?? 0;
  }

  /** Attempts per second over the last `ms`, by outcome (`ok` or the error's kind). */
  attemptRates(ms = 2000): Map<string, number> {
    const since = Date.now() - ms;
    const out = new Map<string, number>();
    for (const s of this.attempts) {
      if (s.at < since) continue;
      const k = s.error ?? "ok";
      out.set(k, (out.get(k) ?? 0) + 1000 / ms);
    }
    return out;
  }

  /** The `p` quantile of the last `n` calls' durations, in ms. */
  quantile(p: number, n = 100): number | undefined {
    const last = this.calls.slice(-n).map((s) => s.seconds * 1000).sort((a, b) => a - b);
    if (last.length === 0) return undefined;
    return last[Math.min(last.length - 1, Math.floor(p * last.length))];
  }
}

const BARS = "▁▂▃▄▅▆▇█";

/** The last `width` values as a sparkline, on a log scale from 1 ms to the largest. */
export function sparkline(values: number[], width: number): string {
  const last = values.slice(-width);
  const max = Math.max(1, ...last);
  const scale = Math.log(max + 1);
  return last.map((v) => BARS[Math.min(7, Math.round((Math.log(v + 1) / scale) * 7))]).join("");
}

type Paint = (text: string) => string;

/** What the live view shows. */
export interface LiveState {
  elapsed: string;
  phase: string;
  leftMs: number;
  phaseMs: number;
  breaker: string;
  stats: { calls: number; firstTry: number; afterRetry: number; fallback: number };
  rejected: number;
  opened: number;
  telemetry: LiveStats;
  recent: string[];
  columns: number;
  style: { dim: Paint; bold: Paint; red: Paint; green: Paint; yellow: Paint; cyan: Paint };
}

/** The panel's lines: the server's phase, the breaker, the calls, attempts/s, latency. */
export function liveView(v: LiveState): string[] {
  const { dim, bold, red, green, yellow, cyan } = v.style;
  const { stats, telemetry } = v;
  const barWidth = 20;
  const done = v.phaseMs > 0 ? Math.round((1 - v.leftMs / v.phaseMs) * barWidth) : 0;
  const bar = "█".repeat(done) + dim("░".repeat(barWidth - done));
  const lamp = v.breaker === "closed"
    ? green("● closed")
    : v.breaker === "open"
    ? red("● OPEN")
    : yellow(`◐ ${v.breaker}`);
  const rates = [...telemetry.attemptRates(2000)].sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k === "ok" ? green(k) : red(k)} ${n.toFixed(1)}`).join("  ");
  const ms = (n: number | undefined) => (n === undefined ? "—" : `${Math.round(n)} ms`);
  const latencies = telemetry.calls.map((c) => c.seconds * 1000);
  // As many calls as the terminal has room for, the newest on the right.
  const sparkWidth = Math.max(10, Math.min(60, v.columns - 42));
  const row = (label: string, text: string) => ` ${dim(label.padEnd(12))}${text}`;
  return [
    row("time", v.elapsed),
    row(
      "server",
      `${bold(v.phase.padEnd(13))} ${bar} ${dim(`${(v.leftMs / 1000).toFixed(1)} s left`)}`,
    ),
    row("breaker", `${lamp}   ${dim(`opened ${v.opened}×, ${v.rejected} calls rejected at once`)}`),
    row(
      "calls",
      `${stats.calls}   ${green("✓")} first try ${stats.firstTry}   ${
        green("↻")
      } after retry ${stats.afterRetry}   ${yellow("↩")} fallback ${stats.fallback}`,
    ),
    row("attempts/s", rates || dim("—")),
    row(
      "events",
      `retries ${telemetry.count("retry")}   fallbacks ${telemetry.count("fallback")}   ` +
        `injected faults ${telemetry.count("fault_injected")}`,
    ),
    row(
      "latency",
      `p50 ${ms(telemetry.quantile(0.5))}   p99 ${ms(telemetry.quantile(0.99))}   ${
        cyan(sparkline(latencies, sparkWidth))
      }`,
    ),
    "",
    ...v.recent.map((line) => `   ${line}`),
  ];
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** A block of lines redrawn in place: the cursor goes back up over it each time. */
export class Panel {
  #height = 0;
  readonly #out: { write(s: string): unknown; columns?: number };

  constructor(out: { write(s: string): unknown; columns?: number }) {
    this.#out = out;
    out.write("\x1b[?25l"); // hide the cursor while drawing
  }

  draw(lines: string[]): void {
    const width = Math.max(20, (this.#out.columns ?? 100) - 1);
    let text = this.#height > 0 ? `\x1b[${this.#height}F` : "";
    for (const line of lines) text += `\x1b[2K${fit(line, width)}\n`;
    // A shorter panel than last time: clear what is left below it.
    for (let i = lines.length; i < this.#height; i++) text += "\x1b[2K\n";
    if (this.#height > lines.length) text += `\x1b[${this.#height - lines.length}F`;
    this.#out.write(text);
    this.#height = lines.length;
  }

  close(): void {
    this.#out.write("\x1b[?25h");
  }
}

/** Cuts a line with colours to `width` visible characters, so that it never wraps. */
function fit(line: string, width: number): string {
  if (line.replace(ANSI, "").length <= width) return line;
  let out = "";
  let visible = 0;
  // deno-lint-ignore no-control-regex
  for (const part of line.split(/(\x1b\[[0-9;?]*[A-Za-z])/)) {
    if (part.startsWith("\x1b[")) {
      out += part;
      continue;
    }
    for (const ch of part) {
      if (visible >= width - 1) return `${out}…\x1b[0m`;
      out += ch;
      visible++;
    }
  }
  return out;
}
