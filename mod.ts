/**
 * faultline: every way a connection fails, in every runtime, as one typed
 * {@link ConnectionError}; and one pipeline of policies (retry, circuit
 * breaker, timeout, fallback, bulkhead) that speaks its kinds.
 *
 * @example
 * ```ts
 * import { connect, normalizeError } from "@faultline/faultline";
 *
 * try {
 *   const conn = await connect({ hostname: "127.0.0.1", port: 1, timeout: 1000 });
 *   await conn.close();
 * } catch (error) {
 *   const e = normalizeError(error);
 *   console.log(e.kind, e.hint); // "refused" "Nothing is listening at 127.0.0.1:1: ..."
 * }
 * ```
 *
 * @module
 */

export {
  CONNECTION_ERROR_KINDS,
  type ConnectionErrorKind,
  type ConnectionOperation,
} from "./src/errors/kinds.ts";
export {
  type AnyConnectionError,
  ConnectionError,
  type ConnectionErrorJSON,
  type ConnectionErrorKindFields,
  type ConnectionErrorOptions,
} from "./src/errors/connection_error.ts";
export {
  createNormalizer,
  type NormalizeContext,
  normalizeError,
  type Normalizer,
  type NormalizerOptions,
} from "./src/errors/normalize_error.ts";
export type { ErrorFields, Recognition, Recognizer } from "./src/errors/recognizer.ts";
export { isConnectionError } from "./src/errors/is_connection_error.ts";
export { detectRuntime, type RuntimeName } from "./src/runtime.ts";
export { VERSION } from "./src/version.ts";
export { type Clock, ManualClock, realClock } from "./src/clock.ts";
export type { ExecutionContext, Policy } from "./src/policies/types.ts";
export type { Event, Subscription } from "./src/policies/events.ts";
export { connect } from "./src/connect/connect.ts";
export type {
  Connection,
  ConnectOptions,
  NetAddress,
  TlsOptions,
} from "./src/connect/connection.ts";
export {
  type Backoff,
  type BackoffJitter,
  ConstantBackoff,
  constantBackoff,
  ExponentialBackoff,
  exponentialBackoff,
  type ExponentialBackoffOptions,
  MAX_DELAY_MS,
} from "./src/policies/backoff.ts";
export {
  retry,
  type RetryDelayInfo,
  type RetryEvent,
  type RetryGiveUpEvent,
  type RetryGiveUpReason,
  type RetryOptions,
  RetryPolicy,
  type RetryPredicate,
  type RetrySuccessEvent,
} from "./src/policies/retry.ts";
export {
  type RetryBudget,
  retryBudget,
  type RetryBudgetOptions,
} from "./src/policies/retry_budget.ts";
export {
  timeout,
  type TimeoutEvent,
  type TimeoutOptions,
  TimeoutPolicy,
} from "./src/policies/timeout.ts";
export {
  fallback,
  type FallbackEvent,
  type FallbackOn,
  type FallbackOptions,
  FallbackPolicy,
} from "./src/policies/fallback.ts";
export {
  bulkhead,
  type BulkheadOptions,
  BulkheadPolicy,
  BulkheadRejectedError,
  type BulkheadRejectedEvent,
} from "./src/policies/bulkhead.ts";
export { pipeline, type PipelineMember } from "./src/policies/pipeline.ts";
export { CircuitBreaker, circuitBreaker } from "./src/policies/circuit_breaker.ts";
export type {
  BreakerOn,
  CircuitBreakerOptions,
  CircuitState,
  HalfOpenBackoff,
  SlowCallOptions,
} from "./src/policies/breaker_options.ts";
export type {
  BreakEvent,
  HalfOpenEvent,
  RejectedEvent,
  ResetEvent,
  StateChangeEvent,
} from "./src/policies/breaker_events.ts";
export type { CircuitBreakerSnapshot } from "./src/policies/breaker_snapshot.ts";
export { BrokenCircuitError } from "./src/policies/broken_circuit_error.ts";
export type { TripCounter, TripSnapshot, TripStrategy } from "./src/policies/trip/types.ts";
export {
  ConsecutiveFailures,
  consecutiveFailures,
} from "./src/policies/trip/consecutive_failures.ts";
export {
  FailureRate,
  failureRate,
  type FailureRateOptions,
} from "./src/policies/trip/failure_rate.ts";
export {
  type EvictEvent,
  KeyedCircuitBreaker,
  keyedCircuitBreaker,
  type KeyedCircuitBreakerOptions,
  type KeyedStateChangeEvent,
} from "./src/policies/keyed_breaker.ts";
export {
  chaos,
  type ChaosFault,
  type ChaosFaultEvent,
  type ChaosLatencyEvent,
  type ChaosOptions,
  ChaosPolicy,
} from "./src/policies/chaos.ts";
export { RateLimitedError } from "./src/policies/rate_limited_error.ts";
export {
  rateLimit,
  type RateLimitedEvent,
  type RateLimitOptions,
  RateLimitPolicy,
} from "./src/policies/rate_limit.ts";
export type {
  FleetBreakerReply,
  FleetBreakerRequest,
  FleetBreakerState,
  FleetBudgetReply,
  FleetBudgetRequest,
  FleetErrorEvent,
  FleetOptions,
  FleetRateReply,
  FleetRateRequest,
  FleetStore,
} from "./src/fleet/store.ts";
export { SlidingRetryBudget } from "./src/policies/retry_budget.ts";
export {
  hedge,
  type HedgeEvent,
  type HedgeOn,
  type HedgeOptions,
  type HedgePercentileDelay,
  HedgePolicy,
} from "./src/policies/hedge.ts";
export {
  type AdaptiveAlgorithm,
  adaptiveConcurrency,
  type AdaptiveConcurrencyOptions,
  AdaptiveConcurrencyPolicy,
  type LimitChangeEvent,
} from "./src/policies/adaptive_concurrency.ts";
export {
  adaptiveThrottle,
  type AdaptiveThrottleOptions,
  AdaptiveThrottlePolicy,
  ThrottledError,
  type ThrottledEvent,
  type ThrottleOn,
} from "./src/policies/adaptive_throttle.ts";
