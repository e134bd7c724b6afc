// Draws the samples of scripts/adaptive_demo.ts as an SVG: three panels over
// one time axis (latency; the adaptive limit and the calls in flight; the
// share of calls hedged and shed). Plain strings, no library.

/** One sample of the demo, every 250 ms. Latencies in ms; rates in [0, 1]. */
export interface Sample {
  t: number;
  base: number;
  serverP50: number;
  clientP50: number;
  clientP99: number;
  hedgeDelay: number;
  limit: number;
  inFlight: number;
  serverQueue: number;
  hedgeRate: number;
  shedRate: number;
  failRate: number;
}

interface Series {
  label: string;
  color: string;
  values: number[];
  dash?: string;
  width?: number;
  area?: boolean;
  step?: boolean;
}

const W = 1000;
const H = 640;
const LEFT = 72;
const RIGHT = 190;
const PLOT_W = W - LEFT - RIGHT;
const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"`;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const f = (n: number) => (Math.round(n * 10) / 10).toString();

/** A round step (1, 2, 2.5 or 5 × 10^k) that cuts `max` into about four. */
function niceStep(max: number): number {
  if (!(max > 0)) return 1;
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function panel(
  top: number,
  height: number,
  title: string,
  unit: (v: number) => string,
  times: number[],
  seconds: number,
  series: Series[],
  yMax?: number,
): string {
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const step = niceStep(yMax ?? Math.max(...all, 0) * 1.05);
  const max = yMax ?? step * Math.ceil(Math.max(...all, 0) * 1.05 / step);
  const x = (t: number) => LEFT + (t / seconds) * PLOT_W;
  const y = (v: number) => top + height - (Math.min(v, max) / max) * height;
  const out: string[] = [];
  out.push(
    `<text x="${LEFT}" y="${top - 8}" ${FONT} font-size="13" font-weight="600" fill="#222">${
      esc(title)
    }</text>`,
  );
  // Grid and y labels.
  for (let v = 0; v <= max + 1e-9; v += step) {
    const yy = f(y(v));
    out.push(`<line x1="${LEFT}" y1="${yy}" x2="${LEFT + PLOT_W}" y2="${yy}" stroke="#e6e6e6"/>`);
    out.push(
      `<text x="${
        LEFT - 6
      }" y="${yy}" dy="4" text-anchor="end" ${FONT} font-size="11" fill="#666">${
        esc(unit(v))
      }</text>`,
    );
  }
  for (let t = 0; t <= seconds; t += 2) {
    out.push(
      `<line x1="${f(x(t))}" y1="${top}" x2="${f(x(t))}" y2="${top + height}" stroke="#f0f0f0"/>`,
    );
  }
  out.push(
    `<rect x="${LEFT}" y="${top}" width="${PLOT_W}" height="${height}" fill="none" stroke="#bbb"/>`,
  );
  // Series: a polyline per run of finite values (an area under it when asked).
  for (const s of series) {
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) {
        if (s.area) {
          const first = run[0]!.split(",")[0];
          const last = run[run.length - 1]!.split(",")[0];
          out.push(
            `<polygon points="${first},${f(y(0))} ${run.join(" ")} ${last},${
              f(y(0))
            }" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`,
          );
        }
        out.push(
          `<polyline points="${run.join(" ")}" fill="none" stroke="${s.color}" stroke-width="${
            s.width ?? 2
          }" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
        );
      }
      run = [];
    };
    for (let i = 0; i < times.length; i++) {
      const v = s.values[i]!;
      if (!Number.isFinite(v)) {
        flush();
        continue;
      }
      if (s.step && run.length > 0) {
        run.push(`${f(x(times[i]!))},${run[run.length - 1]!.split(",")[1]}`);
      }
      run.push(`${f(x(times[i]!))},${f(y(v))}`);
    }
    flush();
  }
  // Legend, to the right of the plot.
  series.forEach((s, i) => {
    const ly = top + 14 + i * 20;
    const lx = LEFT + PLOT_W + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${s.color}" stroke-width="${
        s.width ?? 2
      }"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
    );
    out.push(
      `<text x="${lx + 28}" y="${ly}" dy="4" ${FONT} font-size="11.5" fill="#333">${
        esc(s.label)
      }</text>`,
    );
  });
  return out.join("\n");
}

/** The whole picture, as an SVG document. */
export function renderChart(
  samples: Sample[],
  info: { seconds: number; algorithm: string; rate: number },
): string {
  const times = samples.map((s) => s.t);
  const pick = (k: keyof Sample) => samples.map((s) => s[k]);
  const seconds = Math.ceil(Math.max(info.seconds, ...times));
  const ms = (v: number) => `${Math.round(v)} ms`;
  const pct = (v: number) => `${Math.round(v)}%`;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(
    `<text x="${LEFT}" y="24" ${FONT} font-size="16" font-weight="700" fill="#111">${
      esc(
        "A server slows down and recovers: the adaptive limit sheds load, the hedge cuts the tail",
      )
    }</text>`,
  );
  parts.push(
    `<text x="${LEFT}" y="43" ${FONT} font-size="12" fill="#555">${
      esc(
        `${info.rate} requests/s through pipeline(adaptiveConcurrency({ algorithm: "${info.algorithm}" }), hedge({ delay: { percentile: 90 } }), timeout(1000))`,
      )
    }</text>`,
  );
  parts.push(
    panel(80, 150, "Latency", ms, times, seconds, [
      { label: "server's service time", color: "#9e9e9e", values: pick("base"), dash: "5 4" },
      { label: "call p50", color: "#1f77b4", values: pick("clientP50") },
      { label: "call p99", color: "#8fb9e3", values: pick("clientP99"), width: 1.5 },
      { label: "hedge delay (p90)", color: "#ff7f0e", values: pick("hedgeDelay"), dash: "2 3" },
    ]),
  );
  parts.push(
    panel(270, 150, "Concurrency", (v) => String(Math.round(v)), times, seconds, [
      { label: "adaptive limit", color: "#d62728", values: pick("limit"), step: true, width: 2.5 },
      {
        label: "calls in flight",
        color: "#2ca02c",
        values: pick("inFlight"),
        area: true,
        width: 1.5,
      },
      {
        label: "at the server",
        color: "#7f7f7f",
        values: pick("serverQueue"),
        width: 1,
        dash: "3 3",
      },
    ]),
  );
  parts.push(
    panel(460, 130, "Share of calls", pct, times, seconds, [
      { label: "hedged", color: "#ff7f0e", values: samples.map((s) => s.hedgeRate * 100) },
      {
        label: "shed by the limit",
        color: "#9467bd",
        values: samples.map((s) => s.shedRate * 100),
      },
      {
        label: "failed",
        color: "#8c564b",
        values: samples.map((s) => s.failRate * 100),
        width: 1.5,
      },
    ], 100),
  );
  // The time axis, under the last panel.
  const axisY = 460 + 130;
  for (let t = 0; t <= seconds; t += 2) {
    const x = LEFT + (t / seconds) * PLOT_W;
    parts.push(
      `<text x="${f(x)}" y="${
        axisY + 16
      }" text-anchor="middle" ${FONT} font-size="11" fill="#666">${t} s</text>`,
    );
  }
  parts.push(
    `<text x="${W - 12}" y="${
      H - 10
    }" text-anchor="end" ${FONT} font-size="10.5" fill="#999">made by scripts/adaptive_demo.ts (npm run demo:adaptive)</text>`,
  );
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
