// Fuzzing normalizeError(): for anything thrown, it never throws, returns a
// ConnectionError of a known kind, keeps the input as `cause`, is idempotent,
// and its work is bounded (counted as property reads through Proxies, never
// timed). Seeds are fixed per run in CI by fast-check's own printing: a
// failure prints the seed and the path to replay it.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConnectionError } from "./connection_error.ts";
import { CONNECTION_ERROR_KINDS, type ConnectionOperation } from "./kinds.ts";
import { normalizeError } from "./normalize_error.ts";

const RUNS = 300;
const KINDS: ReadonlySet<string> = new Set(CONNECTION_ERROR_KINDS);
const BRAND = Symbol.for("faultline.ConnectionError");

// Real vocabulary, so that the fuzzer reaches the recognizing branches too.
const CODES = [
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EADDRINUSE",
  "EADDRNOTAVAIL",
  "ABORT_ERR",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ConnectionRefused",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "ERR_STREAM_PREMATURE_CLOSE",
  "toString",
  "__proto__",
  "constructor",
  "hasOwnProperty",
];
const NAMES = [
  "Error",
  "TypeError",
  "AggregateError",
  "AbortError",
  "TimeoutError",
  "ConnectionRefused",
  "ConnectionReset",
  "BrokenPipe",
  "UnexpectedEof",
  "TimedOut",
  "NotConnected",
  "DNSException",
  "ConnectionError",
  "__proto__",
  "valueOf",
];
const PHRASES = [
  "fetch failed",
  "connect ECONNREFUSED 127.0.0.1:1",
  "Connection refused (os error 111)",
  "error trying to connect: tcp connect error: Connection reset by peer",
  "Client network socket disconnected before secure TLS connection was established",
  "dns error: failed to lookup address information: Name or service not known",
  "proxy request failed, cannot connect to the specified address",
  "Network connection lost.",
  "socket hang up",
  "other side closed",
  "The operation was aborted",
  "",
];
const SYSCALLS = ["connect", "read", "write", "getaddrinfo", "listen", "bind", "nope"];

const code = fc.oneof(fc.constantFrom(...CODES), fc.string(), fc.integer(), fc.anything());
const name = fc.oneof(fc.constantFrom(...NAMES), fc.string(), fc.anything());
const message = fc.oneof(
  fc.constantFrom(...PHRASES),
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.tuple(fc.integer({ min: 3000, max: 40_000 }), fc.constantFrom(...PHRASES))
    .map(([n, phrase]) => "x".repeat(n) + phrase),
  fc.anything(),
);

// The arbitraries give recipes (plain data, which fast-check can print and
// shrink); `build()` makes a fresh value from one for each run, so hostile
// objects never reach fast-check itself.

/** An error-shaped object: its own fields (maybe recipes) in a carrier. */
class Node {
  readonly fields: Record<string, unknown>;
  readonly carrier: string;
  constructor(fields: Record<string, unknown>, carrier: string) {
    this.fields = fields;
    this.carrier = carrier;
  }
}

/** A recipe made hostile: throwing getters or traps, revoked, or cyclic. */
class Hostile {
  readonly base: unknown;
  readonly how: string;
  readonly traps: readonly string[];
  readonly keys: readonly string[];
  constructor(base: unknown, how: string, traps: readonly string[], keys: readonly string[]) {
    this.base = base;
    this.how = how;
    this.traps = traps;
    this.keys = keys;
  }
}

const errorLike: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.tuple(
    fc.record({
      code,
      name,
      message,
      syscall: fc.constantFrom(...SYSCALLS),
      address: fc.oneof(fc.constantFrom("127.0.0.1", "::1", "localhost"), fc.anything()),
      port: fc.oneof(fc.integer({ min: -1, max: 70_000 }), fc.double(), fc.anything()),
      hostname: fc.oneof(fc.string(), fc.anything()),
      cause: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.anything(), tie("node")),
      errors: fc.oneof(
        { depthSize: "small" },
        fc.array(tie("node"), { maxLength: 4 }),
        fc.anything(),
      ),
    }, { requiredKeys: [] }),
    fc.constantFrom("plain", "error", "aggregate", "null-proto", "dom", "frozen"),
  ).map(([fields, carrier]) => new Node(fields, carrier)),
})).node;

