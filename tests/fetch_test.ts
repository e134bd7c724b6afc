// resilientFetch() and fetch's failures, against misbehaving HTTP servers on
// 127.0.0.1 that the tests start themselves (tests/support/http_faults.ts).
// Every wait (backoff, Retry-After, timeout) runs on a ManualClock, or is 0 ms.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BrokenCircuitError,
  ConnectionError,
  consecutiveFailures,
  constantBackoff,
  ManualClock,
  normalizeError,
  type RetryEvent,
  timeout,
} from "../mod.ts";
import {
  DEFAULT_RETRY_METHODS,
  parseRetryAfter,
  type ResilientFetch,
  resilientFetch,
} from "../src/http/mod.ts";
import { runtimeName, UNRESOLVABLE_HOST } from "./support/faults.ts";
import {
  closedPort,
  type HttpFaultServer,
  script,
  startHttpServer,
} from "./support/http_faults.ts";

const noWait = constantBackoff(0);

/** The next retry event of `http`, with the wait already scheduled when it resolves. */
function nextRetry(http: ResilientFetch): Promise<RetryEvent> {
  return new Promise((resolve) => {
    const sub = http.onRetry((e) => {
      sub.dispose();
      resolve(e);
    });
  });
}

/** A fetch that counts its calls and hands them to the real one. */
function counting(): { fetch: typeof fetch; calls: () => number } {
  let n = 0;
  return {
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => {
      n++;
      return fetch(input, init);
    }) as typeof fetch,
    calls: () => n,
  };
}

function isKind(kind: string | string[], port?: number) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof ConnectionError, `a ConnectionError, got ${String(e)}`);
    const kinds = Array.isArray(kind) ? kind : [kind];
    assert.ok(kinds.includes(e.kind), `kind ${e.kind}, want ${kinds.join(" or ")}`);
    assert.equal(e.operation, "fetch");
    if (port !== undefined) {
      assert.equal(e.host, "127.0.0.1");
      assert.equal(e.port, port);
    }
    return true;
  };
}

test("resilientFetch() checks every option when it is made", () => {
  const cases: Array<[unknown, typeof TypeError | typeof RangeError, string]> = [
    [null, TypeError, "'options'"],
    [{ fetch: "fetch" }, TypeError, "'fetch'"],
    [{ maxAttempts: 0 }, RangeError, "'maxAttempts'"],
    [{ maxAttempts: 1.5 }, RangeError, "'maxAttempts'"],
    [{ maxAttempts: "3" }, TypeError, "'maxAttempts'"],
    [{ backoff: 100 }, TypeError, "'backoff'"],
    [{ deadline: -1 }, RangeError, "'deadline'"],
    [{ deadline: NaN }, RangeError, "'deadline'"],
    [{ retryMethods: "GET" }, TypeError, "'retryMethods'"],
    [{ retryMethods: ["GE T"] }, RangeError, "'retryMethods[0]'"],
    [{ retryMethods: ["GET", 1] }, TypeError, "'retryMethods[1]'"],
    [{ retryStatuses: [503, 700] }, RangeError, "'retryStatuses[1]'"],
    [{ retryStatuses: 503 }, TypeError, "'retryStatuses'"],
    [{ maxRetryAfter: -5 }, RangeError, "'maxRetryAfter'"],
    [{ maxRetryAfter: Infinity }, RangeError, "'maxRetryAfter'"],
    [{ timeout: 0 }, RangeError, "'timeout'"],
    [{ timeout: "1s" }, TypeError, "'timeout'"],
    [{ breaker: true }, TypeError, "'breaker'"],
    [{ breaker: { trip: 5 } }, TypeError, "'breaker.trip'"],
    [{ breaker: { halfOpenAfter: -1 } }, RangeError, "'breaker.halfOpenAfter'"],
    [{ breaker: { statuses: [1000] } }, RangeError, "'breaker.statuses[0]'"],
    [{ breaker: { maxOrigins: 0 } }, RangeError, "'breaker.maxOrigins'"],
    [{ breaker: { halfOpenMaxProbes: 0 } }, RangeError, "'breaker.halfOpenMaxProbes'"],
    [{ policy: {} }, TypeError, "'policy'"],
    [{ clock: { now: () => 0 } }, TypeError, "'clock'"],
    [{ random: 0.5 }, TypeError, "'random'"],
  ];
  for (const [options, Ctor, name] of cases) {
    assert.throws(
      () => resilientFetch(options as never),
      (e: unknown) =>
        e instanceof Ctor && (e as Error).message.startsWith("Cannot create resilientFetch as ") &&
        (e as Error).message.includes(name),
      JSON.stringify(options),
    );
  }
  assert.throws(() => resilientFetch({ maxAttempts: 0 }), {
    message:
      "Cannot create resilientFetch as 'maxAttempts' must be a positive integer: current value is 0",
  });
  // Good ones are taken.
  resilientFetch({ maxAttempts: Infinity, breaker: false, retryMethods: ["post"], timeout: 1 });
});

