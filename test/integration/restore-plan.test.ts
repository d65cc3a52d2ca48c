import { describe, expect, it } from 'vitest';
import { restore } from '../../main/engine/history/restore-batch';
import { SyncApiClient } from '../../main/remote';
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

async function write(op: ReturnType<typeof upsert> | ReturnType<typeof del>): Promise<string> {
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
    expect(undo.skipped).toEqual([
      { path: 'only-once.txt', reason: 'it has no earlier version' },
      { path: 'never.txt', reason: 'the server has no history of this path' },
    ]);
    expect((await current()).get('a.txt')).toEqual(blocksOf(files.a1));
    const back = await restore(client, 'docs', { kind: 'paths', paths: ['a.txt'], revision: a2 });
    expect(back.restored).toHaveLength(1);
    expect((await current()).get('a.txt')).toEqual(blocksOf(files.a2));
    const wrong = await restore(client, 'docs', { kind: 'paths', paths: ['a.txt'], revision: '999999' });
    expect(wrong.failed).toEqual([expect.objectContaining({ path: 'a.txt', code: 'unknown_revision' })]);
    await expect(restore(client, 'docs', { kind: 'paths', paths: ['a.txt', 'b.txt'], revision: a2 })).rejects.toMatchObject({ code: 'invalid_request' });
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
});
