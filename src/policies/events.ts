/**
 * Typed events in the style of cockatiel: `policy.onRetry(listener)` returns
 * a subscription to `dispose()`. An event with no listener costs one field
 * check; a listener that throws is reported and never breaks the policy.
 *
 * @module
 */

/**
 * A subscription to a policy's event.
 *
 * @example
 * ```ts
 * import { retry } from "@faultline/faultline";
 *
 * const policy = retry();
 * const sub = policy.onRetry((e) => console.log(`attempt ${e.attempt} failed`));
 * sub.dispose();
 * ```
 */
export interface Subscription {
  /** Stops the listener from being called. */
  dispose(): void;
  /** The same as {@link Subscription.dispose}, for `using`. */
  [Symbol.dispose](): void;
}

/**
 * A function that subscribes a listener to one event.
 *
 * @example
 * ```ts
 * import { type Event, retry, type RetryEvent } from "@faultline/faultline";
 *
 * const onRetry: Event<RetryEvent> = retry().onRetry;
 * ```
 */
export type Event<T> = (listener: (event: T) => void) => Subscription;

/** Holds listeners for one event. `emit` must only be called when `has` is true. */
export class Emitter<T> {
  #listeners: Array<(event: T) => void> = [];

  /** True when somebody listens: check it before building an event object. */
  get has(): boolean {
    return this.#listeners.length > 0;
  }

  /** The subscribe function to expose as a policy's `onX` property. */
  readonly subscribe: Event<T> = (listener) => {
    if (typeof listener !== "function") {
      throw new TypeError(
        `Cannot subscribe as 'listener' must be a function: current value is ${String(listener)}`,
      );
    }
    // Copy on write, so a listener that unsubscribes during emit is safe.
    this.#listeners = [...this.#listeners, listener];
    let disposed = false;
    // Removes this subscription only: the same function subscribed twice is two subscriptions.
    const dispose = () => {
      if (disposed) return;
      disposed = true;
      const i = this.#listeners.indexOf(listener);
      if (i < 0) return;
      this.#listeners = [...this.#listeners.slice(0, i), ...this.#listeners.slice(i + 1)];
    };
    return { dispose, [Symbol.dispose]: dispose };
  };

  /** Calls every listener; one that throws is reported and the rest still run. */
  emit(event: T): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        console.error("faultline: an event listener threw; the policy carries on.", error);
      }
    }
  }
}
