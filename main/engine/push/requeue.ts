import type { Store } from '../../store';
import type { QueueItem } from '../../store/queue';
import { intentMatch } from '../../store/file-index';
import { hashStable, justEmptied } from '../hashing';

/**
 * superseded: a newer change of the path was queued meanwhile (the scanner's, the puller's); it
 * stands. gone: a synced file went; its delete is the scan's to record (looked at again later).
 * moot: the pull settled the path while the upload was in flight, and what it put there is
 * what is there now: a folder it made (DU4, DU6), or the other device's version it downloaded
 * after keeping this one as a conflict copy (U6). The upload has nothing to send. placing: the
 * file holds a download the pull has renamed into place and not recorded yet (its intent stands):
 * looked at again once it is recorded, never queued as this device's change.
 */
export type RequeueOutcome = 'requeued' | 'unstable' | 'superseded' | 'gone' | 'moot' | 'placing';

/**
 * The base of the fresh snapshot: what the index synced last. The puller may have put a newer
 * revision in place while the upload was in flight (a conflict copy, then the download); the
 * item's own base is stale then, and an upload on it would conflict forever (chaos seed 2).
 */
function currentBase(store: Pick<Store, 'index'>, item: Pick<QueueItem, 'folderId' | 'path' | 'baseRevision'>): string | null {
  return store.index.get(item.folderId, item.path)?.syncedRevision ?? item.baseRevision;
}

type RequeueItem = Pick<QueueItem, 'folderId' | 'path' | 'baseRevision' | 'generation' | 'contentHash'>;

/**
 * True while the queue row still holds the generation that was sent. Once the scanner or the
 * puller queued a newer change, that change knows better: the scanner saw the file go and
 * queued its delete on the revision it had synced; a requeue on this item's older base would
 * replace it, and that delete would conflict at every recheck (chaos seed 1, three devices).
 */
function stillCurrent(store: Pick<Store, 'queue'>, item: RequeueItem): boolean {
  return store.queue.getByPath(item.folderId, item.path)?.generation === item.generation;
}

/**
 * A file changed between hashing and commit: hash it again and put the fresh snapshot in
 * the queue (index and queue in one transaction, as the scanner does). A file still being
 * written is left alone ('unstable'): the caller backs off and looks again. So is one just
 * truncated, its bytes perhaps on their way (hashing.ts, justEmptied).
 */
export async function rehashAndRequeue(
  store: Pick<Store, 'index' | 'queue' | 'paths' | 'transaction'>,
  absPath: string,
  item: RequeueItem,
  now: number,
): Promise<RequeueOutcome> {
  let hashed;
  try {
    hashed = await hashStable(absPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR') throw error;
    // Gone (docs/conflict-rules.md, "A file gone before its commit"). A synced file's delete is
    // the scan's to record, with the rest of its burst and through the mass-delete guard (recorded
    // here, it went out unasked while the bulk delete it was part of was held: found by review);
    // the upload is looked at again later. A file never synced is recorded as the scanner records
    // a deletion, the index row out (a row left behind was carried by a folder rename and never
    // uploaded: chaos seed 3); its delete on the item's base drops the create.
    // A folder now: the same, unless the pull made it and recorded it (docs/conflict-rules.md,
    // same section): the file's bytes were synced or kept in a conflict copy, so nothing is left to send.
    return store.transaction(() => {
      if (!stillCurrent(store, item)) return 'superseded';
      const row = store.index.get(item.folderId, item.path);
      if (code === 'EISDIR' && row?.kind === 'dir') return 'moot';
      if ((row?.syncedRevision ?? null) !== null) return 'gone';
      store.paths.localGone({ folderId: item.folderId, path: item.path, kind: 'file' }, item.baseRevision);
      return 'requeued';
    });
  }
  if (!hashed || justEmptied(hashed, now)) return 'unstable';
  const stable = hashed; // a const, for the transaction below
  return store.transaction(() => {
    if (!stillCurrent(store, item)) return 'superseded';
    const { size, mtimeMs, inode, contentHash, blocks } = stable;
    // The pull's download, between its rename and its index commit: queued now, the other device's
    // bytes went up on this item's stale base, conflicted, and the next pull kept them as a conflict
    // copy named after this device (found by a new-user try; docs/conflict-rules.md, S9).
    const intent = store.index.getIntent(item.folderId, item.path);
    if (intent && intentMatch(intent, { size, inode, blocks }) === 'as placed') return 'placing';
    // The pull placed a newer revision here while this upload was on its way, and the file holds
    // exactly its bytes: the bytes this upload carried went to a conflict copy (U6, queued there).
    // Nothing of this device's is left at the path; queued again, the download's own bytes went up,
    // the server answered "same content", and Activity and the queue said "Uploaded" for a file
    // whose version here reached the server only as the copy (found by a new-user try). The pull
    // placed it when the index records other bytes than the item's at a revision, whatever base a
    // done answer rebased the item on (found by review; docs/conflict-rules.md, "unchanged").
    const synced = store.index.get(item.folderId, item.path);
    if (synced?.kind === 'file' && synced.syncedRevision !== null && (synced.syncedRevision !== item.baseRevision || synced.contentHash !== item.contentHash) && synced.contentHash === contentHash) return 'moot';
    store.paths.localChanged({ folderId: item.folderId, path: item.path, kind: 'file', size, mtimeMs, inode, contentHash, blocks }, currentBase(store, item));
    return 'requeued';
  });
}
