import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchCompletedReply, ChangesPage, syncTokenFromHref, type ChangeItem, type OperationResult } from '../../protocol';
import { MIGRATIONS, migrate } from '../../server/storage/db';
import { del, makeTempDir, startTestServer, testFile, upsert, type TestServer } from '../helpers/server-harness';

// Directories as entries of their own (docs/sync-api.md, "Directories"): real server, real SQLite.
let t: TestServer;
const hello = testFile('hello');

beforeAll(async () => {
  t = await startTestServer();
  await t.request('PUT', `/v1/blocks/${hello.hash}`, { raw: hello.data });
});
afterAll(async () => {
  await t.close();
});

async function folder(): Promise<string> {
  const id = `d-${randomUUID().slice(0, 8)}`;
  expect((await t.request('PUT', `/v1/folders/${id}`)).status).toBe(201);
  return id;
}

const mkdir = (key: string, p: string, baseRevision: string | null, extra: Record<string, unknown> = {}) => ({
  key,
  action: 'upsert' as const,
  kind: 'dir' as const,
  path: p,
  mtime: 1_700_000_000_000,
  baseRevision,
  ...extra,
});

async function batch(folderId: string, operations: unknown[], headers: Record<string, string> = {}): Promise<Record<string, OperationResult>> {
  const res = await t.request('POST', `/v1/folders/${folderId}/sync?mode=sync`, { body: { operations }, headers });
  expect(res.status).toBe(200);
  return BatchCompletedReply.parse(res.body).results;
}

function revisionOf(r: OperationResult | undefined): string {
  if (!r?.ok) throw new Error(`expected success, got ${JSON.stringify(r)}`);
  return r.revision;
}

async function feed(folderId: string, syncToken?: string): Promise<{ items: ChangeItem[]; token: string }> {
  const q = syncToken ? `&syncToken=${encodeURIComponent(syncToken)}` : '';
  const res = await t.request('GET', `/v1/folders/${folderId}/changes?syncModifications=true${q}`);
  expect(res.status).toBe(200);
  const page = ChangesPage.parse(res.body);
  const href = page._links['upcoming-modifications']?.href;
  if (!href) throw new Error('expected one page');
  return { items: page.items, token: syncTokenFromHref(href) ?? '' };
}

