import type { Logger } from '../../logging';
import type { Emitter, PusherEvents } from './events';
import { newRun, type SyncRun } from './run';
import type { Timers } from './timers';

export interface RunStatsDeps {
  events: Emitter<PusherEvents>;
  timers: Timers;
  log: Logger;
  runName: () => string;
  /** Items the pusher holds right now. */
  inFlight: () => number;
}

/** The current sync run and its progress: items done and failed, bytes sent, rates. */
export class RunStats {
  private run: SyncRun | null = null;
  private stats = { itemsDone: 0, itemsFailed: 0, bytes: 0, lastEmit: 0 };

  constructor(private readonly d: RunStatsDeps) {}

  /** X-Ferry-Run of the current run, or null between runs. */
  get header(): string | null {
    return this.run?.header ?? null;
  }

  /** X-Ferry-Run for a request: the current run, started if none is. */
  current(): string {
    return (this.run ?? this.start()).header;
  }

  ensure(): void {
    if (!this.run) this.start();
  }

  end(): void {
    if (!this.run) return;
    this.emit(false);
    this.d.log.info('sync run finished', { run: this.run.header, items: this.stats.itemsDone, failed: this.stats.itemsFailed, bytes: this.stats.bytes });
    this.run = null;
  }

  itemDone(): void {
    this.stats.itemsDone++;
  }

  itemFailed(): void {
    this.stats.itemsFailed++;
  }

  /** Bytes sent (negative: a cut upload gives back what it counted). */
  bytes(delta: number): void {
    this.stats.bytes += delta;
    this.emit(true, false);
  }

  /** A run event; unless forced, at most one per 250 ms. */
  emit(active: boolean, force = true): void {
    const run = this.run;
    if (!run) return;
    const now = this.d.timers.now();
    if (!force && now - this.stats.lastEmit < 250) return;
    this.stats.lastEmit = now;
    const elapsedMs = Math.max(1, now - run.startedAt);
    this.d.events.emit('run', {
      run: run.name,
      stamp: run.stamp,
      active,
      itemsDone: this.stats.itemsDone,
      itemsFailed: this.stats.itemsFailed,
      itemsInFlight: this.d.inFlight(),
      bytes: this.stats.bytes,
      rate: (this.stats.bytes * 1000) / elapsedMs,
      itemsPerSecond: (this.stats.itemsDone * 1000) / elapsedMs,
      elapsedMs,
    });
  }

  private start(): SyncRun {
    this.run = newRun(this.d.runName(), this.d.timers.now());
    this.stats = { itemsDone: 0, itemsFailed: 0, bytes: 0, lastEmit: 0 };
    this.d.log.info('sync run started', { run: this.run.header });
    return this.run;
  }
}
