import { describe, expect, it } from 'vitest';
import type { OperationInput } from '../../protocol';
import { FerryError } from '../../protocol/errors';
import { restore, type RestoreRemote } from '../../main/engine/history/restore-batch';
import { SyncApiClient } from '../../main/remote';
import { FaultProxy } from '../fakes/fault-proxy';
import { del, serversPerTest, testFile, upsert, type TestFile, type TestServer } from '../helpers/server-harness';

// How the engine expands `ferry restore` into restore operations (main/engine/history), against
// the real server: a path's previous version, a folder as it was at a moment, a given revision.

const servers = serversPerTest();
let now = Date.UTC(2030, 0, 1, 12, 0, 0);
let t: TestServer;
let client: SyncApiClient;

const files = { a1: testFile('a one'), a2: testFile('a two'), b1: testFile('b one'), c1: testFile('c one'), d1: testFile('d one') };


async function setUp(): Promise<void> {
  t = await servers.started({ clock: () => now, gcIntervalMs: 0 });
  const c = new SyncApiClient({ baseUrl: t.server.url, token: t.server.token, deviceId: 'planner' });
  servers.cleanups.push(() => c.close());
  client = c;
  await client.createFolder('docs');
  for (const f of Object.values(files)) await client.putBlock(f.hash, f.data);
}

async function write(op: OperationInput): Promise<string> {
  const reply = await client.submitBatch('docs', [op]);
  if (!('results' in reply) || !reply.results[op.key]?.ok) throw new Error(JSON.stringify(reply));
  now += 60_000;
  return (reply.results[op.key] as { revision: string }).revision;
}

async function current(): Promise<Map<string, string[]>> {
  const page = await client.changesPage('docs', { limit: 1000 });
  return new Map(page.items.filter((i) => !i.deleted).map((i) => [i.path, i.blocks]));
}

const blocksOf = (f: TestFile) => [f.hash];

