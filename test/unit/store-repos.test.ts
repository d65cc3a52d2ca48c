import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../main/store';
import { makeTempDir, manualClock } from '../helpers/local-temp';

const F = 'f1';

describe('store repositories', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  beforeEach(() => {
    tmp = makeTempDir();
    clock = manualClock();
    store = openStore(path.join(tmp.dir, 'state.db'), { clock: clock.now, activityLimit: 50 });
    store.folders.add({ id: F, localRoot: tmp.dir, remoteId: 'r1' });
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  it('folders carry state, error and pause reason', () => {
    expect(store.folders.get(F)).toMatchObject({ state: 'ok', markerId: null, remoteId: 'r1' });
    store.folders.setMarkerId(F, 'm-1');
    store.folders.setError(F, 'folder_marker_missing', 'gone');
    expect(store.folders.require(F)).toMatchObject({ state: 'error', errorCode: 'folder_marker_missing', markerId: 'm-1' });
    store.folders.pause(F, 'would delete 900 files');
    expect(store.folders.require(F)).toMatchObject({ state: 'paused_mass_delete', pausedReason: 'would delete 900 files', errorCode: null });
    store.folders.setOk(F);
    expect(store.folders.list().map((f) => f.state)).toEqual(['ok']);
    expect(() => store.folders.require('nope')).toThrow(/No folder/);
  });

  it('the file index keeps the synced revision across local updates and lists subtrees', () => {
    const base = { folderId: F, kind: 'file' as const, size: 3, mtimeMs: 1.5, inode: 7, contentHash: 'h', blocks: ['b1'] };
    store.index.putLocal({ ...base, path: 'a/b.txt' });
    store.index.putLocal({ ...base, path: 'a/c/d.txt' });
    store.index.putLocal({ ...base, path: 'a0.txt' });
    store.index.putLocal({ ...base, path: 'a', kind: 'dir', size: 0, contentHash: null, blocks: null });
    store.index.setSyncedRevision(F, 'a/b.txt', 'r1');
    store.index.putLocal({ ...base, path: 'a/b.txt', size: 4 });
    expect(store.index.get(F, 'a/b.txt')).toMatchObject({ size: 4, mtimeMs: 1.5, syncedRevision: 'r1', blocks: ['b1'] });
    expect(store.index.listUnder(F, 'a').map((e) => e.path)).toEqual(['a/c/d.txt', 'a/b.txt']);
    expect(store.index.snapshot(F).get('a/b.txt')).toEqual({ kind: 'file', size: 4, mtimeMs: 1.5, inode: 7 });
    const paged = [...store.index.snapshotPage(F, '', 2), ...store.index.snapshotPage(F, 'a/b.txt', 10)].map(([p]) => p);
    expect(paged).toEqual(['a', 'a/b.txt', 'a/c/d.txt', 'a0.txt']);
    store.index.put({ ...base, path: 'pulled.txt', syncedRevision: 'r9' });
    expect(store.index.get(F, 'pulled.txt')?.syncedRevision).toBe('r9');
    store.index.remove(F, 'a0.txt');
    expect(store.index.count(F)).toBe(4);
  });

  // A directory move's entries take their revisions, and lose their download intents, in one
  // statement each (docs/conflict-rules.md, MD1): exactly the paths listed, whatever they spell.
  it('sets many synced revisions and drops many intents at once, touching only the paths listed', () => {
    const base = { folderId: F, kind: 'file' as const, size: 3, mtimeMs: 1.5, inode: 7, contentHash: 'h', blocks: ['b1'], syncedRevision: 'r0' };
    const paths = ['d/a.txt', 'd/Ärger "quoted".txt', 'd/😀/x.txt', 'd/sub'];
    for (const p of [...paths, 'd0.txt', 'e/a.txt']) store.index.put({ ...base, path: p });
    for (const p of ['d/a.txt', 'd/😀/x.txt', 'e/a.txt']) store.index.putIntent({ folderId: F, path: p, revision: 'r0', size: 3, contentHash: 'h', blocks: ['b1'], inode: null });
    clock.advance(1000);
    store.index.setSyncedRevisions(F, paths.map((p, i) => [p, `r${i + 1}`] as const));
    store.index.removeIntents(F, ['d/a.txt', 'd/😀/x.txt', 'not/indexed.txt']);
    expect(paths.map((p) => store.index.get(F, p)?.syncedRevision)).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(store.index.get(F, 'd/a.txt')?.updatedAt).toBe(clock.now());
    expect(['d0.txt', 'e/a.txt'].map((p) => store.index.get(F, p)?.syncedRevision)).toEqual(['r0', 'r0']);
    expect(['d/a.txt', 'd/😀/x.txt', 'e/a.txt'].map((p) => store.index.getIntent(F, p)?.revision ?? null)).toEqual([null, null, 'r0']);
    // Empty lists change nothing.
    store.index.setSyncedRevisions(F, []);
    store.index.removeIntents(F, []);
    expect(store.index.get(F, 'd/sub')?.syncedRevision).toBe('r4');
  });

  it('async tasks persist with their items and go when removed', () => {
    store.tasks.add({ taskId: 't1', folderId: F, trackingId: 'tr-1', items: [{ opKey: 'k1', queueId: 3, generation: 2, path: 'p' }] });
    expect(store.tasks.list(F)).toEqual([
      { taskId: 't1', folderId: F, trackingId: 'tr-1', createdAt: clock.now(), items: [{ opKey: 'k1', queueId: 3, generation: 2, path: 'p' }] },
    ]);
    store.tasks.remove('t1');
    expect(store.tasks.get('t1')).toBeUndefined();
  });

  it('sync tokens are per folder and can be cleared', () => {
    store.tokens.set(F, 'tok-1');
    store.tokens.set(F, 'tok-2');
    expect(store.tokens.get(F)).toBe('tok-2');
    store.tokens.clear(F);
    expect(store.tokens.get(F)).toBeUndefined();
  });

  it('conflicts are recorded and resolved', () => {
    const c = store.conflicts.record({ folderId: F, path: 'a.txt', copyPath: 'a (conflict from pc 2024-01-01 000000).txt', device: 'pc' });
    expect(store.conflicts.countOpen(F)).toBe(1);
    expect(store.conflicts.resolve(c.id)).toBe(true);
    expect(store.conflicts.resolve(c.id)).toBe(false);
    expect(store.conflicts.listOpen()).toEqual([]);
  });

  it('activity entries written together are one transaction: all or none', () => {
    store.activity.addMany([
      { folderId: F, kind: 'downloaded', path: 'a', message: 'Downloaded' },
      { folderId: F, kind: 'downloaded', path: 'b', message: 'Downloaded' },
    ]);
    expect(store.activity.recent().map((e) => e.path)).toEqual(['b', 'a']);
    // A line that breaks the table's NOT NULL kind takes the whole group back.
    expect(() => store.activity.addMany([{ folderId: F, kind: 'downloaded', path: 'c', message: 'Downloaded' }, { folderId: F, kind: null as unknown as string, message: 'broken' }])).toThrow();
    expect(store.activity.count()).toBe(2);
  });

  it('the activity log is trimmed to its bound, newest first', () => {
    for (let i = 0; i < 200; i++) store.activity.add({ folderId: F, kind: 'note', path: `p${i}`, message: `m${i}` });
    expect(store.activity.count()).toBeLessThanOrEqual(55);
    expect(store.activity.recent({ limit: 2 }).map((e) => e.message)).toEqual(['m199', 'm198']);
  });

  it('settings are a key/value table', () => {
    store.settings.set('device_id', 'd1');
    store.settings.set('device_id', 'd2');
    expect(store.settings.get('device_id')).toBe('d2');
    store.settings.delete('device_id');
    expect(store.settings.get('device_id')).toBeUndefined();
  });

  it('removing a folder removes its index and queue rows', () => {
    store.index.putLocal({ folderId: F, path: 'x', kind: 'dir', size: 0, mtimeMs: 0, inode: null, contentHash: null, blocks: null });
    store.paths.enqueue({ folderId: F, path: 'x', kind: 'dir', op: 'upsert', baseRevision: null });
    store.folders.remove(F);
    expect(store.index.count(F)).toBe(0);
    expect(store.queue.list().items).toEqual([]);
  });
});
