import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { explainPath, type WhyContext } from '../../main/engine/agent/why';
import { openStore, type Store } from '../../main/store';
import { makeTempDir } from '../helpers/local-temp';

// docs/architecture.md, "Why a path is not in sync": a folder held for the server's mass
// delete. A new user's try found `why` saying "not in sync" of a file the delete does not touch.
describe('why, while the server\'s mass delete waits for an answer', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let store: Store;
  let ctx: WhyContext;
  const synced = (name: string) => {
    writeFileSync(path.join(tmp.dir, name), name);
    const st = statSync(path.join(tmp.dir, name));
    store.index.putLocal({ folderId: 'f', path: name, kind: 'file', size: st.size, mtimeMs: st.mtimeMs, inode: st.ino, contentHash: 'h', blocks: ['h'] });
    store.index.setSyncedRevision('f', name, '7');
  };
  beforeEach(() => {
    tmp = makeTempDir();
    store = openStore(path.join(tmp.dir, '.state.db'));
    store.folders.add({ id: 'f', localRoot: tmp.dir, remoteId: 'f' });
    for (const name of ['a.txt', 'b.txt', 'c.txt', 'keep.txt']) synced(name);
    ctx = { store, ignoreRules: [], paused: false, linkProblem: null, now: Date.now() };
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  it('a file the question names is held; one it does not (it names them all) is in sync, the hold said beside it', () => {
    store.folders.pause('f', 'would delete 3 of 4', { side: 'pull', deletes: 3, files: 4, sample: ['a.txt', 'b.txt', 'c.txt'], devices: [] });
    expect(explainPath(ctx, 'f', 'a.txt')).toMatchObject({ inSync: false, reasons: [{ code: 'held', message: expect.stringContaining('answer the mass delete first') }] });
    expect(explainPath(ctx, 'f', 'keep.txt')).toMatchObject({
      inSync: true,
      reasons: [
        { code: 'in_sync', message: "In sync: this device has the server's revision 7" },
        { code: 'held', message: "The folder is paused for a mass delete of other files (3 of 4): the server's changes wait for your answer" },
      ],
    });
  });

  it('held by this computer: a file with nothing queued is in sync, the hold said beside it; one whose delete waits is held', () => {
    store.folders.pause('f', '3 of 4 disappeared', { side: 'scan', deletes: 3, files: 4 });
    store.paths.localGone({ folderId: 'f', path: 'a.txt', kind: 'file' }, '7');
    expect(explainPath(ctx, 'f', 'a.txt')).toMatchObject({
      inSync: false,
      reasons: [
        { code: 'held', message: expect.stringContaining('Its delete is held') },
        { code: 'pending', message: expect.stringMatching(/^Its delete is queued since .*, waiting for your answer to the bulk delete$/) },
      ],
    });
    expect(explainPath(ctx, 'f', 'keep.txt')).toMatchObject({
      inSync: true,
      reasons: [{ code: 'in_sync' }, { code: 'held', message: expect.stringContaining('a bulk delete of other files on this computer') }],
    });
  });

  it('when the question names only some of its files, no path can be said to be outside it', () => {
    store.folders.pause('f', 'would delete 30 of 40', { side: 'pull', deletes: 30, files: 40, sample: ['a.txt', 'b.txt'], devices: [] });
    expect(explainPath(ctx, 'f', 'keep.txt')).toMatchObject({ inSync: false, reasons: [{ code: 'held' }] });
  });
});

describe('why, on a store with one empty folder', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let store: Store;
  let ctx: WhyContext;
  beforeEach(() => {
    tmp = makeTempDir();
    store = openStore(path.join(tmp.dir, '.state.db'));
    store.folders.add({ id: 'f', localRoot: tmp.dir, remoteId: 'f' });
    ctx = { store, ignoreRules: [], paused: false, linkProblem: null, now: Date.now() };
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  // A queued change the claim holds back behind another (docs/conflict-rules.md, S23, S24, P7)
  // names that change, and says when it failed for good: it waited "for its turn" for ever.
  describe('why, for a change held behind another', () => {
    const pendingReason = (p: string) => explainPath(ctx, 'f', p).reasons.find((r) => r.code === 'pending')?.message;

    it('S23: a file that replaced a folder waits for the delete below it, and says when that delete failed', () => {
      store.paths.enqueue({ folderId: 'f', path: 'd/a.txt', kind: 'file', op: 'delete', baseRevision: '3', byUser: true });
      store.paths.enqueue({ folderId: 'f', path: 'd', kind: 'file', op: 'upsert', size: 1, mtimeMs: 1, contentHash: 'h', blocks: ['h'], baseRevision: '2' });
      store.paths.enqueue({ folderId: 'f', path: 'other.txt', kind: 'file', op: 'upsert', size: 1, mtimeMs: 1, contentHash: 'h', blocks: ['h'], baseRevision: null });
      expect(pendingReason('d')).toContain('waiting for the delete of d/a.txt to go first');
      expect(pendingReason('other.txt')).toContain('waiting for its turn');
      const [held] = store.queue.claim({ limit: 10 }).filter((i) => i.path === 'd/a.txt');
      expect(held).toBeDefined();
      store.queue.fail({ id: held!.id, generation: held!.generation, op: 'delete' }, { code: 'forbidden', message: 'not allowed' }, null);
      expect(pendingReason('d')).toContain('waiting for the delete of d/a.txt, which failed (forbidden: not allowed): Retry sends it again');
    });

    it('P7: what is below a folder move that has not landed waits for the move', () => {
      store.paths.enqueue({ folderId: 'f', path: 'new', kind: 'dir', op: 'upsert', mtimeMs: 1, baseRevision: '4', moveFrom: 'old' });
      store.paths.enqueue({ folderId: 'f', path: 'new/x.txt', kind: 'file', op: 'upsert', size: 1, mtimeMs: 1, contentHash: 'h', blocks: ['h'], baseRevision: null });
      expect(pendingReason('new/x.txt')).toContain('waiting for the move of old to new to go first');
      expect(pendingReason('new')).toContain('waiting for its turn');
    });
  });

  it('an upload taken to be sent while the server refuses this device waits for the server, and says so', () => {
    store.paths.enqueue({ folderId: 'f', path: 'held.txt', kind: 'file', op: 'upsert', size: 1, mtimeMs: 1, contentHash: 'h', blocks: ['h'], baseRevision: null });
    expect(store.queue.claim({ limit: 10 }).map((i) => i.path)).toEqual(['held.txt']);
    expect(explainPath(ctx, 'f', 'held.txt').reasons[0]).toEqual({ code: 'in_flight', message: 'Its upload is being sent now' });
    ctx = { ...ctx, linkProblem: 'This device was signed out of the sync server' };
    expect(explainPath(ctx, 'f', 'held.txt').reasons.map((r) => r.message)).toEqual([
      'Its upload waits for the server: it goes once the server can be reached and accepts this device',
      'This device was signed out of the sync server',
    ]);
  });

  // Chaos seed 60203 (--kinds): a synced file turned into a folder here, before the scan recorded
  // it, was said to be in sync with the file's revision.
  describe('why, for a path turned into the other kind before the scan saw it', () => {

    it('a synced file that is a folder on disk now is changed here, not in sync; and the other way round', () => {
      const abs = path.join(tmp.dir, 'README');
      writeFileSync(abs, 'text');
      const st = statSync(abs);
      store.index.putLocal({ folderId: 'f', path: 'README', kind: 'file', size: st.size, mtimeMs: st.mtimeMs, inode: st.ino, contentHash: 'h', blocks: ['h'] });
      store.index.setSyncedRevision('f', 'README', '64');
      expect(explainPath(ctx, 'f', 'README')).toMatchObject({ inSync: true });
      rmSync(abs);
      mkdirSync(abs);
      expect(explainPath(ctx, 'f', 'README')).toMatchObject({
        inSync: false,
        reasons: [{ code: 'changed_locally', message: 'A file when last synced, a folder on disk now: the next scan records the change' }],
      });
      const dir = path.join(tmp.dir, 'photos');
      mkdirSync(dir);
      store.index.putLocal({ folderId: 'f', path: 'photos', kind: 'dir', size: 0, mtimeMs: statSync(dir).mtimeMs, inode: statSync(dir).ino, contentHash: null, blocks: null });
      store.index.setSyncedRevision('f', 'photos', '13');
      rmSync(dir, { recursive: true });
      writeFileSync(dir, 'now a file');
      expect(explainPath(ctx, 'f', 'photos')).toMatchObject({ inSync: false, reasons: [{ code: 'changed_locally', message: expect.stringContaining('A folder when last synced, a file on disk now') }] });
    });
  });
});
