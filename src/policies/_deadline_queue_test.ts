// The deadline queue behind timeout(): one timer for all of a policy's calls.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Clock, ManualClock } from "../clock.ts";
import { type DeadlineEntry, DeadlineQueue, UNSTAMPED } from "./_deadline_queue.ts";

class Entry implements DeadlineEntry {
  deadline = UNSTAMPED;
  queueState = 1;
  expired = 0;
  readonly name: string;
  readonly log: string[] | undefined;

  constructor(name = "", log?: string[]) {
    this.name = name;
    this.log = log;
  }

  expire(): void {
    this.expired++;
    this.log?.push(this.name);
  }

  brokenBy: unknown[] = [];
  broken(error: unknown): void {
    this.brokenBy.push(error);
  }
}

/** Lets `n` microtask turns pass. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}

/** A ManualClock that counts its reads and the timers set on it. */
function counting(clock: ManualClock) {
  const stats = { reads: 0, timers: [] as number[] };
  const counted: Clock = {
    now: () => (stats.reads++, clock.now()),
    setTimeout: (callback, ms) => (stats.timers.push(ms), clock.setTimeout(callback, ms)),
    clearTimeout: (handle) => clock.clearTimeout(handle),
    sleep: (ms, signal) => clock.sleep(ms, signal),
  };
  return { counted, stats };
}

