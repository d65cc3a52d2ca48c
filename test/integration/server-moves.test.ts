import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchCompletedReply, BatchRequest, ChangesPage, syncTokenFromHref, type ChangeItem, type OperationResult } from '../../protocol';
import { startTestServer, testFile, upsert, type TestServer } from '../helpers/server-harness';

// The move operation (docs/sync-api.md, "Moves"): real server over loopback, real SQLite.
let t: TestServer;
const hello = testFile('hello');
const world = testFile('world!');

beforeAll(async () => {
  t = await startTestServer();
  for (const f of [hello, world]) await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data });
});
afterAll(async () => {
  await t.close();
});

async function folder(): Promise<string> {
  const id = `m-${randomUUID().slice(0, 8)}`;
  expect((await t.request('PUT', `/v1/folders/${id}`)).status).toBe(201);
  return id;
}

const move = (key: string, from: string, to: string, baseRevision: string) => ({ key, action: 'move' as const, from, path: to, baseRevision });
const mkdir = (key: string, p: string) => ({ key, action: 'upsert' as const, kind: 'dir' as const, path: p, mtime: 1_700_000_000_000, baseRevision: null });

async function batch(folderId: string, operations: unknown[], trackingId?: string): Promise<Record<string, OperationResult>> {
  const res = await t.request('POST', `/v1/folders/${folderId}/sync?mode=sync`, { body: { operations }, ...(trackingId ? { trackingId } : {}) });
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

const live = (items: ChangeItem[]) => items.filter((i) => !i.deleted).map((i) => i.path).sort();

describe('move of a file', () => {
  it('moves the content in one revision, marks the new entry movedFrom and leaves a tombstone an old client reads as a delete', async () => {
    const id = await folder();
    const r1 = revisionOf((await batch(id, [upsert('a', 'a.txt', hello, null)])).a);
    const { token } = await feed(id);
    const moved = revisionOf((await batch(id, [move('m', 'a.txt', 'docs/b.txt', r1)])).m);
    const { items } = await feed(id, token);
    const target = items.find((i) => i.path === 'docs/b.txt');
    expect(target).toMatchObject({ deleted: false, revision: moved, movedFrom: 'a.txt', size: hello.data.length, blocks: [hello.hash] });
    expect(items.find((i) => i.path === 'a.txt')).toMatchObject({ deleted: true });
    expect(live((await feed(id)).items)).toEqual(['docs/b.txt']);
  });

  it('refuses a stale baseRevision with a conflict naming the current revision; nothing moves', async () => {
    const id = await folder();
    const r1 = revisionOf((await batch(id, [upsert('a', 'a.txt', hello, null)])).a);
    const r2 = revisionOf((await batch(id, [upsert('a', 'a.txt', world, r1)])).a);
    const res = await batch(id, [move('m', 'a.txt', 'b.txt', r1)]);
    expect(res.m).toMatchObject({ ok: false, code: 'conflict', currentRevision: r2 });
    expect(live((await feed(id)).items)).toEqual(['a.txt']);
  });

  it('refuses a move onto a live path (never replaces it) and a move of a path that does not exist', async () => {
    const id = await folder();
    const results = await batch(id, [upsert('a', 'a.txt', hello, null), upsert('b', 'b.txt', world, null)]);
    const ra = revisionOf(results.a);
    const rb = revisionOf(results.b);
    expect((await batch(id, [move('m', 'a.txt', 'b.txt', ra)])).m).toMatchObject({ ok: false, code: 'conflict', currentRevision: rb });
    expect((await batch(id, [move('m', 'ghost.txt', 'c.txt', ra)])).m).toMatchObject({ ok: false, code: 'conflict', currentRevision: null });
    const { items } = await feed(id);
    expect(items.find((i) => i.path === 'b.txt')).toMatchObject({ blocks: [world.hash] });
    expect(live(items)).toEqual(['a.txt', 'b.txt']);
  });

  it('answers a retried move once: the same tracking id reaches the same result, a new one finds the move done', async () => {
    const id = await folder();
    const r1 = revisionOf((await batch(id, [upsert('a', 'a.txt', hello, null)])).a);
    const trackingId = randomUUID();
    const first = revisionOf((await batch(id, [move('m', 'a.txt', 'b.txt', r1)], trackingId)).m);
    const again = revisionOf((await batch(id, [move('m', 'a.txt', 'b.txt', r1)], trackingId)).m);
    const fresh = revisionOf((await batch(id, [move('m', 'a.txt', 'b.txt', r1)])).m);
    expect(again).toBe(first);
    expect(fresh).toBe(first);
    const { items } = await feed(id);
    expect(items.filter((i) => i.path === 'b.txt')).toHaveLength(1);
    expect(items.find((i) => i.path === 'b.txt')?.revision).toBe(first);
  });

  it('clears movedFrom once the moved path is written again', async () => {
    const id = await folder();
    const r1 = revisionOf((await batch(id, [upsert('a', 'a.txt', hello, null)])).a);
    const r2 = revisionOf((await batch(id, [move('m', 'a.txt', 'b.txt', r1)])).m);
    await batch(id, [upsert('b', 'b.txt', world, r2)]);
    const { items } = await feed(id);
    expect(items.find((i) => i.path === 'b.txt')).not.toHaveProperty('movedFrom');
  });
});

describe('move of a directory', () => {
  it('moves the whole subtree in one operation, each new entry naming its old path', async () => {
    const id = await folder();
    const made = await batch(id, [mkdir('d', 'photos'), mkdir('e', 'photos/2024'), upsert('a', 'photos/a.txt', hello, null), upsert('b', 'photos/2024/b.txt', world, null)]);
    const rd = revisionOf(made.d);
    await batch(id, [upsert('x', 'photosx.txt', hello, null)]); // a sibling whose name starts alike stays
    const { token } = await feed(id);
    const moved = revisionOf((await batch(id, [move('m', 'photos', 'archive/photos', rd)])).m);
    const { items } = await feed(id, token);
    const byPath = new Map(items.map((i) => [i.path, i]));
    expect(byPath.get('archive/photos')).toMatchObject({ kind: 'dir', deleted: false, revision: moved, movedFrom: 'photos' });
    expect(byPath.get('archive/photos/2024')).toMatchObject({ kind: 'dir', movedFrom: 'photos/2024' });
    expect(byPath.get('archive/photos/a.txt')).toMatchObject({ blocks: [hello.hash], movedFrom: 'photos/a.txt' });
    expect(byPath.get('archive/photos/2024/b.txt')).toMatchObject({ blocks: [world.hash], movedFrom: 'photos/2024/b.txt' });
    for (const old of ['photos', 'photos/2024', 'photos/a.txt', 'photos/2024/b.txt']) expect(byPath.get(old)).toMatchObject({ deleted: true });
    expect(live((await feed(id)).items)).toEqual(['archive/photos', 'archive/photos/2024', 'archive/photos/2024/b.txt', 'archive/photos/a.txt', 'photosx.txt']);
  });

  // A directory move retried under a new tracking id (its answer was lost): answered as the
  // move was, with the list of what moved. Refused: an answer without it, which made the client
  // take every file below the directory for one the server had not moved and upload it again.
  it('answers a directory move retried under a new tracking id with the same moved list, leaving out an entry written since', async () => {
    const id = await folder();
    const made = await batch(id, [mkdir('d', 'src'), upsert('a', 'src/a.txt', hello, null), upsert('b', 'src/sub/b.txt', world, null)]);
    const first = await batch(id, [move('m', 'src', 'dst', revisionOf(made.d))]);
    expect(first.m).toMatchObject({ ok: true, moved: expect.any(Array) });
    const again = await batch(id, [move('m', 'src', 'dst', revisionOf(made.d))]);
    expect(again.m).toEqual(first.m);
    const moved = first.m!.ok ? first.m!.moved! : [];
    expect(moved.map((m) => m.path).sort()).toEqual(['dst/a.txt', 'dst/sub/b.txt']);
    expect(moved.find((m) => m.path === 'dst/a.txt')?.from).toBe(revisionOf(made.a));
    // Written since the move: no longer what the move carried.
    const rb = moved.find((m) => m.path === 'dst/sub/b.txt')!.revision;
    await batch(id, [upsert('w', 'dst/sub/b.txt', hello, rb)]);
    const later = await batch(id, [move('m', 'src', 'dst', revisionOf(made.d))]);
    expect(later.m!.ok && later.m!.moved!.map((m) => m.path)).toEqual(['dst/a.txt']);
  });

  it('refuses the whole move when any path of the subtree is taken at the target: nothing moves', async () => {
    const id = await folder();
    const made = await batch(id, [mkdir('d', 'src'), upsert('a', 'src/a.txt', hello, null), upsert('t', 'dst/a.txt', world, null)]);
    const res = await batch(id, [move('m', 'src', 'dst', revisionOf(made.d))]);
    expect(res.m).toMatchObject({ ok: false, code: 'conflict', currentRevision: revisionOf(made.t) });
    expect(live((await feed(id)).items)).toEqual(['dst/a.txt', 'src', 'src/a.txt']);
  });
});

// Chaos --kinds seed 60428: a client holds a file that replaced a folder on the folder's revision
// until its upload goes; renamed meanwhile, its move named that revision. The move's kind says
// what the client moves (docs/sync-api.md, "Moves").
describe('move of the other kind', () => {
  it('chaos --kinds seed 60428: refuses a file move of a folder, and a folder move of a file, naming the current revision; nothing moves', async () => {
    const id = await folder();
    const made = await batch(id, [mkdir('d', 'ü'), upsert('a', 'ü/b/a.txt', hello, null), upsert('f', 'notes.txt', world, null)]);
    const asFile = await batch(id, [{ ...move('m', 'ü', 'Ü', revisionOf(made.d)), kind: 'file' }]);
    expect(asFile.m).toMatchObject({ ok: false, code: 'conflict', currentRevision: revisionOf(made.d), message: 'Cannot move ü as a file: it is a folder on the server' });
    const asDir = await batch(id, [{ ...move('m', 'notes.txt', 'notes', revisionOf(made.f)), kind: 'dir' }]);
    expect(asDir.m).toMatchObject({ ok: false, code: 'conflict', currentRevision: revisionOf(made.f) });
    expect(live((await feed(id)).items)).toEqual(['notes.txt', 'ü', 'ü/b/a.txt']);
    // Named as what it is, it moves.
    revisionOf((await batch(id, [{ ...move('m', 'ü', 'Ü', revisionOf(made.d)), kind: 'dir' }])).m);
    expect(live((await feed(id)).items)).toEqual(['notes.txt', 'Ü', 'Ü/b/a.txt']);
  });
});

// The directory move is set-based (a few statements for the whole subtree, issue 16): it must
// take exactly the subtree, as one write per entry did.
describe('move of a directory, set-based', () => {
  it('takes exactly the live subtree: not a sibling sharing the prefix, not a tombstone below it; NFC and astral names keep their rest', async () => {
    const id = await folder();
    // 'a/😀b' has a character of two UTF-16 units: the rest of each path is cut by characters in SQL.
    const src = 'a/😀b';
    const made = await batch(id, [
      mkdir('d', src),
      mkdir('s', `${src}/Ärger`),
      upsert('f', `${src}/Ärger/ü.txt`, hello, null),
      upsert('g', `${src}/g.txt`, world, null),
      upsert('gone', `${src}/gone.txt`, hello, null),
      upsert('sib1', 'a/😀bc/x.txt', hello, null),
      upsert('sib2', 'a/😀b-x.txt', world, null),
      upsert('sib3', 'a/😀b0', hello, null),
    ]);
    const { token: beforeDelete } = await feed(id);
    const del = await batch(id, [{ key: 'del', action: 'delete', path: `${src}/gone.txt`, baseRevision: revisionOf(made.gone) }]);
    const { token } = await feed(id);
    const res = (await batch(id, [move('m', src, 'z/Ä', revisionOf(made.d))])).m;
    if (!res?.ok) throw new Error(JSON.stringify(res));
    expect(res.moved?.map((m) => [m.path, m.from])).toEqual([
      ['z/Ä/g.txt', revisionOf(made.g)],
      ['z/Ä/Ärger', revisionOf(made.s)],
      ['z/Ä/Ärger/ü.txt', revisionOf(made.f)],
    ]);
    const { items } = await feed(id, token);
    // Parents first, then the tombstones children first, the directory's own last.
    expect(items.map((i) => [i.path, i.deleted, i.movedFrom ?? null])).toEqual([
      ['z/Ä', false, src],
      ['z/Ä/g.txt', false, `${src}/g.txt`],
      ['z/Ä/Ärger', false, `${src}/Ärger`],
      ['z/Ä/Ärger/ü.txt', false, `${src}/Ärger/ü.txt`],
      [`${src}/Ärger/ü.txt`, true, null],
      [`${src}/Ärger`, true, null],
      [`${src}/g.txt`, true, null],
      [src, true, null],
    ]);
    expect(items[0]?.revision).toBe(res.revision);
    for (const m of res.moved ?? []) expect(items.find((i) => i.path === m.path)?.revision).toBe(m.revision);
    expect(items.find((i) => i.path === 'z/Ä/Ärger/ü.txt')).toMatchObject({ kind: 'file', size: hello.data.length, blocks: [hello.hash] });
    expect(live((await feed(id)).items)).toEqual(['a/😀b-x.txt', 'a/😀b0', 'a/😀bc/x.txt', 'z/Ä', 'z/Ä/g.txt', 'z/Ä/Ärger', 'z/Ä/Ärger/ü.txt']);
    // The tombstone below the source stayed where it was, untouched by the move.
    expect((await feed(id, beforeDelete)).items.find((i) => i.path === `${src}/gone.txt`)).toMatchObject({ deleted: true, revision: revisionOf(del.del) });
  });

  it('tombstones only what was there before: a directory moved above itself keeps the entry it just wrote inside its old subtree', async () => {
    const id = await folder();
    // No entry for p: moving p/q to p is allowed (p is free), and p/q/q/x.txt lands at p/q/x.txt.
    const made = await batch(id, [mkdir('d', 'p/q'), upsert('x', 'p/q/q/x.txt', hello, null)]);
    const { token } = await feed(id);
    const res = (await batch(id, [move('m', 'p/q', 'p', revisionOf(made.d))])).m;
    expect(res).toMatchObject({ ok: true, moved: [{ path: 'p/q/x.txt', from: revisionOf(made.x) }] });
    expect(live((await feed(id)).items)).toEqual(['p', 'p/q/x.txt']);
    const { items } = await feed(id, token);
    expect(items.find((i) => i.path === 'p/q/x.txt')).toMatchObject({ movedFrom: 'p/q/q/x.txt', blocks: [hello.hash] });
    expect(items.filter((i) => i.deleted).map((i) => i.path).sort()).toEqual(['p/q', 'p/q/q/x.txt']);
  });
});

describe('move operation schema', () => {
  it('refuses a move without a new path, into itself, or claiming a path another operation of the batch names', () => {
    expect(BatchRequest.safeParse({ operations: [move('m', 'a', 'a', '1')] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [move('m', 'a', 'a/b', '1')] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [move('m', 'a', 'b', '1'), { key: 'd', action: 'delete', path: 'a', baseRevision: '1' }] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [{ ...move('m', 'a', 'b', '1'), baseRevision: null }] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [move('m', 'a', 'ab', '1')] }).success).toBe(true);
  });
});
