import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchCompletedReply, DeletedPage, HistoryPage, PATH_LOCKED_MESSAGE, Task } from '../../protocol';
import { TEST_BACKEND } from '../helpers/backends';
import { TaskGate, del, startTestServer, testFile, upsert, waitUntil, type TestFile, type TestServer } from '../helpers/server-harness';

// The history, deleted and restore contract of docs/sync-api.md ("History and restore"),
// against the real server over loopback.

let t: TestServer;
const gate = new TaskGate();
let holdNewTasks = false;
const v1 = testFile('version one');
const v2 = testFile('version two, longer');
const v3 = testFile('three');

beforeAll(async () => {
  t = await startTestServer({
    workers: 4,
    // 500-operation batches in sync mode: a budget for their results, not their latency (PostgreSQL costs a round trip per statement).
    syncBudgetMs: TEST_BACKEND === 'postgres' ? 30_000 : 5000,
    hooks: { beforeApply: async (taskId, signal) => (holdNewTasks ? gate.hook(taskId, signal) : undefined) },
  });
  for (const f of [v1, v2, v3]) expect((await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data })).status).toBeLessThan(300);
});
afterAll(async () => {
  gate.release();
  await t.close();
});

async function folder(): Promise<string> {
  const id = `h-${randomUUID().slice(0, 8)}`;
  expect((await t.request('PUT', `/v1/folders/${id}`)).status).toBe(201);
  return id;
}

async function batch(folderId: string, operations: unknown[], options: { trackingId?: string; headers?: Record<string, string>; mode?: 'sync' | 'async' } = {}) {
  return t.request('POST', `/v1/folders/${folderId}/sync?mode=${options.mode ?? 'sync'}`, { body: { operations }, ...options });
}

async function one(folderId: string, op: unknown) {
  const res = await batch(folderId, [op]);
  expect(res.status).toBe(200);
  return BatchCompletedReply.parse(res.body).results[(op as { key: string }).key]!;
}

async function rev(folderId: string, op: unknown): Promise<string> {
  const result = await one(folderId, op);
  if (!result.ok) throw new Error(`operation failed: ${JSON.stringify(result)}`);
  return result.revision;
}

const restore = (key: string, p: string, revision: string, baseRevision: string | null, extra: object = {}) => ({ key, action: 'restore', path: p, revision, baseRevision, ...extra });

async function history(folderId: string, p: string, query = '') {
  const res = await t.request('GET', `/v1/folders/${folderId}/history?path=${encodeURIComponent(p)}${query}`);
  expect(res.status).toBe(200);
  return HistoryPage.parse(res.body);
}

async function current(folderId: string) {
  const items = (await t.request('GET', `/v1/folders/${folderId}/changes?syncModifications=true&limit=10000`)).body.items as Array<{ path: string; revision: string; blocks: string[]; size: number }>;
  return new Map(items.map((i) => [i.path, i]));
}

/** Three revisions of a.txt (v1, v2, then deleted): [r1, r2, r3]. */
async function threeRevisions(folderId: string, p = 'a.txt'): Promise<[string, string, string]> {
  const r1 = await rev(folderId, upsert('k', p, v1, null, 1000));
  const r2 = await rev(folderId, upsert('k', p, v2, r1, 2000));
  const r3 = await rev(folderId, del('k', p, r2));
  return [r1, r2, r3];
}

