import { stat } from 'node:fs/promises';
import type { Store } from '../../store';
import type { QueueItem } from '../../store/queue';
import { hashFile } from '../hashing';

export type RequeueOutcome = 'requeued' | 'unstable';

/**
 * The base of the fresh snapshot: what the index synced last. The puller may have put a newer
 * revision in place while the upload was in flight (a conflict copy, then the download); the
 * item's own base is stale then, and an upload on it would conflict forever (chaos seed 2).
 */
function currentBase(store: Pick<Store, 'index'>, item: Pick<QueueItem, 'folderId' | 'path' | 'baseRevision'>): string | null {
  return store.index.get(item.folderId, item.path)?.syncedRevision ?? item.baseRevision;
}

/**
 * A file changed between hashing and commit: hash it again and put the fresh snapshot in
 * the queue (index and queue in one transaction, as the scanner does). A file still being
 * written is left alone ('unstable'): the caller backs off and looks again.
 */
export async function rehashAndRequeue(
  store: Pick<Store, 'index' | 'queue' | 'transaction'>,
  absPath: string,
  item: Pick<QueueItem, 'folderId' | 'path' | 'baseRevision'>,
): Promise<RequeueOutcome> {
  let hashed;
  try {
    hashed = await hashFile(absPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    store.queue.enqueue({ folderId: item.folderId, path: item.path, kind: 'file', op: 'delete', baseRevision: currentBase(store, item) });
    return 'requeued';
  }
  const after = await stat(absPath).catch(() => undefined);
  const stable = after !== undefined && hashed.size === hashed.stat.size && after.size === hashed.stat.size && after.mtimeMs === hashed.stat.mtimeMs;
  if (!stable) return 'unstable';
  store.transaction(() => {
    const previous = store.index.get(item.folderId, item.path);
    store.index.putLocal({
      folderId: item.folderId,
      path: item.path,
      kind: 'file',
      size: hashed.size,
      mtimeMs: hashed.stat.mtimeMs,
      inode: hashed.stat.ino ?? previous?.inode ?? null,
      contentHash: hashed.contentHash,
      blocks: hashed.blocks,
    });
    store.queue.enqueue({
      folderId: item.folderId,
      path: item.path,
      kind: 'file',
      op: 'upsert',
      size: hashed.size,
      mtimeMs: hashed.stat.mtimeMs,
      contentHash: hashed.contentHash,
      blocks: hashed.blocks,
      baseRevision: previous?.syncedRevision ?? item.baseRevision,
    });
  });
  return 'requeued';
}
