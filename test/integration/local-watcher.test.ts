import { createHash } from 'node:crypto';
import { appendFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentHashOf } from '../../main/engine/hashing';
import { LocalSide } from '../../main/engine/local-side';
import { makeTestFolder, type TestFolder } from '../helpers/local-folder';
import { waitFor } from '../helpers/wait';

const hashOfText = (s: string) => contentHashOf([createHash('sha256').update(s).digest('hex')]);

function pushAll(f: TestFolder): void {
  let n = 0;
  for (let items = f.store.queue.claim({ limit: 500 }); items.length > 0; items = f.store.queue.claim({ limit: 500 })) {
    for (const item of items) f.store.paths.complete(item, { revision: `rev-${++n}` });
  }
}

describe.each(['native', 'chokidar'] as const)('local side: watching a real folder (%s watcher)', (backend) => {
  let f: TestFolder;
  let side: LocalSide;
  beforeEach(async () => {
    f = makeTestFolder();
    f.write('doc.txt', 'v1');
    side = new LocalSide({ store: f.store, folderId: f.folderId, settleMs: 80, retryDelayMs: 100, rootCheckMs: 100, watcher: backend });
    await side.start();
    pushAll(f);
  });
  afterEach(async () => {
    await side.stop();
    f.cleanup();
  });

  const settled = () => waitFor(() => side.idle, { timeoutMs: 5000, message: 'local side idle' });

  it('queues a new file, an empty folder, and a folder delete', async () => {
    f.write('new.txt', 'hello');
    f.mkdir('empty');
    await waitFor(() => f.pendingOps()['new.txt'] && f.pendingOps()['empty'], { message: 'new file and folder queued' });
    expect(f.pendingOps()).toEqual({ 'new.txt': 'file:upsert', empty: 'dir:upsert' });
    pushAll(f);

    f.write('box/inner.txt', 'x');
    await waitFor(() => f.pendingOps()['box/inner.txt'], { message: 'box queued' });
    await settled();
    pushAll(f);
    rmSync(f.abs('box'), { recursive: true });
    await waitFor(() => f.pendingOps()['box'], { message: 'box delete queued' });
    await waitFor(() => Object.keys(f.pendingOps()).length === 2, { message: 'both deletes' });
    expect(f.pendingOps()).toEqual({ box: 'dir:delete', 'box/inner.txt': 'file:delete' });
  });

  it('an editor save (temp file renamed over the original) ends as one upsert of the final content', async () => {
    const item = () => f.store.queue.getByPath(f.folderId, 'doc.txt');
    const generationBefore = item()!.generation;
    writeFileSync(f.abs('.doc.txt.swx1'), 'v2 draft');
    appendFileSync(f.abs('.doc.txt.swx1'), ' and final');
    renameSync(f.abs('.doc.txt.swx1'), f.abs('doc.txt'));
    await waitFor(() => item()?.state === 'pending', { message: 'doc.txt queued' });
    await settled();
    expect(f.pendingOps()).toEqual({ 'doc.txt': 'file:upsert' });
    expect(item()).toMatchObject({ contentHash: hashOfText('v2 draft and final'), generation: generationBefore + 1 });
  });

  it('an editor save (original renamed away, new one written, backup removed) ends as one upsert', async () => {
    renameSync(f.abs('doc.txt'), f.abs('doc.txt.bak'));
    writeFileSync(f.abs('doc.txt'), 'rewritten');
    rmSync(f.abs('doc.txt.bak'));
    await waitFor(() => f.store.queue.getByPath(f.folderId, 'doc.txt')?.state === 'pending', { message: 'doc.txt queued' });
    await settled();
    expect(f.pendingOps()).toEqual({ 'doc.txt': 'file:upsert' });
    expect(f.store.queue.getByPath(f.folderId, 'doc.txt')).toMatchObject({ contentHash: hashOfText('rewritten'), baseRevision: 'rev-1' });
  });

  it('ignores litter and picks up a new .ferryignore', async () => {
    f.write('.DS_Store', 'x');
    f.write('x.tmp', 'x');
    f.write('.ferryignore', '*.bak\n');
    f.write('old.bak', 'x');
    await waitFor(() => f.pendingOps()['.ferryignore'], { message: '.ferryignore queued' });
    await settled();
    expect(f.pendingOps()).toEqual({ '.ferryignore': 'file:upsert' });
  });
  it('watches directories created after start, down to their new files', async () => {
    f.mkdir('later');
    await waitFor(() => f.pendingOps()['later'], { message: 'later/ queued' });
    await settled();
    f.write('later/deeper/x.txt', 'x');
    await waitFor(() => f.pendingOps()['later/deeper/x.txt'], { message: 'later/deeper/x.txt queued' });
    f.write('later/deeper/x.txt', 'xy');
    await waitFor(() => f.store.queue.getByPath(f.folderId, 'later/deeper/x.txt')?.size === 2, { message: 'modification seen' });
  });

  // Found by review (log rotation, `mv logs logs.1 && mkdir logs` in a script): inotify's watch
  // on `logs` followed the folder to logs.1, still filed under `logs`, so the new `logs` was never
  // watched and a file written into it was never seen (until a restart).
  it('a folder renamed away and made again at once under its name: what is written into the new one is seen', async () => {
    f.write('logs/app.log', 'day 1');
    await waitFor(() => f.pendingOps()['logs/app.log'], { message: 'logs/app.log queued' });
    await settled();
    pushAll(f);
    renameSync(f.abs('logs'), f.abs('logs.1'));
    f.mkdir('logs');
    await waitFor(() => f.pendingOps()['logs.1/app.log'] || f.pendingOps()['logs.1'], { message: 'the rename seen' });
    await settled();
    pushAll(f);
    f.write('logs/app.log', 'day 2');
    await waitFor(() => f.pendingOps()['logs/app.log'] === 'file:upsert', { message: 'logs/app.log (day 2) queued' });
    // And the renamed folder is watched under its new name.
    f.write('logs.1/late.log', 'a late line');
    await waitFor(() => f.pendingOps()['logs.1/late.log'] === 'file:upsert', { message: 'logs.1/late.log queued' });
  });

  it('an empty folder renamed away and made again under its name: a file written into the new one is seen', async () => {
    f.mkdir('spool');
    await waitFor(() => f.pendingOps()['spool'], { message: 'spool queued' });
    await settled();
    pushAll(f);
    renameSync(f.abs('spool'), f.abs('spool.1'));
    f.mkdir('spool');
    await waitFor(() => f.pendingOps()['spool.1'], { message: 'the rename seen' });
    await settled();
    pushAll(f);
    // Nothing else happens in either folder: only a watch on the new `spool` can see this file.
    f.write('spool/job.txt', 'queued job');
    await waitFor(() => f.pendingOps()['spool/job.txt'] === 'file:upsert', { message: 'spool/job.txt queued' });
  });

  it('the whole root disappearing puts the folder in error and queues no deletes', async () => {
    f.write('a/b.txt', 'x');
    await waitFor(() => f.pendingOps()['a/b.txt'], { message: 'a/b.txt queued' });
    await settled();
    pushAll(f);
    rmSync(f.root, { recursive: true, force: true });
    await waitFor(() => f.store.folders.require(f.folderId).state === 'error', { message: 'folder in error' });
    await settled();
    expect(f.pendingOps()).toEqual({});
    expect(f.store.index.count(f.folderId)).toBe(3); // doc.txt, a, a/b.txt: all still known

    // The disk comes back (same marker): the folder recovers and is watched again.
    const marker = f.store.folders.require(f.folderId).markerId!;
    f.write('.ferry/folder-id', marker);
    f.write('a/b.txt', 'x');
    f.write('doc.txt', 'v1');
    await waitFor(() => f.store.folders.require(f.folderId).state === 'ok', { message: 'folder ok again' });
    await settled();
    f.write('after.txt', 'back');
    await waitFor(() => f.pendingOps()['after.txt'], { message: 'after.txt queued' });
  });
});
