import { backoffDelay } from '../../shared/backoff';

/** Reconnect delays for the event stream: exponential from 500 ms, capped at 15 s, ±25 % jitter. */
const RECONNECT = { baseMs: 500, capMs: 15_000, jitter: [0.75, 1.25] } as const;

/** `attempt` counts from 0 (the first reconnect). */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  return backoffDelay(attempt + 1, RECONNECT, random);
}
