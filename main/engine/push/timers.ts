import { FerryError } from '../../../protocol/errors';

import { realTimers, type Timers } from '../timers';

export type { Timers };
/** The pusher's name for the engine's real timers. */
export const systemTimers: Timers = realTimers;

export function abortError(): FerryError {
  return new FerryError('aborted', 'Stopped', { retryable: false });
}

/** Resolves after ms, or rejects with code 'aborted' as soon as the signal fires. */
export function sleep(timers: Timers, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError());
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      timers.clearTimeout(handle);
      reject(abortError());
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A promise that settles when `signal` fires (for racing waits against stop()). */
export function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(abortError());
    else signal.addEventListener('abort', () => reject(abortError()), { once: true });
  });
}
