import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropQueued } from '../../main/engine/pull/store-port';
import { openStore, type Store } from '../../main/store';
import { makeTempDir } from '../helpers/local-temp';

const L = ['a'.repeat(64)];
const R = ['b'.repeat(64)];

// Chaos seed 4: a pull that moved the local bytes to a conflict copy must also drop their
// upload still queued at the original path (parked by the pusher after the server said
// `conflict`), or it conflicts again at every recheck.
describe('dropQueued after a conflict copy', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  function parkedUpload(): Store {
    const tmp = makeTempDir('ferry-drop-queued-');
    const store = openStore(path.join(tmp.dir, 'state.db'));
    cleanups.push(() => store.close(), tmp.cleanup);
    store.folders.add({ id: 'f', localRoot: tmp.dir, remoteId: 'f' });
    store.paths.enqueue({ folderId: 'f', path: 'doc.txt', kind: 'file', op: 'upsert', size: 1, mtimeMs: 1, blocks: L, baseRevision: '1' });
    const [claimed] = store.queue.claim({ limit: 1 });
    store.queue.fail(claimed!, { code: 'conflict', message: 'stale base' }, Date.now() + 60_000);
    expect(store.queue.getByPath('f', 'doc.txt')?.state).toBe('retry_wait');
    return store;
  }

  it('drops the parked upload of the bytes that moved to the copy', () => {
    const store = parkedUpload();
    expect(dropQueued(store, 'f', 'doc.txt', null, R, L)).toBe(true);
    expect(store.queue.getByPath('f', 'doc.txt')).toBeUndefined();
  });

  it('keeps a queued change that is neither the moved bytes nor the written ones', () => {
    const store = parkedUpload();
    expect(dropQueued(store, 'f', 'doc.txt', null, R, ['c'.repeat(64)])).toBe(false);
    expect(dropQueued(store, 'f', 'doc.txt', null, R)).toBe(false);
    expect(store.queue.getByPath('f', 'doc.txt')?.blocks).toEqual(L);
  });
});