describe('GET history', () => {
  it('lists the revisions of one path newest first, with deletions, paged by cursor', async () => {
    const id = await folder();
    const [r1, r2, r3] = await threeRevisions(id);
    await rev(id, upsert('k', 'other.txt', v3, null));
    const all = await history(id, 'a.txt');
    expect(all.items.map((i) => [i.revision, i.deleted, i.size])).toEqual([
      [r3, true, 0],
      [r2, false, v2.data.length],
      [r1, false, v1.data.length],
    ]);
    expect(all.items[1]).toMatchObject({ kind: 'file', mtime: 2000, device: 'test-device' });
    expect(all._links.next).toBeUndefined();

    const first = await history(id, 'a.txt', '&limit=2');
    expect(first.items.map((i) => i.revision)).toEqual([r3, r2]);
    const next = await t.request('GET', first._links.next!.href);
    expect(HistoryPage.parse(next.body).items.map((i) => i.revision)).toEqual([r1]);
    expect(next.body._links.next).toBeUndefined();
  });

  it('answers an empty list for a path without history, and refuses a bad path, a forged cursor and an unknown folder', async () => {
    const id = await folder();
    expect((await history(id, 'never.txt')).items).toEqual([]);
    expect((await t.request('GET', `/v1/folders/${id}/history?path=../x`)).body.code).toBe('invalid_path');
    expect((await t.request('GET', `/v1/folders/${id}/history`)).status).toBe(400);
    expect((await t.request('GET', `/v1/folders/${id}/history?path=a&cursor=abc.def`)).body.code).toBe('invalid_token');
    expect((await t.request('GET', `/v1/folders/nope-${randomUUID().slice(0, 6)}/history?path=a`)).status).toBe(404);
  });

  it('does not take a changes cursor as a history cursor', async () => {
    const id = await folder();
    for (let i = 0; i < 3; i++) await rev(id, upsert('k', `f${i}`, v1, null));
    const page = await t.request('GET', `/v1/folders/${id}/changes?syncModifications=true&limit=1`);
    const cursor = new URL(page.body._links.next.href, 'http://x').searchParams.get('cursor')!;
    expect((await t.request('GET', `/v1/folders/${id}/history?path=f0&cursor=${cursor}`)).body.code).toBe('invalid_token');
  });
});

describe('GET history of one revision (revision=R)', () => {
  const oneVersion = async (id: string, p: string, revision: string, query = '') =>
    t.request('GET', `/v1/folders/${id}/history?path=${encodeURIComponent(p)}&revision=${revision}${query}`);

  it('answers that one version as the listing shows it, with its blocks; deletions and folders with none', async () => {
    const id = await folder();
    const [r1, r2, r3] = await threeRevisions(id);
    const listed = await history(id, 'a.txt');
    // The listing itself carries no blocks.
    expect(listed.items.every((i) => i.blocks === undefined)).toBe(true);
    for (const [r, file] of [[r1, v1], [r2, v2]] as const) {
      const res = await oneVersion(id, 'a.txt', r);
      expect(res.status).toBe(200);
      const page = HistoryPage.parse(res.body);
      expect(page).toEqual({ items: [{ ...listed.items.find((i) => i.revision === r), blocks: [file.hash] }], _links: {} });
    }
    const deletion = HistoryPage.parse((await oneVersion(id, 'a.txt', r3)).body).items;
    expect(deletion).toEqual([{ ...listed.items[0], blocks: [] }]);
    expect(deletion[0]).toMatchObject({ revision: r3, deleted: true });
    // A folder, and an empty file: no blocks either.
    const d = await rev(id, { key: 'd', action: 'upsert', kind: 'dir', path: 'sub', mtime: 1000, baseRevision: null });
    expect(HistoryPage.parse((await oneVersion(id, 'sub', d)).body).items[0]).toMatchObject({ revision: d, kind: 'dir', blocks: [] });
    const e = await rev(id, upsert('e', 'empty.txt', testFile(''), null));
    expect(HistoryPage.parse((await oneVersion(id, 'empty.txt', e)).body).items[0]).toMatchObject({ revision: e, size: 0, blocks: [] });
  });

  it('refuses a revision of another path, one that never was, and a revision with a cursor', async () => {
    const id = await folder();
    const [r1] = await threeRevisions(id);
    const other = await rev(id, upsert('k', 'other.txt', v3, null));
    // Another path's revision: not one of this path, whatever the client took it for.
    const foreign = await oneVersion(id, 'a.txt', other);
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('unknown_revision');
    expect(foreign.body.message).toContain(`Revision ${other} of a.txt`);
    expect((await oneVersion(id, 'other.txt', r1)).body.code).toBe('unknown_revision');
    for (const never of ['999999', '999999999999999999']) {
      const res = await oneVersion(id, 'a.txt', never);
      expect([res.status, res.body.code]).toEqual([404, 'unknown_revision']);
    }
    // Another folder's revision is no revision of this one.
    const elsewhere = await folder();
    expect((await oneVersion(elsewhere, 'a.txt', r1)).body.code).toBe('unknown_revision');
    expect((await oneVersion(id, 'a.txt', 'abc')).status).toBe(400);
    const cursor = new URL((await history(id, 'a.txt', '&limit=1'))._links.next!.href, 'http://x').searchParams.get('cursor')!;
    const withCursor = await oneVersion(id, 'a.txt', r1, `&cursor=${cursor}`);
    expect([withCursor.status, withCursor.body.code]).toEqual([400, 'invalid_request']);
    expect((await oneVersion(`nope-${randomUUID().slice(0, 6)}`, 'a.txt', r1)).status).toBe(404);
  });
});