/** A clock whose timers fire when `fire()` is called, at once: no microtask turn comes first. */
class PromptClock implements Clock {
  at = 0;
  readonly #timers = new Map<number, () => void>();
  #id = 0;
  now(): number {
    return this.at;
  }
  setTimeout(callback: () => void): unknown {
    this.#timers.set(++this.#id, callback);
    return this.#id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  sleep(): Promise<void> {
    return Promise.reject(new Error("not used"));
  }
  fire(): void {
    const due = [...this.#timers.values()];
    this.#timers.clear();
    for (const callback of due) callback();
  }
}

describe("DeadlineQueue", () => {
  test("DeadlineQueue sets no timer for an entry removed within a few microtask turns", async () => {
    const clock = new ManualClock();
    const { counted, stats } = counting(clock);
    const queue = new DeadlineQueue(counted, 100);
    const entry = new Entry();
    queue.add(entry);
    await turns(2);
    queue.remove(entry);
    await turns(10);
    assert.equal(queue.armed, false);
    assert.deepEqual(stats.timers, []);
    assert.equal(queue.live, 0);
    assert.equal(queue.size, 0);
  });

  test("DeadlineQueue arms one timer for an entry that outlives the first turns, due ms after it was stamped", async () => {
    const clock = new ManualClock(1_000);
    const { counted, stats } = counting(clock);
    const queue = new DeadlineQueue(counted, 100);
    const a = new Entry();
    const b = new Entry();
    queue.add(a);
    queue.add(b);
    assert.equal(queue.size, 2);
    await turns(10);
    assert.equal(queue.armed, true);
    assert.deepEqual(stats.timers, [100]);
    assert.equal(a.deadline, 1_100);
    assert.equal(b.deadline, 1_100);
    await clock.advance(99);
    assert.equal(a.expired + b.expired, 0);
    await clock.advance(1);
    assert.deepEqual([a.expired, b.expired], [1, 1]);
    assert.equal(queue.armed, false);
    assert.equal(queue.live, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("DeadlineQueue expires entries in order and re-arms for the next live one", async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    const queue = new DeadlineQueue(clock, 100);
    const a = new Entry("a", log);
    queue.add(a);
    await turns(10);
    await clock.advance(30);
    const b = new Entry("b", log);
    const c = new Entry("c", log);
    queue.add(b);
    queue.add(c);
    await turns(2);
    assert.equal(b.deadline, 130, "stamped in one batch while armed");
    assert.equal(c.deadline, 130);
    queue.remove(b);
    await clock.advance(70);
    assert.deepEqual(log, ["a"]);
    assert.equal(queue.armed, true, "re-armed for c");
    await clock.advance(29);
    assert.deepEqual(log, ["a"]);
    await clock.advance(1);
    assert.deepEqual(log, ["a", "c"]);
    assert.equal(b.expired, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("DeadlineQueue never expires an entry before its deadline, even by a millisecond", async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    const queue = new DeadlineQueue(clock, 100);
    queue.add(new Entry("a", log));
    await turns(10);
    await clock.advance(1);
    queue.add(new Entry("b", log));
    await turns(2);
    await clock.advance(99);
    assert.deepEqual(log, ["a"]);
    await clock.advance(1);
    assert.deepEqual(log, ["a", "b"]);
  });

  test("DeadlineQueue reads the clock once for a batch of entries added while armed", async () => {
    const clock = new ManualClock();
    const { counted, stats } = counting(clock);
    const queue = new DeadlineQueue(counted, 100);
    queue.add(new Entry());
    await turns(10);
    const before = stats.reads;
    for (let i = 0; i < 50; i++) queue.add(new Entry());
    await turns(2);
    assert.equal(stats.reads - before, 1);
  });

  test("DeadlineQueue keeps a deadline once stamped, however small: 1 ms at time 0 is due at 1", async () => {
    const clock = new ManualClock();
    const queue = new DeadlineQueue(clock, 1);
    const a = new Entry();
    queue.add(a);
    await turns(10);
    assert.equal(a.deadline, 1);
    await clock.advance(0.5);
    const b = new Entry();
    queue.add(b);
    await turns(2);
    assert.deepEqual([a.deadline, b.deadline], [1, 1.5]);
    await clock.advance(0.5);
    assert.deepEqual([a.expired, b.expired], [1, 0]);
  });

  test("DeadlineQueue reads the clock only for entries still there to stamp", async () => {
    const clock = new ManualClock();
    const { counted, stats } = counting(clock);
    const queue = new DeadlineQueue(counted, 100);
    const first = new Entry();
    queue.add(first);
    await turns(10);
    const armed = stats.reads;
    const gone = new Entry();
    queue.add(gone);
    queue.remove(gone);
    queue.remove(first); // empty before the batch is stamped
    await turns(2);
    assert.equal(stats.reads, armed, "nothing to stamp, no read");
    const a = new Entry();
    queue.add(a);
    await turns(10);
    const before = stats.reads;
    await clock.advance(100);
    assert.equal(a.expired, 1);
    assert.equal(stats.reads - before, 1, "the timer reads the time once: every entry was stamped");
  });

  test("DeadlineQueue arms for the first live entry when those before it were removed first", async () => {
    const clock = new ManualClock();
    const queue = new DeadlineQueue(clock, 100);
    const entries = [new Entry(), new Entry(), new Entry()];
    for (const e of entries) queue.add(e);
    queue.remove(entries[0]!);
    queue.remove(entries[1]!);
    await turns(10);
    assert.equal(queue.armed, true);
    await clock.advance(100);
    assert.deepEqual(entries.map((e) => e.expired), [0, 0, 1]);
    assert.equal(clock.pendingTimers, 0);
  });

  test("DeadlineQueue stamps an entry added just before its timer fires, rather than expire it", async () => {
    const clock = new PromptClock();
    const queue = new DeadlineQueue(clock, 100);
    const a = new Entry();
    queue.add(a);
    await turns(10);
    clock.at = 100;
    const b = new Entry();
    queue.add(b);
    clock.fire(); // before the microtask that would stamp b
    assert.deepEqual([a.expired, b.expired], [1, 0]);
    assert.equal(b.deadline, 200);
    assert.equal(queue.armed, true);
  });

  test("DeadlineQueue clears its timer when the last live entry is removed", async () => {
    const clock = new ManualClock();
    const queue = new DeadlineQueue(clock, 60_000);
    const entries = [new Entry(), new Entry(), new Entry()];
    for (const e of entries) queue.add(e);
    await turns(10);
    assert.equal(clock.pendingTimers, 1);
    queue.remove(entries[0]!);
    queue.remove(entries[2]!);
    assert.equal(clock.pendingTimers, 1);
    queue.remove(entries[1]!);
    queue.remove(entries[1]!); // twice is harmless
    assert.equal(clock.pendingTimers, 0);
    assert.equal(queue.armed, false);
    assert.equal(queue.live, 0);
  });

  test("DeadlineQueue holds at most about twice its live entries however many settle", async () => {
    const clock = new ManualClock();
    const queue = new DeadlineQueue(clock, 60_000);
    const keep = new Entry();
    queue.add(keep);
    await turns(10);
    for (let i = 0; i < 10_000; i++) {
      const e = new Entry();
      queue.add(e);
      queue.remove(e);
    }
    assert.equal(queue.live, 1);
    assert.ok(queue.size <= 64, `size ${queue.size}`);
    await clock.advance(60_000);
    assert.equal(keep.expired, 1);
  });

  test("DeadlineQueue holds at most about twice its live entries when they expire one after another", async () => {
    const clock = new ManualClock();
    const queue = new DeadlineQueue(clock, 10);
    const entries: Entry[] = [];
    for (let i = 0; i < 100; i++) {
      entries.push(new Entry());
      queue.add(entries[i]!);
      await clock.advance(5); // each lives two steps: the queue is never empty
    }
    assert.equal(queue.live, 1);
    assert.ok(queue.size <= 2 * queue.live + 32, `size ${queue.size}`);
    assert.equal(entries.filter((e) => e.expired === 1).length, 99);
  });

  test("DeadlineQueue drops settled entries in the middle without losing a live one", async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    const queue = new DeadlineQueue(clock, 100);
    const entries = Array.from({ length: 100 }, (_, i) => new Entry(String(i), log));
    for (const e of entries) queue.add(e);
    await turns(10);
    // Settle all but every tenth, so that the queue compacts with live entries behind its head.
    entries.forEach((e, i) => i % 10 !== 0 && queue.remove(e));
    assert.equal(queue.live, 10);
    assert.ok(queue.size <= 2 * queue.live + 32, `size ${queue.size}`);
    await clock.advance(100);
    assert.deepEqual(log, ["0", "10", "20", "30", "40", "50", "60", "70", "80", "90"]);
  });

  test("DeadlineQueue re-arms a deadline beyond setTimeout's limit until it is due", async () => {
    const clock = new ManualClock();
    const { counted, stats } = counting(clock);
    const limit = 2_147_483_647;
    const queue = new DeadlineQueue(counted, limit * 2 + 5);
    const e = new Entry();
    queue.add(e);
    await turns(10);
    assert.deepEqual(stats.timers, [limit]);
    await clock.advance(limit);
    assert.equal(e.expired, 0);
    assert.deepEqual(stats.timers, [limit, limit]);
    await clock.advance(limit);
    assert.deepEqual(stats.timers, [limit, limit, 5]);
    await clock.advance(5);
    assert.equal(e.expired, 1);
  });

  test("DeadlineQueue expires the others when one entry's expire throws", async () => {
    const clock = new ManualClock();
    const queue = new DeadlineQueue(clock, 10);
    const bad: DeadlineEntry = {
      deadline: UNSTAMPED,
      queueState: 1,
      expire() {
        throw new Error("listener bug");
      },
      broken() {},
    };
    const good = new Entry();
    queue.add(bad);
    queue.add(good);
    await turns(10);
    await clock.advance(10);
    assert.equal(good.expired, 1);
    assert.equal(queue.live, 0);
  });

  test("DeadlineQueue lets an expiring entry add and remove others", async () => {
    const clock = new ManualClock();
    const queue = new DeadlineQueue(clock, 10);
    const late = new Entry();
    const first: DeadlineEntry = {
      deadline: UNSTAMPED,
      queueState: 1,
      expire() {
        queue.remove(second);
        queue.add(late);
      },
      broken() {},
    };
    const second = new Entry();
    queue.add(first);
    queue.add(second);
    await turns(10);
    await clock.advance(10);
    assert.equal(
      second.expired,
      1,
      "due with first: a remove() from first's expire() comes too late to stop it",
    );
    assert.equal(queue.live, 1);
    await turns(10);
    await clock.advance(10);
    assert.equal(late.expired, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  // A clock of the caller's making that throws: where the queue reads it, in a
  // microtask or a timer, nobody else would hear the error.
  for (
    const [where, breakAt] of [
      ["now() when stamping the first entries", { now: 0 }],
      ["now() when arming", { now: 1 }],
      ["setTimeout()", { setTimeout: 0 }],
      ["now() when stamping entries added while armed", { now: 2 }],
      ["now() when its timer fires", { now: 2, fire: true }],
    ] as const
  ) {
    test(`DeadlineQueue tells every live entry, and keeps no timer, when the clock's ${where} throws`, async () => {
      const clock = new ManualClock();
      const bug = new Error("clock bug");
      let reads = 0;
      let sets = 0;
      const broken: Clock = {
        now: () => {
          // Arming reads twice (stamping, then the delay): `now: 1` breaks the second.
          // `now: 0` breaks the first.
          if ("now" in breakAt && ++reads > breakAt.now) throw bug;
          return clock.now();
        },
        setTimeout: (callback, ms) => {
          if ("setTimeout" in breakAt && sets++ >= breakAt.setTimeout) throw bug;
          return clock.setTimeout(callback, ms);
        },
        clearTimeout: (handle) => clock.clearTimeout(handle),
        sleep: (ms, signal) => clock.sleep(ms, signal),
      };
      const queue = new DeadlineQueue(broken, 100);
      // The first entry told throws (an abort listener's bug): the others are told still.
      queue.add({
        deadline: UNSTAMPED,
        queueState: 1,
        expire() {},
        broken() {
          throw new Error("listener bug");
        },
      });
      const a = new Entry();
      const gone = new Entry();
      queue.add(a);
      queue.add(gone);
      queue.remove(gone);
      await turns(10);
      const b = new Entry();
      if ("now" in breakAt && breakAt.now === 2) {
        assert.equal(queue.armed, true, "armed with two reads");
        if (!("fire" in breakAt)) {
          queue.add(b); // stamped in a microtask: the third read
          await turns(2);
        }
      }
      if ("fire" in breakAt) {
        // No entry was added since arming: the read in the timer is the third.
        await clock.advance(100);
      }
      assert.deepEqual(a.brokenBy, [bug]);
      assert.equal(a.expired, 0);
      assert.deepEqual(gone.brokenBy, [], "a removed entry is not told");
      if ("now" in breakAt && breakAt.now === 2 && !("fire" in breakAt)) {
        assert.deepEqual(b.brokenBy, [bug]);
      }
      assert.equal(queue.live, 0);
      assert.equal(queue.size, 0);
      assert.equal(queue.armed, false);
      assert.equal(clock.pendingTimers, 0);
      // The queue still works with a clock that has mended.
      reads = -Infinity;
      sets = -Infinity;
      const c = new Entry();
      queue.add(c);
      await turns(10);
      await clock.advance(100);
      assert.equal(c.expired, 1);
      assert.equal(clock.pendingTimers, 0);
    });
  }
});