describe('directory upserts', () => {
  it('stores an empty directory with a revision and lists it with kind dir, size 0 and no blocks', async () => {
    const id = await folder();
    const results = await batch(id, [mkdir('a', 'photos/2024', null), mkdir('b', 'explicit', null, { size: 0, blocks: [] }), upsert('f', 'f.txt', hello, null)]);
    const rev = revisionOf(results.a);
    revisionOf(results.b);
    const { items } = await feed(id);
    const dir = items.find((i) => i.path === 'photos/2024');
    expect(dir).toMatchObject({ kind: 'dir', revision: rev, deleted: false, size: 0, blocks: [] });
    expect(items.find((i) => i.path === 'f.txt')).toMatchObject({ kind: 'file', size: 5 });
  });

  it('refuses a directory upsert that carries a size or blocks', async () => {
    const id = await folder();
    const withSize = await t.request('POST', `/v1/folders/${id}/sync`, { body: { operations: [mkdir('a', 'd', null, { size: 3 })] } });
    expect(withSize.status).toBe(400);
    expect(withSize.body.code).toBe('invalid_request');
    const withBlocks = await t.request('POST', `/v1/folders/${id}/sync`, { body: { operations: [mkdir('a', 'd', null, { blocks: [hello.hash] })] } });
    expect(withBlocks.status).toBe(400);
    const badKind = await t.request('POST', `/v1/folders/${id}/sync`, { body: { operations: [mkdir('a', 'd', null, { kind: 'link' })] } });
    expect(badKind.status).toBe(400);
  });

  // A directory has no content: creating one that exists is that directory, whatever base the
  // client names (two devices creating the same folder at once must not conflict: chaos seed 2).
  it('answers an existing directory with its revision (no new revision), whatever the base', async () => {
    const id = await folder();
    const rev = revisionOf((await batch(id, [mkdir('a', 'docs', null)])).a);
    expect(revisionOf((await batch(id, [mkdir('a', 'docs', rev, { mtime: 1_800_000_000_000 })])).a)).toBe(rev);
    expect(revisionOf((await batch(id, [mkdir('a', 'docs', null)])).a)).toBe(rev);
    const { items } = await feed(id);
    expect(items).toHaveLength(1);
  });

  it('gives a file upsert over a directory (or the reverse) that did not know it a conflict', async () => {
    const id = await folder();
    const dirRev = revisionOf((await batch(id, [mkdir('a', 'x', null)])).a);
    expect((await batch(id, [upsert('f', 'x', hello, null)])).f).toMatchObject({ ok: false, code: 'conflict', currentRevision: dirRev });
    const fileRev = revisionOf((await batch(id, [upsert('f', 'y', hello, null)])).f);
    expect((await batch(id, [mkdir('a', 'y', null)])).a).toMatchObject({ ok: false, code: 'conflict', currentRevision: fileRev });
    const { items } = await feed(id);
    expect(items.map((i) => `${i.path}:${i.kind}`).sort()).toEqual(['x:dir', 'y:file']);
  });

  it('replaces a file by a directory, and an empty directory by a file, when the base revision names it', async () => {
    const id = await folder();
    const fileRev = revisionOf((await batch(id, [upsert('f', 'y', hello, null)])).f);
    const dirRev = revisionOf((await batch(id, [mkdir('a', 'y', fileRev)])).a);
    expect(Number(dirRev)).toBeGreaterThan(Number(fileRev));
    const back = revisionOf((await batch(id, [upsert('f', 'y', hello, dirRev)])).f);
    const { items } = await feed(id);
    expect(items).toEqual([expect.objectContaining({ path: 'y', kind: 'file', revision: back })]);
  });

  it('never replaces a directory that holds live entries by a file', async () => {
    const id = await folder();
    const r = await batch(id, [mkdir('a', 'x', null), upsert('f', 'x/in.txt', hello, null)]);
    const dirRev = revisionOf(r.a);
    expect((await batch(id, [upsert('f', 'x', hello, dirRev)])).f).toMatchObject({ ok: false, code: 'conflict', currentRevision: dirRev });
  });

  // Chaos --kinds: one device turned the folder x into a file while another put x/new.txt in it;
  // the server took both, and held a file with an entry below it that no disk can hold.
  it('refuses anything below a live file: a file, a folder, a move\'s target (nothing lives below a file)', async () => {
    const id = await folder();
    const fileRev = revisionOf((await batch(id, [upsert('f', 'x', hello, null), upsert('g', 'c.txt', hello, null)])).f);
    const refused = { ok: false, code: 'conflict', currentRevision: null, message: expect.stringMatching(/below x: it is a file on the server/) };
    expect((await batch(id, [upsert('f', 'x/new.txt', hello, null)])).f).toMatchObject(refused);
    expect((await batch(id, [mkdir('d', 'x/deep/er', null)])).d).toMatchObject(refused);
    const cRev = (await feed(id)).items.find((i) => i.path === 'c.txt')!.revision;
    expect((await batch(id, [{ key: 'm', action: 'move', from: 'c.txt', path: 'x/c.txt', baseRevision: cRev }])).m).toMatchObject(refused);
    expect((await feed(id)).items.map((i) => i.path).sort()).toEqual(['c.txt', 'x']);
    // Once x is a folder again, what goes below it is taken.
    const dirRev = revisionOf((await batch(id, [mkdir('d', 'x', fileRev)])).d);
    expect(revisionOf((await batch(id, [upsert('f', 'x/new.txt', hello, null)])).f)).not.toBe(dirRev);
  });
});

// Chaos --kinds seed 60390: dev-b put deep/photos/日本語.txt on the server with no entry for the
// folder deep/photos (a path implies its parents), and dev-c, whose user had turned that folder
// into a file, then put the file deep/photos: taken, the server held a file with an entry below
// it. dev-c's pull took the folder for another device's, replaced its own file with it, and the
// file's delete then went out: dev-c's version was lost everywhere.
describe('chaos --kinds seed 60390: no file where entries live below, with or without a folder entry', () => {
  it('refuses a file upload, a restore and a file move to a path that entries below make a folder; a folder there is taken', async () => {
    const id = await folder();
    revisionOf((await batch(id, [upsert('f', 'deep/photos/日本語.txt', hello, null), upsert('g', 'c.txt', hello, null)])).f);
    const refused = { ok: false, code: 'conflict', currentRevision: null, message: 'Cannot put the file deep/photos there: the server holds deep/photos/日本語.txt below it' };
    const mine = testFile('dev-c\'s own bytes');
    await t.request('PUT', `/v1/blocks/${mine.hash}`, { raw: mine.data });
    expect((await batch(id, [upsert('f', 'deep/photos', mine, null)])).f).toMatchObject(refused);
    const cRev = (await feed(id)).items.find((i) => i.path === 'c.txt')!.revision;
    expect((await batch(id, [{ key: 'm', action: 'move', from: 'c.txt', path: 'deep/photos', baseRevision: cRev }])).m).toMatchObject(refused);
    expect((await batch(id, [{ key: 'r', action: 'restore', path: 'deep/photos', revision: cRev, baseRevision: null, from: 'c.txt' }])).r).toMatchObject(refused);
    expect((await feed(id)).items.map((i) => `${i.kind} ${i.path}`).sort()).toEqual(['file c.txt', 'file deep/photos/日本語.txt']);
    // A folder there is that folder: taken; and once nothing lives below, the file is taken.
    expect(revisionOf((await batch(id, [mkdir('d', 'deep/photos', null)])).d)).toBeTruthy();
    const below = (await feed(id)).items.find((i) => i.path === 'deep/photos/日本語.txt')!.revision;
    const dir = (await feed(id)).items.find((i) => i.path === 'deep/photos')!.revision;
    expect(revisionOf((await batch(id, [del('x', 'deep/photos/日本語.txt', below), upsert('f', 'deep/photos', mine, dir)])).f)).toBeTruthy();
  });
});

