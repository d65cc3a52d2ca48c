// The way of one queued change through the pusher, in order: claimed from the queue (the claim
// loop), its missing blocks uploaded (the upload stage), grouped into a batch, committed, and
// the answer mapped onto the queue in one transaction (the commit stage), then done, waiting,
// failed or queued again (the outcomes). The requests themselves are requests.ts; the rows
// these answers follow are docs/conflict-rules.md, "Sending changes" (docs/architecture.md).
import { statSync, type Stats, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { BatchResults, OperationResult } from '../../../protocol';
import { asFerryError, FerryError } from '../../../protocol/errors';
import type { Logger } from '../../logging';
import type { ClaimedItem, ClaimRef, QueueItem } from '../../store/queue';
import type { AsyncTask } from '../../store/tasks';
import { DISK_FULL, isDiskFull } from '../disk-full';
import { resolveDiskPath, existsOnDisk, linkInTheWay } from '../paths';
import type { PushFolder, PushStore, ConflictHandoff } from './api';
import type { Emitter, ItemEvent, PusherEvents, PusherOptions, RunStats } from './pusher';
import { opKey, type CommitEntry, giveUpOf, FILE_CHANGED, localError, SMALL_FILE, fileChanged, type Uploader, type RetryHooks, type Committer, parseOpKey } from './requests';
import type { RequeueOutcome } from './requeue';
import { backoffMs, FOLDER_NOT_MADE, isServerWait } from './retry-policy';
import { type Timers, sleep } from './timers';

// ---- the core every step reads --------------------------------------------------------------

/**
 * What the steps of a send share: the pusher itself implements it (pusher.ts), with fields and
 * getters, so a step calls the next one directly (`c.uploadStage`, `c.batcher`, `c.commitStage`,
 * `c.outcomes`, `c.loop`) and no closure is built to pass control back and forth.
 */
export interface PushCore {
  readonly store: PushStore;
  readonly onConflict: ((conflict: ConflictHandoff) => void) | undefined;
  /** The server has not made this folder yet (PusherDeps.folderUnmade). */
  readonly folderUnmade: (folderId: string) => boolean;
  /** The file is hashed again and its change queued again (FILE_CHANGED). */
  readonly requeue: (absPath: string, item: QueueItem) => Promise<RequeueOutcome>;
  readonly log: Logger;
  readonly timers: Timers;
  readonly random: () => number;
  readonly events: Emitter<PusherEvents>;
  readonly runs: RunStats;
  /** The current options: read at each use, so setOptions() applies to the next step. */
  readonly o: PusherOptions;
  /** The current start's abort signal. */
  readonly signal: AbortSignal;
  readonly running: boolean;
  /** Running, not paused, online. */
  readonly mayClaim: boolean;
  /** Built at each start, on that start's signal. */
  readonly uploader: Uploader;
  readonly committer: Committer;
  readonly loop: ClaimLoop;
  readonly uploadStage: UploadStage;
  readonly batcher: Batcher<Work>;
  readonly commitStage: CommitStage;
  readonly outcomes: ItemOutcomes;
  /** Runs a step; if it fails unexpectedly, `works` it still holds go back to the queue. */
  track(p: Promise<void>, works?: readonly Work[]): void;
}

// ---- work --------------------------------------------------------------------------------------

/** A claimed item as it moves through upload → batch → commit. */
export interface Work {
  /** The claimed snapshot; `attempts` is kept current as the item is tried again in place. */
  item: QueueItem;
  ref: ClaimRef;
  root: string;
  remoteId: string;
  bytesDone: number;
  reuploads: number;
  lastProgressWrite: number;
}

/** Restored from a persisted async task: only what result mapping needs. */
export type Held = Pick<Work, 'item' | 'ref'>;

export function newWork(item: QueueItem, folder: PushFolder | undefined, ref: ClaimRef = { id: item.id, generation: item.generation, op: item.op }, remoteFallback = ''): Work {
  return { item, ref, root: folder?.localRoot ?? '', remoteId: folder?.remoteId ?? remoteFallback, bytesDone: 0, reuploads: 0, lastProgressWrite: 0 };
}

/** The operation key of the held generation: how a batch result maps back to the item. */
export const keyOf = (w: Held): string => opKey(w.ref);

/** Retries the item had so far: every try after its first (attempts count every try). */
export const retriesOf = (w: Held): number => Math.max(0, w.item.attempts - 1);

/** The file on disk: keys are NFC, the disk may spell a name in NFD (chaos seed 3). */
export function absPathOf(w: Pick<Work, 'root' | 'item'>): string {
  return resolveDiskPath(w.root, w.item.path);
}

export function toEntry(w: Work): CommitEntry {
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
    ...(w.item.moveFrom !== null ? { moveFrom: w.item.moveFrom } : {}),
  };
}

