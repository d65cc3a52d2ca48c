import { readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OperationInput } from '../../protocol';
import { writeMarker } from '../../main/engine/folder-marker';
import { contentHashOf } from '../../main/engine/hashing';
import { createIgnoreMatcher } from '../../main/engine/ignore';
import { createPuller, type PullSummary } from '../../main/engine/pull';
import { Scanner } from '../../main/engine/scanner';
import { SyncApiClient } from '../../main/remote';
import { waitFor } from '../helpers/wait';
import { sha } from './pull-harness';
import { batchPosts, blockPuts, FOLDER, pushRig, REMOTE, type PushRig } from './push-harness';

// The push side of a rename (docs/conflict-rules.md, "Pushing a move", rows P1-P9): the real
// scanner finds the rename, the real queue holds it as one operation, the real pusher sends it
// to the real server over loopback. Refused throughout: a rename that reaches the server as an
// upload and a delete when it could be one move, a block uploaded for a rename, and any version
// lost when the server refuses the move.
describe('pushing moves (P1-P9)', () => {
  const rigs: PushRig[] = [];
  afterEach(async () => {
    for (const r of rigs.splice(0)) await r.close();
  });

  /** A rig whose operations on the wire are recorded, and a scanner on its folder. */
  async function setup() {
    const rig = await pushRig();
    rigs.push(rig);
    const sent: OperationInput[] = [];
    const submit = rig.client.submitBatch.bind(rig.client);
    rig.client.submitBatch = (folder, operations, options) => {
      sent.push(...operations);
      return submit(folder, operations, options);
    };
    rig.store.folders.setMarkerId(FOLDER, writeMarker(rig.root));
    const scanner = new Scanner({ store: rig.store, folderId: FOLDER, root: rig.root, ignore: () => createIgnoreMatcher() });
    // New names first: a path found gone is recorded at once here (the agent holds it a second,
    // by which time the new name has been seen), and a gone path alone cannot tell where it went.
    const scan = (...rels: string[]) => scanner.scanPaths(rels, false);
    const settled = () => waitFor(() => rig.store.queue.list({ folderId: FOLDER, limit: 1000 }).items.every((i) => i.state === 'done'), { timeoutMs: 15_000, message: 'every queue item done' });
    return { rig, sent, scan, settled, reconcile: () => scanner.reconcile() };
  }

  /** Files written, scanned and pushed: every path synced. */
  async function synced(files: Record<string, string>) {
    const s = await setup();
    for (const [rel, data] of Object.entries(files)) await s.rig.write(rel, data);
    await s.reconcile();
    await s.settled();
    s.sent.length = 0;
    return s;
  }

  /** d/x.txt and d/y.txt synced; then another device made e and e/x.txt with d/x.txt's bytes (P10). */
  async function theirsAtNewName() {
    const s = await synced({ 'd/x.txt': 'x', 'd/y.txt': 'y' });
    const old = s.rig.store.index.get(FOLDER, 'd/x.txt')!;
    const other = await s.rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, {
      body: {
        operations: [
          { key: 'k1', action: 'upsert', kind: 'dir', path: 'e', mtime: 1, baseRevision: null },
          { key: 'k2', action: 'upsert', path: 'e/x.txt', size: old.size, mtime: 1, blocks: old.blocks, baseRevision: null },
        ],
      },
    });
    expect(other.status).toBe(200);
    return { ...s, old, theirs: (await s.rig.remote()).get('e/x.txt')!.revision };
  }

  const live = (rig: PushRig) => Object.fromEntries(rig.store.queue.list({ folderId: FOLDER, limit: 1000 }).items.filter((i) => i.state !== 'done').map((i) => [i.path, { op: i.op, from: i.moveFrom, base: i.baseRevision }]));
  const mv = (rig: PushRig, from: string, to: string) => renameSync(path.join(rig.root, from), path.join(rig.root, to));
  /** The first batch holding a move waits at the client until `release`: the move is in flight. */
  function holdFirstMove(rig: PushRig): { inFlight: () => Promise<unknown>; release: () => void } {
    const submit = rig.client.submitBatch.bind(rig.client);
    let held = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    rig.client.submitBatch = async (folder, operations, options) => {
      if (!held && operations.some((o) => o.action === 'move')) {
        held = true;
        await gate;
      }
      return submit(folder, operations, options);
    };
    return { inFlight: () => waitFor(() => held, { message: 'the move in flight' }), release };
  }

  /** Another device's edit of `rel` on `base`, committed on the server; returns its bytes. */
  async function theirEdit(rig: PushRig, rel: string, base: string, content: string): Promise<Buffer> {
    const data = Buffer.from(content);
    await rig.client.putBlock(sha(data), data);
    const other = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, {
      body: { operations: [{ key: 'k', action: 'upsert', path: rel, size: data.length, mtime: 1, blocks: [sha(data)], baseRevision: base }] },
    });
    expect(other.status).toBe(200);
    return data;
  }

  /** The files at the folder's top level (no sub-folders in these tests), name → content. */
  const onDisk = (rig: PushRig) => Object.fromEntries(readdirSync(rig.root).filter((n) => n !== '.ferry').map((n) => [n, readFileSync(path.join(rig.root, n), 'utf8')]));
  /** One pull of the folder by this device, as the agent's puller runs it. */
  async function pullOnce(rig: PushRig): Promise<PullSummary> {
    const client = new SyncApiClient({ baseUrl: rig.server.server.url, token: rig.server.server.token, deviceId: 'dev-test' });
    const puller = createPuller({ store: rig.store, remote: client, device: { id: 'dev-test', name: 'test' }, options: { retryBaseMs: 20, retryMaxMs: 200 } });
    try {
      return await puller.pullNow(FOLDER);
    } finally {
      await puller.stop();
      client.close();
    }
  }
  const actions = (sent: OperationInput[]) => sent.map((o) => (o.action === 'move' ? `move ${o.from} → ${o.path}` : `${o.action} ${o.path}`));

  it('P1: a rename is one move on the wire, nothing uploaded; the new path records the move revision', async () => {
    const { rig, sent, scan, settled } = await synced({ 'a.txt': 'alpha' });
    const base = rig.store.index.get(FOLDER, 'a.txt')!.syncedRevision;
    const uploads = () => blockPuts(rig).length + batchPosts(rig).length;
    const before = uploads();
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    await settled();
    expect(actions(sent)).toEqual(['move a.txt → b.txt']);
    expect(sent[0]).toMatchObject({ baseRevision: base });
    expect(uploads()).toBe(before);
    const remote = await rig.remote();
    expect([...remote.keys()]).toEqual(['b.txt']);
    expect(remote.get('b.txt')!.movedFrom).toBe('a.txt');
    expect(rig.store.index.get(FOLDER, 'b.txt')!.syncedRevision).toBe(remote.get('b.txt')!.revision);
  });

  it('P2: a move then an edit is one row (the move, then the upload on the move revision)', async () => {
    const { rig, sent, scan, settled } = await synced({ 'a.txt': 'alpha' });
    rig.pusher.pause();
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    await rig.write('b.txt', 'alpha, edited after the rename');
    await scan('b.txt');
    expect(live(rig)).toEqual({ 'b.txt': { op: 'upsert', from: 'a.txt', base: expect.any(String) } });
    rig.pusher.resume();
    await settled();
    expect(actions(sent)).toEqual(['move a.txt → b.txt', 'upsert b.txt']);
    const remote = await rig.remote();
    expect([...remote.keys()]).toEqual(['b.txt']);
    expect(remote.get('b.txt')!.size).toBe('alpha, edited after the rename'.length);
    expect(rig.store.index.get(FOLDER, 'b.txt')!.syncedRevision).toBe(remote.get('b.txt')!.revision);
  });

  it('P3: a → b → c before the move went is one move a → c', async () => {
    const { rig, sent, scan, settled } = await synced({ 'a.txt': 'alpha' });
    rig.pusher.pause();
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    mv(rig, 'b.txt', 'c.txt');
    await scan('c.txt', 'b.txt');
    expect(live(rig)).toEqual({ 'c.txt': { op: 'upsert', from: 'a.txt', base: expect.any(String) } });
    rig.pusher.resume();
    await settled();
    expect(actions(sent)).toEqual(['move a.txt → c.txt']);
    expect([...(await rig.remote()).keys()]).toEqual(['c.txt']);
  });

  it('P4: a move back before it went is nothing', async () => {
    const { rig, sent, scan } = await synced({ 'a.txt': 'alpha' });
    const base = rig.store.index.get(FOLDER, 'a.txt')!.syncedRevision;
    rig.pusher.pause();
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    mv(rig, 'b.txt', 'a.txt');
    await scan('a.txt', 'b.txt');
    expect(live(rig)).toEqual({});
    expect(rig.store.index.get(FOLDER, 'a.txt')!.syncedRevision).toBe(base);
    expect(rig.store.index.get(FOLDER, 'b.txt')).toBeUndefined();
    rig.pusher.resume();
    rig.pusher.kick();
    await rig.pusher.idle();
    expect(sent).toEqual([]);
  });

  it('P5: moved then deleted before the move went: the old path is deleted on its base; a new file there replaces it instead', async () => {
    const { rig, sent, scan, settled } = await synced({ 'a.txt': 'alpha', 'k.txt': 'kappa' });
    const baseK = rig.store.index.get(FOLDER, 'k.txt')!.syncedRevision;
    rig.pusher.pause();
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    rmSync(path.join(rig.root, 'b.txt'));
    await scan('b.txt');
    mv(rig, 'k.txt', 'm.txt');
    await scan('m.txt', 'k.txt');
    await rig.write('k.txt', 'a new k.txt');
    await scan('k.txt');
    rmSync(path.join(rig.root, 'm.txt'));
    await scan('m.txt');
    expect(live(rig)).toEqual({ 'a.txt': { op: 'delete', from: null, base: expect.any(String) }, 'k.txt': { op: 'upsert', from: null, base: baseK } });
    rig.pusher.resume();
    await settled();
    const remote = await rig.remote();
    expect([...remote.keys()]).toEqual(['k.txt']);
    expect(remote.get('k.txt')!.size).toBe('a new k.txt'.length);
    expect(actions(sent).sort()).toEqual(['delete a.txt', 'upsert k.txt']);
  });

  it('P6: a file never pushed that is renamed is a new file at its new name, no move', async () => {
    const { rig, sent, scan, settled } = await setup();
    rig.pusher.pause();
    await rig.write('n.txt', 'new');
    await scan('n.txt');
    mv(rig, 'n.txt', 'm.txt');
    await scan('m.txt', 'n.txt');
    expect(live(rig)).toEqual({ 'm.txt': { op: 'upsert', from: null, base: null } });
    rig.pusher.resume();
    await settled();
    expect(actions(sent)).toEqual(['upsert m.txt']);
  });

  it('P7: a new file at the old name waits for the move (claimed only after it is done)', async () => {
    const { rig, sent, scan, settled } = await synced({ 'a.txt': 'alpha' });
    rig.pusher.pause();
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    await rig.write('a.txt', 'another a.txt');
    await scan('a.txt');
    rig.pusher.resume();
    await settled();
    // Sent together, the new a.txt (no base) met the live a.txt the move had not moved yet: a conflict.
    expect(actions(sent)).toEqual(['move a.txt → b.txt', 'upsert a.txt']);
    const remote = await rig.remote();
    expect([...remote.keys()].sort()).toEqual(['a.txt', 'b.txt']);
    expect(remote.get('a.txt')!.size).toBe('another a.txt'.length);
  });

  it('P8: the server refuses the move (another device deleted the old path): the new path goes up as new, nothing lost', async () => {
    const { rig, sent, scan, settled } = await synced({ 'a.txt': 'alpha' });
    const base = rig.store.index.get(FOLDER, 'a.txt')!.syncedRevision!;
    const other = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, { body: { operations: [{ key: 'k', action: 'delete', path: 'a.txt', baseRevision: base }] } });
    expect(other.status).toBe(200);
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    await settled();
    expect(actions(sent)[0]).toBe('move a.txt → b.txt');
    expect(actions(sent).slice(1).sort()).toEqual(['delete a.txt', 'upsert b.txt']);
    const remote = await rig.remote();
    expect([...remote.keys()]).toEqual(['b.txt']);
    expect(remote.get('b.txt')!.size).toBe(5);
  });

  // Chaos seed 11565: a rename waited to go while another device edited the old name; the pull
  // brought that edit back to the old name (the move had taken its index row). Refused, the move
  // became an upload and a delete of the old name on the move's base, a revision the server no
  // longer had: a conflict at every recheck, for ever, and the other device's edit at risk.
  it('chaos seed 11565: P8 when the pull put another device\'s edit of the old name back here: that name is not deleted', async () => {
    const { rig, sent, scan, settled } = await synced({ 'a.txt': 'alpha' });
    const base = rig.store.index.get(FOLDER, 'a.txt')!.syncedRevision!;
    rig.pusher.pause();
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    expect(live(rig)).toEqual({ 'b.txt': { op: 'upsert', from: 'a.txt', base } });
    const other = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, { body: { operations: [{ key: 'k', action: 'upsert', path: 'a.txt', size: 0, mtime: 1, blocks: [], baseRevision: base }] } });
    expect(other.status).toBe(200);
    const theirs = (await rig.remote()).get('a.txt')!.revision;
    // What the pull does: a.txt is absent here and the move took its row, so the edit is downloaded and recorded.
    await rig.write('a.txt', '');
    const st = statSync(path.join(rig.root, 'a.txt'));
    rig.store.index.put({ folderId: FOLDER, path: 'a.txt', kind: 'file', size: 0, mtimeMs: st.mtimeMs, inode: st.ino, contentHash: contentHashOf([]), blocks: [], syncedRevision: theirs });
    rig.pusher.resume();
    await settled();
    expect(actions(sent)).toEqual(['move a.txt → b.txt', 'upsert b.txt']);
    const remote = await rig.remote();
    expect([...remote.keys()].sort()).toEqual(['a.txt', 'b.txt']);
    expect(remote.get('a.txt')!.revision).toBe(theirs);
    expect(remote.get('b.txt')!.size).toBe(5);
    expect(rig.store.index.get(FOLDER, 'a.txt')!.syncedRevision).toBe(theirs);
  });

  // Chaos seed 17606 (npm run chaos -- --seed 17606 --ops 60 --devices 2): notes.txt renamed to
  // NOTES.TXT here (a move queued; the network refused it), then renamed back, and the agent was
  // killed before its scanner saw the rename back. Another device edited notes.txt meanwhile. At
  // the restart the pull met that edit before the reconcile: the move had taken notes.txt's index
  // row, so the file there read as new and became a conflict copy, though it held exactly the
  // version the move took away, already on the server. Refused: any conflict copy, the other
  // device's edit replaced, and NOTES.TXT left on either side.
  it('chaos seed 17606: a rename undone before the scanner saw it, then another device\'s edit of the old name: downloaded, no conflict copy', async () => {
    const { rig, sent, scan, settled, reconcile } = await synced({ 'notes.txt': 'v1' });
    const base = rig.store.index.get(FOLDER, 'notes.txt')!.syncedRevision!;
    rig.pusher.pause();
    mv(rig, 'notes.txt', 'NOTES.TXT');
    await scan('NOTES.TXT', 'notes.txt');
    expect(live(rig)).toEqual({ 'NOTES.TXT': { op: 'upsert', from: 'notes.txt', base } });
    mv(rig, 'NOTES.TXT', 'notes.txt'); // not seen: the agent is killed
    const theirs = await theirEdit(rig, 'notes.txt', base, 'v2 from the other device');

    // The pull leaves the path to the scan (retryable, nothing written), which records the move back (P4).
    expect(await pullOnce(rig).catch((error: unknown) => error)).toMatchObject({ code: 'moved_back', retryable: true, retryAfterSeconds: 1 });
    expect(onDisk(rig)).toEqual({ 'notes.txt': 'v1' });
    await reconcile();
    expect(live(rig)).toEqual({});
    expect(await pullOnce(rig)).toMatchObject({ conflicts: 0, downloaded: 1 });
    expect(onDisk(rig)).toEqual({ 'notes.txt': 'v2 from the other device' });

    rig.pusher.resume();
    rig.pusher.kick();
    await settled();
    expect(actions(sent)).toEqual([]);
    const remote = await rig.remote();
    expect([...remote.keys()]).toEqual(['notes.txt']);
    expect(remote.get('notes.txt')!.size).toBe(theirs.length);
    expect(onDisk(rig)).toEqual({ 'notes.txt': 'v2 from the other device' });
  });

  it('chaos seed 17606 with a delete: another device deletes the name renamed back unseen; deleted here too, never uploaded again', async () => {
    const { rig, sent, scan, settled, reconcile } = await synced({ 'notes.txt': 'v1', 'keep.txt': 'k' });
    const base = rig.store.index.get(FOLDER, 'notes.txt')!.syncedRevision!;
    await pullOnce(rig); // the token: the delete comes as a change, not as a path missing from a full listing
    rig.pusher.pause();
    mv(rig, 'notes.txt', 'NOTES.TXT');
    await scan('NOTES.TXT', 'notes.txt');
    mv(rig, 'NOTES.TXT', 'notes.txt'); // not seen: the agent is killed
    expect((await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, { body: { operations: [{ key: 'k', action: 'delete', path: 'notes.txt', baseRevision: base }] } })).status).toBe(200);

    expect(await pullOnce(rig).catch((error: unknown) => error)).toMatchObject({ code: 'moved_back' });
    await reconcile();
    expect(await pullOnce(rig)).toMatchObject({ deleted: 1, reuploaded: 0 });
    rig.pusher.resume();
    rig.pusher.kick();
    await settled();
    expect(actions(sent)).toEqual([]);
    expect([...(await rig.remote()).keys()]).toEqual(['keep.txt']);
    expect(onDisk(rig)).toEqual({ 'keep.txt': 'k' });
  });

  // The same for a folder, where deciding first did worse: the pull wrote into d, so the scan
  // took d's files for moves from D and deleted their old names on the server.
  it('chaos seed 17606 for a folder: renamed and renamed back unseen, then another device\'s edit of a file in it: downloaded, no conflict copy', async () => {
    const { rig, sent, scan, settled, reconcile } = await synced({ 'd/notes.txt': 'v1', 'd/other.txt': 'o' });
    const base = rig.store.index.get(FOLDER, 'd/notes.txt')!.syncedRevision!;
    rig.pusher.pause();
    mv(rig, 'd', 'D');
    await scan('D', 'd');
    expect(live(rig)).toEqual({ D: { op: 'upsert', from: 'd', base: expect.any(String) } });
    mv(rig, 'D', 'd'); // not seen: the agent is killed
    await theirEdit(rig, 'd/notes.txt', base, 'v2 from the other device');

    expect(await pullOnce(rig).catch((error: unknown) => error)).toMatchObject({ code: 'moved_back', retryable: true });
    await reconcile();
    expect(live(rig)).toEqual({});
    expect(await pullOnce(rig)).toMatchObject({ conflicts: 0, downloaded: 1 });
    rig.pusher.resume();
    rig.pusher.kick();
    await settled();
    const remote = await rig.remote();
    expect([...remote.keys()].sort()).toEqual(['d', 'd/notes.txt', 'd/other.txt']);
    expect(remote.get('d/notes.txt')!.size).toBe('v2 from the other device'.length);
    // Refused: the old names deleted on the server as if the folder's files had moved away from them.
    expect(actions(sent)).toEqual([]);
    expect(readFileSync(path.join(rig.root, 'd', 'notes.txt'), 'utf8')).toBe('v2 from the other device');
    expect(readFileSync(path.join(rig.root, 'd', 'other.txt'), 'utf8')).toBe('o');
  });

  it('chaos seed 17606, refused while the move is in flight: it may land and leave those bytes at the new name only, so they are kept as a copy', async () => {
    const { rig, scan } = await synced({ 'notes.txt': 'v1' });
    const base = rig.store.index.get(FOLDER, 'notes.txt')!.syncedRevision!;
    const { inFlight, release } = holdFirstMove(rig);
    mv(rig, 'notes.txt', 'NOTES.TXT');
    await scan('NOTES.TXT', 'notes.txt');
    await inFlight();
    mv(rig, 'NOTES.TXT', 'notes.txt');
    await theirEdit(rig, 'notes.txt', base, 'v2 from the other device');
    try {
      expect(await pullOnce(rig)).toMatchObject({ conflicts: 1 });
      expect(Object.values(onDisk(rig)).sort()).toEqual(['v1', 'v2 from the other device']);
      expect(onDisk(rig)['notes.txt']).toBe('v2 from the other device');
    } finally {
      release();
    }
  });

  // Chaos seed 13057: a.txt renamed to b.txt here while another device made b.txt first; the pull
  // kept the moved bytes as a conflict copy and put the other device's b.txt in place (U6), and
  // the user then deleted it, with the move in flight. The delete carried the move (P5) and went
  // nowhere when the move was refused: b.txt stayed on the server for good, gone here.
  it('chaos seed 13057: a delete of the file the pull put at the new name, the move in flight, goes on that file\'s revision', async () => {
    const { rig, scan, settled } = await synced({ 'a.txt': 'alpha' });
    const { inFlight, release } = holdFirstMove(rig);
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    await inFlight();
    const other = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, { body: { operations: [{ key: 'k', action: 'upsert', path: 'b.txt', size: 0, mtime: 1, blocks: [], baseRevision: null }] } });
    expect(other.status).toBe(200);
    const theirs = (await rig.remote()).get('b.txt')!.revision;
    // What the pull does (U6): the moved bytes to a copy, the other device's b.txt in place and recorded.
    renameSync(path.join(rig.root, 'b.txt'), path.join(rig.root, 'b (conflict).txt'));
    await rig.write('b.txt', '');
    const st = statSync(path.join(rig.root, 'b.txt'));
    rig.store.index.put({ folderId: FOLDER, path: 'b.txt', kind: 'file', size: 0, mtimeMs: st.mtimeMs, inode: st.ino, contentHash: contentHashOf([]), blocks: [], syncedRevision: theirs });
    rmSync(path.join(rig.root, 'b.txt'));
    await scan('b.txt');
    expect(rig.item('b.txt')).toMatchObject({ op: 'delete', baseRevision: theirs, moveFrom: null });
    release();
    await settled();
    const remote = await rig.remote();
    expect(remote.has('b.txt')).toBe(false);
    expect(remote.has('a.txt')).toBe(false);
  });

  // Found by review (docs/conflict-rules.md, "A move sent without an answer"): the move landed and
  // its answer was lost (a kill), then the user renamed the file on, or deleted it, before the
  // restart sent the move again. Chained into a move from a.txt (gone on the server), or undone
  // as never sent, it left b.txt on the server, and the pull brought it back.
  describe('a move that landed without an answer', () => {
    async function landedUnanswered() {
      const s = await synced({ 'a.txt': 'alpha' });
      s.rig.pusher.pause();
      mv(s.rig, 'a.txt', 'b.txt');
      await s.scan('b.txt', 'a.txt');
      const base = s.rig.item('b.txt')!.baseRevision;
      const landed = await s.rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, { body: { operations: [{ key: 'k', action: 'move', from: 'a.txt', path: 'b.txt', baseRevision: base }] } });
      expect(landed.status).toBe(200);
      // Claimed (sent), then the kill: back to pending at the restart, no answer recorded.
      expect(s.rig.store.queue.claim({ limit: 10 }).map((i) => i.path)).toEqual(['b.txt']);
      s.rig.store.queue.recoverInFlight();
      return s;
    }

    it('renamed on before it went again: the file ends under its last name only, here and on the server', async () => {
      const { rig, scan, settled } = await landedUnanswered();
      mv(rig, 'b.txt', 'c.txt');
      await scan('c.txt', 'b.txt');
      rig.pusher.resume();
      await settled();
      expect([...(await rig.remote()).keys()].sort()).toEqual(['c.txt']);
      await pullOnce(rig);
      expect(onDisk(rig)).toEqual({ 'c.txt': 'alpha' });
    });

    it('deleted before it went again: gone here and on the server', async () => {
      const { rig, scan, settled } = await landedUnanswered();
      rmSync(path.join(rig.root, 'b.txt'));
      await scan('b.txt');
      rig.pusher.resume();
      await settled();
      expect([...(await rig.remote()).keys()]).toEqual([]);
      await pullOnce(rig);
      expect(onDisk(rig)).toEqual({});
    });
  });

  it('P8: a move onto a path another device created is refused; both versions stay', async () => {
    const { rig, sent, scan } = await synced({ 'a.txt': 'alpha' });
    const other = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, {
      body: { operations: [{ key: 'k', action: 'upsert', path: 'b.txt', size: 0, mtime: 1, blocks: [], baseRevision: null }] },
    });
    expect(other.status).toBe(200);
    mv(rig, 'a.txt', 'b.txt');
    await scan('b.txt', 'a.txt');
    await rig.waitState('b.txt', 'retry_wait');
    expect(rig.item('b.txt')).toMatchObject({ lastErrorCode: 'conflict', moveFrom: null, baseRevision: null });
    expect(actions(sent)[0]).toBe('move a.txt → b.txt');
    expect(actions(sent)).toContain('upsert b.txt');
    const remote = await rig.remote();
    // The other device's b.txt is not replaced; ours waits (the pull keeps it as a conflict copy).
    expect(remote.get('b.txt')!.size).toBe(0);
  });

  it('P9: a directory rename is one move of the directory; an edit inside waiting for it goes up on the moved revision', async () => {
    const files = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`d/sub/f${i}.txt`, `file ${i}`]));
    const { rig, sent, scan, settled } = await synced(files);
    const uploads = () => blockPuts(rig).length + batchPosts(rig).length;
    const before = uploads();
    rig.pusher.pause();
    mv(rig, 'd', 'e');
    await scan('e', 'd');
    await rig.write('e/sub/f3.txt', 'file 3, edited while the move waited');
    await scan('e/sub/f3.txt');
    expect(Object.keys(live(rig)).sort()).toEqual(['e', 'e/sub/f3.txt']);
    expect(live(rig)['e']).toEqual({ op: 'upsert', from: 'd', base: expect.any(String) });
    rig.pusher.resume();
    await settled();
    expect(actions(sent)).toEqual(['move d → e', 'upsert e/sub/f3.txt']);
    // The edited file's one block; nothing for the move.
    expect(uploads()).toBe(before + 1);
    const remote = await rig.remote();
    expect([...remote.keys()].filter((p) => p.startsWith('d'))).toEqual([]);
    expect(remote.get('e/sub/f3.txt')!.size).toBe('file 3, edited while the move waited'.length);
    for (const [rel] of Object.entries(files)) {
      const now = rel.replace(/^d\//, 'e/');
      expect(rig.store.index.get(FOLDER, now)!.syncedRevision, now).toBe(remote.get(now)!.revision);
    }
  });

  it('P8 for a directory: refused (the target exists), every file goes up under the new name and the old ones are deleted', async () => {
    const { rig, sent, scan, settled } = await synced({ 'd/x.txt': 'x', 'd/y.txt': 'y' });
    const other = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, { body: { operations: [{ key: 'k', action: 'upsert', kind: 'dir', path: 'e', mtime: 1, baseRevision: null }] } });
    expect(other.status).toBe(200);
    mv(rig, 'd', 'e');
    await scan('e', 'd');
    await settled();
    expect(actions(sent)[0]).toBe('move d → e');
    expect(actions(sent).slice(1).sort()).toEqual(['delete d', 'delete d/x.txt', 'delete d/y.txt', 'upsert e', 'upsert e/x.txt', 'upsert e/y.txt']);
    const remote = await rig.remote();
    expect([...remote.keys()].sort()).toEqual(['e', 'e/x.txt', 'e/y.txt']);
  });

  // Chaos seeds 8219 (--gc) and 10035: dev-a renamed d to e while dev-b created e/x.txt; dev-a's
  // pull recorded dev-b's e/x.txt in the index row the rename had carried, so when the move was
  // refused, d/x.txt's delete went on e/x.txt's revision and conflicted for ever.
  it('P10: the pull records another device\'s entry below the new name before the move went; the old entries go on their own revisions', async () => {
    const { rig, sent, scan, settled, old, theirs } = await theirsAtNewName();
    rig.pusher.pause();
    mv(rig, 'd', 'e');
    await scan('e', 'd');
    expect(live(rig)['e']).toEqual({ op: 'upsert', from: 'd', base: expect.any(String) });
    expect(rig.store.index.get(FOLDER, 'e/x.txt')).toMatchObject({ moveFrom: 'd/x.txt', moveBase: old.syncedRevision });
    // What the pull does for the same bytes at e/x.txt (U4: record-only).
    rig.store.index.put({ ...rig.store.index.get(FOLDER, 'e/x.txt')!, syncedRevision: theirs });
    rig.pusher.resume();
    await settled();
    const deletes = sent.filter((o) => o.action === 'delete');
    expect(deletes.find((o) => o.path === 'd/x.txt')).toMatchObject({ baseRevision: old.syncedRevision });
    // e/x.txt is on the server already: not uploaded again.
    expect(actions(sent)).not.toContain('upsert e/x.txt');
    const remote = await rig.remote();
    expect([...remote.keys()].sort()).toEqual(['e', 'e/x.txt', 'e/y.txt']);
    expect(remote.get('e/x.txt')!.revision).toBe(theirs);
    expect(rig.store.index.get(FOLDER, 'e/x.txt')).not.toHaveProperty('moveFrom');
  });

  // Chaos seed 72 (npm run chaos -- --seed 72 --ops 60 --devices 2 --backend postgres): this device
  // renamed b/Docs to b/docs while another device made b/docs and then deleted the file there that
  // had the name of one this rename carried. The pull kept the moved file and queued it as new
  // (D3); the folder's move was refused, and undone it deleted every old entry but that one:
  // b/Docs/Ünïcödé.log stayed on the server, never came back here, and the delete of b/Docs
  // conflicted at every recheck. Refused: the old entry left on the server.
  it('chaos seed 72: a moved file the pull kept against another device\'s delete at the new name: its old name still goes when the folder\'s move is refused', async () => {
    const { rig, sent, scan, settled } = await synced({ 'd/x.txt': 'x', 'd/y.txt': 'y' });
    const old = rig.store.index.get(FOLDER, 'd/x.txt')!;
    await pullOnce(rig); // the token: later pulls read what changed since
    rig.pusher.pause();
    mv(rig, 'd', 'e');
    await scan('e', 'd');
    expect(live(rig)['e']).toEqual({ op: 'upsert', from: 'd', base: expect.any(String) });
    const other = (operations: object[]) => rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, { body: { operations } });
    expect((await other([{ key: 'k1', action: 'upsert', kind: 'dir', path: 'e', mtime: 1, baseRevision: null }, { key: 'k2', action: 'upsert', path: 'e/x.txt', size: 0, mtime: 1, blocks: [], baseRevision: null }])).status).toBe(200);
    expect((await other([{ key: 'k3', action: 'delete', path: 'e/x.txt', baseRevision: (await rig.remote()).get('e/x.txt')!.revision }])).status).toBe(200);
    // The pull keeps the moved e/x.txt against that delete (D3) and queues it as new.
    expect(await pullOnce(rig)).toMatchObject({ reuploaded: 1 });
    expect(live(rig)['e/x.txt']).toEqual({ op: 'upsert', from: null, base: null });

    rig.pusher.resume();
    rig.pusher.kick();
    await settled();
    expect(sent.find((o) => o.action === 'delete' && o.path === 'd/x.txt')).toMatchObject({ baseRevision: old.syncedRevision });
    const remote = await rig.remote();
    expect([...remote.keys()].sort()).toEqual(['e', 'e/x.txt', 'e/y.txt']);
    expect(remote.get('e/x.txt')!.size).toBe(1);
  });

  // Chaos seed 11701: two devices renamed Ärger to docs/docs; this one's pull recorded the other's
  // equal docs/docs/REPORT.MD (U4) before its own folder move went, and the user then renamed that
  // file to report.md. The folder's move was refused; undone with it, the file's move went up as
  // a new report.md and only Ärger/REPORT.MD was deleted: docs/docs/REPORT.MD stayed on the
  // server for good and never came back here (P10).
  it('chaos seed 11701: a rename of a file the pull recorded at the new name goes as a move when the folder\'s move is refused', async () => {
    const { rig, sent, scan, settled, old, theirs } = await theirsAtNewName();
    rig.pusher.pause();
    mv(rig, 'd', 'e');
    await scan('e', 'd');
    // What the pull does for the same bytes at e/x.txt (U4: record-only).
    rig.store.index.put({ ...rig.store.index.get(FOLDER, 'e/x.txt')!, syncedRevision: theirs });
    mv(rig, 'e/x.txt', 'e/z.txt');
    await scan('e/z.txt', 'e/x.txt');
    expect(live(rig)['e/z.txt']).toEqual({ op: 'upsert', from: 'e/x.txt', base: theirs });
    rig.pusher.resume();
    await settled();
    expect(sent.filter((o) => o.action === 'delete').find((o) => o.path === 'd/x.txt')).toMatchObject({ baseRevision: old.syncedRevision });
    const remote = await rig.remote();
    expect([...remote.keys()].sort()).toEqual(['e', 'e/y.txt', 'e/z.txt']);
    expect(remote.get('e/z.txt')!.blocks).toEqual(old.blocks);
    expect(rig.store.index.get(FOLDER, 'e/z.txt')!.syncedRevision).toBe(remote.get('e/z.txt')!.revision);
  });

  // Chaos seed 18130 (npm run chaos -- --seed 18130 --ops 60 --devices 3): dev-b renamed ü to Ü
  // while dev-c made its own Ü/Ünïcödé.log; the pull recorded dev-c's file at the new name and
  // kept the moved one in a conflict copy (U6, P10). The user moved that file on to Docs/, and
  // that move went while the folder's was still in flight. The folder's move was then refused,
  // and no delete of the old name was ever queued: it stayed on the server, gone here, and the
  // delete of ü conflicted at every recheck ("it still holds ü/Ünïcödé.log").
  it('chaos seed 18130: an entry the rename carried and the user moved on out of the folder: its old name is deleted when the folder\'s move is refused', async () => {
    const { rig, sent, scan, settled } = await synced({ 'd/x.txt': 'x', 'd/y.txt': 'y' });
    const old = rig.store.index.get(FOLDER, 'd/x.txt')!;
    const theirs = Buffer.from('their own e/x.txt');
    await rig.client.putBlock(sha(theirs), theirs);
    const other = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, {
      body: {
        operations: [
          { key: 'k1', action: 'upsert', kind: 'dir', path: 'e', mtime: 1, baseRevision: null },
          { key: 'k2', action: 'upsert', path: 'e/x.txt', size: theirs.length, mtime: 1, blocks: [sha(theirs)], baseRevision: null },
        ],
      },
    });
    expect(other.status).toBe(200);
    const theirRevision = (await rig.remote()).get('e/x.txt')!.revision;
    const { inFlight, release } = holdFirstMove(rig);
    mv(rig, 'd', 'e');
    await scan('e', 'd');
    await inFlight();
    // What the pull does meanwhile (U6, P10): the moved file to a conflict copy, theirs at e/x.txt.
    mv(rig, 'e/x.txt', 'e/x (conflict).txt');
    await rig.write('e/x.txt', theirs.toString());
    const written = rig.store.index.get(FOLDER, 'e/x.txt')!;
    rig.store.index.put({ ...written, size: theirs.length, mtimeMs: statSync(path.join(rig.root, 'e/x.txt')).mtimeMs, inode: statSync(path.join(rig.root, 'e/x.txt')).ino, contentHash: contentHashOf([sha(theirs)]), blocks: [sha(theirs)], syncedRevision: theirRevision });
    await scan('e/x (conflict).txt');
    // The user moves it on, out of the folder: that move goes while the folder's waits.
    await rig.write('Docs/keep.txt', 'k');
    mv(rig, 'e/x.txt', 'Docs/x.txt');
    await scan('Docs', 'Docs/keep.txt', 'Docs/x.txt', 'e/x.txt');
    await waitFor(() => sent.some((o) => o.action === 'move' && o.path === 'Docs/x.txt') && rig.store.queue.getByPath(FOLDER, 'Docs/x.txt')?.state === 'done', { timeoutMs: 10_000, message: 'the move out landed' });
    release();
    await settled();
    expect(sent.find((o) => o.action === 'delete' && o.path === 'd/x.txt')).toMatchObject({ baseRevision: old.syncedRevision });
    const remote = await rig.remote();
    expect([...remote.keys()].filter((p) => p === 'd' || p.startsWith('d/'))).toEqual([]);
    expect(remote.get('Docs/x.txt')!.blocks).toEqual([sha(theirs)]);
    // The moved bytes are kept, in the conflict copy.
    expect(remote.get('e/x (conflict).txt')!.blocks).toEqual(old.blocks);
  });

  it('a file moved into a new folder: the folder is created, then the file moved into it (no upload)', async () => {
    const { rig, sent, scan, settled } = await synced({ 'a.txt': 'alpha' });
    const uploads = () => blockPuts(rig).length + batchPosts(rig).length;
    const before = uploads();
    rig.pusher.pause();
    await rig.write('X/keep.txt', 'k');
    rmSync(path.join(rig.root, 'X/keep.txt'));
    mv(rig, 'a.txt', 'X/a.txt');
    await scan('X', 'a.txt');
    expect(live(rig)).toEqual({ X: { op: 'upsert', from: null, base: null }, 'X/a.txt': { op: 'upsert', from: 'a.txt', base: expect.any(String) } });
    rig.pusher.resume();
    await settled();
    expect(actions(sent)).toEqual(['upsert X', 'move a.txt → X/a.txt']);
    expect(uploads()).toBe(before);
    expect([...(await rig.remote()).keys()].sort()).toEqual(['X', 'X/a.txt']);
  });

  // A directory move whose answer was lost, sent again under a new tracking id: the pusher is
  // answered by the server's retry (the move already made). Refused: any upload after the move;
  // an answer without the list of what moved made the queue upload every file below it again.
  it('P9: a directory move answered by its retry under a new tracking id uploads nothing again', async () => {
    const { rig, sent, scan, settled } = await synced({ 'd/x.txt': 'x', 'd/sub/y.txt': 'y' });
    const submit = rig.client.submitBatch.bind(rig.client);
    let retried = false;
    rig.client.submitBatch = async (folder, operations, options) => {
      if (retried || !operations.some((o) => o.action === 'move')) return submit(folder, operations, options);
      retried = true;
      // The first answer is lost on the way back; the one the pusher reads is the retry's.
      await submit(folder, operations, { ...options, trackingId: crypto.randomUUID() });
      return submit(folder, operations, { ...options, trackingId: crypto.randomUUID() });
    };
    mv(rig, 'd', 'e');
    await scan('e', 'd');
    await settled();
    expect(retried).toBe(true);
    // The lost one and its retry, and nothing after them.
    expect(actions(sent)).toEqual(['move d → e', 'move d → e']);
    const remote = await rig.remote();
    expect([...remote.keys()].filter((p) => p === 'd' || p.startsWith('d/'))).toEqual([]);
    for (const rel of ['e/x.txt', 'e/sub/y.txt']) expect(rig.store.index.get(FOLDER, rel)!.syncedRevision, rel).toBe(remote.get(rel)!.revision);
  });

  // Chaos seed 3: another device deleted d/x.txt on the server just before this device's move of
  // d landed. The server moved what it had; e/x.txt, still here, must not look synced (it would
  // never reach the server again). Refused: a folder that differs from the server with an empty queue.
  it('P9: a file the server did not move with the directory (deleted there first) goes up as new', async () => {
    const { rig, sent, scan, settled } = await synced({ 'd/x.txt': 'x', 'd/y.txt': 'y' });
    const base = rig.store.index.get(FOLDER, 'd/x.txt')!.syncedRevision!;
    const other = await rig.server.request('POST', `/v1/folders/${REMOTE}/sync?mode=sync`, { body: { operations: [{ key: 'k', action: 'delete', path: 'd/x.txt', baseRevision: base }] } });
    expect(other.status).toBe(200);
    mv(rig, 'd', 'e');
    await scan('e', 'd');
    await settled();
    expect(actions(sent)).toEqual(['move d → e', 'upsert e/x.txt']);
    const remote = await rig.remote();
    expect([...remote.keys()].sort()).toEqual(['e', 'e/x.txt', 'e/y.txt']);
    expect(rig.store.index.get(FOLDER, 'e/x.txt')!.syncedRevision).toBe(remote.get('e/x.txt')!.revision);
  });
});
