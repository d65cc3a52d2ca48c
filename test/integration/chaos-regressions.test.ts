import { appendFileSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';
import { serverTree } from '../chaos/snapshot';

// Bugs the chaos harness (test/chaos, `npm run chaos`) found, each reproduced on its own with
// the seed that found it. (Seed 2's stale base after a requeue is in test/unit/push-requeue.test.ts.)
describe('chaos regressions', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function oneAgent(prepare: (folder: string) => void): Promise<{ agent: Agent; server: RunningServer; api: SyncApiClient }> {
    const tmp = makeTempDir('ferry-chaos-reg-');
    cleanups.push(() => tmp.cleanup());
    const folder = path.join(tmp.dir, 'folder');
    mkdirSync(folder);
    prepare(folder);
    const server = await startServer({ dataDir: path.join(tmp.dir, 'server') });
    cleanups.push(() => server.close());
    const agent = await createAgent({
      dataDir: path.join(tmp.dir, 'agent'),
      deviceName: 'reg',
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId: 'chaos' }]),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 50 } },
    });
    cleanups.push(() => agent.stop());
    await agent.start();
    const api = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'checker' });
    cleanups.push(() => api.close());
    return { agent, server, api };
  }

  // Seeds 2 and 3 (npm run chaos -- --seed 3 --ops 40): a file whose name is in NFD on disk (as
  // macOS writes names, and any Linux program may) is never uploaded. The index keys it in NFC,
  // and the pusher opens `root + NFC key` (push/send.ts absPathOf), which on Linux is another
  // name: ENOENT → "file changed before commit" → rehashAndRequeue finds no file and queues a
  // *delete*, which completes. The file stays on disk, its index row looks synced to the scanner,
  // and the server never gets it: the folders never converge and the bytes live on one device only.
  // Fixed: I/O resolves each key component to its on-disk spelling (main/engine/paths.ts
  // resolveDiskPath), in the pusher (send.ts absPathOf) and the puller (safe-path.ts).
  it('chaos seed 3: uploads a file whose on-disk name is NFD (the server keys it in NFC)', async () => {
    const name = 'café.txt'.normalize('NFD');
    const { agent, api } = await oneAgent((folder) => writeFileSync(path.join(folder, name), 'written under an NFD name'));
    await waitFor(() => {
      const s = agent.status();
      return s.state === 'idle' && s.counts.done >= 1 && s.counts.pending + s.counts.in_flight + s.counts.retry_wait === 0;
    }, { timeoutMs: 20_000, message: 'the agent to finish its queue' });
    const tree = await serverTree(api, 'chaos');
    expect([...tree.files.keys()]).toEqual(['café.txt'.normalize('NFC')]);
    expect(tree.files.get('café.txt'.normalize('NFC'))?.size).toBe(Buffer.byteLength('written under an NFD name'));
  }, 30_000);

  // Seed 1051 (npm run chaos -- --seed 1051): a folder renamed into the NFD spelling of
  // "docs/ärger" while a pull created the NFC one left both on one device, each with its own
  // "naïve résumé.pdf". The scanner queued one file's snapshot, the pusher read the other's and
  // queued that: a requeue every 3 s for ever, and two entries of one path on disk. Refused: two
  // spellings of one name staying side by side. The scanner merges them into the spelling the
  // key resolves to; a file under both with other bytes keeps the other one as a conflict copy.
  // Chaos seed 40036 (`--guard`): a folder deleted while its delete was held (the mass-delete
  // guard, or any wait before it goes out), made again, and deleted again. The second delete came
  // on no base (the index held the folder as new) and was taken for a create never sent: dropped,
  // so the server kept the folder and this device never had it back (rule S21).
  it('chaos seed 40036: a folder deleted, made again and deleted again while the first delete waits is deleted on the server', async () => {
    const { agent, api } = await oneAgent((folder) => {
      for (const f of ['a/docs/1.txt', 'a/docs/2.txt', 'a/x/3.txt', 'keep.txt']) {
        mkdirSync(path.dirname(path.join(folder, f)), { recursive: true });
        writeFileSync(path.join(folder, f), f);
      }
    });
    const folder = agent.status().folders[0]!.localPath;
    const live = async () => {
      const tree = await serverTree(api, 'chaos');
      return [...tree.files.keys(), ...tree.dirs].sort();
    };
    await waitFor(async () => (await live()).includes('a/x/3.txt'), { timeoutMs: 20_000, message: 'the first upload' });
    rmSync(path.join(folder, 'a'), { recursive: true });
    await waitFor(() => agent.status().folders[0]!.state === 'paused_mass_delete', { timeoutMs: 10_000, message: 'the delete held' });
    mkdirSync(path.join(folder, 'a', 'new folder'), { recursive: true });
    writeFileSync(path.join(folder, 'a', 'new folder', 'README'), 'made again');
    await waitFor(async () => (await agent.handlers.listQueue({ offset: 0, limit: 100 })).items.some((i) => i.path === 'a/new folder/README'), { timeoutMs: 10_000, message: 'the new file queued' });
    rmSync(path.join(folder, 'a'), { recursive: true });
    await waitFor(async () => !(await agent.handlers.listQueue({ offset: 0, limit: 100 })).items.some((i) => i.path === 'a/new folder/README'), { timeoutMs: 10_000, message: 'the second delete seen' });
    await agent.handlers.confirmMassDelete({ folderId: 'chaos' });
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 15_000, message: 'idle after the answer' });
    expect(await live()).toEqual(['keep.txt']);
    expect(readdirSync(folder).filter((n) => n !== '.ferry')).toEqual(['keep.txt']);
  });

  // Chaos seed 40050 (`--guard`): a file deleted while its delete was held, another file renamed
  // onto its name, then edited. The upload took the deleted revision, and the edit put it back on
  // no base (the index held the file as new): a conflict at every recheck, "base revision null,
  // current 41", and nothing ever settled it (rule S22).
  it('chaos seed 40050: a file deleted, replaced by a rename and edited while the delete waits goes up over the deleted version', async () => {
    const { agent, api } = await oneAgent((folder) => {
      for (const f of ['b.txt', 'x.txt', 'y.txt', 'keep1.txt', 'keep2.txt']) writeFileSync(path.join(folder, f), `first ${f}`);
    });
    const folder = agent.status().folders[0]!.localPath;
    const server = async () => {
      const tree = await serverTree(api, 'chaos');
      return [...tree.files.keys()].sort();
    };
    await waitFor(async () => (await server()).length === 5, { timeoutMs: 20_000, message: 'the first upload' });
    for (const f of ['b.txt', 'y.txt', 'keep2.txt']) rmSync(path.join(folder, f));
    await waitFor(() => agent.status().folders[0]!.state === 'paused_mass_delete', { timeoutMs: 10_000, message: 'the deletes held' });
    renameSync(path.join(folder, 'x.txt'), path.join(folder, 'b.txt'));
    await waitFor(async () => (await agent.handlers.listQueue({ offset: 0, limit: 100 })).items.some((i) => i.path === 'b.txt' && i.op === 'upsert'), { timeoutMs: 10_000, message: 'b.txt queued again' });
    appendFileSync(path.join(folder, 'b.txt'), ', then edited');
    await waitFor(async () => (await agent.handlers.listQueue({ offset: 0, limit: 100 })).items.some((i) => i.path === 'b.txt' && i.bytesTotal === Buffer.byteLength('first x.txt, then edited')), { timeoutMs: 10_000, message: 'the edit queued' });
    await agent.handlers.confirmMassDelete({ folderId: 'chaos' });
    await waitFor(() => {
      const s = agent.status();
      return s.state === 'idle' && s.counts.pending + s.counts.in_flight + s.counts.retry_wait + s.counts.failed === 0;
    }, { timeoutMs: 15_000, message: 'everything sent, nothing waiting for a recheck' });
    expect(await server()).toEqual(['b.txt', 'keep1.txt']);
    expect((await serverTree(api, 'chaos')).files.get('b.txt')?.size).toBe(Buffer.byteLength('first x.txt, then edited'));
  });

  // Chaos seed 51284 (`--restore --guard`): a file deleted in a held bulk delete and written again
  // goes up on the delete's base (its index row names no revision); another device moved the file
  // away meanwhile, and a full pull followed. The listing lacked the path, and a path that names
  // no revision here was skipped: the upload conflicted at every try ("base revision 11, current
  // none") and no pull answered it, the feed past the move. Now the listing decides it as a
  // remote delete of a path never synced here: D3, kept and uploaded as new.
  it('chaos seed 51284: an upload on a base the server moved away, met by a full listing, goes up as new', async () => {
    const { agent, api } = await oneAgent((folder) => {
      for (const f of ['résumé.pdf', 'k1.txt', 'k2.txt', 'keep1.txt', 'keep2.txt']) writeFileSync(path.join(folder, f), `first ${f}`);
    });
    const folder = agent.status().folders[0]!.localPath;
    const files = async () => [...(await serverTree(api, 'chaos')).files.keys()].sort();
    await waitFor(async () => (await files()).length === 5, { timeoutMs: 20_000, message: 'the first upload' });
    const base = (await api.changesPage('chaos', { limit: 100 })).items.find((i) => i.path === 'résumé.pdf')!.revision;
    for (const f of ['résumé.pdf', 'k1.txt', 'k2.txt']) rmSync(path.join(folder, f));
    await waitFor(() => agent.status().folders[0]!.state === 'paused_mass_delete', { timeoutMs: 10_000, message: 'the deletes held' });
    writeFileSync(path.join(folder, 'résumé.pdf'), 'written again while its delete waited');
    await waitFor(async () => (await agent.handlers.listQueue({ offset: 0, limit: 100 })).items.some((i) => i.path === 'résumé.pdf' && i.op === 'upsert'), { timeoutMs: 10_000, message: 'résumé.pdf queued again' });
    expect((await agent.handlers.explainPath({ folderId: 'chaos', path: 'résumé.pdf' })).synced?.revision ?? null).toBeNull();
    // Another device moves it away, on the revision this upload is built on.
    const moved = await api.submitBatch('chaos', [{ key: 'm', action: 'move', from: 'résumé.pdf', path: 'deep/résumé.pdf', baseRevision: base }]);
    expect('results' in moved && moved.results.m?.ok).toBe(true);
    // New ignore rules drop the sync token: the next pull is a full listing.
    const { hasToken: _h, tokenProtection: _t, ...settings } = await agent.handlers.getSettings({});
    await agent.handlers.updateSettings({ ...settings, ignoreRules: ['*.never'] });
    await agent.handlers.confirmMassDelete({ folderId: 'chaos' });
    await waitFor(() => {
      const s = agent.status();
      return s.state === 'idle' && s.counts.pending + s.counts.in_flight + s.counts.retry_wait + s.counts.failed === 0;
    }, { timeoutMs: 20_000, message: 'everything sent, nothing waiting for a recheck' });
    expect(await files()).toEqual(['deep/résumé.pdf', 'keep1.txt', 'keep2.txt', 'résumé.pdf']);
    expect((await serverTree(api, 'chaos')).files.get('résumé.pdf')?.size).toBe(Buffer.byteLength('written again while its delete waited'));
  });

  it('chaos seed 1051: two spellings of one folder end as one synced folder, nothing lost and no loop', async () => {
    const nfc = 'ärger'.normalize('NFC');
    const nfd = 'ärger'.normalize('NFD');
    const cv = 'naïve résumé.pdf';
    let root = '';
    const { agent, api } = await oneAgent((folder) => {
      root = folder;
      mkdirSync(path.join(folder, 'docs', nfc), { recursive: true });
      mkdirSync(path.join(folder, 'docs', nfd));
      writeFileSync(path.join(folder, 'docs', nfc, cv), 'pulled under the NFC spelling');
      writeFileSync(path.join(folder, 'docs', nfd, cv.normalize('NFD')), 'moved in under the NFD spelling');
      writeFileSync(path.join(folder, 'docs', nfd, 'only-here.txt'), 'only in the NFD folder');
      writeFileSync(path.join(folder, 'docs', nfd, 'empty'), '');
      writeFileSync(path.join(folder, 'docs', nfc, 'empty'), '');
    });
    const settled = () => {
      const s = agent.status();
      return s.state === 'idle' && s.counts.pending + s.counts.in_flight + s.counts.retry_wait + s.counts.failed === 0;
    };
    const want = [`docs/${nfc}/${cv}`, `docs/${nfc}/empty`, `docs/${nfc}/only-here.txt`];
    const tree = await waitFor(async () => {
      if (!settled()) return undefined;
      const t = await serverTree(api, 'chaos');
      const files = [...t.files.keys()].sort();
      return files.length === 4 && want.every((p) => files.includes(p)) ? t : undefined;
    }, { timeoutMs: 30_000, message: 'the agent to push one merged folder' });
    const copy = [...tree.files.keys()].find((p) => p.startsWith(`docs/${nfc}/naïve résumé (conflict from `));
    expect(copy, 'the other bytes kept as a conflict copy').toBeDefined();
    const sizes = [tree.files.get(`docs/${nfc}/${cv}`)?.size, tree.files.get(copy!)?.size].sort();
    expect(sizes).toEqual([Buffer.byteLength('moved in under the NFD spelling'), Buffer.byteLength('pulled under the NFC spelling')].sort());
    expect(tree.files.get(`docs/${nfc}/empty`)?.size).toBe(0);
    // One spelling left on disk, and the queue stays empty: no loop.
    expect(readdirSync(path.join(root, 'docs'))).toEqual([nfc]);
    await agent.handlers.syncNow({});
    await waitFor(settled, { timeoutMs: 10_000, message: 'the agent to settle after a Sync now' });
    expect(agent.status().counts.failed).toBe(0);
  }, 45_000);

  // Seed 2 (npm run chaos -- --seed 2 --ops 40 --no-nfd): two devices create the same folder
  // at once. The second one's directory upsert (base null) met the first one's directory and got
  // `conflict`; the puller then only records the existing directory (DU3), so the queued upsert
  // conflicted again on every retry and the agent never settled. A directory has no content:
  // creating one that exists is the same directory, whatever base the client names.
  /** A real server with the folder `chaos`, and the result of one operation sent alone. */
  async function serverWithFolder() {
    const tmp = makeTempDir('ferry-chaos-reg-');
    cleanups.push(() => tmp.cleanup());
    const server = await startServer({ dataDir: path.join(tmp.dir, 'server') });
    cleanups.push(() => server.close());
    const api = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'dev-a' });
    cleanups.push(() => api.close());
    await api.createFolder('chaos');
    const resultOf = async (op: Parameters<SyncApiClient['submitBatch']>[1][number]) => {
      const reply = await api.submitBatch('chaos', [op]);
      return 'results' in reply ? reply.results[op.key] : reply;
    };
    return Object.assign(resultOf, { api });
  }

  // Seed 15069 (npm run chaos -- --seed 15069 --ops 60 --devices 3): dev-b made a folder inside
  // one that dev-a had moved away; the server took it with its parent implied (no entry of its
  // own), and dev-a's move of the folder above carried it on. Every device held the parent on disk
  // as an implicit parent (docs/conflict-rules.md), and the checker called it an extra directory:
  // its server tree implied the parents of files only. A folder implies its parents as a file does.
  it('chaos seed 15069: the checker\'s server tree holds the parents a folder implies, as a file\'s', async () => {
    const resultOf = await serverWithFolder();
    const mkdir = (p: string) => ({ key: p, action: 'upsert' as const, kind: 'dir' as const, path: p, mtime: 1, baseRevision: null });
    expect(await resultOf(mkdir('Docs'))).toMatchObject({ ok: true });
    expect(await resultOf(mkdir('Docs/a/new folder/photos'))).toMatchObject({ ok: true });
    const tree = await serverTree(resultOf.api, 'chaos');
    expect([...tree.dirs].sort()).toEqual(['Docs', 'Docs/a', 'Docs/a/new folder', 'Docs/a/new folder/photos']);
  });

  it('chaos seed 2: creating a directory that another device just created is a no-op, not a conflict', async () => {
    const resultOf = await serverWithFolder();
    const mkdir = (key: string) => ({ key, action: 'upsert' as const, kind: 'dir' as const, path: 'Ärger/b', mtime: 1_700_000_000_000, baseRevision: null });
    const created = await resultOf(mkdir('a'));
    expect(created).toMatchObject({ ok: true, revision: expect.any(String) });
    expect(await resultOf(mkdir('b'))).toEqual(created);
  });

  // Seed 3 (npm run chaos -- --seed 3 --ops 60 --devices 3): two devices delete the same file.
  // The second delete named the revision it had synced; the server already held a tombstone and
  // answered `conflict` with no current revision, so the item conflicted at every recheck and the
  // agents never settled. Deleting what is absent is done: the state asked for holds.
  it('chaos seed 3: a delete of a path another device already deleted is done, not a conflict', async () => {
    const resultOf = await serverWithFolder();
    const created = await resultOf({ key: 'd', action: 'upsert', kind: 'dir', path: 'b', mtime: 1, baseRevision: null });
    const base = created && 'revision' in created ? created.revision : null;
    const first = await resultOf({ key: 'x', action: 'delete', path: 'b', baseRevision: base });
    expect(first).toMatchObject({ ok: true });
    expect(await resultOf({ key: 'y', action: 'delete', path: 'b', baseRevision: base })).toEqual(first);
    expect(await resultOf({ key: 'z', action: 'delete', path: 'never/was.txt', baseRevision: null })).toMatchObject({ ok: true, revision: expect.any(String) });
  });
});
