import { asFerryError, type FerryError } from '../../../protocol/errors';
import type { Logger } from '../../logging';
import { DISK_FULL, isDiskFull } from '../disk-full';
import type { QueueItem } from '../../store/queue';
import type { PushStore } from './api';
import { giveUpOf } from './attempt';
import type { Emitter, ItemEvent, PusherEvents } from './events';
import type { PusherOptions } from './options';
import type { RequeueOutcome } from './requeue';
import { backoffMs, isServerWait } from './retry-policy';
import type { RunStats } from './run-stats';
import type { Timers } from './timers';
import { FILE_CHANGED, localError } from './uploader';
import { absPathOf, retriesOf, type Held, type Work } from './work';

export interface OutcomeDeps {
  store: PushStore;
  events: Emitter<PusherEvents>;
  log: Logger;
  timers: Timers;
  random: () => number;
  options: () => Pick<PusherOptions, 'retryLimit' | 'backoffBaseMs' | 'backoffCapMs'>;
  runs: RunStats;
  loop: { release(): void; wake(at: number): void; pump(): void };
  signal: () => AbortSignal;
  requeue: (absPath: string, item: QueueItem) => Promise<RequeueOutcome>;
}

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

  constructor(private readonly d: OutcomeDeps) {}

  emit(w: Held, state: ItemEvent['state'], extra: Partial<ItemEvent> = {}): void {
    if (!this.d.events.has('item')) return;
    this.d.events.emit('item', { id: w.item.id, folderId: w.item.folderId, path: w.item.path, op: w.item.op, state, ...extra });
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
      if (this.d.signal().aborted) return;
      try {
        for (const w of works) {
          if (this.isReleased(w)) continue;
          this.retryLater(w, code, message);
          this.release(w);
        }
      } catch (again) {
        this.d.log.warn('could not put items back in the queue yet', { items: works.length, error: asFerryError(again).message });
        this.d.timers.setTimeout(attempt, PUT_BACK_RETRY_MS);
      }
    };
    attempt();
  }

  private async settleError(w: Work, error: unknown): Promise<void> {
    if (this.d.signal().aborted) return;
    const e = asFerryError(error);
    if (e.code === FILE_CHANGED) {
      await this.requeue(w, e);
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
    const o = this.d.options();
    const retries = retriesOf(w);
    if (retries >= o.retryLimit && !isServerWait(code)) {
      const outcome = this.d.store.queue.fail(w.ref, { code, message: gaveUp(message, retries) }, null);
      this.afterFail(w, outcome, code, message, false);
      return;
    }
    const at = this.d.timers.now() + backoffMs(retries + 1, { baseMs: o.backoffBaseMs, capMs: o.backoffCapMs }, this.d.random, retryAfterMs);
    const outcome = this.d.store.queue.fail(w.ref, { code, message }, at);
    this.d.log.info('item waits to retry', { path: w.item.path, code, retry: retries + 1, at: new Date(at).toISOString(), run: this.d.runs.header });
    this.emit(w, outcome === 'superseded' ? 'superseded' : 'retry_wait', { code, message, nextAttemptAt: at });
    this.d.loop.wake(at);
  }

  /** Failed for good (until Retry), and let go. */
  fail(w: Held, e: FerryError): void {
    const outcome = this.d.store.queue.fail(w.ref, { code: e.code, message: e.message }, null);
    this.afterFail(w, outcome, e.code, e.message);
  }

  afterFail(w: Held, outcome: string, code: string, message: string, release = true): void {
    if (outcome === 'failed') {
      this.d.runs.itemFailed();
      this.d.log.warn('item failed', { path: w.item.path, code, message, run: this.d.runs.header });
    }
    this.emit(w, outcome === 'failed' ? 'failed' : outcome === 'superseded' ? 'superseded' : 'retry_wait', { code, message });
    if (release) this.release(w);
  }

  /** Records success now (inside the caller's transaction); the returned step emits and lets go. */
  complete(w: Held, revision: string | null, moved?: ReadonlyArray<{ path: string; from: string; revision: string }>): () => void {
    const outcome = this.d.store.paths.complete(w.ref, moved ? { revision, moved } : { revision });
    // Settled: the path's requeues start counting afresh (a superseded commit settles nothing).
    if (outcome === 'done') this.requeues.delete(loopKey(w.item));
    return () => {
      if (outcome === 'done') {
        this.d.runs.itemDone();
        this.emit(w, 'done', { revision });
      } else {
        this.emit(w, 'superseded', { revision });
      }
      this.release(w);
    };
  }

  release(w: Held): void {
    this.released.add(w);
    this.d.loop.release();
  }

  /** Let go of already (its outcome written): a step that failed part-way settles only the rest. */
  isReleased(w: Held): boolean {
    return this.released.has(w);
  }

  private async requeue(w: Work, e: FerryError): Promise<void> {
    let outcome: RequeueOutcome;
    try {
      outcome = await this.d.requeue(absPathOf(w), w.item);
    } catch (error) {
      this.fail(w, localError(w.item.path, error));
      return;
    }
    if (outcome === 'requeued' && this.looping(w)) return;
    if (outcome === 'requeued' || outcome === 'superseded') {
      // A fresh snapshot (ours or a newer one) replaced this generation: fail() only releases the hold.
      const result = this.d.store.queue.fail(w.ref, { code: e.code, message: e.message }, this.d.timers.now());
      this.d.log.info('file changed before commit: queued again', { path: w.item.path, outcome: result });
      this.emit(w, 'requeued', { code: e.code, message: e.message });
      this.release(w);
      this.d.loop.pump();
      return;
    }
    // Still being written: look again after a backoff; counts toward the retry limit.
    this.retryLater(w, e.code, `${e.message}; it is still being written`);
    this.release(w);
  }

  /**
   * Counts a requeue of the item's path (its fresh snapshot is in the queue now). The same
   * snapshot as the last requeue's, REQUEUE_LOOP_LIMIT times in a row: the fresh generation fails
   * with a reason instead of going round again (it runs again on Retry or the next change).
   */
  private looping(w: Work): boolean {
    const key = loopKey(w.item);
    const fresh = this.d.store.queue.getByPath(w.item.folderId, w.item.path);
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
    const outcome = this.d.store.queue.fail({ id: fresh.id, generation: fresh.generation, op: fresh.op }, { code: REQUEUE_LOOP, message }, null);
    this.afterFail(w, outcome, REQUEUE_LOOP, message);
    return true;
  }
}

const loopKey = (item: Pick<QueueItem, 'folderId' | 'path'>): string => `${item.folderId}\u0000${item.path}`;
