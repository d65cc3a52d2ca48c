import { setMaxListeners } from 'node:events';
import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { BLOCK_SIZE, type BatchResults, type OperationResult } from '../../../protocol';
import { FerryError, asFerryError } from '../../../protocol/errors';
import type { Logger } from '../../logging';
import type { Store } from '../../store';
import type { ClaimRef, QueueItem } from '../../store/queue';
import type { AsyncTask } from '../../store/tasks';
import { giveUpOf, type AttemptContext } from './attempt';
import { TokenBucket } from './bandwidth';
import { Batcher } from './batcher';
import { Committer, parseOpKey, type CommitEntry } from './committer';
import { Emitter, type ItemEvent, type PusherEvents } from './events';
import { Limiter } from './limiter';
import { OfflineMonitor, type Connectivity } from './offline';
import type { PushRemote } from './remote-port';
import { rehashAndRequeue, type RequeueOutcome } from './requeue';
import { backoffMs } from './retry-policy';
import { newRun, type SyncRun } from './run';
import { abortError, systemTimers, type Timers } from './timers';
import { FILE_CHANGED, SMALL_FILE, Uploader, fileChanged, localError } from './uploader';

export interface PusherOptions {
  /** Parallel uploads and parallel batch commits. */
  concurrency: number;
  /** Upload bytes in flight at most (whatever the concurrency): large blocks are bandwidth-bound. */
  uploadWindowBytes: number;
  /** Retries of a retryable error before the item is failed. */
  retryLimit: number;
  /** Upload limit in bytes/s; 0 = none. */
  bandwidthLimit: number;
  /** Batches with at least this many operations go async from the start. */
  asyncThreshold: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  batchMaxOps: number;
  batchMaxBytes: number;
  lingerMs: number;
  /** Items claimed from the queue per step, and held at most at once. */
  claimChunk: number;
  maxClaimed: number;
  pollMinMs: number;
  pollMaxMs: number;
  offlineProbeBaseMs: number;
  offlineProbeCapMs: number;
  /** A conflicting item waits this long for the puller to resolve its path before trying again. */
  conflictRecheckMs: number;
  /** Looks for due retries this often even when nothing kicks the pusher. */
  idlePollMs: number;
  /** First part of X-Ferry-Run. */
  runName: string;
}

export const DEFAULT_PUSHER_OPTIONS: PusherOptions = {
  concurrency: 4,
  uploadWindowBytes: 2 * BLOCK_SIZE,
  retryLimit: 3,
  bandwidthLimit: 0,
  asyncThreshold: 1000,
  backoffBaseMs: 1000,
  backoffCapMs: 5 * 60 * 1000,
  batchMaxOps: 500,
  batchMaxBytes: 256 * 1024 * 1024,
  lingerMs: 100,
  claimChunk: 250,
  maxClaimed: 2000,
  pollMinMs: 100,
  pollMaxMs: 5000,
  offlineProbeBaseMs: 500,
  offlineProbeCapMs: 30_000,
  conflictRecheckMs: 60_000,
  idlePollMs: 5000,
  runName: 'push',
};

export type PushStore = Pick<Store, 'queue' | 'tasks' | 'index' | 'transaction'>;

export interface PushFolder {
  localRoot: string;
  remoteId: string;
}

export interface ConflictHandoff {
  folderId: string;
  path: string;
  currentRevision: string | null;
}

export interface PusherDeps {
  store: PushStore;
  remote: PushRemote;
  /** folderId → where it lives locally and its id on the server (undefined: unknown folder). */
  folders: (folderId: string) => PushFolder | undefined;
  /**
   * The server has another version of the path (baseRevision is stale). The item is parked
   * as retry_wait with code 'conflict' (for conflictRecheckMs); the puller fetches the remote
   * version, keeps both per DESIGN.md, and re-enqueues the path's local state on the new base
   * revision, which replaces the parked generation.
   */
  onConflict?: (conflict: ConflictHandoff) => void;
  /** Hash a changed file again and queue it; defaults to rehashAndRequeue on the store. */
  requeue?: (absPath: string, item: QueueItem) => Promise<RequeueOutcome>;
  log: Logger;
  timers?: Timers;
  random?: () => number;
  options?: Partial<PusherOptions>;
}