/** Stands in for a queue row that is gone, so a persisted task's results still map. */
export function fakeItem(folderId: string, p: string, key: { id: number; generation: number; op: 'upsert' | 'delete' }): QueueItem {
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
    moveFrom: null,
    moveHash: null,
    createSent: false,
    enqueuedAt: 0,
    updatedAt: 0,
  };
}

// ---- batcher -----------------------------------------------------------------------------------

export interface BatcherOptions<T> {
  /** Flush a group as soon as it holds this many items... */
  maxCount: number;
  /** ...or this many bytes... */
  maxBytes: number;
  /** ...or this long after its first item arrived. */
  lingerMs: number;
  timers: Timers;
  groupOf(item: T): string;
  bytesOf(item: T): number;
  onFlush(group: string, items: T[]): void;
}

interface Group<T> {
  items: T[];
  bytes: number;
  timer: unknown;
}

/**
 * Collects ready items into batches per group (folder): many small files become one keyed
 * request instead of one round trip each. The linger bounds how long an item waits.
 */
export class Batcher<T> {
  private readonly groups = new Map<string, Group<T>>();

  constructor(private readonly o: BatcherOptions<T>) {}

  /** Items waiting for a flush. */
  get pending(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.items.length;
    return n;
  }

  add(item: T): void {
    const key = this.o.groupOf(item);
    let group = this.groups.get(key);
    if (!group) {
      group = { items: [], bytes: 0, timer: undefined };
      this.groups.set(key, group);
    }
    group.items.push(item);
    group.bytes += this.o.bytesOf(item);
    if (group.items.length >= this.o.maxCount || group.bytes >= this.o.maxBytes) this.flush(key);
    else if (group.timer === undefined) group.timer = this.o.timers.setTimeout(() => this.flush(key), this.o.lingerMs);
  }

  /** Flushes one group now (nothing happens if it is empty). */
  flush(key: string): void {
    const group = this.groups.get(key);
    if (!group) return;
    this.groups.delete(key);
    if (group.timer !== undefined) this.o.timers.clearTimeout(group.timer);
    if (group.items.length > 0) this.o.onFlush(key, group.items);
  }

  /** Flushes everything, e.g. when no more items are on their way. */
  flushAll(): void {
    for (const key of [...this.groups.keys()]) this.flush(key);
  }

  /** Drops everything without flushing (stop); returns what was dropped. */
  drain(): T[] {
    const out: T[] = [];
    for (const [key, group] of this.groups) {
      if (group.timer !== undefined) this.o.timers.clearTimeout(group.timer);
      out.push(...group.items);
      this.groups.delete(key);
    }
    return out;
  }
}

// ---- outcomes ----------------------------------------------------------------------------------

/** "… (gave up after 3 retries)": the reason a failed item shows. */
export function gaveUp(message: string, retries: number): string {
  return `${message} (gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'})`;
}

/**
 * Requeues of one path in a row whose fresh snapshot is the last one (same bytes, same mtime): the
 * file on disk is not changing, yet the pusher keeps finding it changed (two spellings of one
 * name that the scanner and the pusher read in turn: chaos seed 1051). Past this many the item
 * fails with REQUEUE_LOOP instead of looping for ever.
 */
export const REQUEUE_LOOP_LIMIT = 5;
export const REQUEUE_LOOP = 'requeue_loop';

/** How often an outcome a full disk refused is written again. */
const PUT_BACK_RETRY_MS = 2000;

/**
 * What becomes of an item: done, failed with its reason, back to the queue to retry when due,
 * or queued again because its file changed. Every outcome is written to the queue, emitted as
 * an item event (the agent turns those into queue updates for the UI), and lets go of the item.
 */
export class ItemOutcomes {
  /** folder\0path → the last requeued snapshot (bytes and mtime) and how many requeues in a row had it. */
  private readonly requeues = new Map<string, { contentHash: string | null; size: number; mtimeMs: number; times: number }>();
  private readonly released = new WeakSet<Held>();

  constructor(private readonly c: PushCore) {}

  emit(w: Held, state: ItemEvent['state'], extra: Partial<ItemEvent> = {}): void {
    if (!this.c.events.has('item')) return;
    this.c.events.emit('item', { id: w.item.id, folderId: w.item.folderId, path: w.item.path, op: w.item.op, state, ...extra });
  }

  /** What an error means for one item. */
  async handleError(w: Work, error: unknown): Promise<void> {
    try {
      await this.settleError(w, error);
    } catch (writeError) {
      // The outcome could not be written (this device's disk is full): it waits for room.
      if (!isDiskFull(writeError) || this.isReleased(w)) throw writeError;
      this.putBack([w], writeError);
    }
  }

