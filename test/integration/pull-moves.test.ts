import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { BLOCK_SIZE } from '../../protocol/constants';
import type { OperationInput } from '../../protocol';
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

  it('M1: a moved folder is renamed here file by file, keeping inodes, with no block downloaded and nothing queued', async () => {
    const writer = await rig.start();
    await mkdir(writer, 'photos');
    await writer.commit({ 'photos/a.txt': 'alpha', 'photos/2024/b.txt': 'beta', 'other.txt': 'stays' });
    const b = rig.device('b');
    await b.puller.pullNow('fb');
    const inode = statSync(b.folder.abs('photos/a.txt')).ino;
    const blocks = countBlocks(b);

    await move(writer, 'photos', 'archive/photos');
    const summary = await b.puller.pullNow('fb');

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
    expect(summary).toMatchObject({ paused: false, moved: 20, downloaded: 0, deleted: 1 });
    expect(Object.keys(b.tree())).toHaveLength(20);
    expect(b.read('everything/f7.txt')).toBe('file 7');
  });

  it('M2 and a folder with unsynced changes: the edit follows the moved file, a file the server never saw stays and is kept', async () => {
    const writer = await rig.start();
    await mkdir(writer, 'src');
    await writer.commit({ 'src/edited.txt': 'v1', 'src/same.txt': 'same' });
    const b = rig.device('b');
    await b.puller.pullNow('fb');
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
