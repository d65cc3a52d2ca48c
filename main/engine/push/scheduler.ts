import { setMaxListeners } from 'node:events';
import type { Logger } from '../../logging';
import type { Pusher, PusherDeps, PusherStatus } from './api';
import type { AttemptContext } from './attempt';
import { TokenBucket } from './bandwidth';
import { Batcher } from './batcher';
import { ClaimLoop } from './claim-loop';
import { CommitStage } from './commit-stage';
import { Committer } from './committer';
import { Emitter, type PusherEvents } from './events';
import { Limiter } from './limiter';
import { OfflineMonitor } from './offline';
import { DEFAULT_PUSHER_OPTIONS, SETTINGS_THAT_RETRY, type PusherOptions } from './options';
import { ItemOutcomes } from './outcomes';
import { rehashAndRequeue } from './requeue';
import { RunStats } from './run-stats';
import { resumeTask } from './task-recovery';
import { abortError, systemTimers, type Timers } from './timers';
import { stableTrackingIds } from './tracking-ids';
import { UploadStage } from './upload-stage';
import { Uploader } from './uploader';
import type { Work } from './work';

export { DEFAULT_PUSHER_OPTIONS, type PusherOptions } from './options';
export type { ConflictHandoff, Pusher, PusherDeps, PusherStatus, PushFolder, PushStore } from './api';

/**
 * The pusher's composition and lifecycle. The work itself is in stages with narrow deps:
 *   ClaimLoop (claim-loop.ts)      due queue items → held, in chunks, woken at retry times
 *   UploadStage (upload-stage.ts)  held items → blocks uploaded → Batcher
 *   CommitStage (commit-stage.ts)  batches → server → results; in-place retries shown on items
 *   resumeTask (task-recovery.ts)  persisted async tasks after a restart
 *   ItemOutcomes (outcomes.ts)     done / failed / retry when due / queued again, with events
 *   RunStats (run-stats.ts)        the sync run and its progress events
 */
class PushScheduler implements Pusher {
  private o: PusherOptions;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly events: Emitter<PusherEvents>;
  private readonly bucket: TokenBucket;
  private readonly uploads: Limiter;
  private readonly commits: Limiter;
  private readonly offline: OfflineMonitor;
  private readonly batcher: Batcher<Work>;
  private readonly loop: ClaimLoop;
  private readonly runs: RunStats;
  private readonly outcomes: ItemOutcomes;
  private readonly uploadStage: UploadStage;
  private readonly commitStage: CommitStage;
  private abort = new AbortController();
  private running = false;
  /** Claims refused in a row (claimRefused). */
  private claimRefusals = 0;
  private paused = false;
  private resumeWaiters: Array<() => void> = [];
  private readonly tracked = new Set<Promise<void>>();
  private uploader!: Uploader;
  private committer!: Committer;

