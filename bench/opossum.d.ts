// The few parts of opossum (CommonJS, no bundled types) that bench/run.ts uses.
declare module "opossum" {
  interface CircuitBreakerOptions {
    timeout?: number | false;
    resetTimeout?: number;
    errorThresholdPercentage?: number;
    volumeThreshold?: number;
  }
  export default class CircuitBreaker<R = unknown> {
    constructor(action: (...args: unknown[]) => Promise<R>, options?: CircuitBreakerOptions);
    fire(...args: unknown[]): Promise<R>;
    open(): void;
    close(): void;
    shutdown(): void;
  }
}
