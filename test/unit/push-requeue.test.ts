import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashFile } from '../../main/engine/hashing';
import { rehashAndRequeue } from '../../main/engine/push/requeue';
import { openStore, type Store } from '../../main/store';
import { makeTempDir } from '../helpers/local-temp';

const F = 'f1';

// Found by the chaos harness, seed 2 (npm run chaos -- --seed 2 --ops 40): an upload was in
// flight (base revision 14) when the puller resolved a conflict on the same path: it moved the
// local bytes to a conflict copy and put revision 20 in place. The pusher saw the file change
// before its commit and queued it again — with the stale base 14. That upload of revision 20's
// own bytes then conflicted with the server (current 20) forever, every 60 s, and the agent
// never settled (queue never empty).
describe('rehashAndRequeue (a file changed between hashing and commit)', () => {
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

  it('chaos seed 2: queues the fresh snapshot on the revision the index synced since, not the stale base', async () => {
    const abs = path.join(tmp.dir, 'doc.txt');
    writeFileSync(abs, 'my local edit');
    store.paths.enqueue({ folderId: F, path: 'doc.txt', kind: 'file', op: 'upsert', size: 13, mtimeMs: 1, contentHash: 'old', blocks: ['b'], baseRevision: '14' });
    const [claimed] = store.queue.claim({ limit: 1 });
    expect(claimed?.baseRevision).toBe('14');

    // The puller applies revision 20 while the upload is in flight: new bytes on disk, index at 20;
    // the user then writes the file again before the pusher's last look.
    writeFileSync(abs, 'revision 20 from the other device');
    const pulled = await hashFile(abs);
    store.index.put({
      folderId: F, path: 'doc.txt', kind: 'file', size: pulled.size, mtimeMs: pulled.stat.mtimeMs, inode: pulled.stat.ino ?? null,
      contentHash: pulled.contentHash, blocks: pulled.blocks, syncedRevision: '20',
    });
    writeFileSync(abs, 'revision 20, edited here since');
    const edited = await hashFile(abs);

    expect(await rehashAndRequeue(store, abs, claimed!, Date.now())).toBe('requeued');
    const queued = store.queue.get(claimed!.id);
    expect(queued).toMatchObject({ op: 'upsert', state: 'pending', contentHash: edited.contentHash });
    expect(queued?.baseRevision).toBe('20');
    expect(store.index.get(F, 'doc.txt')?.syncedRevision).toBe('20');
  });

  // Found by a new-user try: two devices edited one file at about the same time. On the one that
  // lost, the pull kept its edit as a conflict copy and put the other device's version in place
  // while the edit's upload was on its way. The pusher found the file changed, queued the bytes
  // the pull had placed, and the server answered "same content": Activity and the queue said
  // "Uploaded doc.txt", though this device's version reached the server only as the copy.
  it('U6 while in flight: the bytes the pull placed are not queued again (moot: nothing to send)', async () => {
    const abs = path.join(tmp.dir, 'doc.txt');
    writeFileSync(abs, 'my local edit');
    store.paths.enqueue({ folderId: F, path: 'doc.txt', kind: 'file', op: 'upsert', size: 13, mtimeMs: 1, contentHash: 'old', blocks: ['b'], baseRevision: '14' });
    const [claimed] = store.queue.claim({ limit: 1 });

    writeFileSync(abs, 'revision 20 from the other device');
    const pulled = await hashFile(abs);
    store.index.put({
      folderId: F, path: 'doc.txt', kind: 'file', size: pulled.size, mtimeMs: pulled.stat.mtimeMs, inode: pulled.stat.ino ?? null,
      contentHash: pulled.contentHash, blocks: pulled.blocks, syncedRevision: '20',
    });

    expect(await rehashAndRequeue(store, abs, claimed!, Date.now())).toBe('moot');
    // Nothing queued on top of the generation in flight (the pusher lets go of it and drops the row).
    expect(store.queue.get(claimed!.id)).toMatchObject({ generation: claimed!.generation, contentHash: 'old' });
    expect(store.index.get(F, 'doc.txt')).toMatchObject({ syncedRevision: '20', contentHash: pulled.contentHash });
  });

  // Found by a new-user try (two devices writing shared.txt every 0.3 s): the pull renamed the other
  // device's version into place and had not committed its index row yet when the pusher found the
  // file changed. The bytes went up as this device's change on the stale base, conflicted, and the
  // next pull kept them as "shared (conflict from laptop-a …).txt": the other device's bytes under
  // this device's name.
  /** An upload of shared.txt in flight, and the pull's steps up to its rename: the intent, then the other device's bytes at the path. */
  async function placedWhileInFlight() {
    const abs = path.join(tmp.dir, 'shared.txt');
    writeFileSync(abs, 'my local edit');
    store.paths.enqueue({ folderId: F, path: 'shared.txt', kind: 'file', op: 'upsert', size: 13, mtimeMs: 1, contentHash: 'old', blocks: ['b'], baseRevision: '14' });
    const [claimed] = store.queue.claim({ limit: 1 });
    writeFileSync(abs, 'revision 20 from the other device');
    const pulled = await hashFile(abs);
    store.index.putIntent({ folderId: F, path: 'shared.txt', revision: '20', size: pulled.size, contentHash: pulled.contentHash, blocks: pulled.blocks, inode: pulled.stat.ino ?? null });
    return { abs, claimed, pulled };
  }

  it('S9: a download renamed into place and not recorded yet is not queued as this device\'s change', async () => {
    const { abs, claimed, pulled } = await placedWhileInFlight();
    expect(await rehashAndRequeue(store, abs, claimed!, Date.now())).toBe('placing');
    // Refused: nothing queued on top of the generation in flight, the index untouched.
    expect(store.queue.get(claimed!.id)).toMatchObject({ generation: claimed!.generation, contentHash: 'old' });
    expect(store.index.get(F, 'shared.txt')).toBeUndefined();

    // Recorded by the pull, the bytes are its own: nothing to send.
    store.transaction(() => {
      store.index.removeIntent(F, 'shared.txt');
      store.index.put({ folderId: F, path: 'shared.txt', kind: 'file', size: pulled.size, mtimeMs: pulled.stat.mtimeMs, inode: pulled.stat.ino ?? null, contentHash: pulled.contentHash, blocks: pulled.blocks, syncedRevision: '20' });
    });
    expect(await rehashAndRequeue(store, abs, claimed!, Date.now())).toBe('moot');
  });

  it('S9: a file written here after the download was placed is this device\'s change, intent or not', async () => {
    const { abs, claimed } = await placedWhileInFlight();
    writeFileSync(abs, 'written here after it landed');
    const edited = await hashFile(abs);

    expect(await rehashAndRequeue(store, abs, claimed!, Date.now())).toBe('requeued');
    expect(store.queue.getByPath(F, 'shared.txt')).toMatchObject({ op: 'upsert', contentHash: edited.contentHash });
  });

  it('a file put back to the synced bytes during its upload, with nothing pulled since, still goes up on its base', async () => {
    const abs = path.join(tmp.dir, 'back.txt');
    writeFileSync(abs, 'synced');
    const synced = await hashFile(abs);
    // The edit as the scanner records it: the index row and the queue row together, on revision 3.
    store.index.put({ folderId: F, path: 'back.txt', kind: 'file', size: 4, mtimeMs: 2, inode: null, contentHash: 'edit', blocks: ['e'], syncedRevision: '3' });
    store.paths.enqueue({ folderId: F, path: 'back.txt', kind: 'file', op: 'upsert', size: 4, mtimeMs: 2, contentHash: 'edit', blocks: ['e'], baseRevision: '3' });
    const [claimed] = store.queue.claim({ limit: 1 });
    expect(await rehashAndRequeue(store, abs, claimed!, Date.now())).toBe('requeued');
    expect(store.queue.get(claimed!.id)).toMatchObject({ contentHash: synced.contentHash, baseRevision: '3', generation: claimed!.generation + 1 });
  });

  // Found by review: a done answer rebased what waited behind it on the revision the pull had
  // recorded (its bytes moved to a copy while in flight); sent, the pull's bytes went up as this
  // device's "Uploaded" change, since the base no longer told the two apart.
  it('the bytes the pull recorded, found on an item rebased on their revision, are nothing to send (moot)', async () => {
    const { abs, claimed, pulled } = await placedWhileInFlight();
    store.transaction(() => {
      store.index.removeIntent(F, 'shared.txt');
      store.index.put({ folderId: F, path: 'shared.txt', kind: 'file', size: pulled.size, mtimeMs: pulled.stat.mtimeMs, inode: pulled.stat.ino ?? null, contentHash: pulled.contentHash, blocks: pulled.blocks, syncedRevision: '20' });
    });
    expect(await rehashAndRequeue(store, abs, { ...claimed!, baseRevision: '20' }, Date.now())).toBe('moot');
  });

  it('keeps the item\'s base when nothing was synced since (a user edit during the upload)', async () => {
    const abs = path.join(tmp.dir, 'new.txt');
    writeFileSync(abs, 'first');
    store.paths.enqueue({ folderId: F, path: 'new.txt', kind: 'file', op: 'upsert', size: 5, mtimeMs: 1, contentHash: 'h', blocks: ['b'], baseRevision: null });
    const [claimed] = store.queue.claim({ limit: 1 });
    writeFileSync(abs, 'second, longer');
    expect(await rehashAndRequeue(store, abs, claimed!, Date.now())).toBe('requeued');
    expect(store.queue.get(claimed!.id)).toMatchObject({ baseRevision: null, size: 14 });
  });

  // Chaos seed 1 (npm run chaos -- --seed 1 --ops 60 --devices 3): an upload (base 41) was in
  // flight when the puller put revision 44 in place and the user then renamed the file away. The
  // scanner saw it go and queued a delete on 44; the pusher, finding the file gone, queued a
  // delete on its own stale base 41 over it. That delete conflicted at every recheck (the server
  // holds 44, which the pull had already applied) and the agents never settled.
  it('chaos seed 1: leaves a newer change of the path alone (the scanner\'s delete on the synced revision)', async () => {
    const abs = path.join(tmp.dir, 'gone.pdf');
    writeFileSync(abs, 'v41 plus an edit');
    store.paths.enqueue({ folderId: F, path: 'gone.pdf', kind: 'file', op: 'upsert', size: 16, mtimeMs: 1, contentHash: 'h', blocks: ['b'], baseRevision: '41' });
    const [claimed] = store.queue.claim({ limit: 1 });
    // The scanner: the file is gone; its index row (synced 44 by the puller) goes, a delete on 44 is queued.
    store.paths.enqueue({ folderId: F, path: 'gone.pdf', kind: 'file', op: 'delete', baseRevision: '44' });

    expect(await rehashAndRequeue(store, abs + '.moved-away', claimed!, Date.now())).toBe('superseded');
    expect(store.queue.get(claimed!.id)).toMatchObject({ op: 'delete', baseRevision: '44' });
  });

  // Chaos seed 3 (npm run chaos -- --seed 3 --ops 60 --devices 3, a CI run): a file kept after
  // another device deleted it (D5: base null) was being uploaded when the user renamed its folder.
  // The pusher found it gone and queued a delete, which had nothing to delete and was done at
  // once, but the index row stayed: the folder rename then carried it as a known file, and the
  // file at its new name never went up. Refused now: the row goes with the delete.
  it('S9, chaos seed 3: a file gone before its commit leaves the index, as the scanner records a deletion', async () => {
    const abs = path.join(tmp.dir, 'kept.txt');
    writeFileSync(abs, 'kept after a remote delete');
    const kept = await hashFile(abs);
    store.index.putLocal({ folderId: F, path: 'kept.txt', kind: 'file', size: kept.size, mtimeMs: kept.stat.mtimeMs, inode: kept.stat.ino ?? null, contentHash: kept.contentHash, blocks: kept.blocks });
    store.paths.enqueue({ folderId: F, path: 'kept.txt', kind: 'file', op: 'upsert', size: kept.size, mtimeMs: 1, contentHash: kept.contentHash, blocks: kept.blocks, baseRevision: null });
    const [claimed] = store.queue.claim({ limit: 1 });

    expect(await rehashAndRequeue(store, abs + '.renamed-away', claimed!, Date.now())).toBe('requeued');
    expect(store.queue.get(claimed!.id)).toMatchObject({ op: 'delete', baseRevision: null });
    expect(store.index.get(F, 'kept.txt')).toBeUndefined();
  });

  // Found by review: recorded here, a synced file's delete bypassed the mass-delete guard and
  // went out while the user's bulk delete it belonged to was held; a cancel could not undo it.
  it('S9: a synced file gone before its commit is left to the scan: no delete queued here, the index row kept', async () => {
    const abs = path.join(tmp.dir, 'synced.txt');
    store.index.put({ folderId: F, path: 'synced.txt', kind: 'file', size: 3, mtimeMs: 1, inode: null, contentHash: 'h', blocks: ['b'], syncedRevision: '9' });
    store.paths.enqueue({ folderId: F, path: 'synced.txt', kind: 'file', op: 'upsert', size: 4, mtimeMs: 2, contentHash: 'h2', blocks: ['c'], baseRevision: '9' });
    const [claimed] = store.queue.claim({ limit: 1 });
    expect(await rehashAndRequeue(store, abs, claimed!, Date.now())).toBe('gone');
    expect(store.queue.get(claimed!.id)).toMatchObject({ op: 'upsert', generation: claimed!.generation });
    expect(store.index.get(F, 'synced.txt')).toMatchObject({ syncedRevision: '9' });
  });

  it('leaves a newer upload of the path alone when the file changed again', async () => {
    const abs = path.join(tmp.dir, 'busy.txt');
    writeFileSync(abs, 'one');
    store.paths.enqueue({ folderId: F, path: 'busy.txt', kind: 'file', op: 'upsert', size: 3, mtimeMs: 1, contentHash: 'h1', blocks: ['b'], baseRevision: '7' });
    const [claimed] = store.queue.claim({ limit: 1 });
    writeFileSync(abs, 'two, longer');
    store.paths.enqueue({ folderId: F, path: 'busy.txt', kind: 'file', op: 'upsert', size: 11, mtimeMs: 2, contentHash: 'h2', blocks: ['c'], baseRevision: '7' });
    expect(await rehashAndRequeue(store, abs, claimed!, Date.now())).toBe('superseded');
    expect(store.queue.get(claimed!.id)).toMatchObject({ contentHash: 'h2', generation: claimed!.generation + 1 });
  });

  // Chaos seed 11583: the re-read of a file that changed before its commit found it empty, just
  // truncated by a write whose bytes were on their way. Queued, that empty version met another
  // device's edit that emptied the file: the server answered "same content" with it, and the
  // write that followed replaced both with no conflict copy (docs/conflict-rules.md, "caught being
  // written"). Refused: an empty file under a second old is looked at again, not queued.
  it('chaos seed 11583: an empty file just truncated is not queued until it has stayed empty for a second', async () => {
    const abs = path.join(tmp.dir, 'being-written.log');
    writeFileSync(abs, 'first bytes');
    store.paths.enqueue({ folderId: F, path: 'being-written.log', kind: 'file', op: 'upsert', size: 11, mtimeMs: 1, contentHash: 'h1', blocks: ['b'], baseRevision: '5' });
    const [claimed] = store.queue.claim({ limit: 1 });
    writeFileSync(abs, '');
    const { mtimeMs } = statSync(abs);

    expect(await rehashAndRequeue(store, abs, claimed!, mtimeMs + 10)).toBe('unstable');
    expect(store.queue.get(claimed!.id)).toMatchObject({ size: 11, contentHash: 'h1' });

    expect(await rehashAndRequeue(store, abs, claimed!, mtimeMs + 1000)).toBe('requeued');
    expect(store.queue.get(claimed!.id)).toMatchObject({ op: 'upsert', size: 0, baseRevision: '5' });
  });
});
