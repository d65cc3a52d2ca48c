import { abortError } from './timers';

interface Waiter {
  weight: number;
  resolve: (release: () => void) => void;
  reject: (error: unknown) => void;
}

/**
 * Bounded parallelism for uploads, weighted by bytes: `capacity` bytes and at most
 * `maxHolders` requests in flight. Four 4 MiB blocks or dozens of 4 KiB ones: big
 * transfers are bounded by memory and bandwidth, small ones by latency. FIFO.
 */
export class Limiter {
  private used = 0;
  private holders = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private capacity: number,
    private maxHolders: number,
  ) {}

  setLimits(capacity: number, maxHolders: number): void {
    this.capacity = capacity;
    this.maxHolders = maxHolders;
    this.pump();
  }

  get inFlight(): number {
    return this.holders;
  }

  /**
   * Waits for room. Thousands may wait at once, so waiters do not each listen on the signal
   * (EventTarget removal is linear); stop() calls cancelAll() instead.
   */
  acquire(weight: number, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortError());
    // A request heavier than the whole capacity still runs, alone.
    const w = Math.min(weight, this.capacity);
    return new Promise((resolve, reject) => {
      this.queue.push({ weight: w, resolve, reject });
      this.pump();
    });
  }

  /** Rejects every waiter (stop). Holders keep their slots until they release them. */
  cancelAll(): void {
    for (const w of this.queue.splice(0)) w.reject(abortError());
  }

  /** Runs fn holding `weight`. */
  async with<T>(weight: number, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(weight, signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0] as Waiter;
      if (this.holders >= this.maxHolders || (this.holders > 0 && this.used + head.weight > this.capacity)) return;
      this.queue.shift();
      this.used += head.weight;
      this.holders++;
      let released = false;
      head.resolve(() => {
        if (released) return;
        released = true;
        this.used -= head.weight;
        this.holders--;
        this.pump();
      });
    }
  }
}
