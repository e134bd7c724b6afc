/**
 * Rebuilds an error recorded by `serialize()` (scripts/capture_errors.ts)
 * from its JSON: the same name, message, code, errno, syscall, address,
 * port, own primitive fields, cause chain and AggregateError list, and a
 * constructor of the recorded class name, so that a recognizer that looks
 * at `constructor.name` sees what it saw live.
 */

interface Serialized {
  [key: string]: unknown;
  cause?: Serialized;
  errors?: Serialized[];
}

const SKIP = new Set(["constructorName", "isAggregate", "ownKeys", "cause", "errors"]);
const prototypes = new Map<string, object>();

function prototypeFor(name: unknown): object {
  if (typeof name !== "string" || name === "" || name === "Error") return Error.prototype;
  let proto = prototypes.get(name);
  if (proto === undefined) {
    const ctor = function () {} as unknown as { prototype: object };
    Object.defineProperty(ctor, "name", { value: name });
    proto = Object.create(Error.prototype, {
      constructor: { value: ctor, writable: true, configurable: true },
    }) as object;
    ctor.prototype = proto;
    prototypes.set(name, proto);
  }
  return proto;
}

/** A value `serialize()` could not write as JSON as itself: `undefined`, NaN, a bigint. */
function primitive(v: unknown): unknown {
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  if (o.undefined === true) return undefined;
  if (typeof o.number === "string") return Number(o.number);
  if (typeof o.bigint === "string") return BigInt(o.bigint);
  return v;
}

/** The recorded error as an object again (a primitive comes back as itself). */
export function rebuild(e: unknown): unknown {
  if (e === null || typeof e !== "object") return e;
  const s = e as Serialized;
  // A recorded primitive (an `undefined` cause among them) comes back as itself.
  if ("thrown" in s && Object.keys(s).every((k) => k === "thrown" || k === "value")) {
    return primitive(s.value);
  }
  const out = Object.create(prototypeFor(s.constructorName)) as Record<string, unknown>;
  for (const [k, v] of Object.entries(s)) {
    if (SKIP.has(k)) continue;
    out[k.startsWith("own:") ? k.slice(4) : k] = v;
  }
  if (s.cause !== undefined) out.cause = rebuild(s.cause);
  if (Array.isArray(s.errors)) out.errors = s.errors.map(rebuild);
  return out;
}
