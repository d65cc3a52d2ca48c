import { asFerryError, type FerryError } from '../../protocol/errors';
import { diskFullError, isDiskFull } from './disk-full';
import { createLogger } from '../logging';
import type { Store } from '../store';
import type { FolderCoordinator } from './folder/coordinator';
import { DeleteBurst } from './folder/delete-burst';
import { checkRoot, readMarker, writeMarker } from './folder-marker';
import type { HashFn } from './hashing';
import { FERRY_IGNORE_FILE, loadFolderIgnore, type IgnoreMatcher } from './ignore';
import { toKey } from './paths';
import { Scanner, type ReconcileProgress, type ReconcileResult, type ScanResult, type UnsyncableNameView } from './scanner';
import { realTimers, type Timers } from './timers';
import { watchFolder, type FolderWatch, type NativeWatchOptions, type WatcherBackend } from './watcher';

export { realTimers, type Timers };

/**
 * A folder in error looks for its root this often: two stats, so a folder made after it was
 * added, or a disk plugged back in, syncs within seconds (it waited up to 10 s).
 */
const ROOT_CHECK_MS = 2000;

export interface LocalSideOptions {
  store: Store;
  folderId: string;
  /** Watch for changes after the start-up reconcile (default true). */
  watch?: boolean;
  /** 'native' (default: one OS watch per directory) or 'chokidar' (one per file). */
  watcher?: WatcherBackend;
  /** The native watcher's fallback for directories the OS watch limit leaves unwatched. */
  nativeWatch?: NativeWatchOptions;
  /** Quiet time before a hinted path is scanned (default 30 ms: a saved file goes at once). */
  settleMs?: number;
  /** Quiet time for a path that changes again within a second of its last look (default 250 ms). */
  busySettleMs?: number;
  /** Longest a continuously changing path waits. */
  maxDelayMs?: number;
  /** When a file that changed while hashed is looked at again. */
  retryDelayMs?: number;
  /** How often a folder in error checks whether its root came back (default ROOT_CHECK_MS). */
  rootCheckMs?: number;
  hashFile?: HashFn;
  timers?: Timers;
  sliceMs?: number;
  hashConcurrency?: number;
  batchSize?: number;
  onProgress?: (progress: ReconcileProgress) => void;
  onError?: (error: FerryError) => void;
  /**
   * The folder's owner: its scans run in its turn with its pulls, deletes are held while a
   * bulk delete is still arriving and weighed by its guard. Without one, deletes go out as found.
   */
  coordinator?: FolderCoordinator;
  /** Quiet time before held deletes are weighed, and longest hold (tests). */
  deleteQuietMs?: number;
  deleteMaxHoldMs?: number;
  /** Ignore rules from the settings, on top of the defaults and .ferryignore. */
  ignoreRules?: readonly string[];
  /** This device's name, for the conflict copies the scanner makes (two spellings of one name). */
  deviceName?: string;
  /** After every scan (hinted paths or a reconcile), for the host's status. */
  onScanned?: (result: ScanResult) => void;
  /** The folder's ignore rules changed (settings or `.ferryignore`), called in the folder's turn. */
  onIgnoreChanged?: () => void;
  /** The pusher, woken directly when a scan queued work. */
  push?: PushWake;
}

/** What the local side needs of the pusher (docs/architecture.md, "The way of a local change"). */
export interface PushWake {
  /** A scan queued changes: send them now (and try the link at once if it was down). */
  kick(): void;
  /**
   * A reconcile committed uploads and reads on: they go up while it reads, so that a large
   * folder's first files go up before the last one is hashed (no link probe per commit).
   */
  queued(): void;
}

/** A scan that queued something for the server. */
export const queuedWork = (result: ScanResult): boolean => (result.outcomes.queued ?? 0) + (result.outcomes.deleted ?? 0) > 0;

/**
 * A saved file is looked at 30 ms after its last watcher hint; one written in steps waits for
 * 250 ms of quiet (ChangeAggregator, below). Either way the scanner's stat-hash-stat and the pusher's
 * check before commit keep a file that is still changing from being recorded or committed.
 */
const DEFAULT_SETTLE_MS = 30;
const DEFAULT_BUSY_SETTLE_MS = 250;
const MAX_ERROR_RETRIES = 5;
/** A folder whose disk is full rescans this many retry delays apart (Sync now rescans at once). */
const DISK_FULL_RETRY_FACTOR = 5;
/** A scan that failed for another reason is tried again this long after. */
const SCAN_RETRY_MS = 30_000;

