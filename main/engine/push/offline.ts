import { backoffMs, classify } from './retry-policy';
import { abortError, type Timers } from './timers';

export type Connectivity = 'online' | 'offline';

export interface OfflineOptions {
  /** A cheap request; resolving (or any answer from the server) means it is reachable. */
  probe: () => Promise<unknown>;
  timers: Timers;
  random?: () => number;
  /** Probe backoff: full jitter from baseMs, capped at capMs (never below minMs). */
  baseMs?: number;
  capMs?: number;
  minMs?: number;
  onChange?: (state: Connectivity, reason?: string) => void;
}

/**
 * Online/offline as a small state machine. Work that hits "connection refused" or a DNS
 * failure reports it and then waits here; a probe loop with backoff finds the server again
 * and releases every waiter, so nothing is failed for being offline.
 */
export class OfflineMonitor {
  private current: Connectivity = 'online';
  private probes = 0;
  private timer: unknown;
  private waiters = new Set<() => void>();
  private stopped = false;

  constructor(private readonly o: OfflineOptions) {}

  get state(): Connectivity {
    return this.current;
  }

  reportOffline(reason: string): void {
    if (this.stopped || this.current === 'offline') return;
    this.current = 'offline';
    this.probes = 0;
    this.o.onChange?.('offline', reason);
    this.schedule();
  }

  /** Some request got through: the server is reachable. */
  reportOnline(): void {
    if (this.current === 'online') return;
    this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.current = 'online';
    // The waiters first: once online, nothing wakes them again, so a listener that throws
    // must not keep them waiting for ever (chaos seed 1, --disk-full).
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
    this.o.onChange?.('online');
  }

  waitOnline(signal?: AbortSignal): Promise<void> {
    if (this.current === 'online') return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(done);
        reject(abortError());
      };
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Probes right away (e.g. the OS said the network is back, or the user pressed Sync now). */
  probeNow(): void {
    if (this.current !== 'offline' || this.stopped) return;
    this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
    void this.runProbe();
  }

  /** Undoes stop(): probing resumes if still offline. */
  restart(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.current === 'offline') this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped || this.current !== 'offline') return;
    this.probes++;
    const base = this.o.baseMs ?? 500;
    const cap = this.o.capMs ?? 60_000;
    const delay = Math.max(this.o.minMs ?? 100, backoffMs(this.probes, { baseMs: base, capMs: cap }, this.o.random ?? Math.random));
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = undefined;
      void this.runProbe();
    }, delay);
  }

  private async runProbe(): Promise<void> {
    try {
      await this.o.probe();
      this.reportOnline();
    } catch (error) {
      // An HTTP error still proves the server answers; only "unreachable" keeps us offline.
      if (classify(error).action === 'offline') this.schedule();
      else this.reportOnline();
    }
  }
}