test("parseRetryAfter() reads delta-seconds and HTTP-dates, and nothing else", () => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
  assert.equal(parseRetryAfter("0", now), 0);
  assert.equal(parseRetryAfter(" 120 ", now), 120_000);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), 30_000);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), 0, "a past date is now");
  for (const bad of [null, undefined, "", "-1", "1.5", "soon", "2015-10-21", "12abc"]) {
    assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
  }
});

test("the caller's signal gets no listener that outlives the call", async () => {
  const controller = new AbortController();
  let live = 0;
  const signal = controller.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const listeners = new Set<unknown>();
  signal.addEventListener = ((type: string, l: EventListenerOrEventListenerObject, o?: unknown) => {
    if (!listeners.has(l)) live++;
    listeners.add(l);
    add(type, l, o as AddEventListenerOptions);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, l: EventListenerOrEventListenerObject) => {
    if (listeners.delete(l)) live--;
    remove(type, l);
  }) as typeof signal.removeEventListener;
  let seen: AbortSignal | undefined;
  const clock = new ManualClock();
  const http = resilientFetch({
    clock,
    timeout: 1_000,
    backoff: noWait,
    fetch: (_input, init) => {
      seen = init?.signal ?? undefined;
      return Promise.resolve(new Response("ok"));
    },
  });
  for (let i = 0; i < 5; i++) {
    const response = await http("http://127.0.0.1:9/", { signal });
    assert.equal(await response.text(), "ok");
  }
  assert.equal(live, 0, "every listener faultline added was removed");
  assert.equal(clock.pendingTimers, 0);
  // The caller's signal still reaches fetch (for the body), through AbortSignal.any.
  assert.ok(seen !== undefined && seen !== signal && !seen.aborted);
  controller.abort();
  assert.equal(seen.aborted, true);
});

test("a URL that is not http(s) goes straight to fetch, without a breaker", async () => {
  const http = resilientFetch();
  assert.equal(await (await http("data:text/plain,hi")).text(), "hi");
  assert.equal(http.breakers!.size, 0);
  await assert.rejects(http("http://[not a url/"), TypeError);
});