/**
 * The local side of one folder: watcher → aggregator → scanner → queue. All scanning runs
 * one job at a time, so hints and reconciles never race each other on the same paths.
 */
export class LocalSide {
  private readonly store: Store;
  private readonly folderId: string;
  private readonly root: string;
  private readonly timers: Timers;
  private readonly aggregator: ChangeAggregator;
  private readonly scanner: Scanner;
  private readonly deletes: DeleteBurst;
  private ignore: IgnoreMatcher;
  private ignoreRules: readonly string[];
  private watch: FolderWatch | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private jobs = 0;
  private queuedRescan: Promise<ReconcileResult> | null = null;
  /** The running reconcile's count of queued uploads at its last progress report. */
  private queuedSoFar = 0;
  private readonly abort = new AbortController();
  private readonly errorRetries = new Map<string, number>();
  private rootTimer: unknown = null;
  private spaceTimer: unknown = null;
  private scanRetryTimer: unknown = null;
  /** The last scan failure said in Activity: the same one again is not said again. */
  private saidScanFailure: string | null = null;
  private watchStarting = false;
  private stopped = false;
  private readonly log;

  constructor(private readonly options: LocalSideOptions) {
    this.store = options.store;
    this.folderId = options.folderId;
    this.root = this.store.folders.require(options.folderId).localRoot;
    this.timers = options.timers ?? realTimers;
    this.ignoreRules = options.ignoreRules ?? [];
    this.log = createLogger('engine:local', { folder: options.folderId });
    this.ignore = loadFolderIgnore(this.root, this.ignoreRules);
    this.warnDeadRules();
    this.aggregator = new ChangeAggregator({
      settleMs: options.settleMs ?? DEFAULT_SETTLE_MS,
      busySettleMs: options.busySettleMs ?? DEFAULT_BUSY_SETTLE_MS,
      maxDelayMs: options.maxDelayMs ?? 5000,
      timers: this.timers,
      onFlush: (paths) => void this.scanHinted(paths),
    });
    this.scanner = new Scanner({
      store: this.store,
      folderId: this.folderId,
      root: this.root,
      ignore: () => this.ignore,
      now: () => this.timers.now(),
      ...(options.hashFile ? { hashFile: options.hashFile } : {}),
      ...(options.sliceMs !== undefined ? { sliceMs: options.sliceMs } : {}),
      ...(options.hashConcurrency !== undefined ? { hashConcurrency: options.hashConcurrency } : {}),
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      onProgress: (progress) => {
        options.onProgress?.(progress);
        // Each reconcile counts from 0: a new count above 0 is a commit that queued uploads.
        if (progress.queued === this.queuedSoFar) return;
        this.queuedSoFar = progress.queued;
        if (progress.queued > 0) options.push?.queued();
      },
      ...(options.deviceName !== undefined ? { deviceName: options.deviceName } : {}),
      ...(options.coordinator
        ? { guard: options.coordinator.guard, states: options.coordinator.states, applying: options.coordinator.applying, holdDelete: (path: string) => this.deletes.add(path) }
        : {}),
    });
    this.deletes = new DeleteBurst({
      timers: this.timers,
      ...(options.deleteQuietMs !== undefined ? { quietMs: options.deleteQuietMs } : {}),
      ...(options.deleteMaxHoldMs !== undefined ? { maxHoldMs: options.deleteMaxHoldMs } : {}),
      onRelease: (paths) => void this.commitHeldDeletes(paths),
      busy: () => this.aggregator.size > 0 || this.jobs > 0,
    });
  }

  /** True when no hint waits and no scan runs. */
  get idle(): boolean {
    return this.aggregator.size === 0 && this.deletes.size === 0 && this.jobs === 0 && !this.watchStarting;
  }

  /**
   * Marker, watching, then the start-up reconcile (finds what changed while Ferry was off).
   * Watching first: a change made while the reconcile runs arrives as a hint, not never.
   */
  async start(): Promise<ReconcileResult> {
    this.ensureMarker();
    const folder = this.store.folders.require(this.folderId);
    if (checkRoot(this.root, folder.markerId).ok) await this.startWatching();
    return this.rescan();
  }

