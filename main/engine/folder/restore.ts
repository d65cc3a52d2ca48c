import type { OperationInput } from '../../../protocol';
import { FerryError } from '../../../protocol/errors';
import type { SubmitBatchOptions, SubmitBatchReply } from '../../remote';
import type { RecentDelete, Store } from '../../store';

/** The one call a cancel needs: a batch of upserts (docs/sync-api.md). */
export interface RestoreRemote {
  submitBatch(folderId: string, operations: readonly OperationInput[], options?: SubmitBatchOptions): Promise<SubmitBatchReply>;
}

export type RestoreStore = Pick<Store, 'recentDeletes' | 'queue' | 'activity'>;

/** Operations per request: well under the server's limit, small enough to answer in sync mode. */
const CHUNK = 500;

/** The window's deletes this disk already sent: their queue row is a delete that is done. */
export function sentDeletes(store: RestoreStore, folderId: string): RecentDelete[] {
  return store.recentDeletes.list(folderId, 0).filter((r) => {
    if (r.revision === null || (r.kind === 'file' && r.blocks === null)) return false;
    const item = store.queue.getByPath(folderId, r.path);
    return item?.op === 'delete' && item.state === 'done';
  });
}

/**
 * A cancelled local mass delete: the part that already reached the server is uploaded again
 * as it was (an upsert on the deleted path, base null, with the blocks the server still
 * holds), so the full pull that follows brings it back to disk with the rest
 * (docs/conflict-rules.md, local deletes). A path another device wrote since keeps that
 * version. Throws (the folder stays paused) when the server cannot be reached.
 */
export async function restoreSentDeletes(store: RestoreStore, folderId: string, remoteId: string, remote: RestoreRemote): Promise<{ files: number; folders: number }> {
  const sent = sentDeletes(store, folderId);
  // Directories first: a restored file's folder is there again before it.
  const ordered = [...sent.filter((r) => r.kind === 'dir'), ...sent.filter((r) => r.kind === 'file')];
  const restored = { files: 0, folders: 0 };
  for (let i = 0; i < ordered.length; i += CHUNK) {
    const chunk = ordered.slice(i, i + CHUNK);
    const operations: OperationInput[] = chunk.map((r, n) =>
      r.kind === 'dir'
        ? { key: String(n), action: 'upsert', kind: 'dir', path: r.path, mtime: r.mtimeMs, baseRevision: null }
        : { key: String(n), action: 'upsert', kind: 'file', path: r.path, size: r.size, mtime: r.mtimeMs, blocks: r.blocks ?? [], baseRevision: null },
    );
    const reply = await remote.submitBatch(remoteId, operations, { mode: 'sync' });
    if (!('results' in reply)) {
      throw new FerryError('restore_pending', 'The server is still restoring the deleted files; cancel again in a moment', { retryable: true });
    }
    chunk.forEach((r, n) => {
      const result = reply.results[String(n)];
      if (result?.ok) return void (r.kind === 'dir' ? restored.folders++ : restored.files++);
      const why = result?.code === 'conflict' ? 'another device wrote it since; its version stays' : (result?.message ?? 'no answer');
      store.activity.add({ folderId, kind: 'failed', path: r.path, message: `Not restored on the server: ${why}` });
    });
  }
  return restored;
}
