import { test } from "node:test";
import assert from "node:assert/strict";
import { createNormalizer, normalizeError, recognizerFor } from "./normalize_error.ts";
import type { Recognizer } from "./recognizer.ts";
import { ConnectionError } from "./connection_error.ts";

const acme: Recognizer = {
  name: "acme",
  match: (e) => e.code === "ACME_GONE" ? { kind: "closed", sent: true } : undefined,
  matchMessage: (m) => m.includes("acme broker unreachable") ? { kind: "unreachable" } : undefined,
};
const acmeGone = () => Object.assign(new Error("gone"), { code: "ACME_GONE" });

test("createNormalizer() knows the user's client and still every built-in shape", () => {
  const normalize = createNormalizer({ recognizers: [acme] });
  const e = normalize(acmeGone(), { host: "mq", port: 5672 });
  assert.equal(e.kind, "closed");
  assert.equal(e.sent, true);
  assert.equal(e.host, "mq");
  assert.equal(normalize(new Error("acme broker unreachable (x)")).kind, "unreachable");
  const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  assert.equal(normalize(refused).kind, "refused");
  assert.equal(normalize(new Error("a bug")).kind, "unknown");
});

test("createNormalizer() changes no global state", () => {
  createNormalizer({ recognizers: [acme] });
  assert.equal(normalizeError(acmeGone()).kind, "unknown");
});

test("createNormalizer() asks the user's recognizers before the built-in tables", () => {
  const mine: Recognizer = {
    name: "mine",
    match: (e) => e.code === "ECONNRESET" ? { kind: "closed" } : undefined,
  };
  const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  assert.equal(createNormalizer({ recognizers: [mine] })(reset).kind, "closed");
  assert.equal(normalizeError(reset).kind, "reset");
});

test("createNormalizer() asks match on the whole chain before any message", () => {
  const byMessage: Recognizer = {
    name: "by-message",
    matchMessage: (m) => m === "wrapper" ? { kind: "timeout" } : undefined,
  };
  const wrapped = new Error("wrapper", {
    cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }),
  });
  assert.equal(createNormalizer({ recognizers: [byMessage] })(wrapped).kind, "refused");
});

test('a recognizer\'s "unknown" verdict ends the search', () => {
  const status: Recognizer = {
    name: "status",
    match: (e) => e.name === "HttpStatusError" ? { kind: "unknown" } : undefined,
  };
  const err = Object.assign(new Error("503"), {
    name: "HttpStatusError",
    cause: Object.assign(new Error("x"), { code: "ECONNRESET" }),
  });
  const normalize = createNormalizer({ recognizers: [status] });
  assert.equal(normalize(err).kind, "unknown");
  assert.equal(recognizerFor(normalize)(err), undefined);
  assert.equal(normalizeError(err).kind, "reset");
});

test("a throwing or lying recognizer is skipped: the normalizer stays total", () => {
  const throwing: Recognizer = {
    name: "throwing",
    match: () => {
      throw new Error("bug in a recognizer");
    },
    matchMessage: () => {
      throw new Error("bug");
    },
  };
  const lying = {
    name: "lying",
    match: () => ({ kind: "not-a-kind" }),
  } as unknown as Recognizer;
  const normalize = createNormalizer({ recognizers: [throwing, lying] });
  const refused = Object.assign(new Error("x"), { code: "ECONNREFUSED" });
  assert.equal(normalize(refused).kind, "refused");
  assert.equal(normalize(new Error("plain")).kind, "unknown");
  assert.equal(normalize(42).kind, "unknown");
});

test("createNormalizer() reads its recognizers once", () => {
  const r = { name: "late", match: (_: unknown) => undefined } as {
    name: string;
    match: Recognizer["match"];
  };
  const normalize = createNormalizer({ recognizers: [r as Recognizer] });
  r.match = () => ({ kind: "reset" });
  assert.equal(normalize(new Error("x")).kind, "unknown");
});

test("createNormalizer() refuses bad options with a TypeError naming the option", () => {
  const cases: Array<[unknown, string]> = [
    [5, "Cannot create normalizer as 'options' must be an object: current value is 5"],
    [
      { recognizers: "pg" },
      `Cannot create normalizer as 'recognizers' must be an array of recognizers: current value is "pg"`,
    ],
    [
      { recognizers: [null] },
      "Cannot create normalizer as 'recognizers[0]' must be a recognizer object: current value is null",
    ],
    [
      { recognizers: [{ match: () => undefined }] },
      "Cannot create normalizer as 'recognizers[0].name' must be a string: current value is undefined",
    ],
    [
      { recognizers: [{ name: "x", match: 1 }] },
      "Cannot create normalizer as 'recognizers[0].match' must be a function: current value is 1",
    ],
    [
      { recognizers: [{ name: "x", matchMessage: "y" }] },
      `Cannot create normalizer as 'recognizers[0].matchMessage' must be a function: current value is "y"`,
    ],
    [
      { recognizers: [acme, { name: "x" }] },
      "Cannot create normalizer as 'recognizers[1]' must have 'match' or 'matchMessage': current value is an object",
    ],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => createNormalizer(options as never), { name: "TypeError", message });
  }
  assert.equal(typeof createNormalizer(), "function");
  assert.equal(typeof createNormalizer({}), "function");
});

test("recognizerFor() reads any normalizer's unknown as not recognized, and survives a throwing one", () => {
  const custom = (e: unknown) =>
    e === "boom" ? new ConnectionError("reset") : (() => {
      throw new Error("broken normalizer");
    })();
  const recognize = recognizerFor(custom as never);
  assert.equal(recognize("boom")?.kind, "reset");
  assert.equal(recognize(new Error("x")), undefined);
  const unknownOnly = recognizerFor(() => new ConnectionError("unknown") as never);
  assert.equal(unknownOnly(new Error("x")), undefined);
});

test("a browser's fetch failure is connect_failed, never unknown or a guessed kind", () => {
  for (
    const message of [
      "Failed to fetch",
      "NetworkError when attempting to fetch resource.",
      "Load failed",
    ]
  ) {
    const e = normalizeError(new TypeError(message));
    assert.equal(e.kind, "connect_failed", message);
    assert.equal(e.sent, undefined, "a reset or a cut body looks the same");
  }
  assert.equal(normalizeError(new Error("Load failed")).kind, "unknown", "only Safari's TypeError");
  assert.equal(normalizeError(new TypeError("Image load failed")).kind, "unknown");
});

test("Node's http 'socket hang up' (a FIN before the answer) is closed, not reset", () => {
  const e = normalizeError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
  assert.equal(e.kind, "closed");
  assert.equal(e.code, "ECONNRESET");
  const rst = normalizeError(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
  assert.equal(rst.kind, "reset");
});

test("in a browser, connect_failed's hint names CORS among the causes", () => {
  const e = normalizeError(new TypeError("Failed to fetch"), { runtime: "browser", host: "api" });
  assert.match(e.hint, /CORS/);
  assert.match(e.hint, /nothing listening/);
  assert.doesNotMatch(
    normalizeError(new TypeError("Failed to fetch"), { runtime: "deno" }).hint,
    /CORS/,
  );
});

test("Safari's and WebKit's other words for a lost connection are connect_failed too", () => {
  for (
    const message of [
      "The Internet connection appears to be offline.",
      "The network connection was lost.",
      " A network error occurred.",
    ]
  ) {
    assert.equal(normalizeError(new TypeError(message)).kind, "connect_failed", message);
  }
});