  /**
   * Items whose outcome a full disk kept from being written: back to the queue to wait and be
   * sent again, never failed for it (docs/conflict-rules.md, "Full disks"). Held meanwhile; the
   * write is tried again every PUT_BACK_RETRY_MS until the store takes it. Stopped, the next
   * start recovers whatever is still in flight.
   */
  putBack(works: readonly Held[], error: unknown): void {
    const code = isDiskFull(error) ? DISK_FULL : asFerryError(error).code;
    const message = asFerryError(error).message;
    const attempt = () => {
      if (this.c.signal.aborted) return;
      try {
        for (const w of works) {
          if (this.isReleased(w)) continue;
          this.retryLater(w, code, message);
          this.release(w);
        }
      } catch (again) {
        this.c.log.warn('could not put items back in the queue yet', { items: works.length, error: asFerryError(again).message });
        this.c.timers.setTimeout(attempt, PUT_BACK_RETRY_MS);
      }
    };
    attempt();
  }

  private async settleError(w: Work, error: unknown): Promise<void> {
    if (this.c.signal.aborted) return;
    const e = asFerryError(error);
    if (e.code === FILE_CHANGED) {
      await this.requeue(w, e);
      return;
    }
    if (e.code === 'not_found' && this.c.folderUnmade(w.item.folderId)) {
      this.retryLater(w, FOLDER_NOT_MADE, 'The server has not made this folder yet: it goes once the folder is made');
      this.release(w);
      return;
    }
    const give = giveUpOf(error);
    const verdict = give?.verdict;
    if (verdict ? verdict.action !== 'retry' : !e.retryable) {
      // Permanent: failed at once, with its reason, until Retry.
      this.fail(w, e);
      return;
    }
    this.retryLater(w, e.code, verdict?.message ?? e.message, verdict?.action === 'retry' ? verdict.retryAfterMs : undefined);
    this.release(w);
  }

  /**
   * Back to the queue as retry_wait with a durable retry time (the claim loop takes it again
   * when due, one more attempt), or failed with its reason once its retries are spent.
   * Does not let go of the item: the caller does.
   */
  retryLater(w: Held, code: string, message: string, retryAfterMs?: number): void {
    const o = this.c.o;
    const retries = retriesOf(w);
    if (retries >= o.retryLimit && !isServerWait(code)) {
      const outcome = this.c.store.queue.fail(w.ref, { code, message: gaveUp(message, retries) }, null);
      this.afterFail(w, outcome, code, message, false);
      return;
    }
    const at = this.c.timers.now() + backoffMs(retries + 1, { baseMs: o.backoffBaseMs, capMs: o.backoffCapMs }, this.c.random, retryAfterMs);
    const outcome = this.c.store.queue.fail(w.ref, { code, message }, at);
    this.c.log.info('item waits to retry', { path: w.item.path, code, retry: retries + 1, at: new Date(at).toISOString(), run: this.c.runs.header });
    this.emit(w, outcome === 'superseded' ? 'superseded' : 'retry_wait', { code, message, nextAttemptAt: at });
    this.c.loop.wake(at);
  }

  /** Failed for good (until Retry), and let go. */
  fail(w: Held, e: FerryError): void {
    const outcome = this.c.store.queue.fail(w.ref, { code: e.code, message: e.message }, null);
    this.afterFail(w, outcome, e.code, e.message);
  }

  afterFail(w: Held, outcome: string, code: string, message: string, release = true): void {
    if (outcome === 'failed') {
      this.c.runs.itemFailed();
      this.c.log.warn('item failed', { path: w.item.path, code, message, run: this.c.runs.header });
    }
    this.emit(w, outcome === 'failed' ? 'failed' : outcome === 'superseded' ? 'superseded' : 'retry_wait', { code, message });
    if (release) this.release(w);
  }

  /** Records success now (inside the caller's transaction); the returned step emits and lets go. */
  complete(w: Held, revision: string | null, moved?: ReadonlyArray<{ path: string; from: string; revision: string }>): () => void {
    const outcome = this.c.store.paths.complete(w.ref, moved ? { revision, moved } : { revision });
    // Settled: the path's requeues start counting afresh (a superseded commit settles nothing).
    if (outcome === 'done') this.requeues.delete(loopKey(w.item));
    return () => {
      if (outcome === 'done') {
        this.c.runs.itemDone();
        this.emit(w, 'done', { revision, bytesTotal: w.item.bytesTotal, ...(sentAsMove(w) && w.item.op === 'upsert' ? { movedFrom: w.item.moveFrom! } : {}) });
      } else {
        this.emit(w, 'superseded', { revision });
      }
      this.release(w);
    };
  }

  release(w: Held): void {
    this.released.add(w);
    this.c.loop.release();
  }

  /** Let go of already (its outcome written): a step that failed part-way settles only the rest. */
  isReleased(w: Held): boolean {
    return this.released.has(w);
  }