describe(`resilientFetch() against misbehaving servers under ${runtimeName}`, () => {
  const servers: HttpFaultServer[] = [];
  const start = async (...actions: Parameters<typeof script>): Promise<HttpFaultServer> => {
    const s = await startHttpServer(script(...actions));
    servers.push(s);
    return s;
  };
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  test("a refused connection is a refused ConnectionError with the URL's host and port, retried", async () => {
    const port = await closedPort();
    const c = counting();
    const http = resilientFetch({ fetch: c.fetch, backoff: noWait, maxAttempts: 3 });
    await assert.rejects(http(`http://127.0.0.1:${port}/x`), isKind("refused", port));
    assert.equal(c.calls(), 3);
  });

  test("a reset before the response is reset, and retried for GET", async () => {
    const server = await start({ fault: "reset" }, { fault: "reset" });
    const http = resilientFetch({ backoff: noWait, maxAttempts: 2 });
    await assert.rejects(http(server.origin), isKind("reset", server.port));
    assert.equal(server.requests.length, 2);
  });

  test("a server that closes without answering is closed (Bun: reset)", async () => {
    const server = await start({ fault: "close" });
    const http = resilientFetch({ maxAttempts: 1 });
    await assert.rejects(
      http(server.origin),
      isKind(runtimeName === "bun" ? "reset" : "closed", server.port),
    );
  });

  test("a stalled server is ended by the per-attempt timeout", async () => {
    const server = await start({ fault: "stall" });
    const clock = new ManualClock();
    const http = resilientFetch({ clock, timeout: 5_000, maxAttempts: 1 });
    const call = http(server.origin);
    const rejected = assert.rejects(call, (e: unknown) => {
      assert.ok(e instanceof ConnectionError && e.kind === "timeout", String(e));
      assert.equal(e.timeoutMs, 5_000);
      return isKind("timeout", server.port)(e);
    });
    await server.received(1);
    await clock.advance(4_999);
    await clock.advance(1);
    await rejected;
    assert.equal(clock.pendingTimers, 0);
  });

  test("503 with Retry-After: 2 waits 2 s on the clock, then returns the 200", async () => {
    const server = await start(
      { status: 503, headers: { "retry-after": "2" }, body: "busy" },
      { status: 200, body: "fine" },
    );
    const clock = new ManualClock();
    const http = resilientFetch({ clock });
    const retried = nextRetry(http);
    const call = http(server.origin + "/r");
    const event = await retried;
    assert.equal(event.delay, 2_000);
    assert.equal((event.result as Response).status, 503);
    assert.equal((event.result as Response).bodyUsed, true, "the dropped body was cancelled");
    await clock.advance(1_999);
    assert.equal(server.requests.length, 1, "not before Retry-After");
    await clock.advance(1);
    const response = await call;
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "fine");
    assert.equal(server.requests.length, 2);
  });

  test("429 with an HTTP-date waits until that date on the clock", async () => {
    const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    const server = await start(
      { status: 429, headers: { "retry-after": "Wed, 21 Oct 2015 07:28:07 GMT" } },
      { status: 204 },
    );
    const clock = new ManualClock(now);
    const http = resilientFetch({ clock });
    const retried = nextRetry(http);
    const call = http(server.origin);
    assert.equal((await retried).delay, 7_000);
    await clock.advance(7_000);
    assert.equal((await call).status, 204);
  });

  test("a Retry-After beyond maxRetryAfter is cut to it; beyond the deadline, no retry", async () => {
    const server = await start(
      { status: 503, headers: { "retry-after": "3600" } },
      { status: 200, body: "ok" },
    );
    const clock = new ManualClock();
    const http = resilientFetch({ clock, maxRetryAfter: 1_500 });
    const retried = nextRetry(http);
    const call = http(server.origin);
    assert.equal((await retried).delay, 1_500);
    await clock.advance(1_500);
    assert.equal((await call).status, 200);

    const other = await start({ status: 503, headers: { "retry-after": "10" }, body: "later" });
    const bounded = resilientFetch({ clock, deadline: 5_000 });
    const response = await bounded(other.origin);
    assert.equal(response.status, 503, "the wait would pass the deadline: the response comes back");
    assert.equal(await response.text(), "later");
    assert.equal(other.requests.length, 1);
  });

  test("when the retries run out, the last response comes back with its body", async () => {
    const server = await start(
      { status: 502, body: "first" },
      { status: 504, body: "second" },
      { status: 503, body: "third" },
    );
    const http = resilientFetch({ backoff: noWait, maxAttempts: 3 });
    const dropped: Response[] = [];
    http.onRetry((e) => dropped.push(e.result as Response));
    const response = await http(server.origin);
    assert.equal(response.status, 503);
    assert.equal(await response.text(), "third");
    assert.deepEqual(dropped.map((r) => [r.status, r.bodyUsed]), [[502, true], [504, true]]);
    // A status that is not in retryStatuses is an answer like any other.
    const plain = await start({ status: 500, body: "bug" });
    const r500 = await http(plain.origin);
    assert.equal(r500.status, 500);
    assert.equal(await r500.text(), "bug");
    assert.equal(plain.requests.length, 1);
  });

  test("POST is not retried by default, and is when opted in", async () => {
    const server = await start({ status: 503 }, { status: 503 }, { status: 200 });
    const http = resilientFetch({ backoff: noWait, maxAttempts: 2 });
    const post = { method: "POST", body: "payload" };
    assert.equal((await http(server.origin, post)).status, 503);
    assert.equal(server.requests.length, 1);

    const reset = await start({ fault: "reset" });
    await assert.rejects(http(reset.origin, post), isKind("reset"));
    assert.equal(reset.requests.length, 1, "a reset POST may have run: not retried");

    // Opted in by an Idempotency-Key header: the retry resends the body.
    const keyed = await http(server.origin, { ...post, headers: { "Idempotency-Key": "k1" } });
    assert.equal(keyed.status, 200);
    assert.deepEqual(
      server.requests.slice(1).map((r) => [r.method, r.body, r.headers["idempotency-key"]]),
      [["POST", "payload", "k1"], ["POST", "payload", "k1"]],
    );

    // Opted in by retryMethods, with a Request whose body is cloned for the retry.
    const again = await start({ status: 503 }, { status: 201 });
    const withPost = resilientFetch({ backoff: noWait, retryMethods: ["post"] });
    const request = new Request(again.origin + "/items", { method: "POST", body: "item" });
    assert.equal((await withPost(request)).status, 201);
    assert.deepEqual(again.requests.map((r) => r.body), ["item", "item"]);

    // A refused POST sent nothing: retried even without opting in.
    const port = await closedPort();
    const c = counting();
    const refused = resilientFetch({ fetch: c.fetch, backoff: noWait, maxAttempts: 3 });
    await assert.rejects(refused(`http://127.0.0.1:${port}/`, post), isKind("refused", port));
    assert.equal(c.calls(), 3);
    assert.ok(DEFAULT_RETRY_METHODS.includes("PUT") && !DEFAULT_RETRY_METHODS.includes("POST"));
  });

  test("a body that is a stream is sent once, never retried", async () => {
    const server = await start({ status: 503 }, { status: 200 });
    const http = resilientFetch({ backoff: noWait, retryMethods: ["POST"] });
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("streamed"));
        c.close();
      },
    });
    const init = { method: "POST", body, duplex: "half" } as RequestInit;
    assert.equal((await http(server.origin, init)).status, 503);
    assert.equal(server.requests.length, 1);
  });

  test("one breaker per origin: a failing origin opens, the other is unaffected", async () => {
    const bad = await start({ status: 503, body: "down" });
    const good = await start({ status: 200, body: "up" });
    const clock = new ManualClock();
    const http = resilientFetch({
      clock,
      maxAttempts: 1,
      breaker: { trip: consecutiveFailures(2), halfOpenAfter: 10_000 },
    });
    assert.equal((await http(bad.origin)).status, 503);
    assert.equal((await http(bad.origin + "/other")).status, 503);
    assert.equal(http.breakers!.get(bad.origin).state, "open");
    await assert.rejects(http(bad.origin), BrokenCircuitError);
    assert.equal(bad.requests.length, 2, "an open breaker sends nothing");
    const ok = await http(good.origin);
    assert.equal(await ok.text(), "up");
    assert.equal(http.breakers!.get(good.origin).state, "closed");
    // Half-open after 10 s: one probe goes through, fails (503), and opens it again.
    await clock.advance(10_000);
    assert.equal((await http(bad.origin)).status, 503);
    assert.equal(bad.requests.length, 3);
    assert.equal(http.breakers!.get(bad.origin).state, "open");
    // A 500 is not counted by default; connection failures are.
    const port = await closedPort();
    const local = `http://127.0.0.1:${port}`;
    await assert.rejects(http(local), isKind("refused"));
    await assert.rejects(http(local), isKind("refused"));
    await assert.rejects(http(local), BrokenCircuitError);
  });

  test("the caller's signal cancels a call in flight and a Retry-After wait", async () => {
    const stall = await start({ fault: "stall" });
    const http = resilientFetch();
    const controller = new AbortController();
    const call = http(stall.origin, { signal: controller.signal });
    await stall.received(1);
    controller.abort();
    await assert.rejects(
      call,
      (e: unknown) => e instanceof ConnectionError && e.kind === "cancelled",
    );

    const busy = await start({ status: 503, headers: { "retry-after": "30" } });
    const clock = new ManualClock();
    const waiting = resilientFetch({ clock });
    const c2 = new AbortController();
    const retried = nextRetry(waiting);
    const call2 = waiting(new Request(busy.origin, { signal: c2.signal }));
    await retried;
    assert.equal(clock.pendingTimers, 1);
    c2.abort();
    await assert.rejects(
      call2,
      (e: unknown) => e instanceof ConnectionError && e.kind === "cancelled",
    );
    assert.equal(clock.pendingTimers, 0, "the wait's timer is gone");
    assert.equal(busy.requests.length, 1);
  });

  test("an extra policy runs around each attempt", async () => {
    const server = await start({ status: 200 });
    let runs = 0;
    const http = resilientFetch({
      policy: {
        execute: (fn, signal) => {
          runs++;
          return timeout(1_000, { clock: new ManualClock() }).execute(fn, signal);
        },
      },
    });
    assert.equal((await http(server.origin)).status, 200);
    assert.equal(runs, 1);
  });
});