const TRAPS = [
  "get",
  "has",
  "getOwnPropertyDescriptor",
  "ownKeys",
  "getPrototypeOf",
  "defineProperty",
  "set",
] as const;

const hostile: fc.Arbitrary<unknown> = fc.tuple(
  errorLike,
  fc.constantFrom("getters", "proxy", "revoked", "cycle", "self-errors"),
  fc.subarray([...TRAPS], { minLength: 1 }),
  fc.subarray(["code", "name", "message", "cause", "errors", "syscall", "address", "port"], {
    minLength: 1,
  }),
).map(([base, how, traps, keys]) => new Hostile(base, how, traps, keys));

/** A fresh value from a recipe (anything else is used as it is). */
function build(recipe: unknown): unknown {
  if (recipe instanceof Node) {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(recipe.fields)) {
      fields[key] = key === "cause"
        ? build(value)
        : key === "errors" && Array.isArray(value)
        ? value.map(build)
        : value;
    }
    return carry(fields, recipe.carrier);
  }
  if (recipe instanceof Hostile) return harden(build(recipe.base), recipe);
  return recipe;
}

function carry(fields: Record<string, unknown>, carrier: string): unknown {
  switch (carrier) {
    case "error":
      return define(new Error(typeof fields.message === "string" ? fields.message : "e"), fields);
    case "aggregate":
      return define(new AggregateError([], "agg"), fields);
    case "null-proto":
      return define(Object.create(null), fields);
    case "dom":
      return typeof DOMException === "function"
        ? new DOMException(
          typeof fields.message === "string" ? fields.message : "",
          typeof fields.name === "string" ? fields.name : "Error",
        )
        : fields;
    case "frozen":
      return Object.freeze(define({}, fields));
    default:
      return fields;
  }
}

/** Own data properties, whatever the target's prototype says (no setters run). */
function define<T extends object>(target: T, fields: Record<string, unknown>): T {
  for (const [key, value] of Object.entries(fields)) {
    Object.defineProperty(target, key, { value, configurable: true, enumerable: true });
  }
  return target;
}

function harden(value: unknown, { how, traps, keys }: Hostile): unknown {
  if (typeof value !== "object" || value === null) return value;
  switch (how) {
    case "getters": {
      if (Object.isFrozen(value)) return value;
      for (const key of keys) {
        Object.defineProperty(value, key, {
          configurable: true,
          get() {
            throw new Error(`getter ${key}`);
          },
        });
      }
      return value;
    }
    case "proxy": {
      const handler: ProxyHandler<object> = {};
      for (const trap of traps) {
        (handler as Record<string, unknown>)[trap] = () => {
          throw new Error(`trap ${trap}`);
        };
      }
      return new Proxy(value, handler);
    }
    case "revoked": {
      const { proxy, revoke } = Proxy.revocable(value, {});
      revoke();
      return proxy;
    }
    case "cycle": {
      if (Object.isFrozen(value)) return value;
      let node = value as Record<string, unknown>;
      for (let i = 0; i < 6; i++) {
        const next = node.cause;
        if (typeof next !== "object" || next === null || Object.isFrozen(next)) break;
        node = next as Record<string, unknown>;
      }
      Object.defineProperty(node, "cause", { value, configurable: true });
      return value;
    }
    default: {
      if (Object.isFrozen(value)) return value;
      Object.defineProperty(value, "errors", { value: [value, value], configurable: true });
      return value;
    }
  }
}

const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
});

/** Recipes: pass each through build() inside the property. */
const input: fc.Arbitrary<unknown> = fc.oneof(anything, errorLike, hostile);

function isBranded(value: unknown): boolean {
  try {
    return typeof value === "object" && value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true;
  } catch {
    return false;
  }
}

