import { existsSync } from 'node:fs';
import { existsOnDisk, resolveDiskPath } from '../paths';
import type { BatchResults, OperationResult } from '../../../protocol';
import { FerryError } from '../../../protocol/errors';
import type { Logger } from '../../logging';
import { isDiskFull } from '../disk-full';
import type { ConflictHandoff, PushStore } from './api';
import { giveUpOf, type RetryHooks } from './attempt';
import type { Committer } from './committer';
import type { Emitter, PusherEvents } from './events';
import type { ItemOutcomes } from './outcomes';
import type { PusherOptions } from './options';
import { sleep, type Timers } from './timers';
import { keyOf, retriesOf, toEntry, type Held, type Work } from './work';

export interface CommitStageDeps {
  store: PushStore;
  committer: () => Committer;
  outcomes: ItemOutcomes;
  events: Emitter<PusherEvents>;
  log: Logger;
  timers: Timers;
  options: () => Pick<PusherOptions, 'retryLimit' | 'conflictRecheckMs'>;
  running: () => boolean;
  signal: () => AbortSignal;
  wake: (at: number) => void;
  onConflict?: (conflict: ConflictHandoff) => void;
  /** The server lost blocks these items need: upload them again, then commit again. */
  reupload: (works: Work[], missing: Set<string>) => Promise<void>;
}

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
  constructor(private readonly d: CommitStageDeps) {}

  async commit(folderId: string, works: Work[]): Promise<void> {
    const remoteId = works[0]?.remoteId ?? folderId;
    let outcome;
    try {
      outcome = await this.d.committer().commit(folderId, remoteId, works.map(toEntry), this.visibleRetries(works));
    } catch (error) {
      if (this.d.signal().aborted) return;
      const give = giveUpOf(error);
      // A request the server refused as a whole applied nothing: split it so one bad file
      // cannot block the rest.
      const status = error instanceof FerryError ? error.status : undefined;
      if (give?.verdict.action === 'fail' && works.length > 1 && (status === 400 || status === 413 || status === 422)) {
        const half = Math.ceil(works.length / 2);
        this.d.log.warn('batch refused; splitting it', { folderId, operations: works.length, code: give.verdict.code });
        await Promise.all([this.commit(folderId, works.slice(0, half)), this.commit(folderId, works.slice(half))]);
        return;
      }
      // Out of retries (per item: those with retries left go back to the queue) or permanent.
      for (const w of works) await this.d.outcomes.handleError(w, error);
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
    const { index, tokens } = this.d.store;
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
    if (!entry || !existsSync(resolveDiskPath(w.root, w.item.path))) return false;
    if (entry.syncedRevision === currentRevision) return true;
    if (entry.kind !== 'dir') return false;
    index.setSyncedRevision(w.item.folderId, w.item.path, currentRevision);
    return true;
  }

  /** Maps per-operation results onto the queue in one transaction (the task record with them). */
  async applyResults(works: Work[], results: BatchResults, taskId?: string): Promise<void> {
    const { store, outcomes } = this.d;
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
            this.d.log.info('move refused: sent as an upload and a delete', { path: w.item.path, from: w.item.moveFrom, code: r.code });
            outcomes.emit(w, outcome === 'superseded' ? 'superseded' : 'requeued', { code: r.code, message: r.message });
            outcomes.release(w);
            this.d.wake(this.d.timers.now());
          });
        } else if (r.code === 'not_found' && w.ref.op === 'delete') {
          done.push(outcomes.complete(w, null));
        } else if (r.code === 'conflict' && this.settledByPull(w, r.currentRevision ?? null)) {
          // The puller already brought this path to the server's current revision (chaos seed 4).
          done.push(outcomes.complete(w, r.currentRevision ?? null));
        } else if (r.code === 'conflict') {
          const at = this.d.timers.now() + this.d.options().conflictRecheckMs;
          const outcome = store.queue.fail(w.ref, { code: 'conflict', message: r.message }, at);
          conflicts.push({ w, currentRevision: r.currentRevision ?? null });
          done.push(() => {
            outcomes.emit(w, outcome === 'superseded' ? 'superseded' : 'retry_wait', { code: 'conflict', message: r.message, nextAttemptAt: at });
            this.d.wake(at);
            outcomes.release(w);
          });
        } else if (r.code === 'missing_blocks' && w.ref.op === 'upsert' && w.reuploads < this.d.options().retryLimit && this.d.running()) {
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
      await this.d.reupload(
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
  private async untilRecorded(items: number, record: () => void): Promise<void> {
    for (;;) {
      try {
        record();
        return;
      } catch (error) {
        if (!isDiskFull(error) || this.d.signal().aborted) throw error;
        this.d.log.warn('the server applied the batch; recording its answer waits for disk space', { items });
        await sleep(this.d.timers, RECORD_RETRY_MS, this.d.signal());
      }
    }
  }

  private handOff(c: ConflictHandoff): void {
    this.d.log.info('conflict: handing the path to the puller', { ...c });
    this.d.events.emit('conflict', c);
    try {
      this.d.onConflict?.(c);
    } catch (error) {
      this.d.log.warn('conflict hand-off threw', { error, path: c.path });
    }
  }

  /**
   * Each backoff of the batch's request shows on its items (see the class comment). The
   * batch is retried while every item it still holds has retries left; a newer generation
   * replacing an item takes that item out of the count (its result is superseded anyway).
   */
  private visibleRetries(works: Work[]): RetryHooks {
    const { store, outcomes, log } = this.d;
    const live = new Set(works);
    return {
      mayRetry: (retries) => {
        const limit = this.d.options().retryLimit;
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