describe('restore requests', () => {
  it('gives a path its previous version, or a given revision, and says why it skips one', async () => {
    await setUp();
    const a1 = await write(upsert('k', 'a.txt', files.a1, null));
    const a2 = await write(upsert('k', 'a.txt', files.a2, a1));
    await write(upsert('k', 'only-once.txt', files.b1, null));
    const undo = await restore(client, 'docs', { kind: 'paths', paths: ['a.txt', 'only-once.txt', 'never.txt'] });
    expect(undo.restored.map((r) => r.path)).toEqual(['a.txt']);
    expect(undo.skipped).toEqual([{ path: 'only-once.txt', reason: 'it has no earlier version' }]);
    // A path the server never had is a failure (a typo), not a skip: the command exits 1 for it.
    expect(undo.failed).toEqual([{ path: 'never.txt', code: 'not_found', message: expect.stringMatching(/^the server has no history of this path/) }]);
    const atNever = await restore(client, 'docs', { kind: 'paths', paths: ['never.txt', 'a.txt'], at: new Date(now).toISOString() });
    expect(atNever.failed).toEqual([expect.objectContaining({ path: 'never.txt', code: 'not_found' })]);
    expect((await current()).get('a.txt')).toEqual(blocksOf(files.a1));
    const back = await restore(client, 'docs', { kind: 'paths', paths: ['a.txt'], revision: a2 });
    expect(back.restored).toHaveLength(1);
    expect((await current()).get('a.txt')).toEqual(blocksOf(files.a2));
    // The current version has those bytes already: no new version, and none said to be restored.
    const same = await restore(client, 'docs', { kind: 'paths', paths: ['a.txt'], revision: a2 });
    expect(same).toMatchObject({ restored: [], folders: 0, skipped: [{ path: 'a.txt', reason: 'it has those bytes already: no new version was made' }] });
    const wrong = await restore(client, 'docs', { kind: 'paths', paths: ['a.txt'], revision: '999999' });
    expect(wrong.failed).toEqual([expect.objectContaining({ path: 'a.txt', code: 'unknown_revision' })]);
    await expect(restore(client, 'docs', { kind: 'paths', paths: ['a.txt', 'b.txt'], revision: a2 })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  // Found by a new-user try: a file restored from Deleted files below a folder deleted with it
  // came back on every device, its folders with it on disk, while the server kept those folders
  // deleted: out of sync for good, and still listed as deleted. Refused: a live file below a
  // folder the server holds as deleted.
  it('brings back the deleted folders above a restored file, first, and counts them as folders', async () => {
    await setUp();
    const dir = (p: string) => ({ key: 'k', action: 'upsert' as const, kind: 'dir' as const, path: p, mtime: 1_700_000_000_000, baseRevision: null });
    const proj = await write(dir('proj'));
    const sub = await write(dir('proj/sub'));
    const deep = await write(upsert('k', 'proj/sub/deep.txt', files.d1, null));
    await write(del('k', 'proj/sub/deep.txt', deep));
    await write(del('k', 'proj/sub', sub));
    await write(del('k', 'proj', proj));
    const back = await restore(client, 'docs', { kind: 'deleted', paths: ['proj/sub/deep.txt'] });
    expect(back).toMatchObject({ restored: [{ path: 'proj/sub/deep.txt' }], folders: 2, failed: [], skipped: [] });
    const page = await client.changesPage('docs', { limit: 1000 });
    const live = page.items.filter((i) => !i.deleted).map((i) => `${i.kind} ${i.path}`);
    expect(live).toEqual(['dir proj', 'dir proj/sub', 'file proj/sub/deep.txt']);
  });

  // Found by review: the deleted listing leaves out a folder a move took away, so a file deleted
  // in it before the move was restored below a folder the plan took for live, and refused.
  it('brings back a folder a move took away, above a file deleted in it before the move', async () => {
    await setUp();
    const dir = (p: string) => ({ key: 'k', action: 'upsert' as const, kind: 'dir' as const, path: p, mtime: 1_700_000_000_000, baseRevision: null });
    const proj = await write(dir('proj'));
    const gone = await write(upsert('k', 'proj/gone.txt', files.a1, null));
    await write(upsert('k', 'proj/stays.txt', files.b1, null));
    await write(del('k', 'proj/gone.txt', gone));
    await write({ key: 'k', action: 'move', from: 'proj', path: 'archive', baseRevision: proj });
    const back = await restore(client, 'docs', { kind: 'deleted' });
    expect(back).toMatchObject({ restored: [{ path: 'proj/gone.txt' }], folders: 1, failed: [], skipped: [] });
    expect([...(await current()).keys()].sort()).toEqual(['archive', 'archive/stays.txt', 'proj', 'proj/gone.txt']);
  });

  // Found by review: the look for deleted folders above a restored file read the folder's whole
  // deleted listing (every page) for a restore of one file. Refused: reading deleted entries that
  // are not above what is restored.
  it('looks for the deleted folders above one file in their own histories, not in the whole deleted listing', async () => {
    await setUp();
    const old = Array.from({ length: 300 }, (_, i) => `old/f${i}.txt`);
    const made = await client.submitBatch('docs', old.map((p, i) => upsert(`u${i}`, p, files.a1, null)), { mode: 'sync' });
    if (!('results' in made)) throw new Error('the batch ran as a task');
    await client.submitBatch('docs', old.map((p, i) => del(`d${i}`, p, (made.results[`u${i}`] as { revision: string }).revision)), { mode: 'sync' });
    const r1 = await write(upsert('k', 'work/report.txt', files.b1, null));
    await write(upsert('k', 'work/report.txt', files.c1, r1));
    let listedDeleted = 0;
    const counting: RestoreRemote = {
      historyPage: (f, q) => client.historyPage(f, q),
      changesPage: (f, q) => client.changesPage(f, q),
      submitBatch: (f, o, opt) => client.submitBatch(f, o, opt),
      getTask: (id) => client.getTask(id),
      deletedPage: async (f, q) => {
        const page = await client.deletedPage(f, q);
        listedDeleted += page.items.length;
        return page;
      },
    };
    const back = await restore(counting, 'docs', { kind: 'paths', paths: ['work/report.txt'] });
    expect(back).toMatchObject({ restored: [{ path: 'work/report.txt' }], folders: 0 });
    expect(listedDeleted).toBe(0);
  });

  it('puts a folder back as it was at a moment: changed and deleted files return, later ones stay, others are untouched', async () => {
    await setUp();
    const x = await write(upsert('k', 'proj/x.txt', files.a1, null));
    const y = await write(upsert('k', 'proj/y.txt', files.b1, null));
    await write(upsert('k', 'other.txt', files.d1, null));
    const moment = new Date(now - 1).toISOString();
    await write(upsert('k', 'proj/x.txt', files.a2, x));
    await write(del('k', 'proj/y.txt', y));
    await write(upsert('k', 'proj/z.txt', files.c1, null));
    const outcome = await restore(client, 'docs', { kind: 'paths', paths: ['proj'], at: moment });
    expect(outcome.restored.map((r) => r.path).sort()).toEqual(['proj/x.txt', 'proj/y.txt']);
    expect(outcome.skipped).toEqual([{ path: 'proj/z.txt', reason: `it did not exist at ${moment}` }]);
    const state = await current();
    expect(state.get('proj/x.txt')).toEqual(blocksOf(files.a1));
    expect(state.get('proj/y.txt')).toEqual(blocksOf(files.b1));
    // A later file is left as it is (restore never deletes), and nothing outside the folder moved.
    expect(state.get('proj/z.txt')).toEqual(blocksOf(files.c1));
    expect(state.get('other.txt')).toEqual(blocksOf(files.d1));
  });

  // Found by a new-user try: `ferry restore FOLDER --at T` with T before a rename of the folder
  // restored nothing of what was in it then ("it did not exist at T"). Each file now gets its
  // content at T under the name it has now (docs/conflict-rules.md, R1–R3).
  const dirOp = (p: string) => ({ key: 'k', action: 'upsert' as const, kind: 'dir' as const, path: p, mtime: 1_700_000_000_000, baseRevision: null });
  const moveOp = (from: string, to: string, base: string) => ({ key: 'k', action: 'move' as const, from, path: to, baseRevision: base });

  /** proj at the moment: x, y, gone, same, old-name, out; then edits, renames and a folder rename to arch. */
  async function renamedSince(): Promise<string> {
    const proj = await write(dirOp('proj'));
    const x = await write(upsert('k', 'proj/x.txt', files.a1, null));
    await write(upsert('k', 'proj/y.txt', files.b1, null));
    const gone = await write(upsert('k', 'proj/gone.txt', files.d1, null));
    await write(upsert('k', 'proj/same.txt', files.c1, null));
    const oldName = await write(upsert('k', 'proj/old-name.txt', files.b1, null));
    const out = await write(upsert('k', 'proj/out.txt', files.c1, null));
    await write(dirOp('elsewhere'));
    const kept = await write(upsert('k', 'keep/k.txt', files.a1, null));
    const moment = new Date(now - 1).toISOString();
    await write(upsert('k', 'keep/k.txt', files.a2, kept));
    await write(upsert('k', 'proj/x.txt', files.a2, x));
    await write(del('k', 'proj/gone.txt', gone));
    const renamed = await write(moveOp('proj/old-name.txt', 'proj/new-name.txt', oldName));
    await write(upsert('k', 'proj/new-name.txt', files.d1, renamed));
    const movedOut = await write(moveOp('proj/out.txt', 'elsewhere/out.txt', out));
    await write(upsert('k', 'elsewhere/out.txt', files.a2, movedOut));
    await write(moveOp('proj', 'arch', proj));
    const y = (await client.historyPage('docs', { path: 'arch/y.txt' })).items[0]!.revision;
    await write(upsert('k', 'arch/y.txt', files.c1, y));
    await write(upsert('k', 'arch/later.txt', files.a1, null));
    return moment;
  }

  async function expectAsItWas(moment: string, asked: string): Promise<void> {
    const outcome = await restore(client, 'docs', { kind: 'paths', paths: [asked], at: moment });
    expect(outcome.failed).toEqual([]);
    expect(outcome.restored.map((r) => r.path).sort()).toEqual(['arch/gone.txt', 'arch/new-name.txt', 'arch/x.txt', 'arch/y.txt', 'elsewhere/out.txt']);
    expect(outcome.skipped).toEqual(
      expect.arrayContaining([
        { path: 'arch/later.txt', reason: `it did not exist at ${moment}` },
        { path: 'arch/same.txt', reason: `it has not changed since ${moment}`, kind: 'file' },
      ]),
    );
    const state = await current();
    expect(state.get('arch/x.txt')).toEqual(blocksOf(files.a1));
    expect(state.get('arch/y.txt')).toEqual(blocksOf(files.b1));
    expect(state.get('arch/gone.txt')).toEqual(blocksOf(files.d1));
    expect(state.get('arch/new-name.txt')).toEqual(blocksOf(files.b1));
    expect(state.get('elsewhere/out.txt')).toEqual(blocksOf(files.c1));
    expect(state.get('arch/same.txt')).toEqual(blocksOf(files.c1));
    expect(state.get('arch/later.txt')).toEqual(blocksOf(files.a1));
    // Restore never renames back nor duplicates: no old name comes back beside the new one.
    expect([...state.keys()].filter((p) => p.startsWith('proj') || p.endsWith('old-name.txt') || p === 'arch/out.txt')).toEqual([]);
    const restoredX = (await client.historyPage('docs', { path: 'arch/x.txt' })).items[0]!;
    const thenX = (await client.historyPage('docs', { path: 'proj/x.txt' })).items.at(-1)!; // its first version: a1
    expect(restoredX.restoredFrom).toBe(thenX.revision);
  }

  it('puts a renamed folder back as it was at a moment, under its new name: moves inside and out followed, nothing duplicated', async () => {
    await setUp();
    await expectAsItWas(await renamedSince(), 'arch');
  });

  it('takes the folder\'s old name for the same folder: the files come back under the name they have now', async () => {
    await setUp();
    await expectAsItWas(await renamedSince(), 'proj');
  });

  // A new-user try: run again, the same restore found "another file" where it had put the file.
  it('run a second time, restores nothing and says the files are as they were', async () => {
    await setUp();
    const moment = await renamedSince();
    await expectAsItWas(moment, 'arch');
    const again = await restore(client, 'docs', { kind: 'paths', paths: ['arch'], at: moment });
    expect(again.restored).toEqual([]);
    expect(again.failed).toEqual([]);
    const reasons = new Map(again.skipped.map((s) => [s.path, s.reason]));
    for (const p of ['arch/x.txt', 'arch/y.txt', 'arch/gone.txt', 'arch/new-name.txt', 'elsewhere/out.txt', 'arch/same.txt']) expect(reasons.get(p)).toBe(`it has not changed since ${moment}`);
    expect(reasons.get('arch/later.txt')).toBe(`it did not exist at ${moment}`);
    expect(again.skipped.filter((s) => /another file|proj/.test(`${s.path} ${s.reason}`))).toEqual([]);
  });

  // A new-user try: `restore q3 --at T` after q3 was renamed to q3arch and a new q3 made,
  // restored one file of q3arch and skipped the rest unsaid.
  it('takes a folder\'s name then for what it held then, though a new folder has that name now', async () => {
    await setUp();
    const q3 = await write(dirOp('q3'));
    const a = await write(upsert('k', 'q3/a.txt', files.a1, null));
    const b = await write(upsert('k', 'q3/b.txt', files.b1, null));
    const moment = new Date(now - 1).toISOString();
    await write(upsert('k', 'q3/a.txt', files.a2, a));
    await write(upsert('k', 'q3/b.txt', files.c1, b));
    await write(moveOp('q3', 'q3arch', q3));
    await write(dirOp('q3'));
    await write(upsert('k', 'q3/a.txt', files.d1, null));
    const outcome = await restore(client, 'docs', { kind: 'paths', paths: ['q3'], at: moment });
    expect(outcome.failed).toEqual([]);
    expect(outcome.restored.map((r) => r.path).sort()).toEqual(['q3arch/a.txt', 'q3arch/b.txt']);
    expect(outcome.skipped).toEqual(
      expect.arrayContaining([
        { path: 'q3', reason: `what it held at ${moment} is q3arch now (restored there); this one is new since` },
        // What had the name then is said, not "it did not exist" (a new-user try).
        { path: 'q3/a.txt', reason: `this one was made after ${moment}; what had its name then was moved to q3arch/a.txt since` },
      ]),
    );
    const state = await current();
    expect(state.get('q3arch/a.txt')).toEqual(blocksOf(files.a1));
    expect(state.get('q3arch/b.txt')).toEqual(blocksOf(files.b1));
    expect(state.get('q3/a.txt')).toEqual(blocksOf(files.d1));
  });

  // A new-user try read the moment asked as the time of the delete ("it was deleted at T").
  it('says a file already deleted at the moment asked was, with the time of its delete', async () => {
    await setUp();
    const made = await write(upsert('k', 'early.txt', files.a1, null));
    await write(del('k', 'early.txt', made));
    const deletedAt = (await client.historyPage('docs', { path: 'early.txt' })).items[0]!.modificationDate;
    const moment = new Date(now + 60_000).toISOString();
    const outcome = await restore(client, 'docs', { kind: 'paths', paths: ['early.txt'], at: moment });
    expect(outcome).toMatchObject({ restored: [], failed: [], skipped: [{ path: 'early.txt', reason: `it was already deleted at ${moment} (deleted ${deletedAt})` }] });
    expect(deletedAt).not.toBe(moment);
  });

  // A new-user try: a plain restore of a renamed file's old name brought a second copy back there.
  it('does not bring a renamed file back under its old name unasked; a revision of the old name goes to the name it has now', async () => {
    await setUp();
    const r1 = await write(upsert('k', 'old.txt', files.a1, null));
    const r2 = await write(upsert('k', 'old.txt', files.a2, r1));
    await write(moveOp('old.txt', 'new.txt', r2));
    const plain = await restore(client, 'docs', { kind: 'paths', paths: ['old.txt'] });
    expect(plain).toMatchObject({ restored: [], failed: [], skipped: [{ path: 'old.txt', reason: 'it was moved to new.txt (renamed, not deleted): restore that path, or give --revision to bring a copy back here' }] });
    const back = await restore(client, 'docs', { kind: 'paths', paths: ['new.txt'], revision: r1 });
    expect(back).toMatchObject({ restored: [{ path: 'new.txt' }], failed: [] });
    const state = await current();
    expect(state.get('new.txt')).toEqual(blocksOf(files.a1));
    expect(state.has('old.txt')).toBe(false);
  });

  it('against a server that cannot restore across renames (400 on `moved` and `from`), restores the rest and names what it could not', async () => {
    await setUp();
    const moment = await renamedSince();
    const refused = () => new FerryError('invalid_request', 'Unrecognized key', { retryable: false });
    const older: RestoreRemote = {
      historyPage: (f, q) => client.historyPage(f, q),
      changesPage: (f, q) => client.changesPage(f, q),
      getTask: (id) => client.getTask(id),
      deletedPage: (f, q) => (q.moved ? Promise.reject(refused()) : client.deletedPage(f, q)),
      submitBatch: (f, ops, opt) => (ops.some((op) => 'from' in op) ? Promise.reject(refused()) : client.submitBatch(f, ops, opt)),
    };
    const outcome = await restore(older, 'docs', { kind: 'paths', paths: ['arch', 'keep'], at: moment });
    expect(outcome.failed).toEqual([]);
    expect(outcome.restored.map((r) => r.path)).toEqual(['keep/k.txt']);
    expect(outcome.skipped).toEqual(expect.arrayContaining([{ path: 'arch/x.txt', reason: 'it was renamed since (from proj/x.txt), and this server cannot restore across a rename: upgrade it' }]));
    const state = await current();
    expect(state.get('keep/k.txt')).toEqual(blocksOf(files.a1));
    expect(state.get('arch/x.txt')).toEqual(blocksOf(files.a2));
  });

  it('rides out transient failures: a 503 on the listing, a batch cut after the server applied it, a 500; each file comes back once', async () => {
    await setUp();
    const a = await write(upsert('k', 'gone/a.txt', files.a1, null));
    const b = await write(upsert('k', 'gone/b.txt', files.b1, null));
    await write(del('k', 'gone/a.txt', a));
    await write(del('k', 'gone/b.txt', b));
    const proxy = await FaultProxy.start({ target: t.server.url });
    servers.cleanups.push(() => proxy.close());
    const through = new SyncApiClient({ baseUrl: proxy.url, token: t.server.token, deviceId: 'planner' });
    servers.cleanups.push(() => through.close());
    proxy.add({ name: '503', method: 'GET', path: /\/deleted$/, action: { kind: 'status', status: 503, retryAfter: 1 } });
    proxy.add({ name: 'cut after apply', method: 'POST', path: /\/sync$/, action: { kind: 'drop-response', afterBytes: 1 } });
    proxy.add({ name: '500', method: 'POST', path: /\/sync$/, after: 0, action: { kind: 'status', status: 500 } });
    const waits: number[] = [];
    const outcome = await restore(through, 'docs', { kind: 'deleted', prefix: 'gone' }, { delay: async (ms) => void waits.push(ms) });
    expect(outcome.restored.map((r) => r.path).sort()).toEqual(['gone/a.txt', 'gone/b.txt']);
    expect(outcome.failed).toEqual([]);
    // The server's Retry-After was kept; each batch attempt carried the one tracking id.
    expect(waits[0]).toBe(1000);
    const batches = proxy.log.filter((e) => e.method === 'POST' && e.path.endsWith('/sync'));
    expect(batches.map((e) => e.fault)).toEqual(['cut after apply', '500', undefined]);
    expect(new Set(batches.map((e) => e.trackingId)).size).toBe(1);
    // Applied once: each path has exactly one live revision after its deletion.
    for (const path of ['gone/a.txt', 'gone/b.txt']) {
      const history = (await client.historyPage('docs', { path })).items;
      expect(history.map((h) => h.deleted)).toEqual([false, true, false]);
    }
    expect((await current()).get('gone/a.txt')).toEqual(blocksOf(files.a1));
  });

  it('gives up at once on a failure that a retry cannot mend', async () => {
    await setUp();
    const a = await write(upsert('k', 'gone/a.txt', files.a1, null));
    await write(del('k', 'gone/a.txt', a));
    const proxy = await FaultProxy.start({ target: t.server.url });
    servers.cleanups.push(() => proxy.close());
    const through = new SyncApiClient({ baseUrl: proxy.url, token: t.server.token, deviceId: 'planner' });
    servers.cleanups.push(() => through.close());
    proxy.add({ name: '403', method: 'POST', path: /\/sync$/, times: Infinity, action: { kind: 'status', status: 403, code: 'forbidden', message: 'this device was revoked' } });
    await expect(restore(through, 'docs', { kind: 'deleted' }, { delay: async () => undefined })).rejects.toMatchObject({ code: 'forbidden', retryable: false });
    expect(proxy.log.filter((e) => e.method === 'POST').length).toBe(1);
    // And one that keeps failing is reported after the retries, not retried for ever.
    proxy.add({ name: '503 always', method: 'GET', path: /\/deleted$/, times: Infinity, action: { kind: 'status', status: 503 } });
    await expect(restore(through, 'docs', { kind: 'deleted' }, { delay: async () => undefined })).rejects.toMatchObject({ retryable: true });
    expect(proxy.log.filter((e) => e.fault === '503 always').length).toBe(5);
  });
});
