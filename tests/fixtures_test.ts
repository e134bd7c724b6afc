// normalizeError() against what each runtime really threw, as recorded by
// scripts/capture_errors.ts into tests/fixtures/ (re-run it when a runtime
// changes). The objects are rebuilt from their JSON: same name, message,
// code, errno, syscall, address, port, cause chain and AggregateError list.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { normalizeError } from "../src/errors/normalize_error.ts";

interface Serialized {
  [key: string]: unknown;
  cause?: Serialized;
  errors?: Serialized[];
}
interface Captured {
  api: string;
  scenario: string;
  via?: string;
  error?: Serialized;
}

function rebuild(e: unknown): unknown {
  if (e === null || typeof e !== "object") return e;
  const s = e as Serialized;
  const out = Object.create(Error.prototype) as Record<string, unknown>;
  for (const [k, v] of Object.entries(s)) {
    if (
      k === "constructorName" || k === "isAggregate" || k === "ownKeys" || k === "cause" ||
      k === "errors"
    ) continue;
    out[k] = v;
  }
  if (s.cause !== undefined) out.cause = rebuild(s.cause);
  if (Array.isArray(s.errors)) out.errors = s.errors.map(rebuild);
  return out;
}

/** The kind each scenario must give, whatever the runtime. */
function expectedKind(scenario: string): string | string[] {
  if (scenario.startsWith("refused-")) return "refused";
  if (scenario === "dns-failure") return "dns";
  if (scenario.startsWith("reset-while-reading")) return "reset";
  if (scenario.startsWith("broken-pipe-after-fin")) return "broken_pipe";
  if (scenario.startsWith("broken-pipe-after-rst")) return "reset";
  if (scenario === "eof-no-response" || scenario === "eof-partial-body") return "closed";
  if (scenario === "reset-during-body") return "closed";
  if (scenario === "reset-before-response" || scenario === "broken-pipe-upload") return "reset";
  if (scenario === "tls-garbage-reply" || scenario === "tls-accept-close") return "tls";
  if (scenario === "tls-accept-reset") return ["reset", "tls"];
  if (scenario.startsWith("abort-during") || scenario.startsWith("already-aborted")) {
    return "cancelled";
  }
  if (scenario.includes("signal-timeout") || scenario === "connect-timeout-signal") {
    return "timeout";
  }
  if (scenario.startsWith("eaddrinuse")) return "address_in_use";
  if (scenario.startsWith("eaddrnotavail")) return "address_unavailable";
  return "?";
}

/**
 * Where a runtime gives less than the scenario's kind, normalizeError must
 * not guess: these are the recorded limits (the README's table lists them).
 */
const LIMITS: Array<[RegExp, string, string]> = [
  // Bun's fetch reports every mid-stream fault as ECONNRESET.
  [
    /^bun fetch (eof-no-response|eof-partial-body|reset-during-body|tls-accept-close) /,
    "reset",
    "Bun fetch says ECONNRESET",
  ],
  // A node:net write callback after the socket died gets ERR_STREAM_DESTROYED
  // or ECANCELED; the adapter reports the socket's own error instead.
  [/ node:net broken-pipe-after-rst write\(\) callback$/, "unknown", "write after destroy"],
  [/^bun node:net broken-pipe-after-fin write\(\) callback$/, "unknown", "ECANCELED"],
  // Deno's node:net reports an address it cannot bind as EINVAL.
  [/^deno node:net eaddrnotavail-/, "unknown", "EINVAL"],
  // Deno's TLS handshake: UnexpectedEof (the adapter reports tls), and
  // Interrupted after our own close (the adapter reports cancelled/timeout).
  [/^deno Deno\.connectTls tls-accept-close /, "closed", "UnexpectedEof"],
  [
    /^deno Deno\.connectTls (already-aborted-signal|stalled-server-handshake) /,
    "unknown",
    "Interrupted",
  ],
  // workerd (scripts/capture_workerd_errors.ts): one message for refused, DNS
  // and TLS failures, and "Network connection lost." for every lost
  // connection, fetch's included; a write to a stream workerd closed is a
  // TypeError that only the cloudflare adapter may read as `closed`.
  [
    /^workerd cloudflare:sockets.* (refused-127\.0\.0\.1|tls-[a-z-]+) socket\.(opened|closed) rejection$/,
    "connect_failed",
    "proxy request failed",
  ],
  [
    /^workerd cloudflare:sockets.* (write-after-own-close|\S+ next) writer\.write\(\) rejection$/,
    "unknown",
    "TypeError: This WritableStream has been closed.",
  ],
  [
    /^workerd cloudflare:sockets (broken-pipe-after-(fin|rst)|\(network without TLS\) broken-pipe-after-fin) writer\.write\(\) rejection$/,
    "unknown",
    "TypeError: This WritableStream has been closed.",
  ],
  [
    /^workerd cloudflare:sockets.* (reset-while-reading|broken-pipe-after-\S+) (reader\.read|writer\.write)\(\) rejection$/,
    "connect_failed",
    "Network connection lost.",
  ],
  [/^workerd fetch tls-garbage-reply /, "unknown", "internal error; reference = …"],
  [
    /^workerd fetch (refused-|reset-|eof-|broken-pipe-|not-http-|tls-accept-)/,
    "connect_failed",
    "Network connection lost.",
  ],
];

for (const runtime of ["node22", "node24", "deno", "bun", "workerd"]) {
  const file = new URL(`./fixtures/errors_${runtime}.json`, import.meta.url);
  const data = JSON.parse(readFileSync(file, "utf8")) as { version: string; captured: Captured[] };
  const errors = data.captured.filter((c) => c.error !== undefined);

  test(`normalizeError() classifies every error recorded from ${runtime} ${data.version}`, () => {
    assert.ok(errors.length > 20, "the fixture holds the recorded errors");
    const wrong: string[] = [];
    for (const c of errors) {
      const key = `${runtime.replace(/\d+$/, "")} ${c.api} ${c.scenario} ${c.via}`;
      const limit = LIMITS.find(([re]) => re.test(key));
      const want = limit ? limit[1] : expectedKind(c.scenario);
      const got = normalizeError(rebuild(c.error)).kind;
      const ok = Array.isArray(want) ? want.includes(got) : got === want;
      if (!ok) wrong.push(`${key}: got ${got}, want ${want}`);
    }
    assert.deepEqual(wrong, []);
  });
}