  /** A full reconcile, queued behind running work; concurrent calls share one run. */
  rescan(): Promise<ReconcileResult> {
    if (this.queuedRescan) return this.queuedRescan;
    const run = this.enqueueJob(async () => {
      this.queuedRescan = null;
      const before = this.ignore.signature;
      this.ignore = loadFolderIgnore(this.root, this.ignoreRules);
      // In the folder's turn, so no pull runs meanwhile (docs/conflict-rules.md, "Ignored paths").
      if (before !== this.ignore.signature) {
        this.warnDeadRules();
        this.options.onIgnoreChanged?.();
      }
      let result: ReconcileResult;
      const nothing: ReconcileResult = { ok: true, outcomes: {}, unstable: [], walked: 0, hashed: 0, queued: 0, deleted: 0, durationMs: 0 };
      try {
        result = await this.scanner.reconcile(this.abort.signal);
      } catch (error) {
        // Not an error state of the root (ok): nothing was recorded, the retry looks again.
        if (isDiskFull(error)) this.waitForSpace(error);
        else this.scanFailed(error);
        return nothing;
      }
      this.saidScanFailure = null;
      this.afterScan(result);
      return result;
    });
    this.queuedRescan = run;
    return run;
  }

  /**
   * A scan that failed for any other reason: said (the folder's problem, and once in Activity),
   * looked at again later, and never thrown at the many callers that fire a rescan and forget
   * it (a new-user try: an unhandled rejection ended the agent, and the folder read "ok" after).
   * Nothing was recorded, so nothing is lost: the next scan finds every change.
   */
  private scanFailed(error: unknown): void {
    if (this.stopped) return;
    const e = asFerryError(error, 'scan_failed');
    this.report(e);
    const delayMs = this.options.retryDelayMs !== undefined ? this.options.retryDelayMs * DISK_FULL_RETRY_FACTOR : SCAN_RETRY_MS;
    const message = `Scanning the folder failed: ${e.message}. Ferry looks again in ${Math.ceil(delayMs / 1000)} s; nothing is lost meanwhile`;
    if (this.saidScanFailure !== e.message) {
      this.saidScanFailure = e.message;
      try {
        this.store.activity.add({ folderId: this.folderId, kind: 'failed', message });
      } catch (err) {
        this.log.warn('could not write to the activity log', { error: asFerryError(err).message });
      }
    }
    if (this.scanRetryTimer !== null) return;
    this.scanRetryTimer = this.timers.setTimeout(() => {
      this.scanRetryTimer = null;
      if (!this.stopped) void this.rescan();
    }, delayMs);
  }

  /**
   * Says which ignore rules of the folder can match nothing, when its rules were read anew (docs/conflict-rules.md, "Rules that match nothing"): in Activity, where the user looks.
   */
  private warnDeadRules(): void {
    for (const { where, rule, problem } of this.ignore.deadRules ?? []) {
      const message = `The ignore rule "${rule}" of ${where} ${problem}`;
      this.log.warn('an ignore rule matches nothing', { where, problem });
      try {
        this.store.activity.add({ folderId: this.folderId, kind: 'info', message });
      } catch (err) {
        this.log.warn('could not write to the activity log', { error: asFerryError(err).message });
      }
    }
  }

  /** A reconcile of one unwatched directory's subtree, queued behind running work. */
  private rescanUnder(diskRel: string): Promise<void> {
    return this.enqueueJob(async () => {
      try {
        this.afterScan(await this.scanner.reconcileUnder(diskRel, this.abort.signal));
      } catch (error) {
        if (isDiskFull(error)) return this.waitForSpace(error);
        this.report(asFerryError(error, 'scan_failed'));
      }
    });
  }

  /** The names here that cannot be synced, with why (the scanner keeps them). */
  unsyncableNames(): UnsyncableNameView[] {
    return this.scanner.unsyncableNames();
  }

  /** Changes whenever `unsyncableNames` does (a cheap test of whether the list moved). */
  unsyncableVersion(): number {
    return this.scanner.unsyncableVersion();
  }

  /** Whether the folder's rules, as the scan last loaded them, ignore this path: neither sent nor received. */
  ignores(key: string, isDir?: boolean): boolean {
    return this.ignore.ignores(key, isDir);
  }