  private async requeue(w: Work, e: FerryError): Promise<void> {
    let outcome: RequeueOutcome;
    try {
      outcome = await this.c.requeue(absPathOf(w), w.item);
    } catch (error) {
      this.fail(w, localError(w.item.path, error));
      return;
    }
    if (outcome === 'moot') {
      const { store } = this.c;
      store.transaction(() => {
        store.queue.fail(w.ref, { code: e.code, message: e.message }, this.c.timers.now());
        store.paths.cancel(w.item.folderId, w.item.path);
      });
      this.c.log.info('the pull settled the path while it was sent (a folder it made, or a version it placed after keeping ours as a conflict copy): nothing to send', { path: w.item.path });
      this.emit(w, 'superseded');
      this.release(w);
      this.c.loop.pump();
      return;
    }
    if (outcome === 'requeued' && this.looping(w)) return;
    if (outcome === 'requeued' || outcome === 'superseded') {
      // A fresh snapshot (ours or a newer one) replaced this generation: fail() only releases the hold.
      const result = this.c.store.queue.fail(w.ref, { code: e.code, message: e.message }, this.c.timers.now());
      this.c.log.info('file changed before commit: queued again', { path: w.item.path, outcome: result });
      this.emit(w, 'requeued', { code: e.code, message: e.message });
      this.release(w);
      this.c.loop.pump();
      return;
    }
    // Still being written, a download being placed, or gone and left to the scan: look again after a backoff; counts toward the retry limit.
    const why = { gone: 'its delete is recorded by the folder scan', placing: 'a download from the server is being put in its place', unstable: 'it is still being written' }[outcome];
    this.retryLater(w, e.code, `${e.message}; ${why}`);
    this.release(w);
  }

  /**
   * Counts a requeue of the item's path (its fresh snapshot is in the queue now). The same
   * snapshot as the last requeue's, REQUEUE_LOOP_LIMIT times in a row: the fresh generation fails
   * with a reason instead of going round again (it runs again on Retry or the next change).
   */
  private looping(w: Work): boolean {
    const key = loopKey(w.item);
    const fresh = this.c.store.queue.getByPath(w.item.folderId, w.item.path);
    if (!fresh || fresh.op !== 'upsert') {
      this.requeues.delete(key);
      return false;
    }
    const last = this.requeues.get(key);
    // Untouched, not only the same bytes: a program saving the same bytes again and again during
    // the upload is a change each time (its next quiet save goes up), not a loop.
    const same = last && last.contentHash === fresh.contentHash && last.size === fresh.size && last.mtimeMs === fresh.mtimeMs;
    const times = same ? last.times + 1 : 1;
    this.requeues.set(key, { contentHash: fresh.contentHash, size: fresh.size, mtimeMs: fresh.mtimeMs, times });
    if (times < REQUEUE_LOOP_LIMIT) return false;
    this.requeues.delete(key);
    const message =
      `${w.item.path} was found changed before its commit ${times} times in a row while its bytes stayed the same; ` +
      'stopped queueing it again (the file the pusher reads is not the one that was hashed)';
    // Failing the fresh generation also lets go of this one's hold.
    const outcome = this.c.store.queue.fail({ id: fresh.id, generation: fresh.generation, op: fresh.op }, { code: REQUEUE_LOOP, message }, null);
    this.afterFail(w, outcome, REQUEUE_LOOP, message);
    return true;
  }
}

const loopKey = (item: Pick<QueueItem, 'folderId' | 'path'>): string => `${item.folderId}\u0000${item.path}`;

// ---- upload-stage ------------------------------------------------------------------------------

/**
 * Claimed items → ready to commit. Contentless items (deletes, directories) go straight on;
 * files get the blocks the server lacks uploaded, then a last stat. A failure here is the
 * item's alone: ItemOutcomes decides (retry when due, fail, queue again).
 */
export class UploadStage {
  constructor(private readonly c: PushCore) {}

  async process(items: ClaimedItem[]): Promise<void> {
    const uploads: Work[] = [];
    for (const item of items) {
      const work = newWork(item, item.folder);
      if (item.op === 'delete' || item.kind === 'dir' || item.moveFrom !== null) {
        // Deletes, directories and moves carry no content: straight to the batch. Directory
        // deletes were queued children first (priorityOf), so they follow their contents.
        this.ready(work);
      } else {
        uploads.push(work);
      }
    }
    if (uploads.length > 0) await this.prepare(uploads);
  }

  /** Uploads what the server lacks for each item, then hands it to the batcher. */
  async prepare(works: Work[], knownMissing?: Set<string>): Promise<void> {
    try {
      let missing = knownMissing;
      if (!missing) {
        try {
          missing = await this.c.uploader.missing(works.flatMap((w) => w.item.blocks ?? []));
        } catch (error) {
          for (const w of works) await this.c.outcomes.handleError(w, error);
          return;
        }
      }
      const have = missing;
      await Promise.all(works.map((w) => this.uploadOne(w, have)));
    } finally {
      // This group is ready: send what waits now instead of after the linger.
      this.c.batcher.flushAll();
    }
  }

