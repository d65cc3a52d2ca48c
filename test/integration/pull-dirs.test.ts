import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { syncTokenFromHref, type OperationInput } from '../../protocol';
import type { TestServer } from '../helpers/server-harness';
import { waitFor } from '../helpers/wait';
import { fetchingWith, makeAgent, startPullServer, Writer, type Agent } from './pull-harness';

// Directories in the pull (docs/conflict-rules.md, DU/DD rows): real server, real folders.
describe('pull: directories against the real server', () => {
  let server: TestServer;
  let writer: Writer;
  let remoteId: string;
  const agents: Agent[] = [];
  const agent = () => {
    const a = makeAgent(server, 'b');
    agents.push(a);
    return a;
  };
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.close();
    writer?.client.close();
    await server?.close();
  });
  const setup = async () => ({ server, writer, remoteId } = await startPullServer());

  /** Device A creates (true) or deletes (false) directories, in order, in one batch. */
  async function dirs(changes: Array<[string, boolean]>, by: Writer = writer): Promise<void> {
    const ops: OperationInput[] = changes.map(([p, create], i) => {
      const baseRevision = by.revisions.get(p) ?? null;
      const key = `dir-${i}-${p}`;
      return create ? { key, action: 'upsert', kind: 'dir', path: p, mtime: 1_700_000_000_000, baseRevision } : { key, action: 'delete', path: p, baseRevision };
    });
    const reply = await by.client.submitBatch(remoteId, ops);
    if (!('results' in reply)) throw new Error('expected a sync reply');
    for (const op of ops) {
      const r = reply.results[op.key];
      if (!r?.ok) throw new Error(`${op.action} ${op.path} failed: ${JSON.stringify(r)}`);
      if (op.action === 'delete') by.revisions.delete(op.path);
      else by.revisions.set(op.path, r.revision);
    }
  }

  const isDir = (a: Agent, rel: string) => existsSync(a.folder.abs(rel)) && statSync(a.folder.abs(rel)).isDirectory();

  it('brings an empty folder, records it with its revision, and queues nothing back', async () => {
    await setup();
    await dirs([
      ['photos', true],
      ['photos/2024', true],
      ['photos/2024/empty', true],
    ]);
    await writer.commit({ 'deep/er/file.txt': 'implicit parents' });
    const b = agent();
    const summary = await b.puller.pullNow('fb');
    expect(summary).toMatchObject({ conflicts: 0, skipped: 0, tokenStored: true });
    expect(isDir(b, 'photos/2024/empty')).toBe(true);
    expect(readdirSync(b.folder.abs('photos/2024/empty'))).toEqual([]);
    expect(b.folder.store.index.get('fb', 'photos/2024/empty')).toMatchObject({ kind: 'dir', syncedRevision: writer.revisions.get('photos/2024/empty') });
    expect(b.folder.store.index.get('fb', 'photos')).toMatchObject({ kind: 'dir', syncedRevision: writer.revisions.get('photos') });
    // Parents made for a file are recorded too (the server holds no directory entry for them).
    expect(b.folder.store.index.get('fb', 'deep')).toMatchObject({ kind: 'dir', syncedRevision: null });
    expect(b.folder.store.index.get('fb', 'deep/er')).toMatchObject({ kind: 'dir', syncedRevision: null });
    // The scanner finds every pulled directory known: the queue stays empty.
    const scan = await b.scanner.reconcile();
    expect(scan.ok).toBe(true);
    expect(b.folder.pendingOps()).toEqual({});
    expect(b.folder.store.queue.countsByState('fb')).toMatchObject({ pending: 0, in_flight: 0, retry_wait: 0, failed: 0 });
    // A second pull is a no-op (DU1).
    expect(await b.puller.pullNow('fb')).toMatchObject({ downloaded: 0, recorded: 0, skipped: 0 });
  });

  it('removes an empty local folder the remote deleted (and keeps a remote folder that only lost its file)', async () => {
    await setup();
    await dirs([
      ['gone', true],
      ['gone/inner', true],
      ['kept', true],
    ]);
    await writer.commit({ 'gone/inner/a.txt': 'a', 'kept/b.txt': 'b' });
    const b = agent();
    await b.puller.pullNow('fb');
    expect(b.tree()).toEqual({ 'gone/inner/a.txt': 'a', 'kept/b.txt': 'b' });
    await b.scanner.reconcile();
    expect(b.folder.pendingOps()).toEqual({});

    // A deletes the whole 'gone' folder (children first, as the server demands) and only the file in 'kept'.
    await writer.commit({ 'gone/inner/a.txt': null, 'kept/b.txt': null });
    await dirs([
      ['gone/inner', false],
      ['gone', false],
    ]);
    const summary = await b.puller.pullNow('fb');
    expect(summary).toMatchObject({ conflicts: 0, skipped: 0, reuploaded: 0, tokenStored: true });
    expect(existsSync(b.folder.abs('gone'))).toBe(false);
    expect(b.folder.store.index.get('fb', 'gone')).toBeUndefined();
    expect(b.folder.store.index.get('fb', 'gone/inner')).toBeUndefined();
    // The server still has 'kept' as a folder: so does this device, empty.
    expect(isDir(b, 'kept')).toBe(true);
    expect(readdirSync(b.folder.abs('kept'))).toEqual([]);
    await b.scanner.reconcile();
    expect(b.folder.pendingOps()).toEqual({});
  });

  it('keeps a remotely deleted folder that holds a local file not synced yet, and uploads both again', async () => {
    await setup();
    await dirs([['docs', true]]);
    await writer.commit({ 'docs/old.txt': 'old' });
    const b = agent();
    await b.puller.pullNow('fb');
    // Written here while A deletes the folder: the remote side has never seen it.
    b.folder.write('docs/new.txt', 'mine, not synced');
    await b.scanner.reconcile();
    expect(b.folder.pendingOps()).toEqual({ 'docs/new.txt': 'file:upsert' });

    await writer.commit({ 'docs/old.txt': null });
    await dirs([['docs', false]]);
    const summary = await b.puller.pullNow('fb');
    expect(summary).toMatchObject({ deleted: 1, reuploaded: 1, conflicts: 0 });
    expect(b.tree()).toEqual({ 'docs/new.txt': 'mine, not synced' });
    expect(b.folder.store.index.get('fb', 'docs')).toMatchObject({ kind: 'dir', syncedRevision: null });
    expect(b.folder.pendingOps()).toEqual({ docs: 'dir:upsert', 'docs/new.txt': 'file:upsert' });

    // The pusher brings both back to the server: nothing the user had is lost.
    await b.startPusher();
    await waitFor(() => b.folder.store.queue.countsByState('fb').done === 2, { timeoutMs: 10_000, message: 'both re-uploads done' });
    const listing = await writer.client.changesPage(remoteId);
    const live = new Map(listing.items.filter((i) => !i.deleted).map((i) => [i.path, i]));
    expect(live.get('docs')).toMatchObject({ kind: 'dir' });
    expect(live.get('docs/new.txt')).toMatchObject({ kind: 'file', size: 'mine, not synced'.length });
    expect(b.folder.store.index.get('fb', 'docs')?.syncedRevision).toBe(live.get('docs')?.revision);
  });

  // Chaos seed 18335: dev-a kept 'b/new folder' by DD5 and queued it as new, while the delete
  // of its last file waited for that file's upload to be answered. The next pull deleted the
  // file (D4) and pruned the folder with its upload in flight; the upload landed and the pull
  // skipped it as an echo (O1). The server held a folder dev-a no longer had, and nothing
  // queued its delete (docs/conflict-rules.md, "Pruning").
  it.each([
    ['queued', false],
    ['in flight', true],
  ])('chaos seed 18335: keeps a folder whose upload is %s when the pull deletes its last file', async (_label, inFlight) => {
    await setup();
    await dirs([['docs', true]]);
    await writer.commit({ 'docs/old.txt': 'old' });
    const b = agent();
    await b.puller.pullNow('fb');
    expect(b.folder.store.index.get('fb', 'docs')?.syncedRevision).toBe(writer.revisions.get('docs'));
    // The state DD5 leaves the folder in: no synced revision, queued as a new directory.
    const store = b.folder.store;
    store.index.setSyncedRevision('fb', 'docs', null);
    store.paths.enqueue({ folderId: 'fb', path: 'docs', kind: 'dir', op: 'upsert', mtimeMs: statSync(b.folder.abs('docs')).mtimeMs, baseRevision: null, asNew: true });
    if (inFlight) expect(store.queue.claim({ limit: 10, folderId: 'fb' }).map((i) => i.path)).toEqual(['docs']);

    await writer.commit({ 'docs/old.txt': null });
    expect(await b.puller.pullNow('fb')).toMatchObject({ deleted: 1, conflicts: 0 });
    expect(existsSync(b.folder.abs('docs/old.txt'))).toBe(false);
    // Refused: pruning a folder on its way to the server. It stays, with its index row.
    expect(isDir(b, 'docs')).toBe(true);
    expect(store.index.get('fb', 'docs')).toMatchObject({ kind: 'dir' });

    // Its upload lands; the server and this device agree on the folder and its revision.
    if (inFlight) store.queue.recoverInFlight();
    await b.startPusher();
    await waitFor(() => store.queue.countsByState('fb').done >= 1 && store.queue.countsByState('fb').pending === 0, { timeoutMs: 10_000, message: 'folder upload done' });
    const listing = await writer.client.changesPage(remoteId);
    const live = listing.items.filter((i) => !i.deleted);
    expect(live.map((i) => i.path)).toEqual(['docs']);
    await b.puller.pullNow('fb');
    expect(isDir(b, 'docs')).toBe(true);
    expect(store.index.get('fb', 'docs')?.syncedRevision).toBe(live[0]?.revision);
    await b.scanner.reconcile();
    expect(b.folder.pendingOps()).toEqual({});
  });

  // D6, found by review: the user replaced the synced file x with a folder x; the scanner queued
  // the folder on the file's revision. Another device deleted the file x. The pull removed the
  // empty folder with its upload still queued, and skipped a full one, whose upload conflicted at
  // every recheck ("base revision 1, current none").
  it.each([
    ['empty, its upload in flight', false],
    ['with a file in it', true],
  ])('D6: keeps a folder that replaced a file another device deleted (%s), and uploads it as new', async (_label, withFile) => {
    await setup();
    await writer.commit({ x: 'a file' });
    const b = agent();
    await b.puller.pullNow('fb');
    const store = b.folder.store;
    rmSync(b.folder.abs('x'));
    mkdirSync(b.folder.abs('x'));
    if (withFile) b.folder.write('x/f.txt', 'inside');
    await b.scanner.scanPaths(withFile ? ['x', 'x/f.txt'] : ['x']);
    expect(store.queue.getByPath('fb', 'x')).toMatchObject({ kind: 'dir', op: 'upsert', baseRevision: writer.revisions.get('x') });
    if (!withFile) expect(store.queue.claim({ limit: 10, folderId: 'fb' }).map((i) => i.path)).toEqual(['x']);

    await writer.commit({ x: null });
    expect(await b.puller.pullNow('fb')).toMatchObject({ reuploaded: 1, deleted: 0, conflicts: 0 });
    // Refused: removing the user's folder, and an upload of it on the deleted file's revision.
    expect(isDir(b, 'x')).toBe(true);
    expect(store.index.get('fb', 'x')).toMatchObject({ kind: 'dir', syncedRevision: null });
    expect(store.queue.getByPath('fb', 'x')).toMatchObject({ kind: 'dir', op: 'upsert', baseRevision: null });

    if (!withFile) store.queue.recoverInFlight(); // the answer to the upload in flight is lost
    await b.startPusher();
    const busy = () => Object.entries(store.queue.countsByState('fb')).filter(([state, n]) => state !== 'done' && n > 0);
    await waitFor(() => busy().length === 0, { timeoutMs: 10_000, message: 'the queue drained' });
    const live = (await writer.client.changesPage(remoteId)).items.filter((i) => !i.deleted);
    expect(live.map((i) => [i.path, i.kind]).sort()).toEqual(withFile ? [['x', 'dir'], ['x/f.txt', 'file']] : [['x', 'dir']]);
    await b.puller.pullNow('fb');
    expect(store.index.get('fb', 'x')?.syncedRevision).toBe(live.find((i) => i.path === 'x')!.revision);
    expect(b.tree()).toEqual(withFile ? { 'x/f.txt': 'inside' } : {});
    expect(isDir(b, 'x')).toBe(true);
  });

  it('restores a folder deleted here when the remote put a file in it, dropping the queued delete', async () => {
    await setup();
    await dirs([['shared', true]]);
    const b = agent();
    await b.puller.pullNow('fb');
    b.folder.remove('shared');
    await b.scanner.reconcile();
    expect(b.folder.pendingOps()).toEqual({ shared: 'dir:delete' });

    await writer.commit({ 'shared/theirs.txt': 'from A' });
    await b.puller.pullNow('fb');
    expect(b.tree()).toEqual({ 'shared/theirs.txt': 'from A' });
    expect(b.folder.store.index.get('fb', 'shared')).toMatchObject({ kind: 'dir', syncedRevision: writer.revisions.get('shared') });
    expect(b.folder.pendingOps()).toEqual({});
    await b.scanner.reconcile();
    expect(b.folder.pendingOps()).toEqual({});
  });

  // Chaos --kinds seed 60045: an earlier pull passed another device's file in a folder this device
  // then deleted; the folder delete conflicted at every recheck. The pusher makes the next pull a
  // full one (push-dirs.test.ts); that pull brings the file back, and the folder with it.
  it('a full pull brings a file an earlier pull passed into a folder deleted here, and drops the folder delete (chaos seed 60045)', async () => {
    await setup();
    await dirs([['shared', true]]);
    await writer.commit({ 'shared/mine.txt': 'synced' });
    const b = agent();
    await b.puller.pullNow('fb');
    rmSync(b.folder.abs('shared'), { recursive: true });
    await b.scanner.reconcile();
    expect(b.folder.pendingOps()).toEqual({ shared: 'dir:delete', 'shared/mine.txt': 'file:delete' });
    await writer.commit({ 'shared/theirs.txt': 'from A' });
    const page = await writer.client.changesPage(remoteId, { limit: 1000 });
    b.folder.store.tokens.set('fb', syncTokenFromHref(page._links['upcoming-modifications']!.href)!);
    expect(await b.puller.pullNow('fb')).toMatchObject({ downloaded: 0 });
    b.folder.store.tokens.clear('fb');
    expect(await b.puller.pullNow('fb')).toMatchObject({ full: true, downloaded: 1 });
    expect(b.tree()).toEqual({ 'shared/theirs.txt': 'from A' });
    // Theirs keeps the folder; the user's delete of what they had synced in it still goes.
    expect(b.folder.pendingOps()).toEqual({ 'shared/mine.txt': 'file:delete' });
  });

  // Chaos --kinds: another device turned a file into a folder, or a folder into a file. The pull
  // left the old kind here as a type clash (DU4, U7), so the change never reached this device.
  describe('another device turned the path into the other kind (docs/conflict-rules.md, U7, DU4, DU6)', () => {
    const copiesOf = (a: Agent, name: string) => readdirSync(a.folder.root).filter((n) => n.startsWith(`${name} (conflict from b `));
    /** Device b, with what the other device made there pulled: the folder `d` (unless `folder` is false) and `files`. */
    async function pulled(files: Record<string, string>, folder = true): Promise<Agent> {
      await setup();
      if (folder) await dirs([['d', true]]);
      await writer.commit(files);
      const b = agent();
      await b.puller.pullNow('fb');
      return b;
    }

    it('DU4: a synced file here, unchanged, becomes the folder with what is in it', async () => {
      const b = await pulled({ x: 'v1' }, false);
      await dirs([['x', true]]);
      await writer.commit({ 'x/inner.txt': 'inside' });
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 0, skipped: 0, tokenStored: true });
      expect(isDir(b, 'x')).toBe(true);
      expect(b.read('x/inner.txt')).toBe('inside');
      expect(b.folder.store.index.get('fb', 'x')).toMatchObject({ kind: 'dir', syncedRevision: writer.revisions.get('x') });
      expect(copiesOf(b, 'x')).toEqual([]);
      await b.scanner.reconcile();
      expect(b.folder.pendingOps()).toEqual({});
    });

    it('DU6: a file changed here is kept as a conflict copy, its upload with it, and the folder is made', async () => {
      const b = await pulled({ x: 'v1' }, false);
      b.folder.write('x', 'edited here');
      await b.scanner.scanPaths(['x'], false);
      expect(b.folder.pendingOps()).toEqual({ x: 'file:upsert' });
      await dirs([['x', true]]);
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 1, tokenStored: true });
      expect(isDir(b, 'x')).toBe(true);
      const copies = copiesOf(b, 'x');
      expect(copies).toHaveLength(1);
      expect(b.read(copies[0]!)).toBe('edited here');
      await b.scanner.reconcile();
      expect(b.folder.pendingOps()).toEqual({ [copies[0]!]: 'file:upsert' });
    });

    it('U7: a synced folder here becomes the file once the pull deleted what the server deleted in it', async () => {
      const b = await pulled({ 'd/a.txt': 'a', 'd/b.txt': 'b' });
      await writer.commit({ 'd/a.txt': null, 'd/b.txt': null });
      await writer.commit({ d: 'now a file' });
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 0, skipped: 0, tokenStored: true });
      expect(b.read('d')).toBe('now a file');
      expect(b.folder.store.index.get('fb', 'd')).toMatchObject({ kind: 'file', syncedRevision: writer.revisions.get('d') });
      await b.scanner.reconcile();
      expect(b.folder.pendingOps()).toEqual({});
    });

    it('D8: a synced folder here goes when the server turned it into a file and deleted that', async () => {
      const b = await pulled({ 'd/a.txt': 'a' });
      await writer.commit({ 'd/a.txt': null });
      await writer.commit({ d: 'now a file' });
      await writer.commit({ d: null });
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 0, skipped: 0, tokenStored: true });
      expect(existsSync(b.folder.abs('d'))).toBe(false);
      expect(b.folder.store.index.get('fb', 'd')).toBeUndefined();
      expect(b.folder.pendingOps()).toEqual({});
      await b.scanner.reconcile();
      expect(b.folder.pendingOps()).toEqual({});
    });

    it.each([
      ['an incremental pull', false],
      ['a full pull, which lists the folder at the revision the index holds', true],
    ])('a folder turned into a file here while another device put a file in it (%s): the file is kept as a copy, the folder comes back with theirs', async (_label, full) => {
      const b = await pulled({ 'd/a.txt': 'a' });
      rmSync(b.folder.abs('d'), { recursive: true });
      b.folder.write('d', 'mine, a file now');
      await b.scanner.scanPaths(['d', 'd/a.txt'], false);
      expect(b.folder.pendingOps()).toEqual({ d: 'file:upsert', 'd/a.txt': 'file:delete' });
      await writer.commit({ 'd/sub/theirs.txt': 'theirs' });
      if (full) b.folder.store.tokens.clear('fb');
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 1, skipped: 0, tokenStored: true, full });
      expect(isDir(b, 'd')).toBe(true);
      expect(b.read('d/sub/theirs.txt')).toBe('theirs');
      const copies = copiesOf(b, 'd');
      expect(copies.map((c) => b.read(c))).toEqual(['mine, a file now']);
      await b.scanner.reconcile();
      // The user's file goes up as the copy, the delete of what the folder held still goes.
      expect(b.folder.pendingOps()).toEqual({ [copies[0]!]: 'file:upsert', 'd/a.txt': 'file:delete' });
    });

    it('a folder turned into a file here while the pull fetched what another device put in it: the pull waits for the scan, then keeps both (chaos seed 60045)', async () => {
      await setup();
      await dirs([['d', true]]);
      await writer.commit({ 'd/a.txt': 'a' });
      let turned = false;
      // b's user turns d into a file after the pull decided on d/sub/theirs.txt, as its blocks come.
      let armed = false;
      const turnedDuringFetch = fetchingWith((folder) => {
        if (!armed || turned) return;
        turned = true;
        rmSync(folder.abs('d'), { recursive: true });
        writeFileSync(folder.abs('d'), 'mine, a file now');
      });
      const b = makeAgent(server, 'b', {}, 'fb', turnedDuringFetch);
      agents.push(b);
      await b.puller.pullNow('fb');
      await writer.commit({ 'd/sub/theirs.txt': 'theirs' });
      armed = true;
      // Refused as an unsafe path, theirs was passed for good (chaos --kinds seed 60045).
      const failed = await b.puller.pullNow('fb').then(() => null, (error: unknown) => error);
      expect(turned).toBe(true);
      expect(failed).toMatchObject({ code: 'parent_gone', retryable: true, retryAfterSeconds: 1 });
      expect(b.read('d')).toBe('mine, a file now');
      await b.scanner.scanPaths(['d', 'd/a.txt'], false);
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 1, skipped: 0, tokenStored: true });
      expect(b.read('d/sub/theirs.txt')).toBe('theirs');
      expect(copiesOf(b, 'd').map((c) => b.read(c))).toEqual(['mine, a file now']);
    });

    it('a folder turned into a file here, then a full pull listing only what the user deleted with it: no conflict, the deletes and the file go', async () => {
      const b = await pulled({ 'd/a.txt': 'a', 'd/sub/b.txt': 'b' });
      rmSync(b.folder.abs('d'), { recursive: true });
      b.folder.write('d', 'mine, a file now');
      await b.scanner.scanPaths(['d', 'd/a.txt', 'd/sub', 'd/sub/b.txt'], false);
      const queued = b.folder.pendingOps();
      expect(queued).toMatchObject({ d: 'file:upsert', 'd/a.txt': 'file:delete', 'd/sub/b.txt': 'file:delete' });
      b.folder.store.tokens.clear('fb');
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 0, full: true, tokenStored: true });
      expect(b.read('d')).toBe('mine, a file now');
      expect(copiesOf(b, 'd')).toEqual([]);
      expect(b.folder.pendingOps()).toEqual(queued);
      await b.startPusher();
      await waitFor(() => {
        const n = b.folder.store.queue.countsByState('fb');
        return n.pending + n.in_flight + n.retry_wait + n.failed === 0;
      }, { timeoutMs: 10_000, message: 'the deletes, then the file, to go up' });
      const c = makeAgent(server, 'c');
      agents.push(c);
      await c.puller.pullNow('fb');
      expect(c.tree()).toEqual({ d: 'mine, a file now' });
    });

    it('a folder this device committed, its answer lost, then turned into a file here: the file is kept as a copy and the folder comes back (chaos seed 60093)', async () => {
      await setup();
      const b = agent();
      // b's own commit of a folder with what is in it, whose answer never came: the index here
      // holds none of it.
      const own = new Writer(b.client, remoteId);
      await dirs([['d', true], ['d/sub', true]], own);
      await own.commit({ 'd/sub/x.txt': 'made here' });
      // Then b's user turned the folder into a file.
      b.folder.write('d', 'mine, a file now');
      await b.scanner.scanPaths(['d'], false);
      expect(b.folder.pendingOps()).toEqual({ d: 'file:upsert' });
      // Taken for b's own folder (O2), the file went up on it and the server refused it for ever.
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 1, tokenStored: true });
      expect(isDir(b, 'd')).toBe(true);
      expect(b.read('d/sub/x.txt')).toBe('made here');
      const copies = copiesOf(b, 'd');
      expect(copies.map((c) => b.read(c))).toEqual(['mine, a file now']);
      await b.scanner.reconcile();
      expect(b.folder.pendingOps()).toEqual({ [copies[0]!]: 'file:upsert' });
      await b.startPusher();
      const idle = () => {
        const n = b.folder.store.queue.countsByState('fb');
        return n.pending + n.in_flight + n.retry_wait + n.failed === 0;
      };
      await waitFor(idle, { timeoutMs: 10_000, message: 'the copy to go up' });
      const c = makeAgent(server, 'c');
      agents.push(c);
      await c.puller.pullNow('fb');
      expect(c.tree()).toEqual({ [copies[0]!]: 'mine, a file now', 'd/sub/x.txt': 'made here' });
    });

    /** b's new folder `d` with `d/x.txt`, scanned, claimed, and committed on the server under b's own device id. */
    async function ownFolderSent() {
      await setup();
      const b = agent();
      mkdirSync(b.folder.abs('d'));
      b.folder.write('d/x.txt', 'made here');
      await b.scanner.scanPaths(['d', 'd/x.txt'], false);
      const claimed = b.folder.store.queue.claim({ limit: 10 });
      const own = new Writer(b.client, remoteId);
      await dirs([['d', true]], own);
      await own.commit({ 'd/x.txt': 'made here' });
      return { b, claimed, own };
    }

    // Chaos --kinds seeds 60407 and 60409: this device's file in its new folder went up and its
    // answer was not in (a kill; the batch resumed as a task) when the user turned the folder into
    // a file. The pull met that own commit below the file, with its delete queued here on no
    // revision, and took it for another device's: a spurious conflict copy of the user's file.
    it('chaos --kinds seeds 60407 and 60409: the own file below a folder turned into a file, whose answer was not in, is the user\'s delete: no copy, the delete goes on its revision', async () => {
      // Sent, not answered: claimed, and committed on the server under b's own device id.
      const { b, claimed, own } = await ownFolderSent();
      expect(claimed.map((c) => c.path).sort()).toEqual(['d', 'd/x.txt']);
      // Then b's user turned the folder into a file.
      rmSync(b.folder.abs('d'), { recursive: true });
      b.folder.write('d', 'mine, a file now');
      await b.scanner.scanPaths(['d', 'd/x.txt'], false);
      expect(b.folder.pendingOps()).toEqual({ d: 'file:upsert', 'd/x.txt': 'file:delete' });
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 0, tokenStored: true });
      expect(copiesOf(b, 'd')).toEqual([]);
      expect(b.read('d')).toBe('mine, a file now');
      expect(b.folder.store.queue.getByPath('fb', 'd/x.txt')).toMatchObject({ op: 'delete', baseRevision: own.revisions.get('d/x.txt') });
      await b.startPusher();
      await waitFor(() => {
        const n = b.folder.store.queue.countsByState('fb');
        return n.pending + n.in_flight + n.retry_wait + n.failed === 0;
      }, { timeoutMs: 10_000, message: 'the delete, then the file, to go up' });
      const c = makeAgent(server, 'c');
      agents.push(c);
      await c.puller.pullNow('fb');
      expect(c.tree()).toEqual({ d: 'mine, a file now' });
    });

    // Chaos --kinds seed 60486: the feed brought this device's own commit below a folder its user
    // had just turned into a file, before the scan recorded that: nothing told the pull the file was
    // the user's delete of the folder, and it kept the file as a conflict copy of itself.
    it('chaos --kinds seed 60486: a folder turned into a file that the scan has not recorded yet: the pull waits for it, and makes no copy', async () => {
      const { b, claimed, own } = await ownFolderSent();
      for (const c of claimed) expect(b.folder.store.paths.complete(c, { revision: own.revisions.get(c.path)! })).toBe('done');
      // b's user turns the folder into a file; the pull runs before the scan has seen it.
      rmSync(b.folder.abs('d'), { recursive: true });
      b.folder.write('d', 'mine, a file now');
      await expect(b.puller.pullNow('fb')).rejects.toMatchObject({ retryable: true });
      expect(copiesOf(b, 'd')).toEqual([]);
      await b.scanner.scanPaths(['d', 'd/x.txt'], false);
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 0, tokenStored: true });
      expect(copiesOf(b, 'd')).toEqual([]);
      expect(b.read('d')).toBe('mine, a file now');
      expect(b.folder.pendingOps()).toEqual({ d: 'file:upsert', 'd/x.txt': 'file:delete' });
    });

    it('a folder this device moved on the server, carrying another device\'s file it never had, then turned into a file here: that file is not deleted (chaos seed 60129)', async () => {
      await setup();
      await dirs([['old', true]]);
      await writer.commit({ 'old/x.txt': 'theirs, never seen by b' });
      const b = agent();
      // b moves the folder on the server (its answer lost: b's index knows nothing of it); the
      // moved entries carry b's device id and the other device's bytes.
      const moved = await b.client.submitBatch(remoteId, [{ key: 'm', action: 'move', from: 'old', path: 'd', baseRevision: writer.revisions.get('old')! }]);
      expect('results' in moved && moved.results['m']?.ok).toBe(true);
      b.folder.write('d', 'mine, a file now');
      await b.scanner.scanPaths(['d'], false);
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 1, tokenStored: true });
      // Deleted as what b's user removed with the folder, the other device's file was lost.
      expect(b.read('d/x.txt')).toBe('theirs, never seen by b');
      expect(copiesOf(b, 'd').map((c) => b.read(c))).toEqual(['mine, a file now']);
      await b.scanner.reconcile();
      expect(Object.entries(b.folder.pendingOps()).filter(([, op]) => op.endsWith(':delete'))).toEqual([]);
    });

    it('U7, then U9: a folder holding a file the server never had is kept as a conflict copy, with that file, and the file comes', async () => {
      const b = await pulled({ 'd/a.txt': 'a' });
      b.folder.write('d/mine.txt', 'new here');
      await b.scanner.scanPaths(['d/mine.txt'], false);
      expect(b.folder.pendingOps()).toEqual({ 'd/mine.txt': 'file:upsert' });
      await writer.commit({ 'd/a.txt': null });
      await writer.commit({ d: 'now a file' });
      expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 1, skipped: 0, tokenStored: true });
      expect(b.read('d')).toBe('now a file');
      const copies = copiesOf(b, 'd');
      expect(copies).toHaveLength(1);
      expect(b.read(`${copies[0]}/mine.txt`)).toBe('new here');
      expect(b.read(`${copies[0]}/a.txt`)).toBeNull();
      // The copy goes up as a new folder with what it holds; nothing is left queued at the old name.
      await b.scanner.reconcile();
      expect(b.folder.pendingOps()).toEqual({ [copies[0]!]: 'dir:upsert', [`${copies[0]}/mine.txt`]: 'file:upsert' });
    });
  });
});
