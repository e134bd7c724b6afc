/**
 * `serialize()`: an error as the fixtures record it, for every capture
 * script (scripts/capture_*.ts) and for the browser page and edge-runtime
 * sandbox, where it runs where the error was thrown (so no `node:` import).
 * Field for field (constructorName, name,
 * message, code, errno, syscall, address, port, hostname, own primitive
 * fields, isAggregate, errors, cause chain, ownKeys), so that
 * tests/support/rebuild_error.ts rebuilds what it records.
 */

const STD_FIELDS = ["name", "message", "code", "errno", "syscall", "address", "port", "hostname"];
const RESERVED = new Set([
  ...STD_FIELDS,
  "constructorName",
  "isAggregate",
  "errors",
  "cause",
  "ownKeys",
  "stack",
  "thrown",
]);
const MAX_DEPTH = 6;

export function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function isPrimitive(v: unknown): boolean {
  return v === null || (typeof v !== "object" && typeof v !== "function");
}

/** A field value: primitives kept with their type (JSON-safe), objects serialized. */
function fieldValue(v: unknown, depth: number, seen: Set<object>): unknown {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : { number: String(v) };
  if (typeof v === "bigint") return { bigint: String(v) };
  if (typeof v === "symbol") return { symbol: String(v) };
  if (typeof v === "undefined") return { undefined: true };
  return serialize(v, depth, seen);
}

/** An error (or any thrown value) as JSON-safe data. */
export function serialize(v: unknown, depth = 0, seen: Set<object> = new Set()): unknown {
  if (isPrimitive(v)) return { thrown: typeof v, value: fieldValue(v, depth, seen) };
  const o = v as Record<string | symbol, unknown>;
  if (depth >= MAX_DEPTH) return { truncated: `depth limit ${MAX_DEPTH}` };
  if (seen.has(o)) return { circular: true };
  seen.add(o);
  const out: Record<string, unknown> = {};
  out.constructorName = safe(() => (o.constructor as { name?: unknown } | undefined)?.name) ??
    null;
  for (const k of STD_FIELDS) {
    const has = safe(() => k in o);
    if (!has) continue;
    const val = safe(() => o[k]);
    if (val === undefined) continue;
    out[k] = fieldValue(val, depth + 1, seen);
  }
  const ownEnum = safe(() => Object.keys(o)) ?? [];
  for (const k of ownEnum) {
    if (STD_FIELDS.includes(k) || k === "stack" || k === "cause" || k === "errors") continue;
    const val = safe(() => o[k]);
    if (!isPrimitive(val)) continue;
    out[RESERVED.has(k) ? `own:${k}` : k] = fieldValue(val, depth + 1, seen);
  }
  out.isAggregate = safe(() => o instanceof AggregateError) ?? false;
  const errors = safe(() => o.errors);
  if (Array.isArray(errors)) out.errors = errors.map((e) => serialize(e, depth + 1, seen));
  if (safe(() => "cause" in o)) out.cause = serialize(safe(() => o.cause), depth + 1, seen);
  out.ownKeys = (safe(() => Reflect.ownKeys(o)) ?? []).map((k) =>
    typeof k === "symbol" ? k.toString() : k
  );
  seen.delete(o);
  return out;
}
