import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../clock.ts";
import { hedge, type HedgeOptions } from "./hedge.ts";
import { pipeline } from "./pipeline.ts";
import { retryBudget } from "./retry_budget.ts";
import { timeout } from "./timeout.ts";
import type { ExecutionContext, Policy } from "./types.ts";

type Outcome = "ok" | "refused" | "bug" | "hang";
interface Step {
  ms: number;
  outcome: Outcome;
}

const step: fc.Arbitrary<Step> = fc.record({
  ms: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 60 })),
  outcome: fc.constantFrom<Outcome>("ok", "ok", "refused", "bug", "hang"),
});

const delay: fc.Arbitrary<HedgeOptions["delay"]> = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 50 }),
  fc.constant(Infinity),
  fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 5, maxLength: 5 }).map(
    (ds) => ({ attempt }: { attempt: number }) => ds[attempt - 1]!,
  ),
  fc.record({ percentile: fc.integer({ min: 1, max: 99 }), max: fc.integer({ min: 0, max: 50 }) }),
);

function refused(): Error {
  return Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
}

/** Counts the listeners added to and removed from `signal`. */
function countListeners(signal: AbortSignal): { readonly live: number } {
  const counter = { live: 0 };
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    counter.live++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    counter.live--;
    remove(...args);
  }) as typeof remove;
  return counter;
}

describe("hedge() properties", () => {
  test("hedge() never runs more than 1 + maxHedges attempts and never leaves one running after the call settles", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        delay,
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        fc.array(step, { minLength: 5, maxLength: 5 }),
        fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
        fc.boolean(),
        async (maxHedges, delayOption, onRefused, budgetFloor, plan, abortAt, withTimeout) => {
          const clock = new ManualClock();
          const budget = budgetFloor === undefined ? undefined : retryBudget({
            ratio: 0,
            minRetriesPerSecond: budgetFloor,
            windowMs: 1_000,
            clock,
          });
          const h = hedge({
            maxHedges,
            delay: delayOption,
            on: onRefused ? ["refused"] : ["timeout"],
            budget,
            clock,
          });
          const policy: Policy = withTimeout ? pipeline(h, timeout(45, { clock })) : h;
          let started = 0;
          let running = 0;
          const live = new Set<ExecutionContext>();
          const fn = (ctx: ExecutionContext) => {
            started++;
            const s = plan[ctx.attempt - 1]!;
            if (s.ms === 0 && s.outcome === "ok") return ctx.attempt;
            if (s.ms === 0 && s.outcome === "refused") throw refused();
            running++;
            live.add(ctx);
            const wait = s.outcome === "hang" ? 1e9 : s.ms;
            return clock.sleep(wait, ctx.signal).finally(() => {
              running--;
              live.delete(ctx);
            }).then(() => {
              if (s.outcome === "ok") return ctx.attempt;
              throw s.outcome === "refused" ? refused() : new TypeError("bug");
            });
          };
          const controller = new AbortController();
          const listeners = countListeners(controller.signal);
          let settled = false;
          let value: unknown;
          let leftRunning = 0;
          // When the call settles, every attempt still running has had its signal aborted.
          const ended = () => {
            settled = true;
            for (const ctx of live) if (!ctx.signal.aborted) leftRunning++;
          };
          const call = policy.execute(fn, controller.signal).then((v) => {
            value = v;
            ended();
          }, ended);
          if (abortAt !== undefined) clock.setTimeout(() => controller.abort(), abortAt);
          await clock.advance(0);
          while (!settled && clock.now() < 1000 && await clock.next()) { /* the next timer */ }
          if (!settled) controller.abort();
          await call;
          await clock.advance(0);
          while (abortAt !== undefined && !controller.signal.aborted && await clock.next()) {
            // the pending abort timer
          }
          assert.ok(started <= 1 + maxHedges, `${started} attempts for maxHedges ${maxHedges}`);
          assert.equal(leftRunning, 0, "an attempt left running (signal not aborted) at settle");
          assert.equal(running, 0, "an attempt still running after the call settled");
          assert.equal(clock.pendingTimers, 0);
          assert.equal(listeners.live, 0);
          if (value !== undefined) assert.equal(plan[(value as number) - 1]!.outcome, "ok");
        },
      ),
      { numRuns: 150 },
    );
  });
});