function checkResult(value: unknown, result: unknown): void {
  assert.ok(result instanceof ConnectionError, "a ConnectionError");
  assert.ok(result instanceof Error, "an Error");
  assert.ok(KINDS.has(result.kind), `a known kind: ${String(result.kind)}`);
  assert.equal(typeof result.message, "string");
  assert.equal(typeof result.hint, "string");
  assert.equal(typeof result.retryable, "boolean");
  assert.ok(Object.is(result.cause, value), "cause is the input, untouched");
  assert.doesNotThrow(() => JSON.stringify(result));
}

test("normalizeError() never throws and always gives a ConnectionError of a known kind", () => {
  fc.assert(
    fc.property(input, (recipe) => {
      const value = build(recipe);
      fc.pre(!isBranded(value));
      checkResult(value, normalizeError(value));
    }),
    { numRuns: RUNS },
  );
});

test("normalizeError() is idempotent and gives a ConnectionError back as is", () => {
  fc.assert(
    fc.property(input, (recipe) => {
      const value = build(recipe);
      const once = normalizeError(value);
      assert.equal(normalizeError(once), once);
      assert.equal(normalizeError(once, { host: "127.0.0.1", port: 1 }), once);
      if (isBranded(value)) assert.equal(once, value);
    }),
    { numRuns: RUNS },
  );
});

const operation = fc.constantFrom<ConnectionOperation>(
  "connect",
  "read",
  "write",
  "lookup",
  "tls",
  "fetch",
  "listen",
);

test("normalizeError() takes any well-typed context and keeps what it says", () => {
  const context = fc.record({
    host: fc.oneof(fc.constantFrom("127.0.0.1", "::1", "localhost"), fc.string()),
    port: fc.integer({ min: 0, max: 65_535 }),
    operation,
    runtime: fc.constantFrom("deno", "bun", "node", "workerd", "unknown" as const),
    timeoutMs: fc.nat(),
  }, { requiredKeys: [] });
  fc.assert(
    fc.property(input, context, (recipe, ctx) => {
      const value = build(recipe);
      fc.pre(!isBranded(value));
      const result = normalizeError(value, ctx);
      checkResult(value, result);
      if (ctx.host !== undefined) assert.equal(result.host, ctx.host);
      if (ctx.port !== undefined) assert.equal(result.port, ctx.port);
      if (ctx.operation !== undefined) assert.equal(result.operation, ctx.operation);
      if (ctx.runtime !== undefined) assert.equal(result.runtime, ctx.runtime);
    }),
    { numRuns: RUNS },
  );
});

test("a recognized error keeps its kind when wrapped as a cause or in an AggregateError", () => {
  const known: ReadonlyArray<[string, string]> = [
    ["ECONNREFUSED", "refused"],
    ["ECONNRESET", "reset"],
    ["EPIPE", "broken_pipe"],
    ["ETIMEDOUT", "timeout"],
    ["EHOSTUNREACH", "unreachable"],
    ["EADDRINUSE", "address_in_use"],
    ["UND_ERR_SOCKET", "closed"],
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...known),
      fc.array(fc.constantFrom("cause", "aggregate"), { maxLength: 6 }),
      ([c, kind], wrappers) => {
        let error: unknown = Object.assign(new Error("inner"), { code: c });
        for (const w of wrappers) {
          error = w === "cause"
            ? new TypeError("fetch failed", { cause: error })
            : new AggregateError([new Error("noise"), error], "all failed");
        }
        const result = normalizeError(error);
        assert.equal(result.kind, kind);
        assert.equal(result.cause, error);
      },
    ),
    { numRuns: 100 },
  );
});

// ------------------------------------------------------------- bounded work

/**
 * Wraps `value` so that every trap on it, and on every object reached
 * through it, is counted. Wrapped lazily, so infinite structures are fine.
 */
