// The pusher: its options, its events, its runs (the X-Ferry-Run header and the counters the
// status shows), and the scheduler that starts, stops, pauses and wakes the way through
// send.ts and requests.ts (docs/architecture.md, "The way of a local change").
import { setMaxListeners } from 'node:events';
import { BLOCK_SIZE } from '../../../protocol';
import { formatRunHeader } from '../../../protocol/common';
import { createLogger, type Logger } from '../../logging';
import type { QueueItem } from '../../store/queue';
import type { ConflictHandoff, Pusher, PusherDeps, PusherStatus, PushStore } from './api';
import { TokenBucket } from './bandwidth';
import { type Connectivity, type AttemptContext, Committer, Limiter, OfflineMonitor, stableTrackingIds, Uploader } from './requests';
import { rehashAndRequeue, type RequeueOutcome } from './requeue';
import { Batcher, ClaimLoop, CommitStage, ItemOutcomes, type PushCore, resumeTask, UploadStage, type Work } from './send';
import { type Timers, abortError, systemTimers } from './timers';

// ---- options -----------------------------------------------------------------------------------

export interface PusherOptions {
  /** Parallel uploads and parallel batch commits. */
  concurrency: number;
  /** Upload bytes in flight at most (whatever the concurrency): large blocks are bandwidth-bound. */
  uploadWindowBytes: number;
  /** Retries of a retryable error before the item is failed (so an item gets retryLimit + 1 tries). */
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
  /** Bounds the agent's memory while a scan still runs beside the push (docs/architecture.md, "Memory"). */
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
  uploadWindowBytes: 4 * BLOCK_SIZE,
  retryLimit: 3,
  bandwidthLimit: 0,
  asyncThreshold: 1000,
  backoffBaseMs: 1000,
  backoffCapMs: 5 * 60 * 1000,
  batchMaxOps: 500,
  batchMaxBytes: 256 * 1024 * 1024,
  lingerMs: 100,
  claimChunk: 250,
  maxClaimed: 1000,
  pollMinMs: 100,
  pollMaxMs: 5000,
  offlineProbeBaseMs: 500,
  offlineProbeCapMs: 30_000,
  conflictRecheckMs: 60_000,
  idlePollMs: 5000,
  runName: 'push',
};

/** New values of these may fix what failed (a higher limit, a faster link): failed items run again. */
export const SETTINGS_THAT_RETRY: ReadonlyArray<keyof PusherOptions> = ['concurrency', 'retryLimit', 'bandwidthLimit', 'asyncThreshold'];

// ---- events ------------------------------------------------------------------------------------

/**
 * retry_wait: a try failed with a retryable error; the item waits (nextAttemptAt, code,
 * message) and the queue shows it so. retrying: the wait of an item retried in place is over
 * and its next try runs (in_flight again, one more attempt). An item waiting in the queue
 * comes back through the claim loop instead (uploading / committing).
 */
export type PushItemState = 'uploading' | 'committing' | 'done' | 'superseded' | 'retry_wait' | 'failed' | 'requeued' | 'retrying';

export interface ItemEvent {
  id: number;
  folderId: string;
  path: string;
  op: 'upsert' | 'delete';
  state: PushItemState;
  code?: string;
  message?: string;
  revision?: string | null;
  /** For retry_wait: when the next attempt is due (ms since epoch). */
  nextAttemptAt?: number;
  /** For done: the bytes the item carried (0 for a delete, a directory or a move). */
  bytesTotal?: number;
  /** For done: it went as a move from this path (no bytes sent). */
  movedFrom?: string;
}