// What each runtime's own fetch throws, classified: the live side of the
// "fetch" entries in tests/fixtures/errors_*.json.
describe(`fetch failures classified under ${runtimeName}`, () => {
  let truncated: HttpFaultServer;
  let reset: HttpFaultServer;
  before(async () => {
    truncated = await startHttpServer(script({ fault: "truncate" }));
    reset = await startHttpServer(script({ fault: "reset" }));
  });
  after(async () => {
    await truncated.close();
    await reset.close();
  });

  test("refused → refused", async () => {
    const port = await closedPort();
    const error = await fetch(`http://127.0.0.1:${port}/`).catch((e) => e);
    assert.equal(normalizeError(error).kind, "refused");
  });

  test("reset before the response → reset", async () => {
    const error = await fetch(reset.origin).catch((e) => e);
    assert.equal(normalizeError(error).kind, "reset");
  });

  test("a truncated body → closed (Bun: reset), only when the body is read", async () => {
    const response = await fetch(truncated.origin);
    assert.equal(response.status, 200, "the head arrived whole");
    const error = await response.text().then(() => undefined, (e: unknown) => e);
    assert.ok(error !== undefined, "reading the body fails");
    const e = normalizeError(error, { operation: "fetch" });
    assert.equal(e.kind, runtimeName === "bun" ? "reset" : "closed", String(error));
    assert.equal(e.operation, "fetch");
  });

  test("an unresolvable name → dns (refused by the resolver locally: no query leaves)", async () => {
    const error = await fetch(`http://${UNRESOLVABLE_HOST}/`).catch((e) => e);
    assert.equal(normalizeError(error).kind, "dns");
  });
});