  /** New rules from the settings: a reconcile brings newly unignored paths in. */
  setIgnoreRules(rules: readonly string[]): Promise<ReconcileResult> {
    this.ignoreRules = [...rules];
    return this.rescan();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.aggregator.stop();
    this.deletes.stop();
    this.abort.abort();
    if (this.rootTimer !== null) this.timers.clearTimeout(this.rootTimer);
    if (this.spaceTimer !== null) this.timers.clearTimeout(this.spaceTimer);
    if (this.scanRetryTimer !== null) this.timers.clearTimeout(this.scanRetryTimer);
    await this.watch?.close();
    this.watch = null;
    await this.tail.catch(() => undefined);
  }

  /** A folder first seen gets its marker; one whose marker vanished stays in error. */
  private ensureMarker(): void {
    const folder = this.store.folders.require(this.folderId);
    if (folder.markerId !== null) return;
    const existing = readMarker(this.root);
    if (existing !== null) return this.store.folders.setMarkerId(this.folderId, existing);
    const root = checkRoot(this.root, null);
    // Only a root that exists gets a marker; a missing one is reported by the reconcile.
    if (root.ok || root.code !== 'folder_root_missing') {
      this.store.folders.setMarkerId(this.folderId, writeMarker(this.root));
    }
  }

  private startWatching(): Promise<void> {
    if (this.stopped || this.options.watch === false) return Promise.resolve();
    if (this.watch) return this.watch.ready;
    this.watch = watchFolder(this.root, () => this.ignore, {
      onHint: (diskRel) => this.onHint(diskRel),
      onError: (error) => {
        this.report(error);
        void this.rescan();
      },
      onRescanNeeded: () => void this.rescan(),
      onRescanUnder: (diskRel) => void this.rescanUnder(diskRel),
    }, this.options.watcher, this.options.nativeWatch);
    this.watchStarting = true;
    return this.watch.ready.finally(() => (this.watchStarting = false));
  }

  private onHint(diskRel: string): void {
    if (this.stopped) return;
    if (diskRel === '') return void this.checkRootSoon(0);
    if (toKey(diskRel) === FERRY_IGNORE_FILE) {
      // New rules change what is in scope: reload and reconcile everything.
      void this.rescan();
    }
    this.aggregator.add(diskRel);
  }

  private scanHinted(paths: string[]): Promise<ScanResult | undefined> {
    return this.enqueueJob(async () => {
      try {
        const result = await this.scanner.scanPaths(paths);
        if (this.errorRetries.size > 0) for (const p of paths) this.errorRetries.delete(p);
        this.afterScan(result);
        return result;
      } catch (error) {
        if (isDiskFull(error)) return void this.waitForSpace(error);
        this.report(asFerryError(error, 'scan_failed'));
        for (const p of paths) {
          const tries = (this.errorRetries.get(p) ?? 0) + 1;
          this.errorRetries.set(p, tries);
          if (tries <= MAX_ERROR_RETRIES) this.aggregator.add(p, (this.options.retryDelayMs ?? 1000) * tries);
          else this.errorRetries.delete(p);
        }
        return undefined;
      }
    });
  }

  /** A bulk delete is complete: weighed whole, then queued (or held for the user's answer). */
  private commitHeldDeletes(paths: string[]): Promise<ScanResult | undefined> {
    return this.enqueueJob(async () => {
      try {
        const result = await this.scanner.commitGone(paths);
        this.afterScan(result);
        return result;
      } catch (error) {
        if (isDiskFull(error)) return void this.waitForSpace(error);
        // Nothing was lost: the index still holds what was not recorded; look again.
        this.report(asFerryError(error, 'scan_failed'));
        for (const p of paths) this.aggregator.add(p, this.options.retryDelayMs ?? 1000);
        return undefined;
      }
    });
  }

  /**
   * The state database (or the folder's disk) is full: what the scan saw is not recorded yet,
   * and nothing of it is dropped. The folder waits in disk_full; a full rescan, tried every
   * retry delay until one gets through, finds every change made meanwhile (docs/conflict-rules.md,
   * "Full disks").
   */
  private waitForSpace(error: unknown): void {
    const e = diskFullError(error, this.root);
    this.options.coordinator?.diskFull('scan', e.message);
    this.report(e);
    if (this.stopped || this.spaceTimer !== null) return;
    this.spaceTimer = this.timers.setTimeout(() => {
      this.spaceTimer = null;
      if (!this.stopped) void this.rescan();
    }, (this.options.retryDelayMs ?? 1000) * DISK_FULL_RETRY_FACTOR);
  }

