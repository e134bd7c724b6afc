/**
 * The recent latencies behind an adaptive hedge delay: a fixed-size window of
 * the last {@link WINDOW} samples kept as a log-spaced histogram. Recording is
 * O(1) and allocates nothing (two typed-array writes); a percentile is a walk
 * over {@link BUCKETS} counters, cached between {@link REFRESH} samples.
 * Internal; not exported from the package.
 *
 * Buckets are 8 to an octave (each ~9% wider than the one below it), from
 * 1/16 ms to about 17 minutes; a percentile is reported as the upper bound
 * of its bucket, so it is never below the true value by more than 9%, and
 * the set of values it can take is finite.
 *
 * @module
 */

/** Buckets per doubling of latency. */
const PER_OCTAVE = 8;
/** The upper bound of the first bucket, in ms. */
const LOWEST = 1 / 16;
/** 24 octaves above {@link LOWEST}: up to 2^20 ms. */
export const BUCKETS: number = PER_OCTAVE * 24 + 1;
/** How many recent samples the window holds. */
export const WINDOW = 256;
/** How many samples there must be before a percentile is given. */
export const MIN_SAMPLES = 20;
/** How many new samples make the cached percentile stale. */
export const REFRESH = 16;

const BOUNDS = new Float64Array(BUCKETS);
for (let i = 0; i < BUCKETS; i++) BOUNDS[i] = LOWEST * 2 ** (i / PER_OCTAVE);

/** The bucket of a latency in ms (NaN and anything at or below 1/16 ms: the first). */
export function bucketOf(ms: number): number {
  if (!(ms > LOWEST)) return 0;
  const i = Math.ceil(Math.log2(ms / LOWEST) * PER_OCTAVE - 1e-9);
  return i < BUCKETS ? i : BUCKETS - 1;
}

/** The upper bound of bucket `i`, in ms. */
export function boundOf(i: number): number {
  return BOUNDS[i]!;
}

/** A sliding window of the last {@link WINDOW} latencies, as a histogram. */
export class LatencyWindow {
  readonly #counts = new Uint16Array(BUCKETS);
  /** The bucket of each sample in the window, oldest overwritten first. */
  readonly #ring = new Uint8Array(WINDOW);
  #next = 0;
  #size = 0;
  #fresh = 0;
  #cached = NaN;
  readonly #fraction: number;

  /** `percentile` is in (0, 100). */
  constructor(percentile: number) {
    this.#fraction = percentile / 100;
  }

  /** Samples in the window. */
  get size(): number {
    return this.#size;
  }

  /** Adds a latency in ms; true when the cached percentile was just refreshed. */
  record(ms: number): boolean {
    const b = bucketOf(ms);
    const at = this.#next;
    const counts = this.#counts;
    // Not `counts[i]!++`: Stryker's instrumenter cannot mutate an update of a non-null assertion.
    if (this.#size === WINDOW) {
      const old = this.#ring[at]!;
      counts[old] = counts[old]! - 1;
    } else this.#size++;
    this.#ring[at] = b;
    counts[b] = counts[b]! + 1;
    this.#next = at + 1 === WINDOW ? 0 : at + 1;
    if (++this.#fresh < REFRESH && this.#cached === this.#cached) return false;
    if (this.#size < MIN_SAMPLES) return false;
    this.#fresh = 0;
    this.#cached = this.#compute();
    return true;
  }

  /** The percentile of the window (a bucket's upper bound), or NaN before {@link MIN_SAMPLES}. */
  get value(): number {
    return this.#cached;
  }

  #compute(): number {
    // The smallest bucket at which at least `fraction` of the samples lie.
    const target = Math.max(1, Math.ceil(this.#fraction * this.#size));
    const counts = this.#counts;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += counts[i]!;
      if (seen >= target) return BOUNDS[i]!;
    }
    return BOUNDS[BUCKETS - 1]!;
  }
}