  private async uploadOne(w: Work, missing: Set<string>): Promise<void> {
    const abs = absPathOf(w);
    try {
      if (w.item.blocks === null) throw fileChanged(w.item.path, 'no block list');
      this.c.outcomes.emit(w, 'uploading');
      w.bytesDone = 0;
      w.lastProgressWrite = this.c.timers.now();
      await this.c.uploader.upload(abs, { path: w.item.path, size: w.item.size, blocks: w.item.blocks }, missing, (delta) => this.progress(w, delta));
      // The last look before commit: a file touched since hashing is hashed again.
      const st = await statOf(abs, w.item.size).catch((error: unknown) => {
        throw localError(w.item.path, error);
      });
      if (!st.isFile() || st.size !== w.item.size || st.mtimeMs !== w.item.mtimeMs) throw fileChanged(w.item.path, 'size or mtime differ');
      this.ready(w);
    } catch (error) {
      await this.c.outcomes.handleError(w, error);
    }
  }

  private progress(w: Work, delta: number): void {
    w.bytesDone += delta;
    const { events } = this.c;
    if (events.has('itemProgress')) events.emit('itemProgress', { id: w.item.id, folderId: w.item.folderId, path: w.item.path, bytesDone: w.bytesDone, bytesTotal: w.item.size });
    // An upload still going half a second after it started shows its progress in the queue too
    // (any size: a new user's try saw 0 B through a slow 3 MB upload); a fast one writes nothing,
    // nor does the last delta of any (its completion writes the row): a small file's only delta
    // comes late when its batch waited, and a push of 10,000 wrote a row each for nothing.
    const now = this.c.timers.now();
    if (w.bytesDone < w.item.size && now - w.lastProgressWrite >= 500) {
      w.lastProgressWrite = now;
      try {
        this.c.store.queue.progress(w.ref, Math.max(0, w.bytesDone));
      } catch (error) {
        // Only what the queue shows: a full disk never fails the upload for it.
        if (!isDiskFull(error)) throw error;
      }
    }
    this.c.runs.bytes(delta);
  }

  private ready(w: Work): void {
    if (!this.c.running) return;
    this.c.outcomes.emit(w, 'committing');
    this.c.batcher.add(w);
  }
}

/** Small files: a synchronous stat is cheaper than a trip through the busy libuv pool. */
async function statOf(abs: string, size: number): Promise<Stats> {
  return size <= SMALL_FILE ? statSync(abs) : stat(abs);
}

// ---- commit-stage ------------------------------------------------------------------------------

/**
 * Batches → the server → per-item results. A batch is one logical request: the server keys
 * it by X-Tracking-Id and refuses that id for any other body, and a reply lost after the
 * server applied it must be replayed byte for byte or the items would conflict with
 * themselves. So a retryable failure retries the batch in place (same body, same tracking
 * id), and the items are shown waiting meanwhile: retry_wait with the next try's time and
 * the error, the pusher's hold kept (claim() never hands them, or newer generations of their
 * paths, to anyone else), then in_flight again with one more attempt. The backoff holds no
 * commit slot, so other batches keep committing.
 */
/** How often an answer a full disk kept from being recorded is tried again. */
const RECORD_RETRY_MS = 2000;

export class CommitStage {
  constructor(private readonly c: PushCore) {}

  async commit(folderId: string, works: Work[]): Promise<void> {
    const remoteId = works[0]?.remoteId ?? folderId;
    let outcome;
    try {
      outcome = await this.c.committer.commit(folderId, remoteId, works.map(toEntry), this.visibleRetries(works));
    } catch (error) {
      if (this.c.signal.aborted) return;
      const give = giveUpOf(error);
      // A request the server refused as a whole applied nothing: split it so one bad file
      // cannot block the rest.
      const status = error instanceof FerryError ? error.status : undefined;
      if (give?.verdict.action === 'fail' && works.length > 1 && (status === 400 || status === 413 || status === 422)) {
        const half = Math.ceil(works.length / 2);
        this.c.log.warn('batch refused; splitting it', { folderId, operations: works.length, code: give.verdict.code });
        await Promise.all([this.commit(folderId, works.slice(0, half)), this.commit(folderId, works.slice(half))]);
        return;
      }
      // Out of retries (per item: those with retries left go back to the queue) or permanent.
      for (const w of works) await this.c.outcomes.handleError(w, error);
      return;
    }
    await this.applyResults(works, outcome.results, outcome.taskId);
  }

