import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { carriedByOwnMove } from '../../main/engine/pull/store-port';
import { openStore, type Store } from '../../main/store';
import type { Change } from '../../main/store/queue';
import { makeTempDir } from '../helpers/local-temp';

const F = 'f1';
const dirMove = (from: string, to: string, baseRevision: string): Change => ({ folderId: F, path: to, kind: 'dir', op: 'upsert', baseRevision, moveFrom: from });
const entry = (p: string, movedFrom: string) => ({ path: p, movedFrom, deleted: false, kind: 'file' as const });

// O4 (docs/conflict-rules.md): which entries a folder move of this device's, in flight, carried.
describe('carriedByOwnMove', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let store: Store;
  beforeEach(() => {
    tmp = makeTempDir();
    store = openStore(path.join(tmp.dir, 'state.db'));
    store.folders.add({ id: F, localRoot: tmp.dir, remoteId: 'r1' });
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  it('names an entry below the old path that lands where the move in flight takes it', () => {
    store.paths.enqueue(dirMove('b', 'B', 'r5'));
    expect(carriedByOwnMove(store, F, entry('B/Ärger/x.jpg', 'b/Ärger/x.jpg'))).toBe(false); // queued, not sent: no answer to wait for
    expect(store.queue.claim({ limit: 10 }).map((i) => i.path)).toEqual(['B']);
    expect(carriedByOwnMove(store, F, entry('B/Ärger/x.jpg', 'b/Ärger/x.jpg'))).toBe(true);
    // Not what this move did: another target, another source, the folder itself, a delete.
    expect(carriedByOwnMove(store, F, entry('C/Ärger/x.jpg', 'b/Ärger/x.jpg'))).toBe(false);
    expect(carriedByOwnMove(store, F, entry('B/x.jpg', 'c/x.jpg'))).toBe(false);
    expect(carriedByOwnMove(store, F, entry('B', 'b'))).toBe(false);
    expect(carriedByOwnMove(store, F, { ...entry('B/x.jpg', 'b/x.jpg'), deleted: true })).toBe(false);
    expect(carriedByOwnMove(store, F, { path: 'B/x.jpg', deleted: false })).toBe(false);
  });

  it('looks past a move of a folder inside, queued behind the one in flight', () => {
    store.paths.enqueue(dirMove('b', 'B', 'r5'));
    expect(store.queue.claim({ limit: 10 }).map((i) => i.path)).toEqual(['B']);
    store.paths.enqueue(dirMove('b/c', 'X', 'r6'));
    expect(store.queue.movingAway(F, 'b/c/x.jpg')?.path).toBe('X');
    expect(carriedByOwnMove(store, F, entry('B/c/x.jpg', 'b/c/x.jpg'))).toBe(true);
  });
});