describe('directory deletes', () => {
  it('deletes an empty directory as a tombstone of kind dir, in the incremental feed', async () => {
    const id = await folder();
    const rev = revisionOf((await batch(id, [mkdir('a', 'gone', null)])).a);
    const { token } = await feed(id);
    const delRev = revisionOf((await batch(id, [del('d', 'gone', rev)])).d);
    const { items } = await feed(id, token);
    expect(items).toEqual([expect.objectContaining({ path: 'gone', kind: 'dir', deleted: true, revision: delRev, size: 0, blocks: [] })]);
    // Deleting it again answers the tombstone; the full listing no longer has it.
    expect(revisionOf((await batch(id, [del('d', 'gone', delRev)])).d)).toBe(delRev);
    expect((await feed(id)).items).toEqual([]);
  });

  it('refuses to delete a directory that still holds live entries, with a conflict and its revision', async () => {
    const id = await folder();
    const r = await batch(id, [mkdir('a', 'box', null), upsert('f', 'box/deep/in.txt', hello, null), upsert('g', 'boxes.txt', hello, null)]);
    const dirRev = revisionOf(r.a);
    const refused = (await batch(id, [del('d', 'box', dirRev)])).d;
    expect(refused).toMatchObject({ ok: false, code: 'conflict', currentRevision: dirRev });
    expect(refused?.ok === false && refused.message).toMatch(/box\/deep\/in\.txt/);
    const { items } = await feed(id);
    expect(items.find((i) => i.path === 'box')).toMatchObject({ deleted: false, kind: 'dir' });
  });

  it('deletes a directory whose children go first in the same batch (children-first order)', async () => {
    const id = await folder();
    const r = await batch(id, [mkdir('a', 'box', null), mkdir('b', 'box/sub', null), upsert('f', 'box/sub/in.txt', hello, null)]);
    const results = await batch(id, [del('f', 'box/sub/in.txt', revisionOf(r.f)), del('b', 'box/sub', revisionOf(r.b)), del('a', 'box', revisionOf(r.a))]);
    expect(Object.values(results).every((x) => x.ok)).toBe(true);
    expect((await feed(id)).items).toEqual([]);
  });

  it('in a single-operation batch, a parent delete listed before its children rolls the whole batch back', async () => {
    const id = await folder();
    const r = await batch(id, [mkdir('a', 'box', null), upsert('f', 'box/in.txt', hello, null)]);
    const results = await batch(id, [del('a', 'box', revisionOf(r.a)), del('f', 'box/in.txt', revisionOf(r.f))], { 'single-operation': '1' });
    expect(results.a).toMatchObject({ ok: false, code: 'conflict' });
    expect(results.f).toMatchObject({ ok: false, code: 'aborted' });
    expect((await feed(id)).items.map((i) => i.path).sort()).toEqual(['box', 'box/in.txt']);
  });
});

describe('server migration 2 (directories)', () => {
  it('keeps every row written by schema 1 as a file', async () => {
    const dir = await makeTempDir('ferry-server-mig-');
    const db = new Database(path.join(dir, 'server.db'));
    try {
      db.exec(MIGRATIONS[0] as string);
      db.pragma('user_version = 1');
      db.prepare("INSERT INTO folders (id, created_at) VALUES ('f', 0)").run();
      db.prepare("INSERT INTO versions (folder_id, path, deleted, size, mtime, blocks, modified_at, device) VALUES ('f', 'a.txt', 0, 1, 0, '[]', 0, 'd')").run();
      db.prepare("INSERT INTO entries (folder_id, path, seq, deleted, size, mtime, blocks, modified_at, device) VALUES ('f', 'a.txt', 1, 0, 1, 0, '[]', 0, 'd')").run();
      expect(migrate(db)).toBe(MIGRATIONS.length);
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(db.prepare('SELECT kind FROM entries').get()).toEqual({ kind: 'file' });
      expect(db.prepare('SELECT kind FROM versions').get()).toEqual({ kind: 'file' });
      expect(() => db.prepare("UPDATE entries SET kind = 'link'").run()).toThrow(/CHECK/);
    } finally {
      db.close();
    }
  });
});
