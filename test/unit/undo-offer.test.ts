import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { filesOf, UndoBatches } from '../../main/engine/folder/undo';
import { openStore } from '../../main/store';
import type { RestoreRemote } from '../../main/engine/history/restore-batch';
import { makeTempDir } from '../helpers/local-temp';

// The Undo banner names the batch's files as the guard counted them when it asked. Found by a new-user
// try: the guard asked about 10 files, the banner offered to undo the delete of 11 (the folder
// that held them). Refused: a folder of the batch counted as a file.
describe('the Undo offer counts files', () => {
  it('leaves out the folders that hold other paths of the batch', () => {
    expect(filesOf(['photos', 'photos/a.jpg', 'photos/trip', 'photos/trip/b.jpg', 'notes.txt'])).toEqual(['photos/a.jpg', 'photos/trip/b.jpg', 'notes.txt']);
    // A name that only starts like a folder's is no child of it.
    expect(filesOf(['a', 'a b', 'a.txt'])).toEqual(['a', 'a b', 'a.txt']);
    expect(filesOf([])).toEqual([]);
  });
});

// The banner counted every file of the batch, those here again too (noticed on a new-user try):
// Undo leaves a file made again, or restored already, as it is, so the offer says so.
describe('the Undo offer counts the files here again', () => {
  it('tells the files of the batch the index holds again from the ones still deleted', async () => {
    const temp = makeTempDir('ferry-undo-offer-');
    const store = openStore(path.join(temp.dir, 'state.db'));
    try {
      store.folders.add({ id: 'docs', localRoot: temp.dir, remoteId: 'docs' });
      const batches = new UndoBatches(store, 'docs');
      batches.record('pull', ['photos', 'photos/a.jpg', 'photos/b.jpg', 'notes.txt']);
      expect(batches.offer()).toMatchObject({ count: 3, back: 0 });
      store.index.putLocal({ folderId: 'docs', path: 'notes.txt', kind: 'file', size: 1, mtimeMs: 1, inode: 1, contentHash: 'h', blocks: ['b'] });
      // A folder of the batch here again is no file of it.
      store.index.putLocal({ folderId: 'docs', path: 'photos', kind: 'dir', size: 0, mtimeMs: 1, inode: 2, contentHash: null, blocks: null });
      const fresh = new UndoBatches(store, 'docs');
      expect(fresh.offer()).toMatchObject({ count: 3, back: 1 });

      // Every file here again: Undo says there is nothing to undo, as the banner does, and asks the server nothing.
      for (const [i, p] of ['photos/a.jpg', 'photos/b.jpg'].entries()) {
        store.index.putLocal({ folderId: 'docs', path: p, kind: 'file', size: 1, mtimeMs: 1, inode: 10 + i, contentHash: 'h', blocks: ['b'] });
      }
      const asked: string[] = [];
      const server = new Proxy({} as RestoreRemote, { get: (_, name) => () => Promise.reject(new Error(`asked the server: ${asked.push(String(name))}`)) });
      await expect(new UndoBatches(store, 'docs').undo(server, 'docs')).rejects.toMatchObject({
        code: 'nothing_to_undo',
        message: 'All 3 files of the last mass delete are here again (made again or restored since): there is nothing to undo',
      });
      expect(asked).toEqual([]);
      // Still offered, for Dismiss.
      expect(new UndoBatches(store, 'docs').offer()).toMatchObject({ count: 3, back: 3 });
    } finally {
      store.close();
      temp.cleanup();
    }
  });
});