export interface ItemProgressEvent {
  id: number;
  folderId: string;
  path: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface RunProgressEvent {
  run: string;
  stamp: string;
  /** False on the last event of a run (the queue drained). */
  active: boolean;
  itemsDone: number;
  itemsFailed: number;
  itemsInFlight: number;
  bytes: number;
  /** Upload rate over the run so far, bytes/s. */
  rate: number;
  itemsPerSecond: number;
  elapsedMs: number;
}

export interface ConflictEvent {
  folderId: string;
  path: string;
  currentRevision: string | null;
}

export interface PusherEvents {
  item: ItemEvent;
  itemProgress: ItemProgressEvent;
  run: RunProgressEvent;
  connectivity: { state: Connectivity; reason?: string };
  conflict: ConflictEvent;
}

type Listener<T> = (event: T) => void;

/** A typed event map; a throwing listener is logged by the caller, never breaks the pusher. */
export class Emitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  on<K extends keyof E>(name: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as Listener<never>);
    return () => void set.delete(listener as Listener<never>);
  }

  has(name: keyof E): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  emit<K extends keyof E>(name: K, event: E[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const l of set) {
      try {
        (l as Listener<E[K]>)(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

// ---- run ---------------------------------------------------------------------------------------

/**
 * A sync run: from the moment the pusher finds work until the queue is drained. Every
 * request of the run carries X-Ferry-Run `<name>;<ISO stamp>`, logged on both sides.
 */
export interface SyncRun {
  name: string;
  /** ISO-8601 start time. */
  stamp: string;
  startedAt: number;
  header: string;
}

let sequence = 0;

export function newRun(name: string, now: number): SyncRun {
  // The sequence keeps two runs in one ms apart.
  const header = formatRunHeader(name, new Date(now), { fallback: 'push', sequence: ++sequence });
  const [label = '', stamp = ''] = header.split(';');
  return { name: label, stamp, startedAt: now, header };
}

// ---- run-stats ---------------------------------------------------------------------------------

/** The current sync run and its progress: items done and failed, bytes sent, rates. */
export class RunStats {
  private run: SyncRun | null = null;
  private stats = { itemsDone: 0, itemsFailed: 0, bytes: 0, lastEmit: 0 };

  constructor(private readonly c: Pick<PushCore, 'events' | 'timers' | 'log' | 'o' | 'loop'>) {}

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
    this.c.log.info('sync run finished', { run: this.run.header, items: this.stats.itemsDone, failed: this.stats.itemsFailed, bytes: this.stats.bytes });
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
    const now = this.c.timers.now();
    if (!force && now - this.stats.lastEmit < 250) return;
    this.stats.lastEmit = now;
    const elapsedMs = Math.max(1, now - run.startedAt);
    this.c.events.emit('run', {
      run: run.name,
      stamp: run.stamp,
      active,
      itemsDone: this.stats.itemsDone,
      itemsFailed: this.stats.itemsFailed,
      itemsInFlight: this.c.loop.inFlight,
      bytes: this.stats.bytes,
      rate: (this.stats.bytes * 1000) / elapsedMs,
      itemsPerSecond: (this.stats.itemsDone * 1000) / elapsedMs,
      elapsedMs,
    });
  }

  private start(): SyncRun {
    this.run = newRun(this.c.o.runName, this.c.timers.now());
    this.stats = { itemsDone: 0, itemsFailed: 0, bytes: 0, lastEmit: 0 };
    this.c.log.info('sync run started', { run: this.run.header });
    return this.run;
  }
}

// ---- scheduler ---------------------------------------------------------------------------------

export type { ConflictHandoff, Pusher, PusherDeps, PusherStatus, PushFolder, PushStore } from './api';

/**
 * The pusher: its lifecycle, options and status, and the core every step of a send reads
 * (`PushCore`, send.ts). The steps call each other directly through it:
 *   ClaimLoop      due queue items → held, in chunks, woken at retry times
 *   UploadStage    held items → blocks uploaded (Uploader, requests.ts) → Batcher
 *   CommitStage    batches → server (Committer, requests.ts) → results; in-place retries shown on items
 *   ItemOutcomes   done / failed / retry when due / queued again, with events
 *   resumeTask     persisted async tasks after a restart
 *   RunStats       the sync run and its progress events (above)
 */
class PushScheduler implements Pusher, PushCore {
  o: PusherOptions;
  readonly store: PushStore;
  readonly onConflict: ((conflict: ConflictHandoff) => void) | undefined;
  readonly folderUnmade: (folderId: string) => boolean;
  readonly requeue: (absPath: string, item: QueueItem) => Promise<RequeueOutcome>;
  readonly timers: Timers;
  readonly random: () => number;
  readonly log: Logger;
  readonly events: Emitter<PusherEvents>;
  readonly runs: RunStats;
  readonly loop: ClaimLoop;
  readonly uploadStage: UploadStage;
  readonly batcher: Batcher<Work>;
  readonly commitStage: CommitStage;
  readonly outcomes: ItemOutcomes;
  uploader!: Uploader;
  committer!: Committer;
  private readonly bucket: TokenBucket;
  private readonly uploads: Limiter;
  private readonly commits: Limiter;
  private readonly offline: OfflineMonitor;
  private abort = new AbortController();
  running = false;
  private paused = false;
  private resumeWaiters: Array<() => void> = [];
  private readonly tracked = new Set<Promise<void>>();

  constructor(private readonly d: PusherDeps) {
    this.o = { ...DEFAULT_PUSHER_OPTIONS, ...d.options };
    this.store = d.store;
    this.onConflict = d.onConflict;
    this.folderUnmade = d.folderUnmade ?? (() => false);
    this.requeue = d.requeue ?? ((abs, item) => rehashAndRequeue(d.store, abs, item, this.timers.now()));
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
    this.runs = new RunStats(this);
    this.loop = new ClaimLoop(this);
    this.outcomes = new ItemOutcomes(this);
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
    this.uploadStage = new UploadStage(this);
    this.commitStage = new CommitStage(this);
    this.build();
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get mayClaim(): boolean {
    return this.running && !this.paused && this.offline.state !== 'offline';
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
    const recovered = this.store.queue.recoverInFlight();
    const tasks = this.store.tasks.list();
    this.log.info('pusher started', { recovered, persistedTasks: tasks.length, concurrency: this.o.concurrency });
    for (const task of tasks) {
      this.track(resumeTask(this, task));
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

  queued(): void {
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
      const n = this.store.queue.retryAllFailed();
      if (n > 0) this.log.info('settings changed: retrying failed items', { items: n });
    }
    this.loop.pump();
  }

  retry(id: number): boolean {
    const ok = this.store.queue.retry(id);
    if (ok) this.loop.pump();
    return ok;
  }

  retryAll(folderId?: string): number {
    const n = this.store.queue.retryAllFailed(folderId);
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
      // in place and never count. The same block request keeps its tracking id (`stableTrackingIds`, requests.ts).
      attempt: this.attemptContext(() => 0),
      limiter: this.uploads,
      throttle: () => (this.o.bandwidthLimit > 0 ? this.bucket : null),
      run,
    });
    this.committer = new Committer({
      remote: this.d.remote,
      tasks: this.store.tasks,
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

  /** `works`: the items the step holds, settled here if it fails before it settles them. */
  track(p: Promise<void>, works: readonly Work[] = []): void {
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

export type PushDeps = Omit<PusherDeps, 'log'> & { log?: PusherDeps['log'] };

/**
 * The one handle the folders' local sides wake the pusher through (their `PushWake` port). The
 * engine points it at each pusher it builds (a new server or token builds a new one) and away at
 * stop, so a scan's wake reaches the pusher of the moment directly, not through the agent's
 * wiring. A wake with no pusher is dropped: a pusher claims everything due when it starts.
 */
export class CurrentPusher {
  private pusher: Pick<Pusher, 'kick' | 'queued'> | null = null;

  set(pusher: Pick<Pusher, 'kick' | 'queued'> | null): void {
    this.pusher = pusher;
  }

  kick(): void {
    this.pusher?.kick();
  }

  queued(): void {
    this.pusher?.queued();
  }
}

/** The pusher: turns the durable queue into changes on the server. Call start() to begin. */
export function createPusher(deps: PushDeps): Pusher {
  return createPushScheduler({ ...deps, log: deps.log ?? createLogger('engine:push') });
}
