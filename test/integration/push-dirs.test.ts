import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { ChangesPage, syncTokenFromHref, type ChangeItem } from '../../protocol';
import { FOLDER, REMOTE, pushRig, syncPosts, type PushRig } from './push-harness';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

// Directories go to the server like file operations (docs/sync-api.md, "Directories").
describe('pusher: directories against the real server', () => {
  let rig: PushRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  /** Records a local directory as the scanner does and queues its upsert. */
  function queueDir(r: PushRig, rel: string, baseRevision: string | null = null): void {
    const abs = path.join(r.root, rel);
    mkdirSync(abs, { recursive: true });
    const st = statSync(abs);
    r.store.transaction(() => {
      r.store.index.putLocal({ folderId: FOLDER, path: rel, kind: 'dir', size: 0, mtimeMs: st.mtimeMs, inode: st.ino, contentHash: null, blocks: null });
      r.store.paths.enqueue({ folderId: FOLDER, path: rel, kind: 'dir', op: 'upsert', baseRevision });
    });
  }

  /** The feed: the full listing, or every change since a token; with the next token. */
  async function feed(r: PushRig, token?: string): Promise<{ items: ChangeItem[]; token: string }> {
    const q = token ? `&syncToken=${encodeURIComponent(token)}` : '';
    const res = await r.server.request('GET', `/v1/folders/${REMOTE}/changes?syncModifications=true&limit=10000${q}`);
    const page = ChangesPage.parse(res.body);
    return { items: page.items, token: syncTokenFromHref(page._links['upcoming-modifications']?.href ?? '') ?? '' };
  }

  it('sends an empty folder as a directory upsert and records its revision', async () => {
    rig = await pushRig();
    queueDir(rig, 'photos');
    queueDir(rig, 'photos/empty');
    rig.pusher.kick();
    await rig.waitState('photos/empty', 'done');
    await rig.waitState('photos', 'done');
    const remote = await rig.remote();
    expect(remote.get('photos')).toMatchObject({ kind: 'dir', size: 0, blocks: [] });
    expect(remote.get('photos/empty')).toMatchObject({ kind: 'dir' });
    expect(rig.store.index.get(FOLDER, 'photos/empty')?.syncedRevision).toBe(remote.get('photos/empty')?.revision);
    // It went over the wire (no local-only completion), with no block traffic.
    expect(syncPosts(rig).length).toBeGreaterThanOrEqual(1);
    expect(rig.proxy.requests({ method: 'PUT', path: /^\/v1\/blocks\// })).toHaveLength(0);
  });

  it('deletes a folder after its contents (children first) and leaves tombstones of both kinds', async () => {
    rig = await pushRig();
    queueDir(rig, 'box');
    await rig.write('box/a.txt', 'inside');
    await rig.enqueue('box/a.txt');
    rig.pusher.kick();
    await rig.waitState('box/a.txt', 'done');
    await rig.waitState('box', 'done');
    const fileRev = rig.store.index.get(FOLDER, 'box/a.txt')?.syncedRevision ?? null;
    const dirRev = rig.store.index.get(FOLDER, 'box')?.syncedRevision ?? null;
    expect(fileRev).not.toBeNull();
    expect(dirRev).not.toBeNull();
    const before = await feed(rig);

    // As the scanner queues a vanished folder: the directory first, its file after; priority puts the file first.
    rig.store.transaction(() => {
      rig!.store.index.remove(FOLDER, 'box');
      rig!.store.index.remove(FOLDER, 'box/a.txt');
      rig!.store.paths.enqueue({ folderId: FOLDER, path: 'box', kind: 'dir', op: 'delete', baseRevision: dirRev });
      rig!.store.paths.enqueue({ folderId: FOLDER, path: 'box/a.txt', kind: 'file', op: 'delete', baseRevision: fileRev });
    });
    rig.pusher.kick();
    const dirDone = await rig.waitState('box', 'done');
    expect(dirDone.lastErrorCode).toBeNull();
    await rig.waitState('box/a.txt', 'done');
    expect((await rig.remote()).size).toBe(0);
    const { items } = await feed(rig, before.token);
    expect(items.map((i) => [i.path, i.kind, i.deleted]).sort()).toEqual([
      ['box', 'dir', true],
      ['box/a.txt', 'file', true],
    ]);
  });

  it('parks a folder delete as a conflict when another device put a file inside, and the file survives', async () => {
    rig = await pushRig();
    queueDir(rig, 'shared');
    rig.pusher.kick();
    await rig.waitState('shared', 'done');
    const dirRev = rig.store.index.get(FOLDER, 'shared')?.syncedRevision ?? null;
    const theirs = Buffer.from('theirs');
    await rig.server.request('PUT', `/v1/blocks/${sha(theirs)}`, { raw: theirs });
    const put = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, {
      body: { operations: [{ key: 'k', action: 'upsert', path: 'shared/theirs.txt', size: theirs.length, mtime: 1, blocks: [sha(theirs)], baseRevision: null }] },
    });
    expect(put.body.results.k.ok).toBe(true);

    rig.store.transaction(() => {
      rig!.store.index.remove(FOLDER, 'shared');
      rig!.store.paths.enqueue({ folderId: FOLDER, path: 'shared', kind: 'dir', op: 'delete', baseRevision: dirRev });
    });
    rig.pusher.kick();
    const parked = await rig.waitState('shared', 'retry_wait');
    expect(parked.lastErrorCode).toBe('conflict');
    expect(rig.conflicts).toEqual([{ folderId: FOLDER, path: 'shared', currentRevision: dirRev }]);
    const remote = await rig.remote();
    expect(remote.get('shared')).toMatchObject({ kind: 'dir', revision: dirRev });
    expect(remote.has('shared/theirs.txt')).toBe(true);
  });

  // Chaos --kinds (seeds 60003, 60045): a folder turned into a file here, or deleted, while the
  // server held a file in it this device never got (an earlier pull had refused it). Refused on
  // the folder's own revision at every recheck; incremental pulls never listed that file again.
  it.each([
    ['an upload (the folder turned into a file, chaos seed 60003)', 'upload'],
    ['a folder delete (chaos seed 60045)', 'delete'],
  ] as const)('%s refused on the server\'s current revision makes the next pull a full one', async (_label, change) => {
    rig = await pushRig();
    const made = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, {
      body: { operations: [{ key: 'd', action: 'upsert', kind: 'dir', path: 'photos', mtime: 1, baseRevision: null }, { key: 'f', action: 'upsert', path: 'photos/café.txt', size: 0, mtime: 1, blocks: [], baseRevision: null }] },
    });
    expect(made.status).toBe(200);
    const dirRevision = (await rig.remote()).get('photos')!.revision;
    rig.store.tokens.set(FOLDER, 'a-token');
    if (change === 'upload') {
      await rig.write('photos', 'a file now');
      await rig.enqueue('photos', dirRevision);
    } else {
      rig.store.paths.enqueue({ folderId: FOLDER, path: 'photos', kind: 'dir', op: 'delete', baseRevision: dirRevision });
    }
    rig.pusher.kick();
    const waiting = await rig.waitState('photos', 'retry_wait');
    expect(waiting).toMatchObject({ lastErrorCode: 'conflict', lastErrorMessage: expect.stringMatching(/still holds photos\/café.txt/) });
    expect(rig.store.tokens.get(FOLDER)).toBeUndefined();
  });

  it('a delete refused on another revision than its base keeps the pull incremental', async () => {
    rig = await pushRig();
    const made = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, {
      body: { operations: [{ key: 'f', action: 'upsert', path: 'notes.txt', size: 0, mtime: 1, blocks: [], baseRevision: null }] },
    });
    expect(made.status).toBe(200);
    rig.store.tokens.set(FOLDER, 'a-token');
    rig.store.paths.enqueue({ folderId: FOLDER, path: 'notes.txt', kind: 'file', op: 'delete', baseRevision: '999' });
    rig.pusher.kick();
    await rig.waitState('notes.txt', 'retry_wait');
    expect(rig.store.tokens.get(FOLDER)).toBe('a-token');
  });
});
