import { resolveDiskPath } from '../paths';
import type { ClaimRef, QueueItem } from '../../store/queue';
import type { PushFolder } from './api';
import { opKey, type CommitEntry } from './committer';

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
    enqueuedAt: 0,
    updatedAt: 0,
  };
}
