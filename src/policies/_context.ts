/**
 * The {@link ExecutionContext} a policy hands to its operation.
 *
 * @module
 */

import type { ExecutionContext } from "./types.ts";

/**
 * An execution context whose signal is the caller's, or, when the caller gave
 * none, a fresh signal that never aborts, made only if the operation reads it:
 * the success path of a call without a signal allocates no AbortController,
 * and no shared signal collects listeners across calls.
 */
export class Context implements ExecutionContext {
  #signal: AbortSignal | undefined;
  /** Which attempt this is, counting from 1. */
  readonly attempt: number;

  constructor(signal: AbortSignal | undefined, attempt: number) {
    this.#signal = signal;
    this.attempt = attempt;
  }

  /** The signal it was made with, if any: read without making one. */
  get given(): AbortSignal | undefined {
    return this.#signal;
  }

  /** The caller's signal, or a never-aborting one made on first read. */
  get signal(): AbortSignal {
    return this.#signal ??= new AbortController().signal;
  }
}
