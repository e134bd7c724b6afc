// The errors chaos() injects, checked against what the runtimes themselves
// say: the recordings in tests/fixtures, and the system's own error table.
// chaos_test.ts checks that each shape normalizes to its kind and carries the
// recorded name, message and fields; here, the rest of what makes it the
// runtime's error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { constants, platform } from "node:os";
import { getSystemErrorMap } from "node:util";
import { ConnectionError } from "../errors/connection_error.ts";
import type { ConnectionOperation } from "../errors/kinds.ts";
import type { RuntimeName } from "../runtime.ts";
import {
  CHAOS_FAULTS,
  type ChaosFault,
  type FaultTarget,
  injectedError,
  runtimeError,
} from "./_fault_shapes.ts";

type Fields = Error & Record<string, unknown>;
type Recorded = Record<string, unknown> & { ownKeys: string[] };

const RUNTIMES: RuntimeName[] = ["node", "deno", "bun", "workerd", "browser", "edge-light"];
const TARGET = { host: "10.0.0.7", port: 6379 };
const NOWHERE: FaultTarget = { host: undefined, port: undefined };

function cause(kind: ChaosFault, runtime: RuntimeName, target: FaultTarget = TARGET): Fields {
  return runtimeError(kind, runtime, target) as Fields;
}

/** Every kind in every runtime, with its cause. */
function* everyShape(): Generator<[ChaosFault, RuntimeName, Fields, string]> {
  for (const runtime of RUNTIMES) {
    for (const kind of CHAOS_FAULTS) {
      yield [kind, runtime, cause(kind, runtime), `${kind} on ${runtime}`];
    }
  }
}

// Own keys every error gets from the engine that made it, not from the runtime's
// networking code: V8's stack, JavaScriptCore's line, column and source URL.
const ENGINE_KEYS = new Set([
  "stack",
  "line",
  "column",
  "sourceURL",
  "originalLine",
  "originalColumn",
]);

/** The string keys among `keys` that the runtime set (symbols are recorded as "Symbol(…)"). */
function fields(keys: ReadonlyArray<string | symbol>): string[] {
  return keys.filter((k): k is string =>
    typeof k === "string" && !k.startsWith("Symbol(") && !ENGINE_KEYS.has(k)
  ).sort();
}

const fixtures = new Map<string, { captured: Array<Record<string, unknown>> }>();

/**
 * The first error recorded in `file` for the scenario `where` (`api: scenario`,
 * or a client's fault), and where it was aimed.
 */
function recorded(file: string, where: string): { want: Recorded; target: FaultTarget } {
  if (!fixtures.has(file)) {
    const url = new URL(`../../tests/fixtures/${file}`, import.meta.url);
    fixtures.set(file, JSON.parse(readFileSync(url, "utf8")));
  }
  const entry = fixtures.get(file)!.captured.find((c) =>
    (c.fault ?? `${c.api}: ${c.scenario}`) === where && c.error !== undefined
  );
  assert.ok(entry, `${file}: ${where} is recorded`);
  const t = (entry.target ?? {}) as Record<string, unknown>;
  const host = (t.localAddress ?? t.host ?? t.hostname) as string | undefined;
  return { want: entry.error as Recorded, target: { host, port: t.port as number | undefined } };
}

const RECORDINGS: Array<[string, string, ChaosFault, RuntimeName]> = [
  ["errors_node24.json", "node:net: refused-127.0.0.1", "refused", "node"],
  ["errors_node24.json", "node:net: dns-failure", "dns", "node"],
  ["errors_node24.json", "node:net: reset-while-reading", "reset", "node"],
  ["errors_node24.json", "node:net: broken-pipe-after-fin", "broken_pipe", "node"],
  ["errors_node24.json", "node:net: eaddrinuse-listen", "address_in_use", "node"],
  ["errors_node24.json", "node:net: eaddrnotavail-localAddress", "address_unavailable", "node"],
  ["errors_node24.json", "node:tls: tls-garbage-reply", "tls", "node"],
  ["clients/node-http.node24.json", "FIN before response", "closed", "node"],
  ["errors_deno.json", "Deno.connect: refused-127.0.0.1", "refused", "deno"],
  ["errors_deno.json", "Deno.connect: dns-failure", "dns", "deno"],
  ["errors_deno.json", "Deno.connect: reset-while-reading (conn.read())", "reset", "deno"],
  ["errors_deno.json", "Deno.connect: broken-pipe-after-fin (conn.write())", "broken_pipe", "deno"],
  ["errors_deno.json", "Deno.connectTls: tls-garbage-reply", "tls", "deno"],
  ["errors_deno.json", "Deno.connectTls: tls-accept-close", "closed", "deno"],
  ["errors_deno.json", "Deno.listen: eaddrinuse-listen", "address_in_use", "deno"],
  ["errors_deno.json", "Deno.listen: eaddrnotavail-listen", "address_unavailable", "deno"],
  ["errors_bun.json", "Bun.connect: refused-127.0.0.1", "refused", "bun"],
  ["errors_bun.json", "Bun.connect: dns-failure", "dns", "bun"],
  ["errors_bun.json", "Bun.connect: reset-while-reading", "reset", "bun"],
  ["errors_bun.json", "Bun.connect: broken-pipe-after-fin-allowHalfOpen", "broken_pipe", "bun"],
  ["errors_bun.json", "Bun.connect(tls): tls-garbage-reply", "tls", "bun"],
  ["errors_bun.json", "Bun.listen: eaddrinuse-listen", "address_in_use", "bun"],
  ["errors_bun.json", "Bun.listen: eaddrnotavail-listen", "address_unavailable", "bun"],
  ["errors_workerd.json", "cloudflare:sockets: refused-127.0.0.1", "connect_failed", "workerd"],
  ["errors_workerd.json", "fetch: stalled-server-signal-timeout", "timeout", "workerd"],
  ["clients/chromium.browser.json", "refused (nothing listens)", "connect_failed", "browser"],
  [
    "clients/chromium.browser.json",
    "AbortSignal.timeout(200) on a stalled server",
    "timeout",
    "browser",
  ],
];