  /**
   * A delete the pull has already overruled, so parking it would conflict at every recheck:
   * the path is back on disk and in the index, and either the index records the server's
   * current revision (a local delete loses to a remote edit: the puller restored the file) or
   * it is a folder the pull brought back because another device put something in it (the
   * server refuses to delete a folder that holds entries). Runs inside the results transaction;
   * a folder gets the server's revision recorded; a delete with no base is below.
   * (An upload of bytes the server already holds
   * is no conflict at all: the server answers it as done.)
   */
  private settledByPull(w: Pick<Work, 'item' | 'ref' | 'root'>, currentRevision: string | null): boolean {
    if (w.ref.op !== 'delete' || currentRevision === null) return false;
    const { index, tokens } = this.c.store;
    const entry = index.get(w.item.folderId, w.item.path);
    if (w.item.baseRevision === null) {
      // A delete of something this device never had an answer for, and something is at the path:
      // our own create that landed unanswered (O2 rebases the delete on it: chaos seed 11715), or
      // another device's file, never deleted unseen (U2 brings it and drops the delete: chaos
      // seed 4). The next pull is a full one and tells; the delete waits for it, and is moot at
      // once when the pull brought the file back here already (anything at the path, a dangling
      // symlink too), or when it meets a conflict again after that pull (docs/conflict-rules.md, "A
      // create sent without an answer, then deleted").
      tokens.clear(w.item.folderId);
      return entry !== undefined || existsOnDisk(resolveDiskPath(w.root, w.item.path)) || w.item.lastErrorCode === 'conflict';
    }
    // S25: a link (or a special file) stands here at the path or above it: the pull can never
    // bring the other device's change here, which wins all the same; the delete is dropped.
    if (linkInTheWay(w.root, w.item.path)) return true;
    if (!entry || !existsSync(resolveDiskPath(w.root, w.item.path))) return false;
    if (entry.syncedRevision === currentRevision) return true;
    if (entry.kind !== 'dir') return false;
    // A folder the user made anew behind the delete (its upload queued) is not the pull's: the
    // server's revision may be another device's file (S12; chaos --kinds seed 61103).
    if (this.c.store.queue.get(w.ref.id)?.generation !== w.ref.generation) return false;
    index.setSyncedRevision(w.item.folderId, w.item.path, currentRevision);
    return true;
  }

  /** Maps per-operation results onto the queue in one transaction (the task record with them). */
  async applyResults(works: Work[], results: BatchResults, taskId?: string): Promise<void> {
    const { store, outcomes } = this.c;
    let reupload: Array<{ w: Work; missing: string[] }> = [];
    let conflicts: Array<{ w: Held; currentRevision: string | null }> = [];
    let done: Array<() => void> = [];
    await this.untilRecorded(works.length, () => store.transaction(() => {
      // Afresh at each try: a try the disk refused rolled back whole.
      reupload = [];
      conflicts = [];
      done = [];
      for (const w of works) {
        const r: OperationResult | undefined = results[keyOf(w)];
        if (!r) {
          outcomes.retryLater(w, 'missing_result', 'The server sent no result for this operation');
          done.push(() => outcomes.release(w));
        } else if (r.ok) {
          done.push(outcomes.complete(w, r.revision, r.moved));
        } else if (sentAsMove(w) && r.code !== 'aborted') {
          // Refused as a move (P8): its path goes up as new and its old path is deleted, never a loss.
          // A conflict naming no current revision: the server has no `from` (moved or deleted first).
          const sourceGone = r.code === 'conflict' && (r.currentRevision ?? null) === null;
          const outcome = store.paths.moveRefused(w.ref, { from: w.item.moveFrom!, kind: w.item.kind, baseRevision: w.item.baseRevision, sourceGone });
          done.push(() => {
            this.c.log.info('move refused: sent as an upload and a delete', { path: w.item.path, from: w.item.moveFrom, code: r.code });
            outcomes.emit(w, outcome === 'superseded' ? 'superseded' : 'requeued', { code: r.code, message: r.message });
            outcomes.release(w);
            this.c.loop.wake(this.c.timers.now());
          });
        } else if (r.code === 'not_found' && w.ref.op === 'delete') {
          done.push(outcomes.complete(w, null));
        } else if (r.code === 'conflict' && this.settledByPull(w, r.currentRevision ?? null)) {
          // The puller already brought this path to the server's current revision (chaos seed 4).
          done.push(outcomes.complete(w, r.currentRevision ?? null));
        } else if (r.code === 'conflict') {
          // Refused though it names the server's current revision (a folder that still holds what
          // this device never got, to delete or to replace; a path below a file): the next pull reads the whole folder, so
          // that it sees what is there (docs/conflict-rules.md, "A folder turned into a file here").
          if ((r.currentRevision ?? null) === w.item.baseRevision) store.tokens.clear(w.item.folderId);
          const at = this.c.timers.now() + this.c.o.conflictRecheckMs;
          const outcome = store.queue.fail(w.ref, { code: 'conflict', message: r.message }, at);
          conflicts.push({ w, currentRevision: r.currentRevision ?? null });
          done.push(() => {
            outcomes.emit(w, outcome === 'superseded' ? 'superseded' : 'retry_wait', { code: 'conflict', message: r.message, nextAttemptAt: at });
            this.c.loop.wake(at);
            outcomes.release(w);
          });
        } else if (r.code === 'missing_blocks' && w.ref.op === 'upsert' && w.reuploads < this.c.o.retryLimit && this.c.running) {
          reupload.push({ w, missing: r.missing ?? w.item.blocks ?? [] });
        } else if (r.code === 'missing_blocks' || r.code === 'aborted') {
          outcomes.retryLater(w, r.code, r.message);
          done.push(() => outcomes.release(w));
        } else {
          const outcome = store.queue.fail(w.ref, { code: r.code, message: r.message }, null);
          done.push(() => outcomes.afterFail(w, outcome, r.code, r.message));
        }
      }
      if (taskId) store.tasks.remove(taskId);
    }));
    for (const f of done) f();
    for (const { w, currentRevision } of conflicts) this.handOff({ folderId: w.item.folderId, path: w.item.path, currentRevision });
    if (reupload.length > 0) {
      for (const { w } of reupload) w.reuploads++;
      await this.c.uploadStage.prepare(
        reupload.map((r) => r.w),
        new Set(reupload.flatMap((r) => r.missing)),
      );
    }
  }