describe('GET deleted', () => {
  it('lists deleted paths newest deletion first with their last live revision, filtered by prefix and since', async () => {
    const id = await folder();
    const [, r2, r3] = await threeRevisions(id, 'docs/a.txt');
    const b1 = await rev(id, upsert('k', 'docs/sub/b.txt', v3, null));
    const b2 = await rev(id, del('k', 'docs/sub/b.txt', b1));
    const c1 = await rev(id, upsert('k', 'other/c.txt', v1, null));
    await rev(id, del('k', 'other/c.txt', c1));
    await rev(id, upsert('k', 'docs/live.txt', v1, null));
    await rev(id, del('k', 'ghost.txt', null)); // a delete of what never existed: nothing to restore

    const res = await t.request('GET', `/v1/folders/${id}/deleted?prefix=docs`);
    expect(res.status).toBe(200);
    const page = DeletedPage.parse(res.body);
    expect(page.items.map((i) => i.path)).toEqual(['docs/sub/b.txt', 'docs/a.txt']);
    expect(page.items[0]).toMatchObject({ revision: b2, kind: 'file', device: 'test-device', lastLive: { revision: b1, size: v3.data.length, deleted: false } });
    expect(page.items[1]).toMatchObject({ revision: r3, lastLive: { revision: r2, mtime: 2000 } });

    const all = DeletedPage.parse((await t.request('GET', `/v1/folders/${id}/deleted`)).body);
    expect(all.items.map((i) => i.path).sort()).toEqual(['docs/a.txt', 'docs/sub/b.txt', 'ghost.txt', 'other/c.txt']);
    expect(all.items.find((i) => i.path === 'ghost.txt')?.lastLive).toBeNull();

    const future = new Date(Date.now() + 60_000).toISOString();
    expect(DeletedPage.parse((await t.request('GET', `/v1/folders/${id}/deleted?since=${future}`)).body).items).toEqual([]);
    const past = new Date(Date.now() - 60_000).toISOString();
    expect(DeletedPage.parse((await t.request('GET', `/v1/folders/${id}/deleted?since=${past}`)).body).items).toHaveLength(4);
    expect((await t.request('GET', `/v1/folders/${id}/deleted?since=yesterday`)).status).toBe(400);
  });

  it('leaves out what a move took away (it lives on under its new name), a file and a folder with its files; a moved file deleted later is listed under its new name', async () => {
    const id = await folder();
    const a = await rev(id, upsert('k', 'notes.txt', v1, null));
    const dir = await rev(id, { key: 'k', action: 'upsert', kind: 'dir', path: 'photos', mtime: 1_700_000_000_000, baseRevision: null });
    await rev(id, upsert('k', 'photos/beach.jpg', v2, null));
    const gone = await rev(id, upsert('k', 'gone.txt', v3, null));
    const moved = await rev(id, { key: 'k', action: 'move', from: 'notes.txt', path: 'renamed.txt', baseRevision: a });
    await rev(id, { key: 'k', action: 'move', from: 'photos', path: 'archive', baseRevision: dir });
    await rev(id, del('k', 'gone.txt', gone));
    const listed = async () => DeletedPage.parse((await t.request('GET', `/v1/folders/${id}/deleted`)).body).items.map((i) => i.path);
    expect(await listed()).toEqual(['gone.txt']);
    // The history of a moved-away path still shows its tombstone, naming where the path went:
    // only the listing leaves it out. A plain deletion names nowhere.
    expect((await history(id, 'notes.txt')).items.map((i) => [i.deleted, i.movedTo])).toEqual([[true, 'renamed.txt'], [false, undefined]]);
    expect((await history(id, 'photos/beach.jpg')).items[0]).toMatchObject({ deleted: true, movedTo: 'archive/beach.jpg' });
    expect((await history(id, 'gone.txt')).items[0]).toMatchObject({ deleted: true });
    expect((await history(id, 'gone.txt')).items[0]!.movedTo).toBeUndefined();
    // moved=true lists them too (a restore "as it was" follows renames), each with where it went.
    const withMoves = DeletedPage.parse((await t.request('GET', `/v1/folders/${id}/deleted?moved=true`)).body).items;
    expect(withMoves.map((i) => [i.path, i.movedTo])).toEqual([
      ['gone.txt', undefined],
      ['photos', 'archive'],
      ['photos/beach.jpg', 'archive/beach.jpg'],
      ['notes.txt', 'renamed.txt'],
    ]);
    expect((await t.request('GET', `/v1/folders/${id}/deleted?moved=yes`)).status).toBe(400);
    // The new name's history says where it came from: its earlier versions are there.
    const renamedHistory = (await history(id, 'renamed.txt')).items;
    expect(renamedHistory).toEqual([expect.objectContaining({ revision: moved, movedFrom: 'notes.txt' })]);
    expect((await history(id, 'notes.txt')).items.every((i) => i.movedFrom === undefined)).toBe(true);
    await rev(id, del('k', 'renamed.txt', moved));
    expect(await listed()).toEqual(['renamed.txt', 'gone.txt']);
  });

  // A new-user try: a restore "as it was" brought a file deleted in a folder back inside the
  // folder's new name, and Deleted files still offered the old name: restored there, a second copy.
  it('leaves out a path whose last version a restore brought back under another name, while that name lives; pages stay whole', async () => {
    const id = await folder();
    const deleted = async (p: string) => rev(id, del('k', p, await rev(id, upsert('k', p, v3, null))));
    await deleted('filler-0.txt');
    const [, r2] = await threeRevisions(id, 'old/a.txt');
    for (const p of ['filler-1.txt', 'filler-2.txt']) await deleted(p);
    const back = await rev(id, restore('k', 'new/a.txt', r2, null, { from: 'old/a.txt' }));
    const page = async (query: string) => DeletedPage.parse((await t.request('GET', `/v1/folders/${id}/deleted${query}`)).body);
    const listed = async (query = '') => {
      const paths: string[] = [];
      for (let next: string | undefined = `/v1/folders/${id}/deleted${query}`; next; ) {
        const res = DeletedPage.parse((await t.request('GET', next)).body);
        paths.push(...res.items.map((i) => i.path));
        next = res._links.next?.href;
      }
      return paths;
    };
    expect(await listed()).toEqual(['filler-2.txt', 'filler-1.txt', 'filler-0.txt']);
    // Paged one at a time, a page that keeps nothing still leads on (its cursor is the last row it read).
    expect(await listed('?limit=1')).toEqual(['filler-2.txt', 'filler-1.txt', 'filler-0.txt']);
    const firstThree = await page('?limit=3');
    expect(firstThree.items.map((i) => i.path)).toEqual(['filler-2.txt', 'filler-1.txt']);
    expect(firstThree._links.next).toBeDefined();
    // moved=true lists it (a restore "as it was" reads it), and its history keeps the tombstone.
    expect(await listed('?moved=true')).toContain('old/a.txt');
    expect((await history(id, 'old/a.txt')).items[0]).toMatchObject({ deleted: true });
    // The name it came back under deleted since: the old name is a deletion again, restorable.
    await rev(id, del('k', 'new/a.txt', back));
    expect(await listed()).toEqual(['new/a.txt', 'filler-2.txt', 'filler-1.txt', 'old/a.txt', 'filler-0.txt']);
  });

  it('pages with cursors that carry the filters', async () => {
    const id = await folder();
    for (let i = 0; i < 5; i++) {
      const r = await rev(id, upsert('k', `p/${i}.txt`, v1, null));
      await rev(id, del('k', `p/${i}.txt`, r));
    }
    await rev(id, del('k', 'q.txt', null));
    const seen: string[] = [];
    let href: string | undefined = `/v1/folders/${id}/deleted?prefix=p&limit=2`;
    while (href) {
      const page = DeletedPage.parse((await t.request('GET', href)).body);
      seen.push(...page.items.map((i) => i.path));
      href = page._links.next?.href;
    }
    expect(seen).toEqual(['p/4.txt', 'p/3.txt', 'p/2.txt', 'p/1.txt', 'p/0.txt']);
  });
});