  constructor(private readonly d: PusherDeps) {
    this.o = { ...DEFAULT_PUSHER_OPTIONS, ...d.options };
    this.timers = d.timers ?? systemTimers;
    this.random = d.random ?? Math.random;
    this.log = d.log;
    this.events = new Emitter((error) => this.log.warn('event listener threw', { error }));
    this.bucket = new TokenBucket(this.o.bandwidthLimit, this.timers);
    this.uploads = new Limiter(...this.uploadLimits());
    this.commits = new Limiter(this.o.concurrency, this.o.concurrency);
    this.offline = new OfflineMonitor({
      probe: () => d.remote.probe({ run: this.runs.current() }),
      timers: this.timers,
      random: this.random,
      baseMs: this.o.offlineProbeBaseMs,
      capMs: this.o.offlineProbeCapMs,
      minMs: Math.min(100, this.o.offlineProbeBaseMs),
      onChange: (state, reason) => {
        this.log.info(state === 'offline' ? 'server unreachable: offline, probing' : 'server reachable again: online', { reason });
        this.events.emit('connectivity', reason === undefined ? { state } : { state, reason });
        if (state === 'online') this.loop.pump();
      },
    });
    const options = () => this.o;
    const signal = () => this.abort.signal;
    const running = () => this.running;
    this.runs = new RunStats({ events: this.events, timers: this.timers, log: this.log, runName: () => this.o.runName, inFlight: () => this.loop.inFlight });
    this.loop = new ClaimLoop({
      claim: (limit) => {
        const items = d.store.queue.claim({ limit });
        this.claimRefusals = 0;
        return items;
      },
      timers: this.timers,
      options,
      running,
      mayClaim: () => this.running && !this.paused && this.offline.state !== 'offline',
      onClaimed: (items) => {
        this.runs.ensure();
        this.track(this.uploadStage.process(items));
      },
      onDrained: () => this.runs.end(),
      onRelease: () => this.runs.emit(true, false),
      onClaimFailed: (error) => this.claimRefused(error),
    });
    this.outcomes = new ItemOutcomes({
      store: d.store,
      events: this.events,
      log: this.log,
      timers: this.timers,
      random: this.random,
      options,
      runs: this.runs,
      loop: this.loop,
      signal,
      requeue: d.requeue ?? ((abs, item) => rehashAndRequeue(d.store, abs, item, this.timers.now())),
    });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.batcher = new Batcher<Work>({
      // Read at every add, so setOptions() applies to the next batch.
      get maxCount() {
        return self.o.batchMaxOps;
      },
      get maxBytes() {
        return self.o.batchMaxBytes;
      },
      get lingerMs() {
        return self.o.lingerMs;
      },
      timers: this.timers,
      groupOf: (w) => w.item.folderId,
      bytesOf: (w) => w.item.size,
      onFlush: (folderId, works) => this.track(this.commitStage.commit(folderId, works), works),
    });
    this.uploadStage = new UploadStage({
      uploader: () => this.uploader,
      folders: d.folders,
      outcomes: this.outcomes,
      events: this.events,
      saveProgress: (ref, bytes) => d.store.queue.progress(ref, bytes),
      runs: this.runs,
      timers: this.timers,
      running,
      commit: this.batcher,
    });
    this.commitStage = new CommitStage({
      store: d.store,
      committer: () => this.committer,
      outcomes: this.outcomes,
      events: this.events,
      log: this.log,
      timers: this.timers,
      options,
      running,
      signal,
      wake: (at) => this.loop.wake(at),
      ...(d.onConflict ? { onConflict: d.onConflict } : {}),
      reupload: (works, missing) => this.uploadStage.prepare(works, missing),
    });
    this.build();
  }