export interface PusherStatus {
  running: boolean;
  paused: boolean;
  connectivity: Connectivity;
  inFlight: number;
  run: string | null;
}

export interface Pusher {
  start(): Promise<void>;
  /** Stops taking work and abandons what is in flight (it runs again at the next start). */
  stop(): Promise<void>;
  pause(): void;
  resume(): void;
  /** New items may be due: look now. */
  kick(): void;
  setOptions(options: Partial<PusherOptions>): void;
  /** The UI's Retry action: one item, or every failed item (of a folder). */
  retry(id: number): boolean;
  retryAll(folderId?: string): number;
  status(): PusherStatus;
  options(): PusherOptions;
  /** Resolves once nothing is in flight and nothing is due. */
  idle(): Promise<void>;
  on<K extends keyof PusherEvents>(name: K, listener: (event: PusherEvents[K]) => void): () => void;
}

/** A claimed item as it moves through upload → batch → commit. */
interface Work {
  item: QueueItem;
  ref: ClaimRef;
  root: string;
  remoteId: string;
  bytesDone: number;
  reuploads: number;
  lastProgressWrite: number;
}

/** Restored from a persisted async task: only what result mapping needs. */
type Held = Pick<Work, 'item' | 'ref'>;

const SETTINGS_THAT_RETRY: ReadonlyArray<keyof PusherOptions> = ['concurrency', 'retryLimit', 'bandwidthLimit', 'asyncThreshold'];

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
  private abort = new AbortController();
  private running = false;
  private paused = false;
  private resumeWaiters: Array<() => void> = [];
  private claimed = 0;
  private preparing = 0;
  private readonly tracked = new Set<Promise<void>>();
  private pumpQueued = false;
  private wakeTimer: unknown;
  private wakeAt = Number.POSITIVE_INFINITY;
  private idleTimer: unknown;
  private idleWaiters: Array<() => void> = [];
  private run: SyncRun | null = null;
  private stats = { itemsDone: 0, itemsFailed: 0, bytes: 0, lastEmit: 0 };
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
      probe: () => d.remote.probe({ run: this.runHeader() }),
      timers: this.timers,
      random: this.random,
      baseMs: this.o.offlineProbeBaseMs,
      capMs: this.o.offlineProbeCapMs,
      minMs: Math.min(100, this.o.offlineProbeBaseMs),
      onChange: (state, reason) => {
        this.log.info(state === 'offline' ? 'server unreachable: offline, probing' : 'server reachable again: online', { reason });
        this.events.emit('connectivity', reason === undefined ? { state } : { state, reason });
        if (state === 'online') this.pump();
      },
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
      onFlush: (folderId, works) => this.track(this.commitBatch(folderId, works)),
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
    for (const task of tasks) this.track(this.resumeTask(task));
    this.pump();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.uploads.cancelAll();
    this.commits.cancelAll();
    this.offline.stop();
    this.timers.clearTimeout(this.wakeTimer);
    this.timers.clearTimeout(this.idleTimer);
    this.wakeTimer = this.idleTimer = undefined;
    this.wakeAt = Number.POSITIVE_INFINITY;
    this.batcher.drain();
    for (const w of this.resumeWaiters.splice(0)) w();
    await Promise.allSettled([...this.tracked]);
    this.claimed = 0;
    this.endRun();
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
    this.pump();
  }

  kick(): void {
    this.offline.probeNow();
    this.pump();
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
    this.pump();
  }

  retry(id: number): boolean {
    const ok = this.d.store.queue.retry(id);
    if (ok) this.pump();
    return ok;
  }

  retryAll(folderId?: string): number {
    const n = this.d.store.queue.retryAllFailed(folderId);
    if (n > 0) this.pump();
    return n;
  }

  status(): PusherStatus {
    return { running: this.running, paused: this.paused, connectivity: this.offline.state, inFlight: this.claimed, run: this.run?.header ?? null };
  }

  options(): PusherOptions {
    return { ...this.o };
  }

  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.pump();
    });
  }

  on<K extends keyof PusherEvents>(name: K, listener: (event: PusherEvents[K]) => void): () => void {
    return this.events.on(name, listener);
  }

  // ── plumbing ─────────────────────────────────────────────────────────────

  private uploadLimits(): [number, number] {
    const c = Math.max(1, this.o.concurrency);
    // Small blocks are latency-bound (many in flight help); big ones bandwidth-bound (a
    // couple keep the link busy, more only thrash).
    return [Math.max(1, this.o.uploadWindowBytes), c * 8];
  }

  private attemptContext(): AttemptContext {
    return {
      retry: () => ({ retryLimit: this.o.retryLimit, baseMs: this.o.backoffBaseMs, capMs: this.o.backoffCapMs }),
      random: this.random,
      timers: this.timers,
      offline: this.offline,
      gate: () => this.gate(),
      signal: this.abort.signal,
      onRetry: (info) => this.log.info('retrying request', { what: info.label, retry: info.retry, delayMs: info.delayMs, code: info.verdict.code, run: this.run?.header }),
    };
  }

  /** Uploader and committer see the current abort signal. */
  private build(): void {
    const attempt = this.attemptContext();
    const run = () => this.runHeader();
    this.uploader = new Uploader({ remote: this.d.remote, attempt, limiter: this.uploads, bucket: this.bucket, run });
    this.committer = new Committer({
      remote: this.d.remote,
      tasks: this.d.store.tasks,
      attempt,
      options: () => ({ asyncThreshold: this.o.asyncThreshold, pollMinMs: this.o.pollMinMs, pollMaxMs: this.o.pollMaxMs }),
      run,
      log: this.log,
    });
  }

  private gate(): Promise<void> {
    if (!this.running) return Promise.reject(abortError());
    if (!this.paused) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.resumeWaiters.push(() => (this.running ? resolve() : reject(abortError())));
    });
  }

  private track(p: Promise<void>): void {
    const t = p.catch((error) => {
      if (!this.abort.signal.aborted) this.log.error('push step failed unexpectedly', { error });
    });
    this.tracked.add(t);
    void t.finally(() => this.tracked.delete(t));
  }

  private runHeader(): string {
    return (this.run ?? this.startRun()).header;
  }

  private startRun(): SyncRun {
    this.run = newRun(this.o.runName, this.timers.now());
    this.stats = { itemsDone: 0, itemsFailed: 0, bytes: 0, lastEmit: 0 };
    this.log.info('sync run started', { run: this.run.header });
    return this.run;
  }

  private endRun(): void {
    if (!this.run) return;
    this.emitRun(false);
    this.log.info('sync run finished', { run: this.run.header, items: this.stats.itemsDone, failed: this.stats.itemsFailed, bytes: this.stats.bytes });
    this.run = null;
  }

  private emitRun(active: boolean, force = true): void {
    const run = this.run;
    if (!run) return;
    const now = this.timers.now();
    if (!force && now - this.stats.lastEmit < 250) return;
    this.stats.lastEmit = now;
    const elapsedMs = Math.max(1, now - run.startedAt);
    this.events.emit('run', {
      run: run.name,
      stamp: run.stamp,
      active,
      itemsDone: this.stats.itemsDone,
      itemsFailed: this.stats.itemsFailed,
      itemsInFlight: this.claimed,
      bytes: this.stats.bytes,
      rate: (this.stats.bytes * 1000) / elapsedMs,
      itemsPerSecond: (this.stats.itemsDone * 1000) / elapsedMs,
      elapsedMs,
    });
  }

  private emitItem(w: Held, state: ItemEvent['state'], extra: Partial<ItemEvent> = {}): void {
    if (!this.events.has('item')) return;
    this.events.emit('item', { id: w.item.id, folderId: w.item.folderId, path: w.item.path, op: w.item.op, state, ...extra });
  }

  /** Wakes the loop at `at` (for retry_wait items) unless an earlier wake is set. */
  private wakeAtTime(at: number): void {
    if (!this.running || at >= this.wakeAt) return;
    this.timers.clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = this.timers.setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.pump();
    }, Math.max(0, at - this.timers.now()));
  }

  // ── the loop ─────────────────────────────────────────────────────────────

  /** Claims due items while there is room; cheap to call often. */
  private pump(): void {
    if (!this.running || this.paused || this.offline.state === 'offline') return;
    let claimedNow = 0;
    // Claim in whole chunks: one blocks/missing request and one batch serve many items.
    const step = Math.max(1, Math.min(this.o.claimChunk, this.o.maxClaimed));
    while (this.o.maxClaimed - this.claimed >= step || this.claimed === 0) {
      const limit = Math.min(this.o.claimChunk, this.o.maxClaimed - this.claimed);
      if (limit <= 0) break;
      const items = this.d.store.queue.claim({ limit });
      if (items.length === 0) break;
      if (!this.run) this.startRun();
      this.claimed += items.length;
      claimedNow += items.length;
      this.track(this.process(items));
    }
    if (claimedNow === 0 && this.claimed === 0) {
      this.endRun();
      for (const w of this.idleWaiters.splice(0)) w();
    }
    this.timers.clearTimeout(this.idleTimer);
    this.idleTimer = this.timers.setTimeout(() => this.pump(), this.o.idlePollMs);
  }

  private async process(items: QueueItem[]): Promise<void> {
    const uploads: Work[] = [];
    for (const item of items) {
      const folder = this.d.folders(item.folderId);
      const work: Work = {
        item,
        ref: { id: item.id, generation: item.generation, op: item.op },
        root: folder?.localRoot ?? '',
        remoteId: folder?.remoteId ?? '',
        bytesDone: 0,
        reuploads: 0,
        lastProgressWrite: 0,
      };
      if (!folder) {
        this.finishFailed(work, new FerryError('folder_unknown', `No folder ${item.folderId}`), null);
      } else if (item.op === 'delete' || item.kind === 'dir') {
        // Deletes and directories carry no content: straight to the batch. Directory
        // deletes were queued children first (priorityOf), so they follow their contents.
        this.ready(work);
      } else {
        uploads.push(work);
      }
    }
    if (uploads.length > 0) await this.prepare(uploads);
  }

  /** Uploads what the server lacks for each item, then hands it to the batcher. */
  private async prepare(works: Work[], knownMissing?: Set<string>): Promise<void> {
    this.preparing++;
    try {
      let missing = knownMissing;
      if (!missing) {
        try {
          missing = await this.uploader.missing(works.flatMap((w) => w.item.blocks ?? []));
        } catch (error) {
          for (const w of works) await this.handleError(w, error);
          return;
        }
      }
      const have = missing;
      await Promise.all(works.map((w) => this.uploadOne(w, have)));
    } finally {
      this.preparing--;
      // This group is ready: send what waits now instead of after the linger.
      this.batcher.flushAll();
    }
  }

  private async uploadOne(w: Work, missing: Set<string>): Promise<void> {
    const abs = this.absPath(w);
    try {
      if (w.item.blocks === null) throw fileChanged(w.item.path, 'no block list');
      this.emitItem(w, 'uploading');
      w.bytesDone = 0;
      await this.uploader.upload(abs, { path: w.item.path, size: w.item.size, blocks: w.item.blocks }, missing, (delta) => this.progress(w, delta));
      // The last look before commit: a file touched since hashing is hashed again.
      const st = await statOf(abs, w.item.size).catch((error: unknown) => {
        throw localError(w.item.path, error);
      });
      if (!st.isFile() || st.size !== w.item.size || st.mtimeMs !== w.item.mtimeMs) throw fileChanged(w.item.path, 'size or mtime differ');
      this.ready(w);
    } catch (error) {
      await this.handleError(w, error);
    }
  }

  private absPath(w: Work): string {
    return path.join(w.root, ...w.item.path.split('/'));
  }

  private progress(w: Work, delta: number): void {
    w.bytesDone += delta;
    this.stats.bytes += delta;
    if (this.events.has('itemProgress')) this.events.emit('itemProgress', { id: w.item.id, folderId: w.item.folderId, path: w.item.path, bytesDone: w.bytesDone, bytesTotal: w.item.size });
    // Large files show progress in the queue view too; small ones finish before it matters.
    const now = this.timers.now();
    if (w.item.size > BLOCK_SIZE && now - w.lastProgressWrite >= 500) {
      w.lastProgressWrite = now;
      this.d.store.queue.progress(w.ref, Math.max(0, w.bytesDone));
    }
    this.emitRun(true, false);
  }

  private ready(w: Work): void {
    if (!this.running) return;
    this.emitItem(w, 'committing');
    this.batcher.add(w);
  }

  private async commitBatch(folderId: string, works: Work[]): Promise<void> {
    const remoteId = works[0]?.remoteId ?? folderId;
    const entries = works.map(toEntry);
    let outcome;
    try {
      outcome = await this.commits.with(1, () => this.committer.commit(folderId, remoteId, entries), this.abort.signal);
    } catch (error) {
      if (this.abort.signal.aborted) return;
      const give = giveUpOf(error);
      // A request the server refused as a whole applied nothing: split it so one bad file
      // cannot block the rest.
      const status = error instanceof FerryError ? error.status : undefined;
      if (give?.verdict.action === 'fail' && works.length > 1 && (status === 400 || status === 413 || status === 422)) {
        const half = Math.ceil(works.length / 2);
        this.log.warn('batch refused; splitting it', { folderId, operations: works.length, code: give.verdict.code });
        await Promise.all([this.commitBatch(folderId, works.slice(0, half)), this.commitBatch(folderId, works.slice(half))]);
        return;
      }
      for (const w of works) await this.handleError(w, error);
      return;
    }
    await this.applyResults(works, outcome.results, outcome.taskId);
  }

  private async resumeTask(task: AsyncTask): Promise<void> {
    const held: Work[] = [];
    for (const ti of task.items) {
      const key = parseOpKey(ti.opKey);
      if (!key) continue;
      const row = this.d.store.queue.get(ti.queueId);
      const item: QueueItem = row ?? fakeItem(task.folderId, ti.path, key);
      const folder = this.d.folders(task.folderId);
      held.push({
        item: { ...item, path: ti.path, op: key.op, generation: key.generation },
        ref: { id: ti.queueId, generation: key.generation, op: key.op },
        root: folder?.localRoot ?? '',
        remoteId: folder?.remoteId ?? task.folderId,
        bytesDone: 0,
        reuploads: 0,
        lastProgressWrite: 0,
      });
    }
    this.claimed += held.length;
    if (!this.run) this.startRun();
    let outcome;
    try {
      outcome = await this.committer.resume(task);
    } catch (error) {
      if (this.abort.signal.aborted) return;
      // Not resubmittable from here (the exact body is gone): the items queue again.
      const e = asFerryError(error);
      this.d.store.transaction(() => {
        for (const w of held) this.retryLater(w, e.code, e.message);
        this.d.store.tasks.remove(task.taskId);
      });
      for (const w of held) this.release(w);
      return;
    }
    await this.applyResults(held, outcome.results, outcome.taskId);
  }

  /** Maps per-operation results onto the queue in one transaction (the task record with them). */
  private async applyResults(works: Work[], results: BatchResults, taskId?: string): Promise<void> {
    const reupload: Array<{ w: Work; missing: string[] }> = [];
    const conflicts: Array<{ w: Work; currentRevision: string | null }> = [];
    const done: Array<() => void> = [];
    this.d.store.transaction(() => {
      for (const w of works) {
        const r: OperationResult | undefined = results[keyOf(w)];
        if (!r) {
          this.retryLater(w, 'missing_result', 'The server sent no result for this operation');
          done.push(() => this.release(w));
        } else if (r.ok) {
          done.push(this.completeIn(w, r.revision));
        } else if (r.code === 'not_found' && w.ref.op === 'delete') {
          done.push(this.completeIn(w, null));
        } else if (r.code === 'conflict') {
          const at = this.timers.now() + this.o.conflictRecheckMs;
          const outcome = this.d.store.queue.fail(w.ref, { code: 'conflict', message: r.message }, at);
          conflicts.push({ w, currentRevision: r.currentRevision ?? null });
          done.push(() => {
            this.emitItem(w, outcome === 'superseded' ? 'superseded' : 'retry_wait', { code: 'conflict', message: r.message, nextAttemptAt: at });
            this.wakeAtTime(at);
            this.release(w);
          });
        } else if (r.code === 'missing_blocks' && w.ref.op === 'upsert' && w.reuploads < this.o.retryLimit && this.running) {
          reupload.push({ w, missing: r.missing ?? w.item.blocks ?? [] });
        } else if (r.code === 'missing_blocks' || r.code === 'aborted') {
          this.retryLater(w, r.code, r.message);
          done.push(() => this.release(w));
        } else {
          const outcome = this.d.store.queue.fail(w.ref, { code: r.code, message: r.message }, null);
          done.push(() => this.afterFail(w, outcome, r.code, r.message));
        }
      }
      if (taskId) this.d.store.tasks.remove(taskId);
    });
    for (const f of done) f();
    for (const { w, currentRevision } of conflicts) {
      const c = { folderId: w.item.folderId, path: w.item.path, currentRevision };
      this.log.info('conflict: handing the path to the puller', c);
      this.events.emit('conflict', c);
      try {
        this.d.onConflict?.(c);
      } catch (error) {
        this.log.warn('conflict hand-off threw', { error, path: w.item.path });
      }
    }
    if (reupload.length > 0) {
      for (const { w } of reupload) w.reuploads++;
      // The server says these blocks are gone: upload them again, then commit again.
      await this.prepare(
        reupload.map((r) => r.w),
        new Set(reupload.flatMap((r) => r.missing)),
      );
    }
  }

  private completeIn(w: Work, revision: string | null): () => void {
    const outcome = this.d.store.queue.complete(w.ref, { revision });
    return () => {
      if (outcome === 'done') {
        this.stats.itemsDone++;
        this.emitItem(w, 'done', { revision });
      } else {
        this.emitItem(w, 'superseded', { revision });
      }
      this.release(w);
    };
  }

  /** What an error means for one item. */
  private async handleError(w: Work, error: unknown): Promise<void> {
    if (this.abort.signal.aborted) return;
    const e = asFerryError(error);
    if (e.code === FILE_CHANGED) {
      await this.requeue(w, e);
      return;
    }
    const give = giveUpOf(error);
    if (give || !e.retryable) {
      // Permanent, or retryable but out of retries: failed, with its reason, until Retry.
      this.finishFailed(w, e, null);
      return;
    }
    this.retryLater(w, e.code, e.message);
    this.release(w);
  }

  private async requeue(w: Work, e: FerryError): Promise<void> {
    let outcome: RequeueOutcome;
    try {
      outcome = await (this.d.requeue ?? ((abs, item) => rehashAndRequeue(this.d.store, abs, item)))(this.absPath(w), w.item);
    } catch (error) {
      this.finishFailed(w, localError(w.item.path, error), null);
      return;
    }
    if (outcome === 'requeued') {
      // The fresh snapshot replaced this generation: fail() only releases the hold.
      const result = this.d.store.queue.fail(w.ref, { code: e.code, message: e.message }, this.timers.now());
      this.log.info('file changed before commit: queued again', { path: w.item.path, outcome: result });
      this.emitItem(w, 'requeued', { code: e.code, message: e.message });
      this.release(w);
      this.pump();
      return;
    }
    // Still being written: look again after a backoff; counts toward the retry limit.
    this.retryLater(w, e.code, `${e.message}; it is still being written`);
    this.release(w);
  }

  /** Back to the queue with a durable retry time, or failed once the retries are spent. */
  private retryLater(w: Held, code: string, message: string): void {
    const retries = Math.max(0, w.item.attempts - 1);
    if (retries >= this.o.retryLimit) {
      const outcome = this.d.store.queue.fail(w.ref, { code, message: `${message} (gave up after ${retries} retries)` }, null);
      this.afterFail(w, outcome, code, message, false);
      return;
    }
    const at = this.timers.now() + backoffMs(retries + 1, { baseMs: this.o.backoffBaseMs, capMs: this.o.backoffCapMs }, this.random);
    const outcome = this.d.store.queue.fail(w.ref, { code, message }, at);
    this.emitItem(w, outcome === 'superseded' ? 'superseded' : 'retry_wait', { code, message, nextAttemptAt: at });
    this.wakeAtTime(at);
  }

  private finishFailed(w: Held, e: FerryError, retryAt: number | null): void {
    const outcome = this.d.store.queue.fail(w.ref, { code: e.code, message: e.message }, retryAt);
    this.afterFail(w, outcome, e.code, e.message);
  }

  private afterFail(w: Held, outcome: string, code: string, message: string, release = true): void {
    if (outcome === 'failed') {
      this.stats.itemsFailed++;
      this.log.warn('item failed', { path: w.item.path, code, message, run: this.run?.header });
    }
    this.emitItem(w, outcome === 'failed' ? 'failed' : outcome === 'superseded' ? 'superseded' : 'retry_wait', { code, message });
    if (release) this.release(w);
  }

  private release(_w: Held): void {
    this.claimed = Math.max(0, this.claimed - 1);
    this.emitRun(true, false);
    if (this.claimed === 0 || this.o.maxClaimed - this.claimed >= Math.min(this.o.claimChunk, this.o.maxClaimed)) this.schedulePump();
  }

  /** A batch releases hundreds of items at once: one claim afterwards, not one per item. */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }
}