function counting(value: unknown, count: { n: number }): unknown {
  const wrapped = new WeakMap<object, object>();
  const wrap = (v: unknown): unknown => {
    if ((typeof v !== "object" && typeof v !== "function") || v === null) return v;
    const known = wrapped.get(v);
    if (known) return known;
    const proxy = new Proxy(v, {
      get(target, key) {
        count.n++;
        return wrap(Reflect.get(target, key));
      },
      has(target, key) {
        count.n++;
        return Reflect.has(target, key);
      },
      getOwnPropertyDescriptor(target, key) {
        count.n++;
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
      ownKeys(target) {
        count.n++;
        return Reflect.ownKeys(target);
      },
      getPrototypeOf(target) {
        count.n++;
        return Reflect.getPrototypeOf(target);
      },
    });
    wrapped.set(v, proxy);
    return proxy;
  };
  return wrap(value);
}

// 48 nodes at most, each read for code, name, message, cause, errors (and
// 16 elements plus a length) in two passes, plus the final fill: about 2 300.
// The bound is what matters: it does not grow with the input.
const MAX_READS = 3000;

test("normalizeError() does bounded work on any input (property reads counted)", () => {
  fc.assert(
    fc.property(input, (recipe) => {
      const count = { n: 0 };
      const proxied = counting(build(recipe), count);
      const result = normalizeError(proxied);
      const during = count.n;
      assert.ok(during <= MAX_READS, `${during} reads`);
      assert.ok(result instanceof ConnectionError);
    }),
    { numRuns: RUNS },
  );
});

test("normalizeError() does bounded work on huge and endless inputs", () => {
  const inputs: Array<[string, () => unknown]> = [
    ["a cause chain of 100 000", () => {
      let e: object = { message: "bottom", code: "ECONNREFUSED" };
      for (let i = 0; i < 100_000; i++) e = { message: `level ${i}`, cause: e };
      return e;
    }],
    ["an AggregateError of 1 000 000", () =>
      new AggregateError(
        Array.from({ length: 1_000_000 }, (_, i) => ({ message: `${i}`, code: i })),
        "many",
      )],
    ["an AggregateError tree 8 deep and 16 wide", () => {
      let level: unknown[] = [new Error("leaf")];
      for (let d = 0; d < 8; d++) {
        level = [new AggregateError(Array.from({ length: 16 }, () => level[0]), `d${d}`)];
      }
      return level[0];
    }],
    ["a message of 8 MB", () => new Error("y".repeat(8 * 1024 * 1024) + " connection refused")],
    ["an endless lazy cause chain", () => {
      const endless: object = new Proxy({}, {
        get: (_t, key) => (key === "cause" ? new Proxy({}, { get: () => endless }) : undefined),
      });
      return endless;
    }],
    ["an errors array that claims 2**32 - 1 elements", () => {
      const errors = new Proxy([], {
        get: (t, key) => (key === "length" ? 2 ** 32 - 1 : Reflect.get(t, key) ?? new Error("e")),
      });
      return { message: "outer", errors };
    }],
  ];
  for (const [what, make] of inputs) {
    const value = make();
    const count = { n: 0 };
    const result = normalizeError(counting(value, count));
    assert.ok(count.n <= MAX_READS, `${what}: ${count.n} reads`);
    assert.ok(result instanceof ConnectionError, what);
    assert.ok(KINDS.has(result.kind), what);
  }
  // Past the depth bound, a code is not looked for: the 100 000-deep chain is unknown.
  const deep = inputs[0][1]();
  assert.equal(normalizeError(deep).kind, "unknown");
  // Within it, it is found.
  let near: Error = Object.assign(new Error("bottom"), { code: "ECONNREFUSED" });
  for (let i = 0; i < 5; i++) near = new Error(`level ${i}`, { cause: near });
  assert.equal(normalizeError(near).kind, "refused");
});

// ------------------------------------------------------ bugs this fuzzer found (fixed)

test(
  "normalizeError() never throws for a context of the wrong types",
  () => {
    fc.assert(
      fc.property(
        input,
        fc.record({ host: anything, port: anything, operation: anything, runtime: anything }, {
          requiredKeys: [],
        }),
        (recipe, ctx) => {
          const value = build(recipe);
          fc.pre(!isBranded(value));
          checkResult(value, normalizeError(value, ctx as never));
        },
      ),
      { numRuns: RUNS },
    );
  },
);

test(
  "a Proxy that answers true to every read is not taken for a ConnectionError",
  () => {
    const liar = new Proxy({}, { get: () => true });
    const result = normalizeError(liar);
    assert.ok(KINDS.has(result.kind), `kind ${String(result.kind)}`);
  },
);