  // ── lifecycle ────────────────────────────────────────────────────────────

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    // Every waiting upload, sleep and poll listens on this one signal.
    setMaxListeners(0, this.abort.signal);
    this.build();
    this.offline.restart();
    const recovered = this.d.store.queue.recoverInFlight();
    const tasks = this.d.store.tasks.list();
    this.log.info('pusher started', { recovered, persistedTasks: tasks.length, concurrency: this.o.concurrency });
    for (const task of tasks) {
      this.track(
        resumeTask(
          {
            store: this.d.store,
            folders: this.d.folders,
            resume: (t) => this.committer.resume(t),
            outcomes: this.outcomes,
            hold: (n) => this.loop.hold(n),
            startRun: () => this.runs.ensure(),
            signal: () => this.abort.signal,
            applyResults: (works, outcome) => this.commitStage.applyResults(works, outcome.results, outcome.taskId),
          },
          task,
        ),
      );
    }
    this.loop.pump();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.uploads.cancelAll();
    this.commits.cancelAll();
    this.offline.stop();
    this.loop.stopTimers();
    this.batcher.drain();
    for (const w of this.resumeWaiters.splice(0)) w();
    await Promise.allSettled([...this.tracked]);
    this.loop.reset();
    this.runs.end();
    this.log.info('pusher stopped');
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.log.info('pusher paused');
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.log.info('pusher resumed');
    for (const w of this.resumeWaiters.splice(0)) w();
    this.loop.pump();
  }

  kick(): void {
    this.offline.probeNow();
    this.loop.pump();
  }

  setOptions(options: Partial<PusherOptions>): void {
    const before = this.o;
    this.o = { ...this.o, ...options };
    this.bucket.setRate(this.o.bandwidthLimit);
    this.uploads.setLimits(...this.uploadLimits());
    this.commits.setLimits(this.o.concurrency, this.o.concurrency);
    // New settings may fix what failed (a higher limit, a faster link): try the failed again.
    if (SETTINGS_THAT_RETRY.some((k) => before[k] !== this.o[k])) {
      const n = this.d.store.queue.retryAllFailed();
      if (n > 0) this.log.info('settings changed: retrying failed items', { items: n });
    }
    this.loop.pump();
  }

  retry(id: number): boolean {
    const ok = this.d.store.queue.retry(id);
    if (ok) this.loop.pump();
    return ok;
  }

  retryAll(folderId?: string): number {
    const n = this.d.store.queue.retryAllFailed(folderId);
    if (n > 0) this.loop.pump();
    return n;
  }

  status(): PusherStatus {
    return { running: this.running, paused: this.paused, connectivity: this.offline.state, inFlight: this.loop.inFlight, run: this.runs.header, throttledMs: this.bucket.waitedMs };
  }

  options(): PusherOptions {
    return { ...this.o };
  }

  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return this.loop.idle();
  }

  on<K extends keyof PusherEvents>(name: K, listener: (event: PusherEvents[K]) => void): () => void {
    return this.events.on(name, listener);
  }

  // ── plumbing ─────────────────────────────────────────────────────────────

  private uploadLimits(): [number, number] {
    const c = Math.max(1, this.o.concurrency);
    // Small blocks are latency-bound (many in flight help); big ones are bounded by the
    // window (four 4 MiB blocks: on loopback 4 beat 2 by a fifth, memory stays 16 MiB).
    return [Math.max(1, this.o.uploadWindowBytes), c * 8];
  }

  private attemptContext(retryLimit: () => number): AttemptContext {
    return {
      retry: () => ({ retryLimit: retryLimit(), baseMs: this.o.backoffBaseMs, capMs: this.o.backoffCapMs }),
      random: this.random,
      timers: this.timers,
      offline: this.offline,
      gate: () => this.gate(),
      signal: this.abort.signal,
      onRetry: (info) => this.log.info('retrying request', { what: info.label, retry: info.retry, delayMs: info.delayMs, code: info.verdict.code, run: this.runs.header }),
    };
  }

  /** Uploader and committer see the current abort signal. */
  private build(): void {
    const run = () => this.runs.current();
    this.uploader = new Uploader({
      remote: stableTrackingIds(this.d.remote),
      // Block requests are not retried in place: a retryable failure gives up at once and the
      // item waits in the queue (retry_wait, hold released) until the claim loop takes it
      // again, so one bad file holds no slot and no claim while it waits. Offline waits stay
      // in place and never count. The same block request keeps its tracking id (tracking-ids.ts).
      attempt: this.attemptContext(() => 0),
      limiter: this.uploads,
      bucket: this.bucket,
      run,
    });
    this.committer = new Committer({
      remote: this.d.remote,
      tasks: this.d.store.tasks,
      attempt: this.attemptContext(() => this.o.retryLimit),
      options: () => ({ asyncThreshold: this.o.asyncThreshold, pollMinMs: this.o.pollMinMs, pollMaxMs: this.o.pollMaxMs }),
      run,
      log: this.log,
      slot: (fn) => this.commits.with(1, fn, this.abort.signal),
    });
  }

  private gate(): Promise<void> {
    if (!this.running) return Promise.reject(abortError());
    if (!this.paused) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.resumeWaiters.push(() => (this.running ? resolve() : reject(abortError())));
    });
  }

  /**
   * A claim the store refused: the idle poll tries again (a full disk: docs/conflict-rules.md,
   * "Full disks"). Said once per refusal in a row; the next claim that gets through clears it.
   */
  private claimRefused(error: unknown): void {
    if (this.claimRefusals++ === 0) this.log.warn('could not claim queue items; trying again', { error });
  }

  /** `works`: the items the step holds, settled here if it fails before it settles them. */
  private track(p: Promise<void>, works: readonly Work[] = []): void {
    const t = p.catch((error) => {
      if (this.abort.signal.aborted) return;
      this.log.error('push step failed unexpectedly', { error });
      this.settleLater(works, error);
    });
    this.tracked.add(t);
    void t.finally(() => this.tracked.delete(t));
  }

  /**
   * A step failed with items it never let go of (a results transaction a full disk refused):
   * they go back to the queue to wait, never held for ever (docs/conflict-rules.md, "Full disks").
   */
  private settleLater(works: readonly Work[], error: unknown): void {
    const left = works.filter((w) => !this.outcomes.isReleased(w));
    if (left.length > 0) this.outcomes.putBack(left, error);
  }
}

export function createPushScheduler(deps: PusherDeps): Pusher {
  return new PushScheduler(deps);
}