test("an injected cause has the own properties the runtime gave it, with the recorded values", () => {
  for (const [file, where, kind, runtime] of RECORDINGS) {
    const { want, target } = recorded(file, where);
    const got = cause(kind, runtime, target);
    const at = `${runtime} ${kind} (${file}: ${where})`;
    // A Deno error is a plain Error under Deno's name: no runtime global is touched.
    assert.equal(got.constructor.name, runtime === "deno" ? "Error" : want.constructorName, at);
    assert.equal(got.name, want.name, at);
    // OpenSSL's message starts with the id of the thread that failed, different every run.
    const message = String(want.message).replace(/^[0-9A-F]{16}:(?=error:)/, "");
    assert.equal(got.message, message, at);
    if (got instanceof DOMException) {
      // A DOMException's fields are the engine's (own in workerd, getters elsewhere).
      assert.equal(got.code, want.code, at);
      continue;
    }
    // Own, as the runtime sets them: a Deno error's own `name`, and no field
    // the runtime leaves out (a read's address, a DNS error's port).
    assert.deepEqual(fields(Reflect.ownKeys(got)), fields(want.ownKeys), at);
    for (const key of fields(Reflect.ownKeys(got))) {
      if (key !== "message") assert.deepEqual(got[key], want[key], `${at}: ${key}`);
    }
  }
});

// libuv's table of errno, code and description, as the runtime running the
// test has it: Node, Deno and Bun all provide it.
const SYSTEM = getSystemErrorMap();
const DESCRIPTION = new Map([...SYSTEM.values()].map(([code, description]) => [code, description]));
// The errno numbers in the shapes are Linux's, where they were recorded.
const LINUX = platform() === "linux";
const OS_ERRNO = constants.errno as Record<string, number>;

test("an injected errno is the code's, as the system's error table has it", () => {
  let checked = 0;
  for (const [kind, runtime, e, at] of everyShape()) {
    const { errno, code } = e;
    if (typeof errno !== "number" || !LINUX) continue;
    checked++;
    if (errno < 0) {
      // libuv's negative errno (Node, and Bun's reads and connects). Node's
      // dns module reports getaddrinfo's EAI_NONAME as ENOTFOUND (recorded).
      const [name] = SYSTEM.get(errno) ?? [];
      assert.equal(name, code === "ENOTFOUND" ? "EAI_NONAME" : code, at);
    } else if (runtime === "bun" && kind === "dns") {
      assert.equal(errno, 4, at); // c-ares' ARES_ENOTFOUND, as recorded from Bun
    } else if (runtime === "bun" && kind === "tls") {
      assert.equal(errno, 0, at); // recorded: Bun gives a TLS failure no errno
    } else {
      assert.equal(errno, OS_ERRNO[code as string], at); // Bun.listen: the positive errno
    }
  }
  if (LINUX) assert.ok(checked > 20, `${checked} errnos checked`);
});

