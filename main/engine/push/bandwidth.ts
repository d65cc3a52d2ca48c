import { Readable } from 'node:stream';
import { abortError, type Timers } from './timers';

/**
 * Upload bandwidth limit as a token bucket that may go into debt: a take() of n bytes
 * proceeds once n bytes (at most a full bucket) are there, and may leave it owing. Over time this gives
 * exactly `rate` bytes/s whatever the chunk size, with bursts of at most `burstMs` worth.
 * Rate 0 means no limit. The rate can change at any time; waiters re-plan at once.
 */
export class TokenBucket {
  private tokens = 0;
  private last: number;
  private tail: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private waited = 0;

  constructor(
    private rate: number,
    private readonly timers: Timers,
    private readonly burstMs = 250,
  ) {
    this.last = timers.now();
    this.tokens = this.capacity();
  }

  get bytesPerSecond(): number {
    return this.rate;
  }

  /** How long takers have waited for the limit in all (ms): what the limit cost, for status. */
  get waitedMs(): number {
    return this.waited;
  }

  setRate(bytesPerSecond: number): void {
    const wasUnlimited = this.rate === 0;
    this.refill();
    this.rate = Math.max(0, bytesPerSecond);
    // Debt is not carried across "no limit": a fresh limit starts with a full burst.
    this.tokens = wasUnlimited || this.rate === 0 ? this.capacity() : Math.min(this.tokens, this.capacity());
    this.wake?.();
  }

  /** Waits until n bytes may be sent. Callers are served in order. */
  take(n: number, signal?: AbortSignal): Promise<void> {
    if (this.rate === 0 && !this.wake) return Promise.resolve();
    const turn = this.tail.then(() => this.acquire(n, signal));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private capacity(): number {
    return (this.rate * this.burstMs) / 1000;
  }

  private refill(): void {
    const now = this.timers.now();
    if (this.rate > 0) this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  private async acquire(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw abortError();
      this.refill();
      if (this.rate === 0) return;
      // A chunk larger than the burst goes once the bucket is full, and leaves it in debt.
      const need = Math.min(n, this.capacity());
      if (this.tokens >= need) {
        this.tokens -= n;
        return;
      }
      const waitMs = Math.max(1, Math.ceil(((need - this.tokens) * 1000) / this.rate));
      await this.pause(waitMs, signal);
    }
  }

  /** Sleeps, but wakes early when the rate changes. */
  private pause(ms: number, signal?: AbortSignal): Promise<void> {
    const started = this.timers.now();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.waited += this.timers.now() - started;
        this.timers.clearTimeout(handle);
        signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
        resolve();
      };
      const onAbort = (): void => {
        done();
        reject(abortError());
      };
      const handle = this.timers.setTimeout(done, ms);
      this.wake = done;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * A body that hands out `data` in slices, each only after the bucket (if any) allows it, and
 * counts each slice once the request has taken it: the socket's backpressure paces the slices,
 * so a slow link shows its progress within a block, not once at its end.
 */
export function throttledBody(data: Buffer, bucket: TokenBucket | null, onChunk: (bytes: number) => void, signal?: AbortSignal, sliceBytes = 64 * 1024): Readable {
  async function* slices(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < data.length; offset += sliceBytes) {
      const slice = data.subarray(offset, Math.min(data.length, offset + sliceBytes));
      await bucket?.take(slice.length, signal);
      yield slice;
      onChunk(slice.length);
    }
  }
  return Readable.from(slices(), { objectMode: false });
}

/** Blocks at least this big go in counted slices even with no limit: big enough to take a while on a slow link. */
export const COUNTED_BLOCK_BYTES = 1024 * 1024;