/** Small files: a synchronous stat is cheaper than a trip through the busy libuv pool. */
async function statOf(abs: string, size: number): Promise<Stats> {
  return size <= SMALL_FILE ? statSync(abs) : stat(abs);
}

function keyOf(w: Held): string {
  return `${w.ref.id}.${w.ref.generation}.${w.ref.op === 'upsert' ? 'u' : 'd'}`;
}

function toEntry(w: Work): CommitEntry {
  return {
    id: w.item.id,
    generation: w.item.generation,
    op: w.item.op,
    kind: w.item.kind,
    path: w.item.path,
    size: w.item.kind === 'dir' ? 0 : w.item.size,
    mtimeMs: w.item.mtimeMs,
    blocks: w.item.blocks ?? [],
    baseRevision: w.item.baseRevision,
  };
}

function fakeItem(folderId: string, p: string, key: { id: number; generation: number; op: 'upsert' | 'delete' }): QueueItem {
  return {
    id: key.id,
    folderId,
    path: p,
    kind: 'file',
    op: key.op,
    state: 'in_flight',
    priority: 0,
    generation: key.generation,
    inFlightGeneration: key.generation,
    attempts: 1,
    nextAttemptAt: 0,
    lastErrorCode: null,
    lastErrorMessage: null,
    bytesDone: 0,
    bytesTotal: 0,
    size: 0,
    mtimeMs: 0,
    contentHash: null,
    blocks: null,
    baseRevision: null,
    enqueuedAt: 0,
    updatedAt: 0,
  };
}

export function createPushScheduler(deps: PusherDeps): Pusher {
  return new PushScheduler(deps);
}
