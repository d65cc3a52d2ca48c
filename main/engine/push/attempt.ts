import { FerryError } from '../../../protocol/errors';
import type { OfflineMonitor } from './offline';
import { backoffMs, classify, mayRetry, type RetryOptions, type Verdict } from './retry-policy';
import { sleep, type Timers } from './timers';

export interface RetryInfo {
  label: string;
  retry: number;
  delayMs: number;
  verdict: Verdict;
}

export interface AttemptContext {
  retry: () => RetryOptions;
  random: () => number;
  timers: Timers;
  offline: OfflineMonitor;
  /** Resolves while running; waits while paused; rejects once stopped. */
  gate: () => Promise<void>;
  signal: AbortSignal;
  onRetry?: (info: RetryInfo) => void;
}

/** Set on the error a request gives up with, so callers can tell exhaustion from a permanent error. */
export interface GiveUp {
  verdict: Verdict;
  retries: number;
}

export function giveUpOf(error: unknown): GiveUp | undefined {
  return (error as { giveUp?: GiveUp } | null)?.giveUp;
}

/**
 * Per-request hooks: the commit stage uses them to make an in-place retry visible on the
 * items the request serves, and to bound it by those items' own retry budgets.
 */
export interface RetryHooks {
  /** May the request be tried again after `retries` retries? Default: the context's retry limit. */
  mayRetry?: (retries: number) => boolean;
  /** A backoff starts: the next try is at `at` (ms since epoch). */
  onWait?: (info: RetryInfo & { at: number }) => void;
  /** The backoff is over: the next try starts now. */
  onTry?: (retry: number) => void;
}

/** May retry number `retries + 1` happen? */
export function retryAllowed(ctx: AttemptContext, retries: number, hooks: RetryHooks = {}): boolean {
  return hooks.mayRetry ? hooks.mayRetry(retries) : mayRetry(retries, ctx.retry());
}

/** Sleeps the backoff before retry number `retry`, telling the hooks when it starts and ends. */
export async function backoff(ctx: AttemptContext, label: string, retry: number, verdict: Verdict, hooks: RetryHooks = {}): Promise<void> {
  const delayMs = backoffMs(retry, ctx.retry(), ctx.random, verdict.action === 'retry' ? verdict.retryAfterMs : undefined);
  const info = { label, retry, delayMs, verdict };
  ctx.onRetry?.(info);
  hooks.onWait?.({ ...info, at: ctx.timers.now() + delayMs });
  await sleep(ctx.timers, delayMs, ctx.signal);
  hooks.onTry?.(retry);
}

/**
 * Runs one logical request until it succeeds, the error is permanent, or the retry limit is
 * spent. The caller's fn closes over its tracking id, so every retry reuses it. Offline time
 * is not a retry: it waits for the monitor and tries again. Backoff sleeps hold no slot.
 */
export async function withRetries<T>(ctx: AttemptContext, label: string, fn: () => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  let retries = 0;
  for (;;) {
    await ctx.gate();
    await ctx.offline.waitOnline(ctx.signal);
    try {
      const value = await fn();
      ctx.offline.reportOnline();
      return value;
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      const verdict = classify(error);
      if (verdict.action === 'offline') {
        ctx.offline.reportOffline(verdict.message);
        continue;
      }
      ctx.offline.reportOnline();
      if (verdict.action === 'fail' || !retryAllowed(ctx, retries, hooks)) throw giveUp(error, verdict, retries);
      retries++;
      await backoff(ctx, label, retries, verdict, hooks);
    }
  }
}

function giveUp(error: unknown, verdict: Verdict, retries: number): FerryError {
  const suffix = retries > 0 ? ` (gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'})` : '';
  const out = new FerryError(verdict.code, `${verdict.message}${suffix}`, {
    retryable: false,
    cause: error,
    ...(error instanceof FerryError && error.status !== undefined ? { status: error.status } : {}),
  });
  Object.assign(out, { giveUp: { verdict, retries } satisfies GiveUp });
  return out;
}