  /**
   * The server applied the batch: its answer is kept until the store takes it. A full disk
   * delays the recording (the transaction rolled back whole, so it is tried again as it
   * was), never loses it: sent again, the items would meet their own commit as another
   * device's version and conflict with themselves (docs/conflict-rules.md, "Full disks").
   */
  async untilRecorded(items: number, record: () => void): Promise<void> {
    for (;;) {
      try {
        record();
        return;
      } catch (error) {
        if (!isDiskFull(error) || this.c.signal.aborted) throw error;
        this.c.log.warn('recording the outcome of a batch waits for disk space', { items });
        await sleep(this.c.timers, RECORD_RETRY_MS, this.c.signal);
      }
    }
  }

  private handOff(c: ConflictHandoff): void {
    this.c.log.info('conflict: handing the path to the puller', { ...c });
    this.c.events.emit('conflict', c);
    try {
      this.c.onConflict?.(c);
    } catch (error) {
      this.c.log.warn('conflict hand-off threw', { error, path: c.path });
    }
  }

  /**
   * Each backoff of the batch's request shows on its items (see the class comment). The
   * batch is retried while every item it still holds has retries left; a newer generation
   * replacing an item takes that item out of the count (its result is superseded anyway).
   */
  private visibleRetries(works: Work[]): RetryHooks {
    const { store, outcomes, log } = this.c;
    const live = new Set(works);
    return {
      mayRetry: (retries) => {
        const limit = this.c.o.retryLimit;
        return live.size === 0 ? retries < limit : [...live].every((w) => retriesOf(w) < limit);
      },
      onWait: ({ at, verdict, retry, label }) => {
        const error = { code: verdict.code, message: verdict.message };
        const waiting = store.transaction(() => [...live].filter((w) => store.queue.waitRetry(w.ref, error, at) === 'retry_wait'));
        keepOnly(live, waiting);
        for (const w of waiting) outcomes.emit(w, 'retry_wait', { ...error, nextAttemptAt: at });
        log.info('batch waits to retry', { what: label, items: waiting.length, retry, code: error.code, at: new Date(at).toISOString() });
      },
      onTry: () => {
        const trying = store.transaction(() => [...live].filter((w) => store.queue.retryNow(w.ref) === 'in_flight'));
        keepOnly(live, trying);
        for (const w of trying) {
          w.item.attempts++;
          outcomes.emit(w, 'retrying');
        }
      },
    };
  }
}

/** The item went to the server as a move (docs/conflict-rules.md, "Pushing a move"). */
const sentAsMove = (w: Held): boolean => w.item.moveFrom !== null && w.item.baseRevision !== null;

function keepOnly<T>(set: Set<T>, kept: readonly T[]): void {
  const keep = new Set(kept);
  for (const x of set) if (!keep.has(x)) set.delete(x);
}

// ---- claim-loop --------------------------------------------------------------------------------

/**
 * Claims due items from the queue in chunks while fewer than maxClaimed are held, wakes at
 * the earliest retry time it was told about, and looks again every idlePollMs. Cheap to
 * call often; a burst of releases leads to one claim.
 */
export class ClaimLoop {
  private held = 0;
  private pumpQueued = false;
  private wakeTimer: unknown;
  private wakeAt = Number.POSITIVE_INFINITY;
  private idleTimer: unknown;
  private idleWaiters: Array<() => void> = [];
  /** Claims refused in a row (claimRefused). */
  private claimRefusals = 0;

  constructor(private readonly c: PushCore) {}

  /** Items held right now (claimed, or restored from a persisted task). */
  get inFlight(): number {
    return this.held;
  }