  private afterScan(result: ScanResult): void {
    this.options.coordinator?.diskFreed('scan');
    if (queuedWork(result)) this.options.push?.kick();
    this.options.onScanned?.(result);
    for (const p of result.unstable) this.aggregator.add(p, this.options.retryDelayMs ?? 1000);
    if (!result.ok) {
      if (result.error && result.error.code !== 'aborted') this.report(result.error);
      // The watches died with the root; recovery starts fresh ones.
      const dead = this.watch;
      this.watch = null;
      void dead?.close();
      this.checkRootSoon(this.options.rootCheckMs ?? ROOT_CHECK_MS);
    } else if (!this.watch && !this.stopped && this.options.watch !== false) {
      // Back from an error state (or started without a root): watch, then look once more
      // for what changed before the watches were in place.
      void this.startWatching()
        .then(() => this.rescan())
        .catch((error) => this.report(asFerryError(error, 'watch_failed')));
    }
  }

  /** While in error, look for the root (and its marker) to come back, then reconcile. */
  private checkRootSoon(delayMs: number): void {
    if (this.stopped || this.rootTimer !== null) return;
    this.rootTimer = this.timers.setTimeout(() => {
      this.rootTimer = null;
      if (this.stopped) return;
      // A folder added before its root existed never got a marker: the root appearing now is it.
      this.ensureMarker();
      const folder = this.store.folders.require(this.folderId);
      const check = checkRoot(this.root, folder.markerId);
      if (check.ok && folder.state === 'error') void this.rescan();
      else if (!check.ok) {
        this.scanner.checkRoot();
        this.checkRootSoon(this.options.rootCheckMs ?? ROOT_CHECK_MS);
      }
    }, delayMs);
  }

  private enqueueJob<T>(job: () => Promise<T>): Promise<T> {
    this.jobs++;
    const coordinator = this.options.coordinator;
    // Straight into the folder's turn order: an answer to a mass delete queued after a scan
    // never runs before it.
    const run = coordinator ? coordinator.run('scan', job) : this.tail.then(job);
    this.tail = run.then(
      () => void this.jobs--,
      () => void this.jobs--,
    );
    return run;
  }

  private report(error: FerryError): void {
    // Said once on the terminal: by the owner when it listens (the agent's "folder problem").
    (this.options.onError ? this.log.debug : this.log.warn).call(this.log, 'local side problem', { code: error.code, error: error.message });
    // The watch limit needs the user (its fix is in the message): said where they look.
    if (error.code === 'watch_limit') {
      try {
        this.store.activity.add({ folderId: this.folderId, kind: 'watch_limit', message: error.message });
      } catch (e) {
        this.log.warn('could not write to the activity log', { error: asFerryError(e).message });
      }
    }
    this.options.onError?.(error);
  }
}

// ---- Hints to settled paths ----

/**
 * Collapses bursts of watcher hints per path. A path is flushed once no hint came for it
 * for settleMs, or at the latest maxDelayMs after its first hint (a file rewritten
 * forever still gets looked at). Time is injected so tests run without sleeping.
 *
 * settleMs is short, so that a saved file goes at once. A path hinted again within
 * busyWindowMs of its last flush is being written in steps (a slow copy, a log): it waits
 * busySettleMs of quiet instead, so that it is looked at once when the writer is done rather
 * than after every step (docs/architecture.md, "The way of a local change").
 *
 * A burst of N hints costs O(N log N): due times sit in a min-heap (an entry superseded by a
 * later hint is skipped when it surfaces) instead of every hint walking every pending path.
 */
export interface AggregatorOptions {
  settleMs: number;
  maxDelayMs: number;
  /** Quiet time for a path that changes again soon after it was flushed (default: settleMs). */
  busySettleMs?: number;
  /** How long after a flush another hint marks the path busy (default 1 s). */
  busyWindowMs?: number;
  onFlush: (paths: string[]) => void;
  timers?: Timers;
}

interface PendingPath {
  firstAt: number;
  dueAt: number;
}

const DEFAULT_BUSY_WINDOW_MS = 1000;

/** A path's due time as of one hint; stale once the path's current dueAt differs. */
type DueEntry = { dueAt: number; path: string };

