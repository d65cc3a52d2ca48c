import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../main/engine/agent';
import { readChanges } from '../../main/engine/pull/changes-reader';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { startTestAgent } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// Issue 24, item 1: `rm note-*.txt` (47 of 54 files) let its first slice of deletes reach the
// server before the guard tripped, and Cancel restored only the held part. Refused here: any
// delete of the bulk reaching the server before the user answers, and any file of it missing
// on disk or on the server after Cancel (docs/conflict-rules.md, local deletes).
describe('a bulk local delete is held whole until the user answers', () => {
  const tmp = makeTempDir('ferry-bulk-delete-');
  let server: RunningServer;
  let observer: SyncApiClient;
  const agents: Agent[] = [];

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    observer = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'observer' });
  });

  afterAll(async () => {
    await Promise.allSettled(agents.map((a) => a.stop()));
    observer.close();
    await server.close();
    tmp.cleanup();
  });

  /** The server's live files of a folder. */
  const serverFiles = async (folderId: string): Promise<string[]> => {
    const read = await readChanges(observer, folderId, undefined, {});
    if (read.kind !== 'ok') throw new Error('full listing expired');
    return read.items.filter((i) => !i.deleted && i.kind === 'file').map((i) => i.path).sort();
  };
  /** Where the server's feed stands now: what changes after this is news. */
  const feedToken = async (folderId: string): Promise<string> => {
    const read = await readChanges(observer, folderId, undefined, {});
    if (read.kind !== 'ok') throw new Error('full listing expired');
    return read.token;
  };
  /** Every delete the server recorded since `token`. */
  const deletesSince = async (folderId: string, token: string): Promise<string[]> => {
    const read = await readChanges(observer, folderId, token, {});
    if (read.kind !== 'ok') throw new Error('token expired');
    return read.items.filter((i) => i.deleted).map((i) => i.path);
  };

  const filesOnDisk = (root: string): string[] => {
    const out: string[] = [];
    const walk = (dir: string, prefix: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === '.ferry') continue;
        const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) walk(path.join(dir, entry.name), rel);
        else out.push(rel);
      }
    };
    walk(root, '');
    return out.sort();
  };

  /** An agent syncing a fresh folder `id` that holds `files`, all on the server. */
  async function startWith(id: string, files: string[]) {
    const root = path.join(tmp.dir, id);
    for (const rel of files) {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), `content of ${rel}`);
    }
    const agent = await startTestAgent(path.join(tmp.dir, `agent-${id}`), server, [{ localPath: root, remoteId: id }]);
    agents.push(agent);
    await waitFor(async () => (await serverFiles(id)).length === files.length, { timeoutMs: 20_000 });
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 10_000 });
    const folder = () => agent.status().folders[0]!;
    return { root, agent, folder };
  }

  /**
   * Waits for the folder to be held, watching the server's feed all the while: any delete that
   * reaches it before the pause (or after it) is recorded and fails the test.
   */
  async function heldWithNothingSent(id: string, token: string, folder: () => { state: string }): Promise<void> {
    const leaked = new Set<string>();
    await waitFor(
      async () => {
        for (const p of await deletesSince(id, token)) leaked.add(p);
        return folder().state === 'paused_mass_delete';
      },
      { timeoutMs: 15_000, intervalMs: 20 },
    );
    for (const p of await deletesSince(id, token)) leaked.add(p);
    expect([...leaked], 'deletes that reached the server before the user answered').toEqual([]);
  }

  /** Cancel, then every file of `all` is on disk and on the server, and no delete since `token` reached the server. */
  async function cancelledAllBack(id: string, rig: { root: string; agent: Agent; folder: () => { state: string } }, all: string[], token: string) {
    await rig.agent.handlers.cancelMassDelete({ folderId: id });
    await waitFor(() => filesOnDisk(rig.root).length === all.length, { timeoutMs: 20_000 });
    expect(filesOnDisk(rig.root)).toEqual(all);
    await waitFor(() => rig.agent.status().state === 'idle', { timeoutMs: 10_000 });
    expect(rig.folder().state).toBe('ok');
    expect(await serverFiles(id)).toEqual(all);
    expect(await deletesSince(id, token)).toEqual([]);
  }

  const notes = Array.from({ length: 54 }, (_, i) => `note-${String(i).padStart(2, '0')}.txt`);

  it('rm note-*.txt (47 of 54): nothing reaches the server, and Cancel restores every file on disk and on the server', async () => {
    const rig = await startWith('notes', notes);
    const token = await feedToken('notes');
    // As fast as `rm` does it: one unlink after the other, no pause between them.
    for (const name of notes.slice(0, 47)) unlinkSync(path.join(rig.root, name));

    await heldWithNothingSent('notes', token, rig.folder);
    // The banner's facts: how many, which (the first ten, sorted) and that this computer deleted them.
    expect(rig.folder().pendingDelete).toEqual({ count: 47, total: 54, side: 'scan', sample: notes.slice(0, 10), devices: [] });
    expect(rig.agent.status()).toMatchObject({ state: 'waiting', reason: expect.stringContaining('47 of 54 files were deleted on this computer') });
    expect(await serverFiles('notes')).toEqual(notes);
    await cancelledAllBack('notes', rig, notes, token);
  });

  it('the same rm, confirmed: deleted on the server and stays deleted here', async () => {
    const { root, agent, folder } = await startWith('notes-confirm', notes);
    const token = await feedToken('notes-confirm');
    for (const name of notes.slice(0, 47)) unlinkSync(path.join(root, name));

    await heldWithNothingSent('notes-confirm', token, folder);
    expect(folder().pendingDelete).toMatchObject({ count: 47, total: 54 });

    await agent.handlers.confirmMassDelete({ folderId: 'notes-confirm' });
    await waitFor(async () => (await serverFiles('notes-confirm')).length === 7, { timeoutMs: 20_000 });
    expect(await serverFiles('notes-confirm')).toEqual(notes.slice(47));
    expect(filesOnDisk(root)).toEqual(notes.slice(47));
    expect(folder().state).toBe('ok');
  });

  it('rm -r Second/batch (40 of 45 files): nothing reaches the server, and Cancel brings the folder back whole', async () => {
    const batch = Array.from({ length: 40 }, (_, i) => `Second/batch/${i % 2 ? 'sub/' : ''}item-${String(i).padStart(2, '0')}.txt`);
    const others = Array.from({ length: 5 }, (_, i) => `Second/keep-${i}.txt`);
    const all = [...batch, ...others].sort();
    const rig = await startWith('second', all);
    const token = await feedToken('second');
    rmSync(path.join(rig.root, 'Second', 'batch'), { recursive: true });

    await heldWithNothingSent('second', token, rig.folder);
    expect(rig.folder().pendingDelete).toMatchObject({ count: 40, total: 45 });
    expect(await serverFiles('second')).toEqual(all);
    await cancelledAllBack('second', rig, all, token);
  });

  const docs = Array.from({ length: 20 }, (_, i) => `doc-${String(i).padStart(2, '0')}.txt`);

  /** Two files go first, on their own (too few to ask), and reach the server; ten more follow. */
  async function partSentThenBulk(id: string) {
    const rig = await startWith(id, docs);
    const early = docs.slice(0, 2);
    for (const name of early) unlinkSync(path.join(rig.root, name));
    await waitFor(async () => (await serverFiles(id)).length === docs.length - early.length, { timeoutMs: 15_000 });
    expect(rig.folder().state).toBe('ok');
    const token = await feedToken(id);
    for (const name of docs.slice(2, 12)) unlinkSync(path.join(rig.root, name));
    await heldWithNothingSent(id, token, rig.folder);
    // The two already sent count with the ten: 12 of the 20 files the folder held.
    expect(rig.folder().pendingDelete).toMatchObject({ count: 12, total: 20 });
    return { ...rig, token };
  }

  // A new-user try: a file deleted 10 s before a burst was listed as held, and "Delete 17 files"
  // counted it, while the server and the other devices had deleted it already.
  it('part of it had already reached the server: the question tells the sent from the held', async () => {
    const rig = await partSentThenBulk('docs-sent-said');
    const pending = rig.folder().pendingDelete!;
    expect(pending.sent).toEqual({ count: 2, sample: docs.slice(0, 2) });
    // The held paths are listed without the sent ones.
    expect(pending.sample).toEqual(docs.slice(2, 12));
    const reason = rig.agent.status().reason ?? '';
    expect(reason).toContain(`2 of them (${docs[0]}, ${docs[1]}) had gone to the server before the rest were held`);
    const said = (await rig.agent.handlers.listActivity({ limit: 100 })).filter((e) => e.message.includes('disappeared from this folder')).map((e) => e.message);
    expect(said).toEqual([expect.stringContaining('Confirm to delete the other 10 on the server too, or cancel to restore all 12 from the server')]);
    // `why` of a sent one says so, not "a bulk delete of other files".
    const sentWhy = await rig.agent.handlers.explainPath({ folderId: 'docs-sent-said', path: docs[0]! });
    expect(sentWhy.reasons).toContainEqual({ code: 'held', message: 'Its delete had gone to the server before the rest of the bulk delete here was held: Cancel brings it back with them, Delete leaves it deleted' });
    await rig.agent.handlers.cancelMassDelete({ folderId: 'docs-sent-said' });
  });

  it('part of it had already reached the server: Cancel restores that part too, on the server and on disk', async () => {
    const rig = await partSentThenBulk('docs-sent');
    expect(await serverFiles('docs-sent')).toEqual(docs.slice(2));
    await cancelledAllBack('docs-sent', rig, docs, rig.token);
  });

  it('part of it had already reached the server, and another device wrote one of those since: its version stays', async () => {
    const rig = await partSentThenBulk('docs-sent-rewritten');
    const writer = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'other-device' });
    const bytes = Buffer.from('the other device wrote this');
    const hash = createHash('sha256').update(bytes).digest('hex');
    await writer.putBlock(hash, bytes);
    const reply = await writer.submitBatch('docs-sent-rewritten', [
      { key: 'w', action: 'upsert', path: docs[0]!, size: bytes.length, mtime: Date.now(), blocks: [hash], baseRevision: null },
    ]);
    writer.close();
    expect('results' in reply && reply.results.w?.ok).toBe(true);

    await rig.agent.handlers.cancelMassDelete({ folderId: 'docs-sent-rewritten' });
    await waitFor(() => filesOnDisk(rig.root).length === docs.length, { timeoutMs: 20_000 });
    await waitFor(() => rig.agent.status().state === 'idle', { timeoutMs: 10_000 });
    expect(await serverFiles('docs-sent-rewritten')).toEqual(docs);
    // Not forced over the newer version: it is what the server and this disk hold now.
    expect(readFileSync(path.join(rig.root, docs[0]!), 'utf8')).toBe('the other device wrote this');
    expect(readFileSync(path.join(rig.root, docs[1]!), 'utf8')).toBe(`content of ${docs[1]}`);
  });

  it('part of it had already reached the server: Confirm deletes the rest everywhere', async () => {
    const { root, agent, folder } = await partSentThenBulk('docs-sent-confirm');
    await agent.handlers.confirmMassDelete({ folderId: 'docs-sent-confirm' });
    await waitFor(async () => (await serverFiles('docs-sent-confirm')).length === 8, { timeoutMs: 20_000 });
    expect(await serverFiles('docs-sent-confirm')).toEqual(docs.slice(12));
    expect(filesOnDisk(root)).toEqual(docs.slice(12));
    expect(folder().state).toBe('ok');
    await waitFor(() => agent.status().state === 'idle', { timeoutMs: 10_000 });
  });
});