  /** Items held without a claim (a persisted async task's, after a restart). */
  hold(n: number): void {
    this.held += n;
  }

  pump(): void {
    if (!this.c.mayClaim) return;
    const o = this.c.o;
    let claimedNow = 0;
    let refused = false;
    // Claim in whole chunks: one blocks/missing request and one batch serve many items.
    const step = Math.max(1, Math.min(o.claimChunk, o.maxClaimed));
    while (o.maxClaimed - this.held >= step || this.held === 0) {
      const limit = Math.min(o.claimChunk, o.maxClaimed - this.held);
      if (limit <= 0) break;
      let items: ClaimedItem[];
      try {
        items = this.c.store.queue.claim({ limit });
        this.claimRefusals = 0;
      } catch (error) {
        // The claim's transaction rolled back (a full disk refused it): nothing is held for it.
        // Never thrown from here: callers pump from timers and from the online transition,
        // which must still wake the requests waiting for the server (chaos seed 1, --disk-full).
        refused = true;
        this.claimRefused(error);
        break;
      }
      if (items.length === 0) break;
      this.held += items.length;
      claimedNow += items.length;
      // Held now (in flight): on their way.
      this.c.runs.ensure();
      this.c.track(this.c.uploadStage.process(items));
    }
    if (claimedNow === 0 && this.held === 0 && !refused) {
      this.c.runs.end();
      for (const w of this.idleWaiters.splice(0)) w();
    }
    this.c.timers.clearTimeout(this.idleTimer);
    this.idleTimer = this.c.timers.setTimeout(() => this.pump(), o.idlePollMs);
  }

  /** Wakes the loop at `at` (an item's retry time) unless an earlier wake is set. */
  wake(at: number): void {
    if (!this.c.running || at >= this.wakeAt) return;
    this.c.timers.clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = this.c.timers.setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.pump();
    }, Math.max(0, at - this.c.timers.now()));
  }

  release(): void {
    this.held = Math.max(0, this.held - 1);
    this.c.runs.emit(true, false);
    const o = this.c.o;
    if (this.held === 0 || o.maxClaimed - this.held >= Math.min(o.claimChunk, o.maxClaimed)) this.schedulePump();
  }

  /** Resolves at the next pump that finds nothing due and nothing held. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.pump();
    });
  }

  /** No more wakes (stop). */
  stopTimers(): void {
    this.c.timers.clearTimeout(this.wakeTimer);
    this.c.timers.clearTimeout(this.idleTimer);
    this.wakeTimer = this.idleTimer = undefined;
    this.wakeAt = Number.POSITIVE_INFINITY;
  }

  /** Everything in flight was abandoned (stop, once it settled). */
  reset(): void {
    this.held = 0;
  }

  /**
   * A claim the store refused: the idle poll tries again (a full disk: docs/conflict-rules.md,
   * "Full disks"). Said once per refusal in a row; the next claim that gets through clears it.
   */
  private claimRefused(error: unknown): void {
    if (this.claimRefusals++ === 0) this.c.log.warn('could not claim queue items; trying again', { error });
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

// ---- task-recovery -----------------------------------------------------------------------------

/**
 * A batch recorded before a restart (sent and not answered, or a task the server accepted): its
 * items stay held (recoverInFlight skipped them), the batch is sent again under its tracking id
 * or its task polled to its end, and the results applied like a fresh batch's.
 */
export async function resumeTask(c: PushCore, task: AsyncTask): Promise<void> {
  const held: Work[] = [];
  const folder = c.store.folders.get(task.folderId);
  for (const ti of task.items) {
    const key = parseOpKey(ti.opKey);
    if (!key) continue;
    const found = c.store.queue.get(ti.queueId);
    // A row of another path under that id (the path's row was dropped and its id taken again):
    // its results belong to no row here.
    if (found && found.path !== ti.path) continue;
    const item = found ?? fakeItem(task.folderId, ti.path, key);
    const ref = { id: ti.queueId, generation: key.generation, op: key.op };
    held.push(newWork({ ...item, path: ti.path, op: key.op, generation: key.generation }, folder, ref, task.folderId));
  }
  c.loop.hold(held.length);
  c.runs.ensure();
  let outcome;
  try {
    outcome = await c.committer.resume(task, folder?.remoteId);
  } catch (error) {
    if (c.signal.aborted) return;
    // Neither answered nor sent again successfully: the items queue again.
    const e = asFerryError(error);
    // Kept until the disk has room: written, the rows would stay in flight and held (O3) until a restart.
    await c.commitStage.untilRecorded(held.length, () =>
      c.store.transaction(() => {
        for (const w of held) c.outcomes.retryLater(w, e.code, e.message);
        c.store.tasks.remove(task.taskId);
      }),
    );
    for (const w of held) c.outcomes.release(w);
    return;
  }
  await c.commitStage.applyResults(held, outcome.results, outcome.taskId);
}
