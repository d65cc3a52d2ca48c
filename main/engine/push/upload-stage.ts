import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { BLOCK_SIZE } from '../../../protocol';
import { FerryError } from '../../../protocol/errors';
import type { ClaimRef, QueueItem } from '../../store/queue';
import type { PushFolder } from './api';
import type { Emitter, PusherEvents } from './events';
import type { ItemOutcomes } from './outcomes';
import type { RunStats } from './run-stats';
import type { Timers } from './timers';
import { SMALL_FILE, fileChanged, localError, type Uploader } from './uploader';
import { absPathOf, newWork, type Work } from './work';

export interface UploadStageDeps {
  uploader: () => Uploader;
  folders: (folderId: string) => PushFolder | undefined;
  outcomes: ItemOutcomes;
  events: Emitter<PusherEvents>;
  /** Persists upload progress of a held item (the queue view shows it). */
  saveProgress: (ref: ClaimRef, bytesDone: number) => void;
  runs: Pick<RunStats, 'bytes'>;
  timers: Timers;
  running: () => boolean;
  /** Where ready items go: the batcher in front of the commit stage. */
  commit: { add(w: Work): void; flushAll(): void };
}

/**
 * Claimed items → ready to commit. Contentless items (deletes, directories) go straight on;
 * files get the blocks the server lacks uploaded, then a last stat. A failure here is the
 * item's alone: ItemOutcomes decides (retry when due, fail, queue again).
 */
export class UploadStage {
  constructor(private readonly d: UploadStageDeps) {}

  async process(items: QueueItem[]): Promise<void> {
    const uploads: Work[] = [];
    for (const item of items) {
      const folder = this.d.folders(item.folderId);
      const work = newWork(item, folder);
      if (!folder) {
        this.d.outcomes.fail(work, new FerryError('folder_unknown', `No folder ${item.folderId}`));
      } else if (item.op === 'delete' || item.kind === 'dir' || item.moveFrom !== null) {
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
          missing = await this.d.uploader().missing(works.flatMap((w) => w.item.blocks ?? []));
        } catch (error) {
          for (const w of works) await this.d.outcomes.handleError(w, error);
          return;
        }
      }
      const have = missing;
      await Promise.all(works.map((w) => this.uploadOne(w, have)));
    } finally {
      // This group is ready: send what waits now instead of after the linger.
      this.d.commit.flushAll();
    }
  }

  private async uploadOne(w: Work, missing: Set<string>): Promise<void> {
    const abs = absPathOf(w);
    try {
      if (w.item.blocks === null) throw fileChanged(w.item.path, 'no block list');
      this.d.outcomes.emit(w, 'uploading');
      w.bytesDone = 0;
      await this.d.uploader().upload(abs, { path: w.item.path, size: w.item.size, blocks: w.item.blocks }, missing, (delta) => this.progress(w, delta));
      // The last look before commit: a file touched since hashing is hashed again.
      const st = await statOf(abs, w.item.size).catch((error: unknown) => {
        throw localError(w.item.path, error);
      });
      if (!st.isFile() || st.size !== w.item.size || st.mtimeMs !== w.item.mtimeMs) throw fileChanged(w.item.path, 'size or mtime differ');
      this.ready(w);
    } catch (error) {
      await this.d.outcomes.handleError(w, error);
    }
  }

  private progress(w: Work, delta: number): void {
    w.bytesDone += delta;
    const { events } = this.d;
    if (events.has('itemProgress')) events.emit('itemProgress', { id: w.item.id, folderId: w.item.folderId, path: w.item.path, bytesDone: w.bytesDone, bytesTotal: w.item.size });
    // Large files show progress in the queue view too; small ones finish before it matters.
    const now = this.d.timers.now();
    if (w.item.size > BLOCK_SIZE && now - w.lastProgressWrite >= 500) {
      w.lastProgressWrite = now;
      this.d.saveProgress(w.ref, Math.max(0, w.bytesDone));
    }
    this.d.runs.bytes(delta);
  }

  private ready(w: Work): void {
    if (!this.d.running()) return;
    this.d.outcomes.emit(w, 'committing');
    this.d.commit.add(w);
  }
}

/** Small files: a synchronous stat is cheaper than a trip through the busy libuv pool. */
async function statOf(abs: string, size: number): Promise<Stats> {
  return size <= SMALL_FILE ? statSync(abs) : stat(abs);
}