test("resilientFetch() retries a POST exactly when the failure says nothing was sent", async () => {
  const post = { method: "POST", body: "x" };
  const failing = (error: () => unknown) => {
    let n = 0;
    return {
      fetch: (() => {
        n++;
        return Promise.reject(error());
      }) as typeof fetch,
      calls: () => n,
    };
  };
  const cases: Array<[string, () => unknown, number]> = [
    ["unreachable", () => Object.assign(new Error("x"), { code: "EHOSTUNREACH" }), 3],
    [
      "a TLS handshake",
      () => Object.assign(new Error("x"), { code: "ERR_SSL_WRONG_VERSION_NUMBER" }),
      1,
    ],
    ["a reset", () => Object.assign(new Error("x"), { code: "ECONNRESET" }), 1],
    ["a browser's Failed to fetch", () => new TypeError("Failed to fetch"), 1],
  ];
  for (const [name, error, attempts] of cases) {
    const c = failing(error);
    const http = resilientFetch({
      fetch: c.fetch,
      backoff: noWait,
      maxAttempts: 3,
      breaker: false,
    });
    await assert.rejects(http("http://127.0.0.1:9/", post));
    // A TLS failure is not retryable at all; unreachable is, and sent nothing.
    assert.equal(c.calls(), attempts, name);
  }
});

test("resilientFetch({ normalize }) reads a client's errors with the user's normalizer", async () => {
  const { createNormalizer } = await import("../mod.ts");
  const normalize = createNormalizer({
    recognizers: [{
      name: "proxy",
      match: (e) => e.code === "PROXY_NO_UPSTREAM" ? { kind: "refused" } : undefined,
    }],
  });
  let n = 0;
  const f = (() => {
    n++;
    return Promise.reject(Object.assign(new Error("no upstream"), { code: "PROXY_NO_UPSTREAM" }));
  }) as typeof fetch;
  const http = resilientFetch({ fetch: f, backoff: noWait, maxAttempts: 2, normalize });
  await assert.rejects(http("http://127.0.0.1:9/", { method: "POST", body: "x" }), {
    name: "ConnectionError",
    kind: "refused",
  });
  assert.equal(n, 2, "refused sends nothing: a POST is retried");
});
