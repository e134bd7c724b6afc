/**
 * How {@link instrument} names what it records: `error.type`, and a span
 * event's attributes. Internal.
 *
 * @module
 */

import { judgeOf } from "../errors/normalize_error.ts";
import type { Attributes } from "./types.ts";

const JUDGE = judgeOf(undefined);

/**
 * `error.type` in OpenTelemetry's sense, low in cardinality: the
 * {@link ConnectionError} kind when the error is (or will become) one, else
 * the error's name (`BrokenCircuitError`, `TypeError`), else `_OTHER`.
 */
export function errorType(error: unknown): string {
  const verdict = JUDGE.classify(error);
  if (verdict !== undefined) return verdict.kind;
  try {
    const name = (error as { name?: unknown } | null)?.name;
    if (typeof name === "string" && name !== "") return name;
  } catch {
    // a getter that throws
  }
  return "_OTHER";
}

/** Says that a meter or tracer of the caller's threw: the call goes on without it. */
export function report(error: unknown): void {
  console.error("faultline: the meter or tracer threw; the call carries on.", error);
}

/** A span event's attributes: the policy, `error.type`, and what the event says, in seconds. */
export function spanEventAttributes(
  policy: string,
  type: string | undefined,
  p: Record<string, unknown>,
): Attributes {
  const out: Attributes = { "faultline.policy": policy };
  if (type !== undefined) out["error.type"] = type;
  const attempt = typeof p.attempt === "number" ? p.attempt : p.attempts;
  if (typeof attempt === "number") out["faultline.attempt"] = attempt;
  // A retry's wait, a hedge's delay: named after the policy, in seconds.
  if (typeof p.delay === "number") out[`faultline.${policy}.delay`] = p.delay / 1000;
  if (typeof p.limit === "number") out["faultline.limit"] = p.limit;
  if (typeof p.reason === "string") out["faultline.reason"] = p.reason;
  if (typeof p.from === "string") out["faultline.circuit.previous_state"] = p.from;
  if (typeof p.to === "string") out["faultline.circuit.state"] = p.to;
  if (typeof p.timeoutMs === "number") out["faultline.timeout"] = p.timeoutMs / 1000;
  if (typeof p.latencyMs === "number") out["faultline.chaos.latency"] = p.latencyMs / 1000;
  return out;
}
