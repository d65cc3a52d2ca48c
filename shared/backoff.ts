/**
 * Backoff, written once: push retries (main/engine/push/retry-policy.ts), the puller's retries
 * (main/engine/pull/puller.ts), the link watch's probes (main/engine/agent/connection.ts) and the
 * renderer's event-stream reconnects all use it. Pure: the
 * caller injects randomness and owns time (it adds the delay to its own clock). A module in
 * shared/ because the renderer may not import main/.
 */
export interface Backoff {
  /** The ceiling of the first retry; it doubles with every retry after. */
  baseMs: number;
  /** No ceiling above this. */
  capMs: number;
  /**
   * The share of the ceiling the delay is drawn from, [low, high): full jitter is [0, 1],
   * "equal jitter" [0.5, 1], a spread of ±25 % [0.75, 1.25].
   */
  jitter: readonly [number, number];
}

export const FULL_JITTER = [0, 1] as const;
export const EQUAL_JITTER = [0.5, 1] as const;
/** The ceiling itself: a probe of a link that is down, which nothing else waits on. */
export const NO_JITTER = [1, 1] as const;

/**
 * Milliseconds to wait before retry number `retry` (1 = the first retry). A server's
 * Retry-After, when given, wins over the formula.
 */
export function backoffDelay(retry: number, backoff: Backoff, random: () => number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.max(0, retryAfterMs);
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(Math.max(0, retry - 1), 30));
  const [low, high] = backoff.jitter;
  return Math.floor(ceiling * (low + random() * (high - low)));
}