export class ChangeAggregator {
  private readonly pending = new Map<string, PendingPath>();
  /** Paths flushed within the busy window, with when; pruned as the window passes. */
  private readonly recentlyFlushed = new Map<string, number>();
  private readonly heap = new DueHeap();
  private readonly timers: Timers;
  private timer: unknown = null;
  private timerDueAt = Infinity;
  private stopped = false;

  constructor(private readonly options: AggregatorOptions) {
    this.timers = options.timers ?? realTimers;
  }

  get size(): number {
    return this.pending.size;
  }

  /** A hint for path; delayMs overrides the settle delay (retries of unstable files). */
  add(path: string, delayMs?: number): void {
    if (this.stopped) return;
    const now = this.timers.now();
    const existing = this.pending.get(path);
    const before = existing?.dueAt;
    let entry: PendingPath;
    if (delayMs !== undefined) {
      entry = { firstAt: existing?.firstAt ?? now, dueAt: Math.max(existing?.dueAt ?? 0, now + delayMs) };
      this.pending.set(path, entry);
    } else if (existing) {
      existing.dueAt = Math.max(existing.dueAt, Math.min(now + this.settleFor(path, now), existing.firstAt + this.options.maxDelayMs));
      entry = existing;
    } else {
      entry = { firstAt: now, dueAt: now + this.settleFor(path, now) };
      this.pending.set(path, entry);
    }
    if (entry.dueAt !== before) this.heap.push({ dueAt: entry.dueAt, path });
    this.schedule();
  }

  private settleFor(path: string, now: number): number {
    const flushedAt = this.recentlyFlushed.get(path);
    const busy = flushedAt !== undefined && now - flushedAt < (this.options.busyWindowMs ?? DEFAULT_BUSY_WINDOW_MS);
    return busy ? Math.max(this.options.settleMs, this.options.busySettleMs ?? 0) : this.options.settleMs;
  }

  /** Hands over everything pending at once (stop, rescan). */
  drain(): string[] {
    const paths = [...this.pending.keys()];
    this.pending.clear();
    this.heap.clear();
    this.recentlyFlushed.clear();
    this.cancelTimer();
    return paths;
  }

  stop(): void {
    this.stopped = true;
    this.drain();
  }

  /** The earliest current due time: stale heap entries on top are dropped on the way. */
  private nextDue(): DueEntry | undefined {
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      if (this.pending.get(top.path)?.dueAt === top.dueAt) return top;
      this.heap.pop();
    }
    return undefined;
  }

  private schedule(): void {
    const next = this.nextDue()?.dueAt ?? Infinity;
    if (next === Infinity) return this.cancelTimer();
    if (this.timer !== null && this.timerDueAt <= next) return;
    this.cancelTimer();
    this.timerDueAt = next;
    this.timer = this.timers.setTimeout(() => this.fire(), Math.max(0, next - this.timers.now()));
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.timerDueAt = Infinity;
  }

  private fire(): void {
    this.timer = null;
    this.timerDueAt = Infinity;
    const now = this.timers.now();
    const due: string[] = [];
    for (let top = this.nextDue(); top && top.dueAt <= now; top = this.nextDue()) {
      this.heap.pop();
      this.pending.delete(top.path);
      due.push(top.path);
    }
    this.rememberFlushed(due, now);
    this.schedule();
    if (due.length > 0) this.options.onFlush(due.sort());
  }

  /** Map order is insertion order: the oldest flushes are dropped from the front. */
  private rememberFlushed(paths: string[], now: number): void {
    if (!this.options.busySettleMs || this.options.busySettleMs <= this.options.settleMs) return;
    const window = this.options.busyWindowMs ?? DEFAULT_BUSY_WINDOW_MS;
    for (const [path, at] of this.recentlyFlushed) {
      if (now - at < window) break;
      this.recentlyFlushed.delete(path);
    }
    for (const path of paths) {
      this.recentlyFlushed.delete(path);
      this.recentlyFlushed.set(path, now);
    }
  }
}

/** A binary min-heap of due entries, by dueAt. */
class DueHeap {
  private readonly items: DueEntry[] = [];

  peek(): DueEntry | undefined {
    return this.items[0];
  }

  clear(): void {
    this.items.length = 0;
  }

  push(entry: DueEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.dueAt <= entry.dueAt) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): DueEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.dueAt < items[left]!.dueAt ? right : left;
      if (items[child]!.dueAt >= last.dueAt) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
