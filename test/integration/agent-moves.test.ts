import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../main/engine/agent';
import { readChanges } from '../../main/engine/pull/changes-reader';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { FaultProxy } from '../fakes/fault-proxy';
import { createAgent } from '../../main/engine/agent';
import { testSettings } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';
import { testFile, upsert } from '../helpers/server-harness';
import { hashFile, type HashFn } from '../../main/engine/hashing';

// Issue 16: renaming a folder that holds every file of the synced folder held it as a mass
// delete and the other device never saw the new name. Refused here: the guard pausing the
// folder for a rename, a rename that does not reach the other device, and any block that
// device downloads for it (it counts through a proxy). Real agents, real server, real disks.
describe('a renamed folder is a move, never a mass delete', () => {
  const tmp = makeTempDir('ferry-moves-');
  let server: RunningServer;
  let proxy: FaultProxy;
  let observer: SyncApiClient;
  const agents: Agent[] = [];

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    proxy = await FaultProxy.start({ target: server.url });
    observer = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'observer' });
  });

  afterAll(async () => {
    await Promise.allSettled(agents.map((a) => a.stop()));
    observer.close();
    await proxy.close();
    await server.close();
    tmp.cleanup();
  });

  const serverFiles = async (folderId: string): Promise<string[]> => {
    const read = await readChanges(observer, folderId, undefined, {});
    if (read.kind !== 'ok') throw new Error('full listing expired');
    return read.items.filter((i) => !i.deleted && i.kind === 'file').map((i) => i.path).sort();
  };
  const filesOnDisk = (root: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (dir: string, prefix: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === '.ferry') continue;
        const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) walk(path.join(dir, entry.name), rel);
        else out[rel] = readFileSync(path.join(dir, entry.name), 'utf8');
      }
    };
    walk(root, '');
    return out;
  };

  /** An agent whose guard asks above 10 deletes (the default 1,000 scaled to a test's folder). */
  async function startAgent(name: string, url: string, localPath: string, remoteId: string, local: { hashFile?: HashFn; deleteQuietMs?: number } = {}): Promise<Agent> {
    const agent = await createAgent({
      dataDir: path.join(tmp.dir, `agent-${name}`),
      settings: testSettings(url, server.token, [{ localPath, remoteId }], { massDeleteCount: 10 }),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
      tuning: { local: { settleMs: 30, ...local } },
    });
    await agent.start();
    agents.push(agent);
    return agent;
  }

  it('renaming the folder that holds all 30 files: no pause, the other device shows the new name with no block downloaded', async () => {
    const id = 'everything';
    const rootA = path.join(tmp.dir, 'a');
    const rootB = path.join(tmp.dir, 'b');
    const names = Array.from({ length: 30 }, (_, i) => `${i % 3 ? 'sub/' : ''}file-${String(i).padStart(2, '0')}.txt`);
    for (const rel of names) {
      mkdirSync(path.dirname(path.join(rootA, 'Projects', rel)), { recursive: true });
      writeFileSync(path.join(rootA, 'Projects', rel), `content of ${rel}`);
    }
    mkdirSync(rootB);
    const a = await startAgent('a', server.url, rootA, id);
    await waitFor(async () => (await serverFiles(id)).length === names.length, { timeoutMs: 20_000 });
    const b = await startAgent('b', proxy.url, rootB, id);
    await waitFor(() => Object.keys(filesOnDisk(rootB)).length === names.length, { timeoutMs: 20_000 });
    await waitFor(() => a.status().state === 'idle' && b.status().state === 'idle', { timeoutMs: 10_000 });
    const blockRequestsBefore = proxy.requests({ path: /^\/v1\/blocks/ }).length;

    renameSync(path.join(rootA, 'Projects'), path.join(rootA, 'Projects 2026'));

    const expected = names.map((rel) => `Projects 2026/${rel}`).sort();
    const states = new Set<string>();
    await waitFor(
      async () => {
        states.add(a.status().folders[0]!.state);
        return (await serverFiles(id)).join('\n') === expected.join('\n');
      },
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    states.add(a.status().folders[0]!.state);
    expect([...states], 'folder states of the renaming device').not.toContain('paused_mass_delete');
    await waitFor(() => Object.keys(filesOnDisk(rootB)).sort().join('\n') === expected.join('\n'), { timeoutMs: 20_000 });
    const onB = filesOnDisk(rootB);
    for (const rel of names) expect(onB[`Projects 2026/${rel}`]).toBe(`content of ${rel}`);
    expect(proxy.requests({ path: /^\/v1\/blocks/ }).slice(blockRequestsBefore), 'block requests of the other device').toEqual([]);
  });

  /** Two agents in sync on `files` under `remoteId`: A on the server directly or through `proxyA`, B through the counting proxy. */
  async function twoInSync(remoteId: string, files: Record<string, string>, a: { url?: string; hashFile?: HashFn; deleteQuietMs?: number } = {}) {
    const rootA = path.join(tmp.dir, `${remoteId}-a`);
    const rootB = path.join(tmp.dir, `${remoteId}-b`);
    for (const [rel, data] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(rootA, rel)), { recursive: true });
      writeFileSync(path.join(rootA, rel), data);
    }
    mkdirSync(rootB);
    const { url, ...local } = a;
    const agentA = await startAgent(`${remoteId}-a`, url ?? server.url, rootA, remoteId, local);
    await waitFor(async () => (await serverFiles(remoteId)).length === Object.keys(files).length, { timeoutMs: 20_000 });
    const agentB = await startAgent(`${remoteId}-b`, proxy.url, rootB, remoteId);
    await waitFor(() => Object.keys(filesOnDisk(rootB)).length === Object.keys(files).length, { timeoutMs: 20_000 });
    await waitFor(() => agentA.status().state === 'idle' && agentB.status().state === 'idle', { timeoutMs: 10_000 });
    return { rootA, rootB, agentA, agentB };
  }

  const blockRequests = () => proxy.requests({ path: /^\/v1\/blocks/ }).length;

  // Chaos --kinds seed 60390: another device's file below a folder that has no entry of its own on
  // the server, and this device's own file at that folder's path. The server refuses the file now
  // (docs/sync-api.md, "Nor is a file put where entries live below"); the pull keeps it as a
  // conflict copy beside the folder (DU6), and both devices' bytes are on the server.
  it('chaos --kinds seed 60390: a file put where another device\'s entry lives below is kept as a conflict copy beside the folder', async () => {
    const root = path.join(tmp.dir, 'implied');
    mkdirSync(root);
    const agent = await startAgent('implied', proxy.url, root, 'implied');
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 10_000 });
    // Its pulls wait while the other device's file lands and its own upload is refused.
    const holdPulls = proxy.add({ name: 'no-pulls', method: 'GET', path: '/v1/folders/implied/changes', times: Infinity, action: { kind: 'status', status: 503, code: 'unavailable', message: 'held by the test' } });
    const other = testFile('from the other device');
    await observer.putBlock(other.hash, other.data);
    const put = await observer.submitBatch('implied', [upsert('k', 'photos/x.txt', other, null)]);
    expect('results' in put && put.results.k?.ok).toBe(true);
    writeFileSync(path.join(root, 'photos'), 'mine, written here');
    await waitFor(() => proxy.requests({ method: 'POST', path: '/v1/folders/implied/sync' }).length > 0 && agent.status().counts.pending + agent.status().counts.in_flight + agent.status().counts.retry_wait > 0, { timeoutMs: 20_000, message: 'its upload sent' });
    holdPulls();
    const copy = () => readdirSync(root).find((n) => n.startsWith('photos (conflict from '));
    await waitFor(() => copy() !== undefined && filesOnDisk(root)['photos/x.txt'] === 'from the other device', { timeoutMs: 30_000, message: 'the folder here, the file kept as a copy' });
    expect(readFileSync(path.join(root, copy()!), 'utf8')).toBe('mine, written here');
    await waitFor(async () => (await serverFiles('implied')).includes(copy()!), { timeoutMs: 20_000, message: 'the copy on the server' });
    expect(await serverFiles('implied')).toEqual([copy()!, 'photos/x.txt'].sort());
  });

  // Chaos --kinds seed 60428: a folder turned into a file here, and the file renamed before its
  // upload went. That upload builds on the folder's revision (it replaces the folder, S23), so the
  // rename took it for an edited synced file (P2) and sent a move on the folder's revision: the
  // server moved the folder, with another device's file below it, to the new name, and the user's
  // file became a conflict copy of a folder that came back. Refused now by the move's kind
  // (docs/sync-api.md, "Moves"): the folder is deleted, the file goes up under its new name.
  it('chaos --kinds seed 60428: a folder turned into a file and renamed before it went: the folder is deleted, never moved', async () => {
    const { rootA, rootB, agentA } = await twoInSync('kind-rename', { 'ü/b/a.txt': 'synced below', 'keep.txt': 'kept' });
    await agentA.handlers.pause({});
    rmSync(path.join(rootA, 'ü'), { recursive: true });
    writeFileSync(path.join(rootA, 'ü'), 'the file that replaced the folder');
    const queued = async (p: string) => (await agentA.handlers.listQueue({ offset: 0, limit: 100 })).items.some((it) => it.path === p && it.state === 'pending');
    await waitFor(async () => (await queued('ü')) && (await queued('ü/b/a.txt')), { timeoutMs: 10_000, message: 'the file and the deletes below it queued' });
    renameSync(path.join(rootA, 'ü'), path.join(rootA, 'Ü'));
    await waitFor(async () => (await queued('Ü')) && !(await queued('ü')), { timeoutMs: 10_000, message: 'the rename queued' });
    await agentA.handlers.resume({});
    const want = { 'keep.txt': 'kept', Ü: 'the file that replaced the folder' };
    await waitFor(() => JSON.stringify(filesOnDisk(rootB)) === JSON.stringify(want), { timeoutMs: 20_000, message: 'B has the file under its new name, and no folder' });
    await waitFor(() => agentA.status().state === 'idle', { timeoutMs: 10_000 });
    expect(filesOnDisk(rootA)).toEqual(want);
    expect(await serverFiles('kind-rename')).toEqual(['keep.txt', 'Ü']);
    const read = await readChanges(observer, 'kind-rename', undefined, {});
    if (read.kind !== 'ok') throw new Error('full listing expired');
    // Refused: a folder `Ü` on the server (the old folder moved there), or `ü` left behind.
    expect(read.items.filter((i) => !i.deleted).map((i) => `${i.kind} ${i.path}`).sort()).toEqual(['file keep.txt', 'file Ü']);
  });

  // A new-user try: a synced file renamed to a name with a tab sent its old name's delete, and it
  // went from the server and the other device (docs/conflict-rules.md, "Renamed to a name that
  // cannot be synced"). Kept now: renamed to a name that syncs, it reaches the other device as a move.
  it('a file renamed to a name that cannot be synced stays on the server and the other device, and moves there once renamed to one that syncs', async () => {
    const { rootA, rootB, agentA } = await twoInSync('bad-name', { 'r5.txt': 'precious bytes', 'other.txt': 'x' });
    renameSync(path.join(rootA, 'r5.txt'), path.join(rootA, 'r5\tbad.txt'));
    await waitFor(() => agentA.status().folders[0]?.unsyncable?.shown[0]?.reason.includes('renamed from r5.txt') === true, { timeoutMs: 20_000, message: 'A names the file it cannot sync and its old name' });
    // Another change after it has gone up: the rename's hints were settled before it.
    writeFileSync(path.join(rootA, 'later.txt'), 'after the rename');
    await waitFor(() => filesOnDisk(rootB)['later.txt'] === 'after the rename' && agentA.status().state === 'idle', { timeoutMs: 20_000 });
    expect(await serverFiles('bad-name')).toEqual(['later.txt', 'other.txt', 'r5.txt']);
    expect(filesOnDisk(rootB)['r5.txt']).toBe('precious bytes');
    const why = await agentA.handlers.explainPath({ folderId: 'bad-name', path: 'r5.txt' });
    expect(why.reasons[0]).toMatchObject({ code: 'unsyncable', message: expect.stringMatching(/^Renamed here to r5\tbad\.txt, a name that cannot be synced: the server and the other devices keep it/) });
    // The new name's `why` says it too, as the folder's list does (a new-user try found it only in `ferry status`).
    const whyNew = await agentA.handlers.explainPath({ folderId: 'bad-name', path: 'r5\tbad.txt' });
    expect(whyNew.reasons).toEqual([{ code: 'unsyncable', message: 'Not synced: its name contains a control character; renamed from r5.txt, which the server and the other devices keep as it was; rename it to sync it' }]);
    const before = blockRequests();
    renameSync(path.join(rootA, 'r5\tbad.txt'), path.join(rootA, 'r5-fixed.txt'));
    await waitFor(() => filesOnDisk(rootB)['r5-fixed.txt'] === 'precious bytes' && !('r5.txt' in filesOnDisk(rootB)), { timeoutMs: 20_000, message: 'B has the file under its new name only' });
    expect(blockRequests()).toBe(before);
    expect(agentA.status().folders[0]?.unsyncable).toBeUndefined();
  });

  // A folder renamed to a name that cannot be synced keeps its old name on the server; what another
  // device put in it meanwhile waited here "for the scan" every second, said nowhere (a passing
  // wait). It says why now, backs off, and comes into the folder once it has a name that syncs
  // (docs/conflict-rules.md, "Renamed to a name that cannot be synced").
  it('a file another device puts in a folder renamed here to a name that cannot be synced waits, says why, and comes once the folder is renamed to one that syncs', async () => {
    const { rootA, rootB, agentA } = await twoInSync('bad-folder', { 'd/a.txt': 'in the folder', 'other.txt': 'x' });
    renameSync(path.join(rootA, 'd'), path.join(rootA, 'd\tbad'));
    await waitFor(() => agentA.status().folders[0]?.unsyncable?.shown[0]?.reason.includes('renamed from d') === true, { timeoutMs: 20_000, message: 'A names the folder it cannot sync and its old name' });
    writeFileSync(path.join(rootB, 'd', 'new.txt'), 'put there by B');
    await waitFor(async () => (await serverFiles('bad-folder')).includes('d/new.txt'), { timeoutMs: 20_000, message: "B's file on the server" });
    await agentA.handlers.syncNow({ folderId: 'bad-folder' }).catch(() => undefined);
    // A wait for the user's rename, said as one: not a failing pull.
    const pullWait = () => agentA.status().folders[0]?.pullWait ?? '';
    await waitFor(() => pullWait() !== '', { timeoutMs: 20_000, message: 'A says why the file waits' });
    expect(pullWait()).toBe('d/new.txt comes here once the folder d, renamed here to "d\\tbad" (a name that cannot be synced), has a name that syncs: rename it');
    expect(agentA.status().folders[0]?.pullError).toBeNull();
    const activity = await agentA.handlers.listActivity({ limit: 50 });
    expect(activity.map((a) => a.message)).toContain(`Waiting for a rename here: ${pullWait()}`);
    const why = await agentA.handlers.explainPath({ folderId: 'bad-folder', path: 'd/new.txt' });
    expect(why.reasons.map((r) => r.message).join('\n')).toContain('a name that cannot be synced');
    // Nothing was placed under the old name, and nothing left the server.
    expect(existsSync(path.join(rootA, 'd'))).toBe(false);
    expect(await serverFiles('bad-folder')).toEqual(['d/a.txt', 'd/new.txt', 'other.txt']);

    renameSync(path.join(rootA, 'd\tbad'), path.join(rootA, 'd-fixed'));
    await waitFor(() => filesOnDisk(rootA)['d-fixed/new.txt'] === 'put there by B', { timeoutMs: 30_000, message: "B's file in the renamed folder on A" });
    await waitFor(() => filesOnDisk(rootB)['d-fixed/a.txt'] === 'in the folder' && !('d/a.txt' in filesOnDisk(rootB)), { timeoutMs: 20_000, message: 'B follows the rename' });
    expect(filesOnDisk(rootA)).toEqual({ 'd-fixed/a.txt': 'in the folder', 'd-fixed/new.txt': 'put there by B', 'other.txt': 'x' });
  });

  // A new-user try: a file deleted here came back (another device kept or made it again) and
  // Activity read only "Downloaded" (main/engine/pull/activity-log.ts).
  it('a file deleted here that another device makes again comes back with a line that says so', async () => {
    const { rootA, rootB, agentA } = await twoInSync('back-again', { 'plan.txt': 'first', 'other.txt': 'x' });
    rmSync(path.join(rootA, 'plan.txt'));
    await waitFor(async () => !(await serverFiles('back-again')).includes('plan.txt') && !('plan.txt' in filesOnDisk(rootB)), { timeoutMs: 20_000, message: 'the delete reached B' });
    writeFileSync(path.join(rootB, 'plan.txt'), 'made again on B');
    await waitFor(() => filesOnDisk(rootA)['plan.txt'] === 'made again on B', { timeoutMs: 20_000, message: 'A has it again' });
    const line = async () => (await agentA.handlers.listActivity({ limit: 50 })).find((a) => a.path === 'plan.txt' && a.kind === 'downloaded')?.message;
    await waitFor(async () => (await line()) !== undefined, { timeoutMs: 10_000, message: 'the download is in Activity' });
    expect(await line()).toMatch(/^Downloaded: deleted here earlier, but .+ kept it or made it again, so it is back$/);
  });

  // A new-user try: `mv x y && echo >> y` (written before the scan saw the rename) went as a delete
  // and a new file: the history lost the file's line, and a restore --at brought x back beside y.
  it('a file renamed and written at once goes as its move, then the edit: the history follows it', async () => {
    const { rootA, rootB } = await twoInSync('move-edit', { 'notes/x.txt': 'first words' });
    const born = statSync(path.join(rootA, 'notes/x.txt')).birthtimeMs;
    renameSync(path.join(rootA, 'notes/x.txt'), path.join(rootA, 'notes/y.txt'));
    writeFileSync(path.join(rootA, 'notes/y.txt'), 'first words, and more written at once');
    await waitFor(() => filesOnDisk(rootB)['notes/y.txt'] === 'first words, and more written at once' && !('notes/x.txt' in filesOnDisk(rootB)), { timeoutMs: 20_000 });
    if (!(Number.isFinite(born) && born > 0)) return; // no birth time here: a delete and a new file, as before (local-moves.test.ts)
    const history = (await observer.historyPage('move-edit', { path: 'notes/y.txt' })).items;
    expect(history.at(-1)).toMatchObject({ movedFrom: 'notes/x.txt' });
    expect((await observer.historyPage('move-edit', { path: 'notes/x.txt' })).items[0]).toMatchObject({ deleted: true, movedTo: 'notes/y.txt' });
    // The same on the device that downloaded the file: the pull kept its birth time too.
    renameSync(path.join(rootB, 'notes/y.txt'), path.join(rootB, 'notes/z.txt'));
    writeFileSync(path.join(rootB, 'notes/z.txt'), 'and written at once on the other device');
    await waitFor(async () => (await observer.historyPage('move-edit', { path: 'notes/z.txt' })).items.length === 2, { timeoutMs: 20_000, message: 'the move and the edit of z.txt on the server' });
    expect((await observer.historyPage('move-edit', { path: 'notes/z.txt' })).items.at(-1)).toMatchObject({ movedFrom: 'notes/y.txt' });
  });

  it('a folder rename is one move on the wire, zero block requests and one rename on the other device', async () => {
    const proxyA = await FaultProxy.start({ target: server.url });
    try {
      const files = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`Photos/2024/img-${i}.jpg`, `photo ${i} `.repeat(200)]));
      const { rootA, rootB, agentA } = await twoInSync('one-move', files, { url: proxyA.url });
      const postsBefore = proxyA.requests({ method: 'POST', path: /\/sync$/ }).length;
      const uploadsBefore = proxyA.requests({ path: /^\/v1\/blocks/ }).length;
      const blocksBefore = blockRequests();
      const folderInodeOnB = statSync(path.join(rootB, 'Photos')).ino;
      renameSync(path.join(rootA, 'Photos'), path.join(rootA, 'Pictures'));
      const expected = Object.keys(files).map((rel) => rel.replace(/^Photos/, 'Pictures')).sort();
      await waitFor(() => Object.keys(filesOnDisk(rootB)).sort().join('\n') === expected.join('\n'), { timeoutMs: 20_000 });
      // One batch from A after the rename, and the server moved: each new entry names its old path.
      expect(proxyA.requests({ method: 'POST', path: /\/sync$/ }).length - postsBefore).toBe(1);
      const read = await readChanges(observer, 'one-move', undefined, {});
      if (read.kind !== 'ok') throw new Error('full listing expired');
      const live = read.items.filter((i) => !i.deleted && i.kind === 'file');
      expect(live.map((i) => i.movedFrom).sort()).toEqual(Object.keys(files).sort());
      expect(blockRequests() - blocksBefore, 'block requests of the other device').toBe(0);
      expect(proxyA.requests({ path: /^\/v1\/blocks/ }).length - uploadsBefore, 'block requests of the renaming device').toBe(0);
      // B renamed its folder in one go (MD1): a file-by-file move would have made a new folder.
      expect(statSync(path.join(rootB, 'Pictures')).ino, 'the folder on B keeps its inode').toBe(folderInodeOnB);
      // A's Activity says it moved, not that it uploaded (a new-user try read a rename as "Uploaded").
      const moved = async () => (await agentA.handlers.listActivity({ limit: 50 })).filter((e) => e.path === 'Pictures').map((e) => [e.kind, e.message]);
      await waitFor(async () => (await moved()).length > 0, { timeoutMs: 5000, message: "the move in A's Activity" });
      expect(await moved()).toEqual([['moved_local', 'Moved on the server from Photos']]);
    } finally {
      await proxyA.close();
    }
  });

  // A new-user try: a device stopped while the other renamed a folder, with a new file of its own
  // in that folder, read "Folder deleted on laptop-a" for the rename in its Activity.
  it('a folder renamed elsewhere while this device added a file in it: kept here, and Activity says renamed, not deleted', async () => {
    const { rootA, rootB, agentB } = await twoInSync('kept-rename', { 'proj/a.txt': 'a', 'proj/b.txt': 'b' });
    await agentB.stop();
    writeFileSync(path.join(rootB, 'proj', 'mine.txt'), 'written on B while A renamed the folder');
    renameSync(path.join(rootA, 'proj'), path.join(rootA, 'final'));
    await waitFor(async () => (await serverFiles('kept-rename')).join(',') === 'final/a.txt,final/b.txt', { timeoutMs: 20_000, message: 'the rename on the server' });
    const again = await startAgent('kept-rename-b', proxy.url, rootB, 'kept-rename');
    const said = async () => (await again.handlers.listActivity({ limit: 100 })).filter((e) => e.path === 'proj' && e.kind === 'pull_kept_local').map((e) => e.message);
    await waitFor(async () => (await said()).length > 0, { timeoutMs: 20_000, message: "B's line about proj" });
    expect((await said())[0]).toMatch(/^Folder renamed to final (on \S.*|remotely), but it still holds files the other side does not have: kept here under its old name with them, and uploaded again$/);
    // Nothing lost: B's file is on the server, the renamed files on B.
    await waitFor(async () => (await serverFiles('kept-rename')).includes('proj/mine.txt'), { timeoutMs: 20_000, message: "B's file on the server" });
    await waitFor(() => filesOnDisk(rootB)['final/a.txt'] === 'a', { timeoutMs: 20_000, message: 'the renamed folder on B' });
  });

  // Chaos seed 4051 (npm run chaos -- --seed 4051 --ops 60 --devices 3): after a pure rename of a
  // folder one device fetched a block it held. The renaming device sent the new names as uploads
  // only once it had hashed them, and the deletes of the old names once their hold ended; when
  // hashing took longer than the hold (a loaded machine, bigger files), the deletes went first,
  // the other device removed the files (D4, nothing of them anywhere else yet), and then had to
  // download the new names. Here hashing is made slower than the hold. A rename is now one move
  // found by inode before anything is hashed: refused are any hash of a renamed file and any
  // block request by the other device.
  it('chaos seed 4051: a folder renamed while hashing is slower than the delete hold: nothing hashed, no block fetched', async () => {
    const hashed: string[] = [];
    let slow = false;
    const slowHash: HashFn = async (abs) => {
      if (slow) {
        hashed.push(abs);
        await new Promise((r) => setTimeout(r, 1500));
      }
      return hashFile(abs);
    };
    const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`Docs/sub/n-${i}.txt`, `note ${i} `.repeat(500)]));
    const { rootA, rootB } = await twoInSync('seed-4051', files, { hashFile: slowHash, deleteQuietMs: 50 });
    const blocksBefore = blockRequests();
    slow = true;
    renameSync(path.join(rootA, 'Docs'), path.join(rootA, 'Docs renamed'));
    const expected = Object.keys(files).map((rel) => rel.replace(/^Docs/, 'Docs renamed')).sort();
    await waitFor(() => Object.keys(filesOnDisk(rootB)).sort().join('\n') === expected.join('\n'), { timeoutMs: 30_000 });
    expect(hashed, 'files hashed again after the rename').toEqual([]);
    expect(blockRequests() - blocksBefore, 'block requests of the other device').toBe(0);
  });

  // docs/conflict-rules.md, "Pushing a move" P8 and "Edits that race a move": this device renamed
  // a file while another device's edit of it reached the server first. The move is refused on its
  // stale base; refused here is any version lost: both devices end with the edit at the old name
  // and this device's bytes at the new one.
  it('a local rename racing an edit on the other device: both versions on both devices', async () => {
    const { rootA, rootB, agentA } = await twoInSync('race', { 'plan.txt': 'version 1' });
    await agentA.handlers.pause({});
    renameSync(path.join(rootA, 'plan.txt'), path.join(rootA, 'plan-final.txt'));
    writeFileSync(path.join(rootB, 'plan.txt'), 'version 2, edited on B');
    await waitFor(async () => {
      const read = await readChanges(observer, 'race', undefined, {});
      return read.kind === 'ok' && read.items.some((i) => i.path === 'plan.txt' && i.size === 'version 2, edited on B'.length);
    }, { timeoutMs: 20_000 });
    await agentA.handlers.resume({});
    const want = { 'plan.txt': 'version 2, edited on B', 'plan-final.txt': 'version 1' };
    await waitFor(() => JSON.stringify(filesOnDisk(rootA)) === JSON.stringify(filesOnDisk(rootB)) && filesOnDisk(rootA)['plan.txt'] === want['plan.txt'], { timeoutMs: 30_000 });
    expect(filesOnDisk(rootA)).toEqual(want);
    expect(filesOnDisk(rootB)).toEqual(want);
    expect((await serverFiles('race')).sort()).toEqual(['plan-final.txt', 'plan.txt']);
  });
});
