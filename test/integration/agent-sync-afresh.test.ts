import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../main/engine/agent';
import { markerPath } from '../../main/engine/folder-marker';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { startTestAgent } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// A synced folder deleted and made again has no .ferry marker: the folder stops (an empty folder
// is never read as "everything deleted") and, before, nothing said what to do (found by a
// new-user try). Sync afresh takes it up as new: the server's files come back, what the user put
// in the new folder stays, and nothing is deleted anywhere.
describe('a synced folder deleted and made again, taken up afresh', () => {
  const tmp = makeTempDir('ferry-afresh-');
  const folder = path.join(tmp.dir, 'Docs');
  let server: RunningServer;
  let agent: Agent;
  let observer: SyncApiClient;

  const read = (rel: string) => (existsSync(path.join(folder, rel)) ? readFileSync(path.join(folder, rel), 'utf8') : null);
  const live = async () => {
    const latest = new Map<string, { deleted: boolean; size: number }>();
    for (const item of (await observer.changesPage('docs', { limit: 1000 })).items) latest.set(item.path, item);
    return new Map([...latest].filter(([, item]) => !item.deleted));
  };
  const docs = () => agent.status().folders.find((f) => f.id === 'docs')!;
  /** The synced folder deleted, in one step for the watcher (a rename away), and made again empty or not. */
  const removeFolder = ({ makeAgain }: { makeAgain: boolean }) => {
    renameSync(folder, `${folder}.old`);
    if (makeAgain) mkdirSync(folder);
    rmSync(`${folder}.old`, { recursive: true });
  };

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    observer = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'observer' });
    mkdirSync(path.join(folder, 'sub'), { recursive: true });
    writeFileSync(path.join(folder, 'a.txt'), 'alpha');
    writeFileSync(path.join(folder, 'sub', 'b.txt'), 'beta');
    writeFileSync(path.join(folder, 'c.txt'), 'gamma');
    agent = await startTestAgent(path.join(tmp.dir, 'agent'), { url: server.url, token: server.token }, [{ localPath: folder, remoteId: 'docs' }]);
    await waitFor(async () => (await live()).has('c.txt') && (await live()).has('sub/b.txt') && (await live()).has('a.txt'), { timeoutMs: 15_000, message: 'first sync' });
  }, 30_000);

  afterAll(async () => {
    await agent.stop();
    observer.close();
    await server.close();
    tmp.cleanup();
  });

  it('is refused while the folder has its marker (not_detached): nothing is forgotten', async () => {
    const files = docs().files;
    await expect(agent.handlers.syncAfresh({ folderId: 'docs' })).rejects.toMatchObject({ code: 'not_detached' });
    expect(docs().files).toBe(files);
  });

  it('stops the folder, says what to do, and on Sync afresh brings the server files back, keeping what the user put there', async () => {
    // Deleted and made again; then a file of the user's in it, and
    // one that differs from the server's.
    removeFolder({ makeAgain: true });
    writeFileSync(path.join(folder, 'd.txt'), 'new here');
    writeFileSync(path.join(folder, 'c.txt'), 'gamma, written again');
    await agent.handlers.syncNow({ folderId: 'docs' }).catch(() => undefined);
    await waitFor(() => docs().gone === 'marker', { timeoutMs: 10_000, message: 'the folder in error for its marker' });
    expect(docs().state).toBe('error');
    expect(docs().error).toMatch(/marker: it was deleted and made again, or its disk is not mounted\. Nothing is deleted while it is so\..*Sync afresh/);
    // Nothing was read as deleted, nothing is queued, and nothing went to the server: the three
    // files are still there, d.txt not yet.
    const queued = await agent.handlers.listQueue({ offset: 0, limit: 100 });
    expect(queued.items.filter((i) => i.state !== 'done')).toEqual([]);
    expect([...(await live()).keys()].sort()).toEqual(['a.txt', 'c.txt', 'sub', 'sub/b.txt']);

    await agent.handlers.syncAfresh({ folderId: 'docs' });
    // Said in Activity, which outlives the folder's records.
    expect((await agent.handlers.listActivity({ limit: 100 })).map((e) => e.message)).toContain(
      `Synced afresh: ${folder} (what this computer recorded of it forgotten); the server's files come into it, what is in it stays, nothing is deleted`,
    );
    await waitFor(() => read('a.txt') === 'alpha' && read('sub/b.txt') === 'beta' && read('c.txt') === 'gamma', { timeoutMs: 15_000, message: 'the server files back' });
    const copies = () => readdirSync(folder).filter((n) => n.startsWith('c (conflict'));
    await waitFor(() => copies().length === 1 && docs().state === 'ok' && docs().gone === undefined, { timeoutMs: 15_000, message: 'the user file kept as a copy, the folder ok' });
    expect(read(copies()[0]!)).toBe('gamma, written again');
    expect(read('d.txt')).toBe('new here');
    expect(existsSync(markerPath(folder))).toBe(true);
    await waitFor(async () => (await live()).has('d.txt'), { timeoutMs: 15_000, message: "the user's new file uploaded" });
    // Nothing the server had was deleted.
    const after = await live();
    for (const rel of ['a.txt', 'c.txt', 'sub/b.txt']) expect(after.has(rel)).toBe(true);
    // The copy keeps this computer's file, met on a first look: no change of the server's raced it.
    const [listed] = await agent.handlers.listConflicts({ folderId: 'docs' });
    expect(listed).toMatchObject({ path: 'c.txt', copyPath: copies()[0], madeBy: null, restoredFrom: null });
    expect((await agent.handlers.listActivity({ limit: 100 })).find((e) => e.kind === 'conflict')?.message).toBe(`A file of this name was here and on the server with other bytes; the local version was kept as ${copies()[0]}`);
  });

  // Found by a new-user try: the copy made here, back from the server after another Sync afresh,
  // was listed as another device's version (its name names this device).
  it("lists a conflict copy made here once and back from the server as this computer's", async () => {
    const copy = readdirSync(folder).find((n) => n.startsWith('c (conflict'))!;
    await waitFor(async () => (await live()).has(copy) && agent.status().state === 'idle', { timeoutMs: 15_000, message: 'the copy on the server' });
    removeFolder({ makeAgain: true });
    await agent.handlers.syncNow({ folderId: 'docs' }).catch(() => undefined);
    await waitFor(() => docs().gone === 'marker', { timeoutMs: 10_000, message: 'the folder in error for its marker' });
    await agent.handlers.syncAfresh({ folderId: 'docs' });
    await waitFor(() => read(copy) === 'gamma, written again', { timeoutMs: 15_000, message: 'the copy back' });
    await waitFor(async () => (await agent.handlers.listConflicts({ folderId: 'docs' })).length === 1, { timeoutMs: 10_000, message: 'the copy listed' });
    expect((await agent.handlers.listConflicts({ folderId: 'docs' }))[0]).toMatchObject({ path: 'c.txt', copyPath: copy, madeBy: null, device: '' });
    const why = await agent.handlers.explainPath({ folderId: 'docs', path: copy });
    expect(why.reasons.map((r) => r.message)).toContain('A conflict copy: this device\'s earlier version of c.txt, made here before and back from the server');
  });

  it('a synced folder gone altogether: says so, deletes nothing, and Sync afresh makes it again with the server files; a file in its place is refused', async () => {
    removeFolder({ makeAgain: false });
    await agent.handlers.syncNow({ folderId: 'docs' }).catch(() => undefined);
    await waitFor(() => docs().gone === 'folder', { timeoutMs: 10_000, message: 'the folder in error, gone' });
    expect(docs().error).toMatch(/is missing: it was deleted or moved, or its disk is not mounted\. Nothing is deleted while it is so\..*ferry sync-now --afresh --folder ID/);
    expect((await live()).has('a.txt')).toBe(true);

    // A file where the folder was: refused, the file left as it is.
    writeFileSync(folder, 'not a folder');
    await expect(agent.handlers.syncAfresh({ folderId: 'docs' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('is not a folder now') });
    expect(readFileSync(folder, 'utf8')).toBe('not a folder');
    rmSync(folder);

    await agent.handlers.syncAfresh({ folderId: 'docs' });
    await waitFor(() => read('a.txt') === 'alpha' && read('sub/b.txt') === 'beta' && read('d.txt') === 'new here', { timeoutMs: 15_000, message: 'the folder made again with the server files' });
    await waitFor(() => docs().state === 'ok' && docs().gone === undefined, { timeoutMs: 10_000, message: 'the folder ok' });
    expect(existsSync(markerPath(folder))).toBe(true);
  });
});
