import { existsSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { BLOCK_SIZE } from '../../protocol/constants';
import type { OperationInput } from '../../protocol';
import { dirSyncer } from '../../main/engine/pull/applier';
import { sha, usePullRig, type Agent, type Writer } from './pull-harness';

// Remote moves on pull (docs/conflict-rules.md, "Moves and renames", M1-M3): real server,
// real folders, real SQLite. Block requests are counted on the puller's own client.
describe('pull: remote moves against the real server', () => {
  const rig = usePullRig();

  async function submit(writer: Writer, ops: OperationInput[]): Promise<Record<string, string>> {
    const reply = await writer.client.submitBatch(writer.remoteId, ops);
    if (!('results' in reply)) throw new Error('expected a sync reply');
    const out: Record<string, string> = {};
    for (const op of ops) {
      const r = reply.results[op.key];
      if (!r?.ok) throw new Error(`${op.action} ${op.path} failed: ${JSON.stringify(r)}`);
      out[op.path] = r.revision;
    }
    return out;
  }

  /** Device A moves a file or a directory (its subtree keeps its revisions map up to date). */
  async function move(writer: Writer, from: string, to: string): Promise<string> {
    const base = writer.revisions.get(from);
    if (!base) throw new Error(`no revision for ${from}`);
    const revision = (await submit(writer, [{ key: `mv-${from}`, action: 'move', from, path: to, baseRevision: base }]))[to]!;
    // Every new path of the subtree has a new revision: read them back from the feed.
    for (const p of [...writer.revisions.keys()]) if (p === from || p.startsWith(`${from}/`)) writer.revisions.delete(p);
    const all = await writer.client.changesPage(writer.remoteId, { limit: 10000 });
    for (const item of all.items) if (!item.deleted) writer.revisions.set(item.path, item.revision);
    return revision;
  }

  async function mkdir(writer: Writer, p: string): Promise<void> {
    const rev = (await submit(writer, [{ key: `d-${p}`, action: 'upsert', kind: 'dir', path: p, mtime: 1_700_000_000_000, baseRevision: null }]))[p]!;
    writer.revisions.set(p, rev);
  }

  /** Counts the block hashes the agent asks the server for (single GETs and batch fetches). */
  function countBlocks(a: Agent): { hashes: string[] } {
    const seen = { hashes: [] as string[] };
    const getBlock = a.client.getBlock.bind(a.client);
    const fetchBlocks = a.client.fetchBlocks.bind(a.client);
    vi.spyOn(a.client, 'getBlock').mockImplementation((hash, options) => {
      seen.hashes.push(hash);
      return getBlock(hash, options);
    });
    vi.spyOn(a.client, 'fetchBlocks').mockImplementation((hashes, options) => {
      seen.hashes.push(...hashes);
      return fetchBlocks(hashes, options);
    });
    return seen;
  }

  it('MD1: a moved folder is renamed here in one rename, keeping its inode and its files\' inodes, with no block downloaded and nothing queued', async () => {
    const writer = await rig.start();
    await mkdir(writer, 'photos');
    await writer.commit({ 'photos/a.txt': 'alpha', 'photos/2024/b.txt': 'beta', 'other.txt': 'stays' });
    const b = rig.device('b');
    await b.puller.pullNow('fb');
    const inode = statSync(b.folder.abs('photos/a.txt')).ino;
    const dirInode = statSync(b.folder.abs('photos')).ino;
    const blocks = countBlocks(b);
    const rules = appliedRules(b);

    await move(writer, 'photos', 'archive/photos');
    const summary = await b.puller.pullNow('fb');

    // One rename of the folder (a file-by-file move makes a new folder and renames each file).
    expect(rules).toEqual(['archive/photos MD1']);
    expect(statSync(b.folder.abs('archive/photos')).ino).toBe(dirInode);

    expect(summary).toMatchObject({ moved: 2, downloaded: 0, conflicts: 0, paused: false, tokenStored: true });
    expect(blocks.hashes).toEqual([]);
    expect(b.tree()).toEqual({ 'archive/photos/a.txt': 'alpha', 'archive/photos/2024/b.txt': 'beta', 'other.txt': 'stays' });
    expect(existsSync(b.folder.abs('photos'))).toBe(false);
    expect(statSync(b.folder.abs('archive/photos/a.txt')).ino).toBe(inode);
    const row = b.folder.store.index.get('fb', 'archive/photos/a.txt');
    expect(row?.syncedRevision).toBe(writer.revisions.get('archive/photos/a.txt'));
    expect(b.folder.store.index.get('fb', 'photos/a.txt')).toBeUndefined();
    expect(b.folder.store.index.get('fb', 'archive/photos')?.syncedRevision).toBe(writer.revisions.get('archive/photos'));
    // The scanner finds nothing to send back: the index matches the disk.
    await b.scanner.reconcile();
    expect(b.folder.pendingOps()).toEqual({});
    // Activity says where it came from (a new user's try could not tell a rename from a new folder).
    expect(b.folder.store.activity.recent({ kind: 'moved_remote' }).map((e) => `${e.path}: ${e.message}`)).toEqual(['archive/photos: Moved here from photos: device-a moved it']);
  });

  it('MD0: a folder move read again (its token never stored) is here already: settled at once, nothing looked at path by path', async () => {
    const { writer, b } = await movedFolderOnB({ 'photos/a.txt': 'alpha', 'photos/2024/b.txt': 'beta' }, 'photos');
    const token = b.folder.store.tokens.get('fb')!;
    await move(writer, 'photos', 'archive/photos');
    expect(await b.puller.pullNow('fb')).toMatchObject({ moved: 2 });
    b.folder.store.tokens.set('fb', token);
    const applied: string[] = [];
    b.puller.events.on('applied', (e) => applied.push(`${e.path} ${e.action} ${e.rule}`));
    const again = await b.puller.pullNow('fb');
    // Path by path the tombstones of the old names would each be recorded (D2).
    expect(applied).toEqual([]);
    expect(again).toMatchObject({ moved: 0, recorded: 0, downloaded: 0, deleted: 0, tokenStored: true });
    expect(b.tree()).toEqual({ 'archive/photos/a.txt': 'alpha', 'archive/photos/2024/b.txt': 'beta' });
  });

  it('a moved folder holding every file is a move, never a mass delete', async () => {
    const writer = await rig.start();
    await mkdir(writer, 'all');
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`all/f${i}.txt`] = `file ${i}`;
    await writer.commit(files);
    const b = rig.device('b');
    await b.puller.pullNow('fb');
    await move(writer, 'all', 'everything');
    const summary = await b.puller.pullNow('fb');
    expect(summary).toMatchObject({ paused: false, moved: 20, downloaded: 0, deleted: 0 });
    expect(Object.keys(b.tree())).toHaveLength(20);
    expect(b.read('everything/f7.txt')).toBe('file 7');
  });

  /** The rules of the moves and deletes the pull applies, as 'path RULE'. */
  function appliedRules(a: Agent): string[] {
    const rules: string[] = [];
    a.puller.events.on('applied', (e) => {
      if (e.action === 'moved' || e.action === 'deleted') rules.push(`${e.path} ${e.rule}`);
    });
    return rules;
  }

  it('M2 and a folder with unsynced changes: the edit follows the moved file, a file the server never saw stays and is kept', async () => {
    const { writer, b } = await movedFolderOnB({ 'src/edited.txt': 'v1', 'src/same.txt': 'same' });
    b.folder.write('src/edited.txt', 'v2 written on b');
    b.folder.write('src/new-here.txt', 'only on b');

    await move(writer, 'src', 'dst');
    const summary = await b.puller.pullNow('fb');

    expect(summary).toMatchObject({ moved: 2, downloaded: 0, conflicts: 0 });
    expect(b.read('dst/edited.txt')).toBe('v2 written on b');
    expect(b.read('dst/same.txt')).toBe('same');
    // Never seen by the server: not moved, kept where it is with its folder (DD5).
    expect(b.read('src/new-here.txt')).toBe('only on b');
    const queued = b.folder.store.queue.getByPath('fb', 'dst/edited.txt');
    expect(queued).toMatchObject({ op: 'upsert', baseRevision: writer.revisions.get('dst/edited.txt') });
    expect(b.folder.store.queue.getByPath('fb', 'src/edited.txt')?.state ?? 'none').not.toBe('pending');
    expect(b.folder.pendingOps()).toMatchObject({ 'dst/edited.txt': 'file:upsert', src: 'dir:upsert' });
  });

  // MD2-MD6 (docs/conflict-rules.md, "A moved directory in one rename"): each case below is
  // refused the one rename of the folder, falls back to the file-by-file pairing and loses nothing.
  /** The folder `dir` holding `files` on the server, pulled by B (the folder A is about to move). */
  async function movedFolderOnB(files: Record<string, string>, dir = 'src') {
    const writer = await rig.start();
    await mkdir(writer, dir);
    await writer.commit(files);
    const b = rig.device('b');
    await b.puller.pullNow('fb');
    return { writer, b, dirInode: statSync(b.folder.abs(dir)).ino, rules: appliedRules(b) };
  }

  // P10 (chaos seeds 8219 --gc, 10035): b renamed src to dst, and the move has not gone yet
  // when another device's dst/x.txt, created and deleted again, arrives as a deletion. The index
  // row b's rename carried holds src/x.txt's revision: taken as dst/x.txt's, b's file looked
  // "unchanged since sync" and was deleted here (D4), and then src/x.txt went on the server too.
  // It is b's file, never synced at dst: it stays and goes up (D3).
  it('P10: another device\'s deletion at a name this device renamed a folder to, before the move went: the moved file is kept', async () => {
    const { writer, b } = await movedFolderOnB({ 'src/x.txt': 'mine' });
    renameSync(b.folder.abs('src'), b.folder.abs('dst'));
    await b.scanner.scanPaths(['dst', 'src'], false);
    expect(b.folder.store.queue.getByPath('fb', 'dst')).toMatchObject({ moveFrom: 'src', state: 'pending' });
    await mkdir(writer, 'dst');
    await writer.commit({ 'dst/x.txt': 'theirs' });
    await writer.commit({ 'dst/x.txt': null });
    await b.puller.pullNow('fb');
    expect(b.read('dst/x.txt')).toBe('mine');
  });

  // Chaos seed 13540: b renamed a folder, the move failed on the network, and the next pull was a
  // full sync. The listing has no dst/x.txt yet (the move has not gone), and the reconcile took that
  // for a remote delete: the file was kept and queued as a new upload (D3), which wiped the old name
  // and revision the index row carried. When the move was undone later (another device made dst),
  // src/x.txt was never deleted on the server and its folders' deletes conflicted for ever.
  it('chaos seed 13540: a full sync leaves the entries a folder move not yet sent carried alone', async () => {
    const { b } = await movedFolderOnB({ 'src/x.txt': 'mine', 'src/y.txt': 'also mine' });
    const synced = b.folder.store.index.get('fb', 'src/x.txt')!.syncedRevision;
    renameSync(b.folder.abs('src'), b.folder.abs('dst'));
    await b.scanner.scanPaths(['dst', 'src'], false);
    expect(b.folder.store.queue.getByPath('fb', 'dst')).toMatchObject({ moveFrom: 'src', state: 'pending' });
    b.folder.store.tokens.clear('fb');

    const summary = await b.puller.pullNow('fb');

    expect(summary).toMatchObject({ reuploaded: 0, deleted: 0, downloaded: 0 });
    expect(b.folder.store.index.get('fb', 'dst/x.txt')).toMatchObject({ moveFrom: 'src/x.txt', moveBase: synced, syncedRevision: synced });
    expect(b.folder.store.index.get('fb', 'dst/y.txt')).toMatchObject({ moveFrom: 'src/y.txt' });
    // Only the folder's move is live: nothing below it goes up as new.
    expect(b.folder.pendingOps()).toEqual({ dst: 'dir:upsert' });
    expect(b.read('dst/x.txt')).toBe('mine');
  });

  it('MD6 refuses the one rename when a file the index does not hold is inside (not scanned yet): the synced files move one by one, the new file stays with the old folder', async () => {
    const { writer, b, rules } = await movedFolderOnB({ 'src/a.txt': 'alpha', 'src/sub/b.txt': 'beta' });
    b.folder.write('src/sub/new-here.txt', 'only on b, never scanned');
    await move(writer, 'src', 'dst');
    const summary = await b.puller.pullNow('fb');
    expect(rules).not.toContain('dst MD1');
    expect(rules).toEqual(expect.arrayContaining(['dst/a.txt M1', 'dst/sub/b.txt M1']));
    expect(summary).toMatchObject({ moved: 2, downloaded: 0, conflicts: 0 });
    expect(b.tree()).toEqual({ 'dst/a.txt': 'alpha', 'dst/sub/b.txt': 'beta', 'src/sub/new-here.txt': 'only on b, never scanned' });
  });

  // Chaos seed 10950 (npm run chaos -- --seed 10950 --ops 60 --devices 2): b's pull renamed
  // another device's Notes.txt to café.txt (M1), and b's user wrote a new café.txt right after.
  // The index took the stat it read after the rename, the user's file's, with the moved
  // revision: the new file looked synced, was never uploaded, and would have been overwritten
  // as "unchanged". Refused: the row keeps the stat the source had before the rename.
  it('M1: a write of the target right after the rename reads as a change, never as the synced file (chaos seed 10950)', async () => {
    const writer = await rig.start();
    const b = rig.device('b');
    await writer.commit({ 'Notes.txt': 'the notes, as synced' });
    await b.puller.pullNow('fb');
    const revision = await move(writer, 'Notes.txt', 'café.txt');
    let wrote = false;
    const flush = dirSyncer.flush.bind(dirSyncer);
    const spy = vi.spyOn(dirSyncer, 'flush').mockImplementation(async (dir: string) => {
      // The user, right after the rename landed: a new café.txt of their own.
      if (!wrote && existsSync(b.folder.abs('café.txt'))) {
        wrote = true;
        writeFileSync(b.folder.abs('café.txt'), 'mine, just now');
      }
      return flush(dir);
    });
    try {
      await b.puller.pullNow('fb');
    } finally {
      spy.mockRestore();
    }
    expect(wrote).toBe(true);
    await b.scanner.scanPaths(['café.txt']);
    expect(b.folder.store.queue.getByPath('fb', 'café.txt')).toMatchObject({ op: 'upsert', state: 'pending', baseRevision: revision });
    expect(b.read('café.txt')).toBe('mine, just now');
  });

  it('MD3 refuses the one rename when an edit below the folder is queued: the edited file stays under its old name to go up, the moved version arrives at the new one', async () => {
    const { writer, b, dirInode, rules } = await movedFolderOnB({ 'src/a.txt': 'alpha', 'src/b.txt': 'beta' });
    b.folder.write('src/a.txt', 'alpha edited on b');
    await b.scanner.reconcile();
    expect(b.folder.pendingOps()).toEqual({ 'src/a.txt': 'file:upsert' });
    await move(writer, 'src', 'dst');
    await b.puller.pullNow('fb');
    expect(rules).not.toContain('dst MD1');
    expect(rules).toContain('dst/b.txt M1');
    expect(statSync(b.folder.abs('dst')).ino).not.toBe(dirInode);
    // The scanned edit replaced the synced content in the index, so the move cannot be known to
    // carry its base (M3): both versions stay, the edit to go up again as a new file (D5).
    expect(b.tree()).toEqual({ 'src/a.txt': 'alpha edited on b', 'dst/a.txt': 'alpha', 'dst/b.txt': 'beta' });
    expect(b.folder.store.queue.getByPath('fb', 'src/a.txt')).toMatchObject({ op: 'upsert', baseRevision: null });
    expect(writer.revisions.get('dst/a.txt')).toBe(b.folder.store.index.get('fb', 'dst/a.txt')?.syncedRevision);
  });

  it('MD3 refuses the one rename when an upload below the folder is in flight: the edited file stays under its old name to go up as new, the moved version arrives at the new one', async () => {
    const { writer, b, rules } = await movedFolderOnB({ 'src/a.txt': 'alpha', 'src/b.txt': 'beta' });
    b.folder.write('src/a.txt', 'alpha edited on b, being sent');
    await b.scanner.reconcile();
    const claimed = b.folder.store.queue.claim({ limit: 10, folderId: 'fb' });
    expect(claimed.map((i) => i.path)).toEqual(['src/a.txt']);
    await move(writer, 'src', 'dst');
    await b.puller.pullNow('fb');
    expect(rules).not.toContain('dst MD1');
    expect(rules).toContain('dst/b.txt M1');
    // Both versions are on disk: the edit in flight under the old name, the moved one at the new.
    expect(b.tree()).toEqual({ 'src/a.txt': 'alpha edited on b, being sent', 'dst/a.txt': 'alpha', 'dst/b.txt': 'beta' });
    expect(b.folder.store.queue.getByPath('fb', 'src/a.txt')).toMatchObject({ op: 'upsert', baseRevision: null });
  });

  it('MD4 refuses the one rename when the target exists here: nothing of it is replaced, the moved files join it one by one', async () => {
    const { writer, b, rules } = await movedFolderOnB({ 'src/a.txt': 'alpha', 'src/b.txt': 'beta' });
    b.folder.write('dst/mine.txt', 'mine, already at the target');
    await move(writer, 'src', 'dst');
    const summary = await b.puller.pullNow('fb');
    expect(rules).not.toContain('dst MD1');
    expect(summary).toMatchObject({ moved: 2, downloaded: 0, conflicts: 0 });
    expect(b.tree()).toEqual({ 'dst/a.txt': 'alpha', 'dst/b.txt': 'beta', 'dst/mine.txt': 'mine, already at the target' });
    expect(existsSync(b.folder.abs('src'))).toBe(false);
  });

  it('MD5 refuses the one rename when another device edited a file of the folder before moving it: that file is downloaded, the others move', async () => {
    const { writer, b, rules } = await movedFolderOnB({ 'src/a.txt': 'alpha', 'src/b.txt': 'beta' });
    await writer.commit({ 'src/a.txt': 'alpha edited on a' });
    await move(writer, 'src', 'dst');
    const blocks = countBlocks(b);
    const summary = await b.puller.pullNow('fb');
    expect(rules).not.toContain('dst MD1');
    expect(rules).toContain('dst/b.txt M1');
    expect(summary).toMatchObject({ moved: 1, downloaded: 1, conflicts: 0 });
    expect(blocks.hashes).toEqual([sha('alpha edited on a')]);
    expect(b.tree()).toEqual({ 'dst/a.txt': 'alpha edited on a', 'dst/b.txt': 'beta' });
    // The old folder went with the move: said as such, not as a delete (a new-user try read "src Deleted here: … deleted it").
    expect(b.folder.store.activity.recent({}).find((e) => e.path === 'src')?.message).toBe('Moved to dst: device-a moved it');
  });

  it('M3: moved and edited on another device: no rename; the download reuses the blocks of the deleted source', async () => {
    const writer = await rig.start();
    const big = Buffer.alloc(BLOCK_SIZE, 7);
    const put = async (p: string, tail: string, base: string | null) => {
      const t = Buffer.from(tail);
      for (const block of [big, t]) await writer.client.putBlock(sha(block), block);
      const rev = (await submit(writer, [{ key: `u-${p}`, action: 'upsert', path: p, size: big.length + t.length, mtime: 1_700_000_000_000, blocks: [sha(big), sha(t)], baseRevision: base }]))[p]!;
      writer.revisions.set(p, rev);
    };
    await put('a.bin', 'tail one', null);
    const b = rig.device('b');
    await b.puller.pullNow('fb');
    await move(writer, 'a.bin', 'b.bin');
    await put('b.bin', 'tail two', writer.revisions.get('b.bin')!);
    const blocks = countBlocks(b);

    const summary = await b.puller.pullNow('fb');

    expect(summary).toMatchObject({ moved: 0, downloaded: 1, deleted: 1, conflicts: 0 });
    expect(blocks.hashes).toEqual([sha('tail two')]);
    expect(existsSync(b.folder.abs('a.bin'))).toBe(false);
    expect(statSync(b.folder.abs('b.bin')).size).toBe(BLOCK_SIZE + 'tail two'.length);
    // The set-aside source is gone once the pull is done.
    expect(readdirSync(path.join(b.folder.root, '.ferry', 'tmp')).filter((n) => n.startsWith('pull-'))).toEqual([]);
  });

  it('M3: a target taken here is never replaced: the usual rows make a conflict copy and the source is deleted', async () => {
    const writer = await rig.start();
    await writer.commit({ 'a.txt': 'moved content' });
    const b = rig.device('b');
    await b.puller.pullNow('fb');
    b.folder.write('b.txt', 'mine at the target');
    await move(writer, 'a.txt', 'b.txt');
    const summary = await b.puller.pullNow('fb');
    expect(summary).toMatchObject({ moved: 0, conflicts: 1 });
    const tree = b.tree();
    expect(tree['b.txt']).toBe('moved content');
    expect(Object.values(tree)).toContain('mine at the target');
    expect(tree['a.txt']).toBeUndefined();
  });
});
