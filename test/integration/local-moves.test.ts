import { cpSync, renameSync, rmSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalDeleteGuard } from '../../main/engine/folder/local-guard';
import { DEFAULT_MASS_DELETE } from '../../main/engine/folder/mass-delete';
import { folderStates } from '../../main/engine/folder/state';
import { writeMarker } from '../../main/engine/folder-marker';
import { createIgnoreMatcher } from '../../main/engine/ignore';
import { Scanner } from '../../main/engine/scanner';
import { makeTestFolder, type TestFolder } from '../helpers/local-folder';

// The scan side of "a move is never a mass delete" (docs/conflict-rules.md, "Moves and
// renames"): real folder, real SQLite, the real guard with a threshold of 10 deletes.
describe('local moves and the mass-delete guard', () => {
  const folders: TestFolder[] = [];
  afterEach(() => {
    for (const f of folders.splice(0)) f.cleanup();
  });

  /** A folder of 20 files under `docs/`, scanned and marked synced as if pushed. */
  async function synced(): Promise<{ f: TestFolder; scanner: Scanner }> {
    const f = makeTestFolder('fm');
    folders.push(f);
    f.store.folders.setMarkerId('fm', writeMarker(f.root));
    for (let i = 0; i < 20; i++) f.write(`docs/file-${i}.txt`, `bytes of file ${i}`);
    const guard = new LocalDeleteGuard({ store: f.store, folderId: 'fm', states: folderStates(f.store), options: () => ({ ...DEFAULT_MASS_DELETE, massDeleteCount: 10 }) });
    const scanner = new Scanner({ store: f.store, folderId: 'fm', root: f.root, ignore: () => createIgnoreMatcher(), guard });
    await scanner.reconcile();
    let revision = 1;
    for (const row of f.store.index.listUnder('fm', '')) f.store.index.setSyncedRevision('fm', row.path, String(revision++));
    const page = f.store.queue.list({ folderId: 'fm', limit: 1000 });
    for (const item of page.items) f.store.paths.enqueue({ folderId: 'fm', path: item.path, kind: item.kind, op: 'delete', baseRevision: null });
    return { f, scanner };
  }

  it('a folder renamed while Ferry was stopped (same inodes): one move of the folder, nothing hashed, no pause', async () => {
    const { f, scanner } = await synced();
    renameSync(f.abs('docs'), f.abs('Documents'));
    await scanner.reconcile();
    expect(f.store.folders.require('fm').state).toBe('ok');
    // Refused: a delete and an upload per file (issue 16 item 2: one move of the directory on the wire).
    expect(f.pendingOps()).toEqual({ Documents: 'dir:upsert' });
    expect(f.store.queue.getByPath('fm', 'Documents')).toMatchObject({ moveFrom: 'docs', baseRevision: expect.any(String) });
    expect(f.store.index.get('fm', 'Documents/file-3.txt')?.syncedRevision).toEqual(expect.any(String));
    expect(f.store.index.get('fm', 'docs/file-3.txt')).toBeUndefined();
  });

  // Chaos seed 3 (three devices, a CI run): a file below the folder had an index row but no
  // synced revision and nothing queued (the pusher had found it gone and left its row). One move
  // of the folder carried that row as if the server held the file, and it never went up at its
  // new name. Refused: such a folder moves file by file, and the unsynced file is uploaded.
  it('chaos seed 3: a folder holding a file never synced is no move of the folder; the file goes up at its new name', async () => {
    const { f, scanner } = await synced();
    f.store.index.setSyncedRevision('fm', 'docs/file-3.txt', null);
    renameSync(f.abs('docs'), f.abs('Documents'));
    await scanner.reconcile();
    expect(f.store.queue.getByPath('fm', 'Documents')).not.toMatchObject({ moveFrom: 'docs' });
    expect(f.store.queue.getByPath('fm', 'Documents/file-3.txt')).toMatchObject({ op: 'upsert', state: 'pending', baseRevision: null, moveFrom: null });
    // The synced files still move one by one (P1): nothing of theirs is uploaded again.
    expect(f.store.queue.getByPath('fm', 'Documents/file-4.txt')).toMatchObject({ moveFrom: 'docs/file-4.txt' });
    expect(f.store.folders.require('fm').state).toBe('ok');
  });

  // Chaos seed 10988 (npm run chaos -- --seed 10988 --ops 60 --devices 2): dev-b renamed docs to
  // deep/b (one move of the folder, which failed on network errors and waited), then deep to docs.
  // Each file below made a move from deep/b/…, a path the server never had (deep/b was new), so
  // each was refused as gone and went up as new, and the files' old names under docs stayed on the
  // server for good, gone on this device. Now each moves from where the server has it.
  it('chaos seed 10988: a folder moved into a new folder that is then renamed over its old name: each file moves from its old path', async () => {
    const { f, scanner } = await synced();
    f.write('deep/.keep', '');
    await scanner.reconcile();
    renameSync(f.abs('docs'), f.abs('deep/b'));
    await scanner.reconcile();
    expect(f.store.queue.getByPath('fm', 'deep/b')).toMatchObject({ moveFrom: 'docs', state: 'pending' });
    renameSync(f.abs('deep'), f.abs('docs'));
    // As the watcher told it: the files first, then the folders.
    await scanner.scanPaths([...Array.from({ length: 20 }, (_, i) => `docs/b/file-${i}.txt`), 'docs/b', 'docs', 'deep/b', 'deep']);
    const live = f.store.queue.list({ folderId: 'fm', limit: 1000 }).items.filter((i) => i.state !== 'done');
    const moves = live.filter((i) => i.moveFrom !== null);
    // Never a move from a path only the undone folder move would have made.
    expect(moves.filter((m) => m.moveFrom!.startsWith('deep/'))).toEqual([]);
    // Every file still reaches the server at its new name: moved from its old one, or uploaded.
    for (let i = 0; i < 20; i++) {
      const row = live.find((r) => r.path === `docs/b/file-${i}.txt`);
      expect(row, `docs/b/file-${i}.txt`).toBeDefined();
      if (row!.moveFrom !== null) expect(row!.moveFrom).toBe(`docs/file-${i}.txt`);
    }
    // And no old name is left on the server: each is moved away or deleted.
    for (let i = 0; i < 20; i++) {
      const movedAway = moves.some((m) => m.moveFrom === `docs/file-${i}.txt`);
      const deleted = live.some((r) => r.path === `docs/file-${i}.txt` && r.op === 'delete');
      expect(movedAway || deleted, `docs/file-${i}.txt`).toBe(true);
    }
  });

  // Chaos seed 60039: a user removed `docs` and at once made another folder with a file of the
  // same name in it; ext4 gave both the removed inodes. Taken for a rename of `docs`, its move
  // carried on the server a file another device had just put in `docs` to the new folder.
  it('chaos seed 60039: a new folder and file on inodes a removed folder and file had are no move of it', async () => {
    const { f, scanner } = await synced();
    const docs = f.store.index.get('fm', 'docs')!;
    const first = f.store.index.listUnder('fm', 'docs').find((e) => e.kind === 'file')!;
    const name = first.path.slice('docs/'.length);
    rmSync(f.abs('docs'), { recursive: true });
    f.write(`a/a/${name}`, 'another file, made now');
    // The kernel's reuse, made certain: the index held docs and its first file on these inodes.
    const reused = { dir: statSync(f.abs('a/a')).ino, file: statSync(f.abs(`a/a/${name}`)).ino };
    f.store.index.put({ ...docs, inode: reused.dir });
    f.store.index.put({ ...first, inode: reused.file });
    await scanner.reconcile();
    expect(f.store.queue.getByPath('fm', 'a/a')).toMatchObject({ op: 'upsert', moveFrom: null });
    expect(f.pendingOps()).toMatchObject({ docs: 'dir:delete', [first.path]: 'file:delete', 'a/a': 'dir:upsert', [`a/a/${name}`]: 'file:upsert' });
  });

  it('a folder renamed, then its first file edited before the scan, is still one move', async () => {
    const { f, scanner } = await synced();
    const first = f.store.index.listUnder('fm', 'docs').find((e) => e.kind === 'file')!;
    const name = first.path.slice('docs/'.length);
    renameSync(f.abs('docs'), f.abs('Documents'));
    f.write(`Documents/${name}`, 'edited after the rename');
    await scanner.reconcile();
    expect(f.store.queue.getByPath('fm', 'Documents')).toMatchObject({ op: 'upsert', moveFrom: 'docs' });
    expect(f.pendingOps()).toEqual({ Documents: 'dir:upsert', [`Documents/${name}`]: 'file:upsert' });
  });

  // A new-user try: `mv x y && echo more >> y` went as a delete and a new file, so the server's
  // history lost the file's line and `ferry restore --at` brought x back beside y.
  for (const scan of ['the live scan', 'the start-up walk'] as const) {
    it(`a file renamed and written at once is the move, then the upload of the edit, by its birth time (${scan}); a reused inode of another birth is no move`, async () => {
      const { f, scanner } = await synced();
      const born = statSync(f.abs('docs/file-3.txt')).birthtimeMs;
      renameSync(f.abs('docs/file-3.txt'), f.abs('docs/renamed-3.txt'));
      const edit = 'bytes of file 3, and a line written right after the rename';
      f.write('docs/renamed-3.txt', edit);
      // The same file (writeFile keeps the inode), written since: another size and mtime.
      expect(statSync(f.abs('docs/renamed-3.txt')).birthtimeMs).toBe(born);
      // file-4: the index takes it for a file of another birth on the same inode (a reused one).
      f.store.index.putLocal({ ...f.store.index.get('fm', 'docs/file-4.txt')!, birthtimeMs: 12345 });
      renameSync(f.abs('docs/file-4.txt'), f.abs('docs/other-4.txt'));
      f.write('docs/other-4.txt', 'another file on a reused inode');
      // The live scan as a burst brings it (this scanner holds no delete back: the new names first).
      if (scan === 'the live scan') await scanner.scanPaths(['docs/renamed-3.txt', 'docs/other-4.txt', 'docs/file-3.txt', 'docs/file-4.txt']);
      else await scanner.reconcile();
      const knownBirth = Number.isFinite(born) && born > 0;
      // Where the file system tells no birth time, size and mtime decide as before: no move.
      expect(f.store.queue.getByPath('fm', 'docs/renamed-3.txt')).toMatchObject({ op: 'upsert', size: edit.length, moveFrom: knownBirth ? 'docs/file-3.txt' : null });
      expect(f.store.queue.getByPath('fm', 'docs/file-3.txt')?.state ?? 'none').toBe(knownBirth ? 'none' : 'pending');
      expect(f.store.index.get('fm', 'docs/renamed-3.txt')).toMatchObject({ size: edit.length, birthtimeMs: knownBirth ? born : undefined });
      // Refused: the reused inode taken for a rename of file-4.
      expect(f.store.queue.getByPath('fm', 'docs/other-4.txt')).toMatchObject({ op: 'upsert', moveFrom: null });
      expect(f.store.queue.getByPath('fm', 'docs/file-4.txt')).toMatchObject({ op: 'delete', state: 'pending' });
    });
  }

  it('copied elsewhere then deleted (new inodes): the same bytes under new names are a move too', async () => {
    const { f, scanner } = await synced();
    cpSync(f.abs('docs'), f.abs('copy'), { recursive: true });
    rmSync(f.abs('docs'), { recursive: true });
    await scanner.reconcile();
    expect(f.store.folders.require('fm').state).toBe('ok');
  });

  it('refused: a real bulk delete still pauses the folder', async () => {
    const { f, scanner } = await synced();
    rmSync(f.abs('docs'), { recursive: true });
    await scanner.reconcile();
    expect(f.store.folders.require('fm').state).toBe('paused_mass_delete');
  });
});