test("a message that quotes the system's description quotes it word for word", () => {
  let checked = 0;
  for (const [kind, runtime, e, at] of everyShape()) {
    const { code, errno, syscall } = e;
    if (typeof code !== "string") continue;
    const description = DESCRIPTION.get(code);
    if (runtime === "bun" && typeof errno === "number" && errno < 0 && kind !== "refused") {
      // Bun's reads and connects: "ECONNRESET: connection reset by peer, read"
      // (a refusal is "Failed to connect", recorded).
      assert.equal(e.message, `${code}: ${description}, ${syscall}`, at);
    } else if (runtime === "deno") {
      // The OS's words: "Connection refused (os error 111)".
      const [, text, n] = /^(.+) \(os error (\d+)\)$/.exec(e.message) ?? [];
      if (LINUX) assert.equal(Number(n), OS_ERRNO[code], at);
      // Deno words EADDRNOTAVAIL as Linux does, "Cannot assign requested
      // address" (recorded, and checked in chaos_test.ts); libuv has its own.
      if (code !== "EADDRNOTAVAIL") assert.equal(text?.toLowerCase(), description, at);
    } else if (syscall === "listen" && runtime !== "bun") {
      // Node's: "listen EADDRINUSE: address already in use 10.0.0.7:6379".
      assert.ok(e.message.startsWith(`listen ${code}: ${description} `), at);
    } else {
      continue;
    }
    checked++;
  }
  assert.ok(checked > 15, `${checked} messages quote a description`);
});

// What a syscall was doing, in faultline's words (as normalizeError reads it).
const OPERATION_OF_SYSCALL: Record<string, ConnectionOperation> = {
  connect: "connect",
  read: "read",
  write: "write",
  getaddrinfo: "lookup",
  listen: "listen",
  bind: "listen",
};

test("an injected syscall says what the call was doing, as the error's operation does", () => {
  for (const [kind, runtime, e, at] of everyShape()) {
    if (e.syscall === undefined) continue;
    const operation = injectedError(kind, runtime, TARGET).operation;
    if (runtime === "bun" && kind === "broken_pipe") {
      // Bun notices a broken pipe on its next read (recorded: "EPIPE: broken pipe, read").
      assert.deepEqual([e.syscall, operation], ["read", "write"], at);
    } else {
      assert.equal(OPERATION_OF_SYSCALL[e.syscall as string], operation, at);
    }
  }
});

// What each kind of failure interrupts: connecting, reading, writing, the
// lookup, the listen, the handshake.
const PHASE: Record<ChaosFault, ConnectionOperation> = {
  refused: "connect",
  timeout: "connect",
  unreachable: "connect",
  connect_failed: "connect",
  reset: "read",
  aborted: "read",
  closed: "read",
  broken_pipe: "write",
  dns: "lookup",
  address_in_use: "listen",
  address_unavailable: "listen",
  tls: "tls",
};

test("an injected fault is a ConnectionError of its kind, naming the target, the runtime and the phase", () => {
  for (const [kind, runtime, e, at] of everyShape()) {
    const error = injectedError(kind, runtime, TARGET);
    assert.ok(error instanceof ConnectionError, at);
    assert.deepEqual(
      [error.kind, error.host, error.port, error.runtime, error.operation],
      [kind, TARGET.host, TARGET.port, runtime, PHASE[kind]],
      at,
    );
    assert.equal((error.cause as Error).message, e.message, at);
    assert.equal((error.cause as Error).constructor, e.constructor, at);
    // Failing while connecting, the request never left: what makes a retry safe.
    if (PHASE[kind] === "connect") assert.equal(error.sent, false, at);
  }
});

test("with no target, a message names no host and is otherwise the same", () => {
  for (const [kind, runtime, e, at] of everyShape()) {
    const { message } = cause(kind, runtime, NOWHERE);
    // No "undefined", no space left where the host was (OpenSSL's message does end in "\n").
    assert.doesNotMatch(message, /undefined| $/, at);
    const error = injectedError(kind, runtime, NOWHERE);
    assert.deepEqual([error.host, error.port], [undefined, undefined], at);
    if (runtime === "bun" && kind.startsWith("address_")) {
      // Bun.listen names the address it tried, 0.0.0.0 when given no hostname.
      assert.equal(message, "Failed to listen at 0.0.0.0", at);
      continue;
    }
    const named = e.message.replace(` ${TARGET.host}:${TARGET.port}`, "").replace(
      ` ${TARGET.host}`,
      "",
    );
    assert.equal(message, named, at);
  }
});

test("a Deno cause is named after a class of Deno.errors", () => {
  const deno = (globalThis as { Deno?: { errors: Record<string, unknown> } }).Deno;
  for (const kind of CHAOS_FAULTS) {
    const { name } = cause(kind, "deno");
    if (name === "Error") continue; // Deno's DNS failure is a plain Error (recorded)
    // Elsewhere, at least the form of one; under Deno, one that exists.
    assert.match(name, /^[A-Z][a-z]+(?:[A-Z][a-z]+)+$/, kind);
    if (deno !== undefined) assert.equal(typeof deno.errors[name], "function", `${kind}: ${name}`);
  }
});