describe('restore operation', () => {
  it('brings a deleted path back with the content of the named revision, as a new revision in the feed', async () => {
    const id = await folder();
    const [r1, , r3] = await threeRevisions(id);
    const r4 = await rev(id, restore('k', 'a.txt', r1, r3));
    expect(Number(r4)).toBeGreaterThan(Number(r3));
    const now = (await current(id)).get('a.txt');
    expect(now).toMatchObject({ revision: r4, blocks: [v1.hash], size: v1.data.length, mtime: 1000, deleted: false });
    expect((await history(id, 'a.txt')).items[0]).toMatchObject({ revision: r4, deleted: false });
  });

  // A restore's revision is recorded under the device that asked for it, so the feed says it
  // is a restore's: the client never takes it for its own upload's lost answer
  // (docs/conflict-rules.md, the paragraph on restores after O2).
  it('names the revision it brought back in the feed and the history, until the path is written again or moved', async () => {
    const id = await folder();
    const [r1, , r3] = await threeRevisions(id);
    const r4 = await rev(id, restore('k', 'a.txt', r1, r3));
    expect((await current(id)).get('a.txt')).toMatchObject({ revision: r4, restoredFrom: r1 });
    const [newest, ...older] = (await history(id, 'a.txt')).items;
    expect(newest).toMatchObject({ revision: r4, restoredFrom: r1 });
    expect(older.every((i) => i.restoredFrom === undefined)).toBe(true);
    // Written again: the path's new revision is an upload's.
    const r5 = await rev(id, upsert('k', 'a.txt', v3, r4));
    expect((await current(id)).get('a.txt')).not.toHaveProperty('restoredFrom');
    expect((await history(id, 'a.txt')).items[1]).toMatchObject({ revision: r4, restoredFrom: r1 });
    // Restored again, then moved: the move's revision is no restore's.
    await rev(id, restore('k', 'a.txt', r1, r5));
    const moved = await rev(id, { key: 'm', action: 'move', from: 'a.txt', path: 'b.txt', baseRevision: (await current(id)).get('a.txt')!.revision });
    expect((await current(id)).get('b.txt')).toMatchObject({ revision: moved, movedFrom: 'a.txt' });
    expect((await current(id)).get('b.txt')).not.toHaveProperty('restoredFrom');
    // A folder brought back is named so too; deleted again, its tombstone is no restore's.
    const d1 = await rev(id, { key: 'd', action: 'upsert', kind: 'dir', path: 'dir', size: 0, mtime: 1, blocks: [], baseRevision: null });
    const d2 = await rev(id, del('d', 'dir', d1));
    const d3 = await rev(id, restore('d', 'dir', d1, d2));
    expect((await current(id)).get('dir')).toMatchObject({ revision: d3, kind: 'dir', restoredFrom: d1 });
    const d4 = await rev(id, del('d', 'dir', d3));
    const [gone, back] = (await history(id, 'dir')).items;
    expect(gone).toMatchObject({ revision: d4, deleted: true });
    expect(gone).not.toHaveProperty('restoredFrom');
    expect(back).toMatchObject({ revision: d3, restoredFrom: d1 });
  });

  it('with `from`, gives a path the content of a revision of another path (its name before a rename), and refuses one that is not that path\'s', async () => {
    const id = await folder();
    const r1 = await rev(id, upsert('k', 'old.txt', v1, null));
    const r2 = await rev(id, upsert('k', 'old.txt', v2, r1));
    const moved = await rev(id, { key: 'k', action: 'move', from: 'old.txt', path: 'new.txt', baseRevision: r2 });
    const wrongPath = await one(id, restore('r', 'new.txt', r1, moved, { from: 'other.txt' }));
    expect(wrongPath).toMatchObject({ ok: false, code: 'unknown_revision' });
    // Without `from` the revision is not new.txt's own: refused as before.
    expect(await one(id, restore('r', 'new.txt', r1, moved))).toMatchObject({ ok: false, code: 'unknown_revision' });
    const back = await one(id, restore('r', 'new.txt', r1, moved, { from: 'old.txt' }));
    expect(back.ok).toBe(true);
    const now = await current(id);
    expect(now.get('new.txt')).toMatchObject({ blocks: [v1.hash], size: v1.data.length });
    expect(now.has('old.txt')).toBe(false);
    expect((await history(id, 'new.txt')).items[0]).toMatchObject({ restoredFrom: r1 });
  });

  it('gives a live path the old bytes, and names no block the client must send', async () => {
    const id = await folder();
    const r1 = await rev(id, upsert('k', 'a.txt', v1, null));
    const r2 = await rev(id, upsert('k', 'a.txt', v2, r1));
    const r3 = await rev(id, restore('k', 'a.txt', r1, r2));
    expect((await current(id)).get('a.txt')).toMatchObject({ revision: r3, blocks: [v1.hash] });
    // Restoring what is already there is a no-op answering the current revision (as an identical upsert).
    expect(await rev(id, restore('k', 'a.txt', r1, r2))).toBe(r3);
  });

  it('is refused as a conflict when the base revision is stale, changing nothing', async () => {
    const id = await folder();
    const r1 = await rev(id, upsert('k', 'a.txt', v1, null));
    const r2 = await rev(id, upsert('k', 'a.txt', v2, r1));
    const r3 = await rev(id, upsert('k', 'a.txt', v3, r2));
    expect(await one(id, restore('k', 'a.txt', r1, r2))).toMatchObject({ ok: false, code: 'conflict', currentRevision: r3 });
    expect(await one(id, restore('k', 'a.txt', r1, null))).toMatchObject({ ok: false, code: 'conflict', currentRevision: r3 });
    expect((await current(id)).get('a.txt')).toMatchObject({ revision: r3, blocks: [v3.hash] });
    expect((await history(id, 'a.txt')).items).toHaveLength(3);
  });

  it('refuses an unknown revision, a deletion, another path\'s revision, a path that is not deleted, and collected blocks, each with its code', async () => {
    const id = await folder();
    const [r1, r2, r3] = await threeRevisions(id);
    const b1 = await rev(id, upsert('k', 'b.txt', v3, null));
    expect(await one(id, restore('k', 'a.txt', '999999999', r3))).toMatchObject({ ok: false, code: 'unknown_revision' });
    expect(await one(id, restore('k', 'a.txt', r3, r3))).toMatchObject({ ok: false, code: 'unknown_revision' });
    expect(await one(id, restore('k', 'a.txt', b1, r3))).toMatchObject({ ok: false, code: 'unknown_revision' });
    expect(await one(id, restore('k', 'b.txt', b1, b1, { onlyIfDeleted: true }))).toMatchObject({ ok: false, code: 'not_deleted', currentRevision: b1 });

    // A block lost from the disk (what a collected block looks like): the restore is refused, not half-made.
    const lonely = testFile(`only in one old revision ${randomUUID()}`);
    expect((await t.request('PUT', `/v1/blocks/${lonely.hash}`, { raw: lonely.data })).status).toBe(201);
    const c1 = await rev(id, upsert('k', 'c.txt', lonely, null));
    const c2 = await rev(id, upsert('k', 'c.txt', v1, c1));
    await t.removeStoredBlock(lonely.hash);
    expect(await one(id, restore('k', 'c.txt', c1, c2))).toMatchObject({ ok: false, code: 'blocks_collected', missing: [lonely.hash] });

    const state = await current(id);
    expect(state.has('a.txt')).toBe(false);
    expect(state.get('b.txt')).toMatchObject({ revision: b1 });
    expect(state.get('c.txt')).toMatchObject({ revision: c2 });
    expect((await history(id, 'a.txt')).items.map((i) => i.revision)).toEqual([r3, r2, r1]);
  });

  it('refuses a malformed restore before anything runs', async () => {
    const id = await folder();
    expect((await batch(id, [{ key: 'k', action: 'restore', path: 'a.txt', revision: 'latest', baseRevision: null }])).status).toBe(400);
    expect((await batch(id, [{ key: 'k', action: 'restore', path: 'a.txt', baseRevision: null }])).status).toBe(400);
    expect((await batch(id, [{ key: 'k', action: 'restore', path: '/abs', revision: '1', baseRevision: null }])).body.code).toBe('invalid_path');
  });

  it('with single-operation, one refused restore leaves every other one unapplied', async () => {
    const id = await folder();
    const [r1, , r3] = await threeRevisions(id);
    const res = await batch(id, [restore('good', 'a.txt', r1, r3), restore('bad', 'b.txt', '999999999', null)], { headers: { 'single-operation': '1' } });
    const results = BatchCompletedReply.parse(res.body).results;
    expect(results.bad).toMatchObject({ ok: false, code: 'unknown_revision' });
    expect(results.good).toMatchObject({ ok: false, code: 'aborted' });
    expect((await current(id)).has('a.txt')).toBe(false);
  });

  it('answers a retry with the same tracking id from the same task, applying nothing twice', async () => {
    const id = await folder();
    const [r1, , r3] = await threeRevisions(id);
    const trackingId = randomUUID();
    const first = await batch(id, [restore('k', 'a.txt', r1, r3)], { trackingId });
    const again = await batch(id, [restore('k', 'a.txt', r1, r3)], { trackingId });
    expect(again.body).toEqual(first.body);
    expect((await history(id, 'a.txt')).items).toHaveLength(4);
    // The same tracking id with another restore is refused, not mistaken for the first.
    expect((await batch(id, [restore('k', 'a.txt', r1, null)], { trackingId })).body.code).toBe('tracking_id_reused');
  });

  it('is refused with path_locked while another task holds the path, changing nothing', async () => {
    const id = await folder();
    const [r1, , r3] = await threeRevisions(id);
    holdNewTasks = true;
    const holder = await batch(id, [upsert('k', 'a.txt', v3, r3)], { mode: 'async' });
    await waitUntil(() => gate.held.has(holder.body.taskId), 5000, 'first task holding a.txt');
    holdNewTasks = false;
    const locked = await batch(id, [restore('k', 'a.txt', r1, r3)]);
    expect(locked.status).toBe(423);
    expect(locked.body).toMatchObject({ code: 'path_locked', message: PATH_LOCKED_MESSAGE });
    gate.release(holder.body.taskId);
    await waitUntil(async () => Task.parse((await t.request('GET', `/v1/tasks/${holder.body.taskId}`)).body).status === 'Completed', 5000, 'holder done');
    expect((await history(id, 'a.txt')).items).toHaveLength(4);
    expect((await current(id)).get('a.txt')).toMatchObject({ blocks: [v3.hash] });
  });

  it('restores 1,500 deleted paths as one async task', async () => {
    const id = await folder();
    const n = 1500;
    const created = new Map<string, string>();
    for (let start = 0; start < n; start += 500) {
      const ops = Array.from({ length: 500 }, (_, i) => upsert(`u${start + i}`, `mass/${start + i}.txt`, [v1, v2, v3][(start + i) % 3] as TestFile, null));
      const results = BatchCompletedReply.parse((await batch(id, ops)).body).results;
      ops.forEach((op) => created.set(op.path, (results[op.key] as { revision: string }).revision));
    }
    const deletes = [...created].map(([p, r], i) => del(`d${i}`, p, r));
    expect(BatchCompletedReply.parse((await batch(id, deletes)).body).results.d0).toMatchObject({ ok: true });

    const deleted: Array<{ path: string; revision: string; lastLive: { revision: string } | null }> = [];
    let href: string | undefined = `/v1/folders/${id}/deleted?prefix=mass`;
    while (href) {
      const page = DeletedPage.parse((await t.request('GET', href)).body);
      deleted.push(...page.items.map((i) => ({ path: i.path, revision: i.revision, lastLive: i.lastLive })));
      href = page._links.next?.href;
    }
    expect(deleted).toHaveLength(n);
    const ops = deleted.map((d, i) => restore(`r${i}`, d.path, d.lastLive!.revision, d.revision, { onlyIfDeleted: true }));
    const accepted = await batch(id, ops, { mode: 'async' });
    expect(accepted.status).toBe(202);
    const task = await waitUntil(
      async () => {
        const body = Task.parse((await t.request('GET', `/v1/tasks/${accepted.body.taskId}`)).body);
        return body.status === 'Completed' ? body : undefined;
      },
      30_000,
      'restore task',
    );
    expect(Object.values(task.results ?? {}).filter((r) => r.ok)).toHaveLength(n);
    const state = await current(id);
    for (const [p, r] of created) {
      const item = state.get(p);
      const original = [v1, v2, v3][Number(/(\d+)/.exec(p)![1]) % 3] as TestFile;
      expect(item && Number(item.revision) > Number(r) && item.blocks[0] === original.hash).toBe(true);
    }
    // About 20 s of commits on PostgreSQL with the machine shared: the default 30 s was at its edge.
  }, 90_000);
});
