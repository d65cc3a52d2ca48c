import type { Store } from '../../store';
import type { EntryKind } from '../../store/file-index';
import { belowAnyThreshold, checkMassDelete, massDeleteReason, type MassDeleteOptions } from './mass-delete';
import type { SentBeforeHold } from '../../../shared/pending-delete';
import type { FolderStates } from './state';

/** How many of the deletes sent before a hold the question names. */
const SENT_SAMPLE_SIZE = 3;

/** How far back this disk's deletes count together (docs/conflict-rules.md, local deletes). */
export const LOCAL_DELETE_WINDOW_MS = 30_000;

export type LocalGuardStore = Pick<Store, 'folders' | 'index' | 'recentDeletes' | 'transaction'>;

export interface LocalDeleteGuardOptions {
  store: LocalGuardStore;
  folderId: string;
  states: FolderStates;
  /** The thresholds, read at each check (settings change them live). */
  options: () => MassDeleteOptions;
  windowMs?: number;
  now?: () => number;
}

/** What a delete removed: the index row as it was. */
export interface RemovedEntry {
  path: string;
  kind: EntryKind;
  syncedRevision: string | null;
  size: number;
  mtimeMs: number;
  blocks: string[] | null;
}

/**
 * The scan side of the mass-delete guard: weighs this disk's deletes over a window, the ones
 * already sent included, and pauses the folder before a bulk delete's first delete is queued.
 */
export class LocalDeleteGuard {
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(private readonly o: LocalDeleteGuardOptions) {
    this.windowMs = o.windowMs ?? LOCAL_DELETE_WINDOW_MS;
    this.now = o.now ?? Date.now;
  }

  /**
   * Before `files` more file deletes are queued (in their transaction, or just before it):
   * pauses the folder when they and the window's earlier deletes cross the threshold.
   * `wholeWindow`: the deletes kept while the folder was held all count, however old (they
   * waited for a pull-side answer, docs/conflict-rules.md).
   */
  judge(files: number, o: { wholeWindow?: boolean } = {}): void {
    const { store, folderId } = this.o;
    const options = this.o.options();
    const folder = store.folders.require(folderId);
    // Held already (either side): these deletes join what waits for the answer.
    if (folder.state !== 'ok') return;
    if (!o.wholeWindow) store.recentDeletes.prune(this.now() - this.windowMs);
    const earlier = store.recentDeletes.countFiles(folderId, 0);
    const deletes = earlier + files;
    if (belowAnyThreshold(deletes, options)) return;
    const total = store.index.countFiles(folderId) + earlier;
    const verdict = checkMassDelete(deletes, total, options, 'scan');
    if (verdict.tripped) this.o.states.pause(folderId, { side: 'scan', deletes, files: total }, massDeleteReason('scan', deletes, total, this.sent()));
  }

  /** In the transaction that drops the index row: the window remembers the delete and its version. */
  recorded(entry: RemovedEntry): void {
    this.o.store.recentDeletes.record({
      folderId: this.o.folderId,
      path: entry.path,
      kind: entry.kind,
      revision: entry.syncedRevision,
      size: entry.size,
      mtimeMs: entry.mtimeMs,
      blocks: entry.blocks,
    });
  }

  /**
   * What a held scan-side delete counts now: the window's files, of the folder before them, and
   * those of them whose delete reached the server before the hold (not held: named apart).
   */
  pending(): { count: number; total: number; sent: SentBeforeHold } {
    const { store, folderId } = this.o;
    const count = store.recentDeletes.countFiles(folderId, 0);
    return { count, total: store.index.countFiles(folderId) + count, sent: this.sent() };
  }

  private sent(): SentBeforeHold {
    return this.o.store.recentDeletes.sentFiles(this.o.folderId, 0, SENT_SAMPLE_SIZE);
  }
}
