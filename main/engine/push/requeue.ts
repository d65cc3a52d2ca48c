import { stat } from 'node:fs/promises';
import type { Store } from '../../store';
import type { QueueItem } from '../../store/queue';
import { hashFile } from '../hashing';

export type RequeueOutcome = 'requeued' | 'unstable';

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
    store.queue.enqueue({ folderId: item.folderId, path: item.path, kind: 'file', op: 'delete', baseRevision: item.baseRevision });
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
      baseRevision: item.baseRevision,
    });
  });
  return 'requeued';
}
