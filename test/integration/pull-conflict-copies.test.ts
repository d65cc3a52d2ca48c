import { mkdirSync, mkdtempSync, promises as fsp, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { conflictPath } from '../../main/engine/pull';
import { moveNoClobber } from '../../main/engine/no-clobber';
import { waitFor } from '../helpers/wait';
import { fetchingWith, makeAgent, startPullServer, usePullRig, type Agent, type Writer } from './pull-harness';

// Chaos seed 3 (npm run chaos -- --seed 3 --ops 60 --devices 3) failed to converge about one
// run in four: devices B and C both kept their own edit of a path that A had changed, and both
// named the copy after A ("x (conflict from A …)"), so two different files claimed one name.
// On one device a concurrent apply renamed its copy over the other device's file of that name,
// the index then held the server's revision of that path with this device's bytes, and the
// copy's upload (base null) conflicted at every recheck while the pull found nothing to do.
describe('conflict copies (chaos seed 3)', () => {
  const FIXED = Date.UTC(2026, 10, 22, 7, 27, 22);
  const rig = usePullRig();
  let writer: Writer;
  const setup = async () => (writer = await rig.start({ clock: () => FIXED }));
  const device = (name: string) => rig.device(name);

  it('two devices keeping their own edit of one path name their copies apart', async () => {
    await setup();
    const [b, c] = [device('b'), device('c')];
    await writer.commit({ 'café.txt': 'from a' });
    b.folder.write('café.txt', 'edited on b');
    c.folder.write('café.txt', 'edited on c');
    for (const d of [b, c]) await d.scanner.reconcile();
    await Promise.all([b.puller.pullNow('fb'), c.puller.pullNow('fb')]);

    const copyOf = (d: Agent) => Object.keys(d.tree()).find((p) => p !== 'café.txt')!;
    expect(copyOf(b)).toBe(conflictPath('café.txt', 'b', new Date(FIXED)));
    expect(copyOf(c)).toBe(conflictPath('café.txt', 'c', new Date(FIXED)));
    expect(b.tree()).toEqual({ 'café.txt': 'from a', [copyOf(b)]: 'edited on b' });
    expect(c.tree()).toEqual({ 'café.txt': 'from a', [copyOf(c)]: 'edited on c' });
  });

  it('a copy whose name the index still holds (a file there just went, not yet scanned) builds on that revision', async () => {
    await setup();
    const b = device('b');
    const copy = conflictPath('x.txt', 'b', new Date(FIXED));
    await writer.commit({ [copy]: 'an older copy' });
    await b.puller.pullNow('fb');
    const copyRevision = writer.revisions.get(copy)!;
    expect(b.folder.store.index.get('fb', copy)?.syncedRevision).toBe(copyRevision);
    // The user removes the old copy; the scanner has not seen it yet. Meanwhile x.txt is
    // edited here and on another device.
    unlinkSync(b.folder.abs(copy));
    await writer.commit({ 'x.txt': 'remote x' });
    b.folder.write('x.txt', 'local x');
    await b.scanner.scanPaths(['x.txt']);
    await b.puller.pullNow('fb');

    expect(b.tree()).toEqual({ 'x.txt': 'remote x', [copy]: 'local x' });
    // With no base the server would answer conflict (it holds copyRevision) and the pull would
    // see "already synced": the agents would never settle.
    expect(b.folder.store.queue.getByPath('fb', copy)).toMatchObject({ op: 'upsert', baseRevision: copyRevision });
    const reply = await b.client.submitBatch('remote-fb', [
      { key: 'k', action: 'upsert', path: copy, size: 7, mtime: FIXED, blocks: b.folder.store.queue.getByPath('fb', copy)!.blocks!, baseRevision: copyRevision },
    ]);
    // The blocks are not uploaded in this pull-only rig: the server names them missing, which
    // is how a commit that passed the revision check looks (a conflict would come first).
    expect('results' in reply && reply.results.k).toMatchObject({ ok: false, code: 'missing_blocks' });
  });
});

// Chaos seed 1016 (npm run chaos -- --seed 1016 --ops 60 --devices 3): c wrote Ärger/x and it
// reached the server; c then deleted the folder, a delete held back on c for seconds (the
// bulk-delete hold, then a kill). b, just restarted, never had c's x: while its pull was
// downloading it, b's user wrote an x of its own. The pull decided again (U2 → U6): b's file
// became a conflict copy, c's version took the path, and c's delete removed it later (D4).
// That is the rule (docs/conflict-rules.md, after U8); the harness had taken the copy for a
// spurious one. What is refused: a download that replaces the file the user just wrote.
describe("a new file written while the pull brings another device's version (chaos seed 1016)", () => {
  let running: Awaited<ReturnType<typeof startPullServer>> | undefined;
  let b: Agent | undefined;
  afterEach(async () => {
    await b?.close();
    running?.writer.client.close();
    await running?.server.close();
    running = b = undefined;
  });

  it('is kept as a conflict copy, and stays when that version is deleted after', async () => {
    running = await startPullServer();
    const { server, writer } = running;
    await writer.commit({ 'Ärger/x': "c's version" });
    let written = false;
    // b's user writes Ärger/x while the pull fetches the blocks of c's version.
    const userWritesDuringDownload = fetchingWith((folder) => {
      if (written) return;
      written = true;
      mkdirSync(folder.abs('Ärger'), { recursive: true });
      writeFileSync(folder.abs('Ärger/x'), "b's own x");
    });
    b = makeAgent(server, 'b', {}, 'fb', userWritesDuringDownload);
    await b.puller.pullNow('fb');
    expect(written).toBe(true);

    const copy = Object.keys(b.tree()).find((p) => p !== 'Ärger/x')!;
    expect(copy).toMatch(/^Ärger\/x \(conflict from b \d{4}-\d{2}-\d{2} \d{6}\)$/);
    expect(b.tree()).toEqual({ 'Ärger/x': "c's version", [copy]: "b's own x" });
    expect(b.folder.store.queue.getByPath('fb', copy)).toMatchObject({ op: 'upsert', baseRevision: null });

    // c's delete arrives: it removes c's version only; b's bytes stay in the copy.
    await writer.commit({ 'Ärger/x': null });
    await b.puller.pullNow('fb');
    expect(b.tree()).toEqual({ [copy]: "b's own x" });
  });
});

describe('moveNoClobber', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tmp = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'ferry-noclobber-'));
    dirs.push(d);
    return d;
  };

  it('refuses a taken name and leaves both files as they were (a rename would replace the target)', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'a'), 'mine');
    writeFileSync(path.join(d, 'b'), 'theirs');
    expect(await moveNoClobber(path.join(d, 'a'), path.join(d, 'b'))).toBe(false);
    expect(readFileSync(path.join(d, 'a'), 'utf8')).toBe('mine');
    expect(readFileSync(path.join(d, 'b'), 'utf8')).toBe('theirs');
  });

  it('moves to a free name, keeping nothing at the old one', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'a'), 'mine');
    expect(await moveNoClobber(path.join(d, 'a'), path.join(d, 'c'))).toBe(true);
    expect(readFileSync(path.join(d, 'c'), 'utf8')).toBe('mine');
    expect(() => readFileSync(path.join(d, 'a'))).toThrow(/ENOENT/);
  });
});

// Chaos seed 11263 (npm run chaos -- --seed 11263 --ops 60 --devices 3): dev-b's user opened
// café.txt and truncated it through that descriptor just as the pull placed a newer version by
// rename (U5). The write landed in the replaced file, which nobody could reach: the user's
// version was gone. The replaced file now stays linked until the download is recorded, and
// what was written into it becomes a conflict copy (docs/conflict-rules.md, the re-check before
// the final rename).
describe('a download that replaces a file a program has open (chaos seed 11263)', () => {
  const rig = usePullRig();

  it('keeps what the program wrote through its descriptor after the last check as a conflict copy', async () => {
    const writer = await rig.start();
    const b = rig.device('b');
    await writer.commit({ 'café.txt': 'v1 from a' });
    await b.puller.pullNow('fb');
    const handle = await fsp.open(b.folder.abs('café.txt'), 'r+');
    await writer.commit({ 'café.txt': 'v2 from a, a longer one' });
    const realRename = fsp.rename.bind(fsp);
    // The program writes in place after the applier's last check, right before its rename.
    const spy = vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
      if (String(to) === b.folder.abs('café.txt')) {
        await handle.truncate(0);
        await handle.write('edited through an open descriptor', 0);
      }
      return realRename(from, to);
    });
    let summary;
    try {
      summary = await b.puller.pullNow('fb');
    } finally {
      spy.mockRestore();
      await handle.close();
    }
    expect(summary.conflicts).toBe(1);
    const tree = b.tree();
    expect(tree['café.txt']).toBe('v2 from a, a longer one');
    const copies = Object.keys(tree).filter((p) => p.startsWith('café (conflict from b '));
    expect(copies.map((p) => tree[p])).toEqual(['edited through an open descriptor']);
    // The copy goes up like any new file, and nothing is left in the temp folder.
    await b.scanner.scanPaths(copies);
    expect(b.folder.store.queue.getByPath('fb', copies[0]!)).toMatchObject({ op: 'upsert', state: 'pending', baseRevision: null });
    expect(readdirSync(path.join(b.folder.root, '.ferry', 'tmp')).filter((n) => n.startsWith('pull-'))).toEqual([]);
  });

  it('removes the replaced file when nothing wrote into it, once its grace is over', async () => {
    const writer = await rig.start();
    const b = rig.device('b', { lateWriteGraceMs: 200 });
    await writer.commit({ 'café.txt': 'v1 from a' });
    await b.puller.pullNow('fb');
    await writer.commit({ 'café.txt': 'v2 from a' });
    expect(await b.puller.pullNow('fb')).toMatchObject({ downloaded: 1, conflicts: 0 });
    expect(b.tree()).toEqual({ 'café.txt': 'v2 from a' });
    const leftInTmp = () => readdirSync(path.join(b.folder.root, '.ferry', 'tmp')).filter((n) => n.startsWith('pull-'));
    expect(leftInTmp()).toHaveLength(1); // linked until the grace is over
    await waitFor(() => leftInTmp().length === 0, { message: 'the replaced file removed after its grace' });
    expect(b.tree()).toEqual({ 'café.txt': 'v2 from a' });
  });

  // Chaos seed 263 (--backend postgres): the user's append went through a descriptor opened before
  // the pull replaced 日本語.txt, and landed after the download was recorded: the replaced file had
  // been removed at that moment, and the appended version with it. It now stays linked a while.
  /**
   * `name` synced at v1 on b, opened by a program, then v2 pulled over it (U5); the program's
   * write lands in the replaced file once the download is recorded.
   */
  async function writtenAfterReplaced(name: string, late: string, graceMs: number) {
    const writer = await rig.start();
    const b = rig.device('b', { lateWriteGraceMs: graceMs });
    await writer.commit({ [name]: 'v1 from a' });
    await b.puller.pullNow('fb');
    const handle = await fsp.open(b.folder.abs(name), 'r+');
    await writer.commit({ [name]: 'v2 from a' });
    try {
      expect(await b.puller.pullNow('fb')).toMatchObject({ downloaded: 1, conflicts: 0 });
      await handle.write(late, 'v1 from a'.length);
    } finally {
      await handle.close();
    }
    return { writer, b };
  }

  it('keeps what the program wrote through its descriptor after the download was recorded, within the grace (chaos seed 263)', async () => {
    const { b } = await writtenAfterReplaced('日本語.txt', ', appended late', 200);
    const copies = () => Object.keys(b.tree()).filter((p) => p.startsWith('日本語 (conflict from b '));
    await waitFor(() => copies().length === 1, { message: 'the late write kept as a conflict copy' });
    const tree = b.tree();
    expect(tree['日本語.txt']).toBe('v2 from a');
    expect(tree[copies()[0]!]).toBe('v1 from a, appended late');
    // The copy goes up like any new file (the scanner hashes it).
    await b.scanner.scanPaths(copies());
    expect(b.folder.store.queue.getByPath('fb', copies()[0]!)).toMatchObject({ op: 'upsert', state: 'pending', baseRevision: null });
  });

  it('looks at a replaced file before the next pull of its folder clears the temp folder', async () => {
    const { writer, b } = await writtenAfterReplaced('notes.txt', ' and more', 60_000);
    await writer.commit({ 'other.txt': 'x' });
    await b.puller.pullNow('fb');
    const tree = b.tree();
    expect(Object.entries(tree).filter(([p]) => p.startsWith('notes (conflict from b ')).map(([, v]) => v)).toEqual(['v1 from a and more']);
    expect(tree['notes.txt']).toBe('v2 from a');
  });
});

// Chaos seed 12009 (npm run chaos -- --seed 12009 --ops 60 --devices 2): the pull was deleting
// data.bin (another device renamed it away; this device had not touched it) when the user renamed
// another file onto data.bin, between the pull's last check and its unlink: the user's file went
// with the delete and was lost. The pull now moves the file into its temp folder and compares it
// there; a file that is not the one it checked is put back and kept (D5).
describe('a delete racing a file renamed onto the path (chaos seed 12009)', () => {
  const rig = usePullRig();

  it('puts back a file renamed onto the path after the check, and uploads it as new', async () => {
    const writer = await rig.start();
    const b = rig.device('b');
    await writer.commit({ 'data.bin': 'synced bytes' });
    await b.puller.pullNow('fb');
    await writer.commit({ 'data.bin': null });
    const realLink = fsp.link.bind(fsp);
    const realUnlink = fsp.unlink.bind(fsp);
    const realRename = fsp.rename.bind(fsp);
    let swapped = false;
    // The user's mv of their edited copy onto data.bin, after the pull's last check and right
    // before the first thing the pull does to data.bin (a rename, a link or an unlink of it).
    const userSwap = async (target: unknown) => {
      if (swapped || String(target) !== b.folder.abs('data.bin')) return;
      swapped = true;
      b.folder.write('DATA.BIN', 'the user\'s bytes, appended');
      await realRename(b.folder.abs('DATA.BIN'), b.folder.abs('data.bin'));
    };
    const spies = [
      vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => (await userSwap(from), realRename(from, to))),
      vi.spyOn(fsp, 'link').mockImplementation(async (from, to) => (await userSwap(from), realLink(from, to))),
      vi.spyOn(fsp, 'unlink').mockImplementation(async (target) => (await userSwap(target), realUnlink(target))),
    ];
    let summary;
    try {
      summary = await b.puller.pullNow('fb');
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(swapped).toBe(true);
    expect(summary.deleted).toBe(0);
    expect(b.tree()).toEqual({ 'data.bin': 'the user\'s bytes, appended' });
    expect(b.folder.store.queue.getByPath('fb', 'data.bin')).toMatchObject({ op: 'upsert', state: 'pending', baseRevision: null });
    expect(readdirSync(path.join(b.folder.root, '.ferry', 'tmp')).filter((n) => n.startsWith('pull-'))).toEqual([]);
  });

  it('deletes the file it checked even when the temp folder was removed by hand meanwhile', async () => {
    const writer = await rig.start();
    const b = rig.device('b');
    await writer.commit({ 'data.bin': 'synced bytes' });
    await b.puller.pullNow('fb');
    await writer.commit({ 'data.bin': null });
    const realRename = fsp.rename.bind(fsp);
    let removed = false;
    const spy = vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
      if (!removed && String(from) === b.folder.abs('data.bin')) {
        removed = true;
        await fsp.rm(path.join(b.folder.root, '.ferry', 'tmp'), { recursive: true, force: true });
      }
      return realRename(from, to);
    });
    try {
      expect(await b.puller.pullNow('fb')).toMatchObject({ deleted: 1 });
    } finally {
      spy.mockRestore();
    }
    expect(removed).toBe(true);
    expect(b.tree()).toEqual({});
    expect(b.folder.store.index.get('fb', 'data.bin')).toBeUndefined();
  });

  it('deletes the file it checked, and leaves nothing in the temp folder', async () => {
    const writer = await rig.start();
    const b = rig.device('b');
    await writer.commit({ 'data.bin': 'synced bytes' });
    await b.puller.pullNow('fb');
    await writer.commit({ 'data.bin': null });
    expect(await b.puller.pullNow('fb')).toMatchObject({ deleted: 1 });
    expect(b.tree()).toEqual({});
    expect(b.folder.store.index.get('fb', 'data.bin')).toBeUndefined();
    expect(readdirSync(path.join(b.folder.root, '.ferry', 'tmp')).filter((n) => n.startsWith('pull-'))).toEqual([]);
  });
});

// Chaos seed 13529 (npm run chaos -- --seed 13529 --ops 60 --devices 3): c renamed `new folder`
// to `NEW FOLDER` as a's append to `new folder/data.bin` arrived. The download made `new folder`
// again and placed a's version there; the scanner's record of the folder's move then gave that
// download's index row to the data.bin that had moved (c's older bytes), which went up as an edit
// of a's version and replaced it with no copy. A folder the index holds that is gone from disk
// is not made again: the pull waits for the scan.
describe('a download whose folder was renamed here as it arrived (chaos seed 13529)', () => {
  const rig = usePullRig();

  it('does not make the folder again; after the scan, the moved file keeps its own revision', async () => {
    const writer = await rig.start();
    const b = rig.device('b');
    const dir = await writer.client.submitBatch(writer.remoteId, [{ key: 'd', action: 'upsert', kind: 'dir', path: 'new folder', mtime: 1, baseRevision: null }]);
    expect('results' in dir && dir.results.d).toMatchObject({ ok: true });
    await writer.commit({ 'new folder/a longer name first.txt': 'other', 'new folder/data.bin': 'v1' });
    await b.puller.pullNow('fb');
    const v1 = writer.revisions.get('new folder/data.bin')!;
    await writer.commit({ 'new folder/data.bin': 'v1, appended on a' });
    renameSync(b.folder.abs('new folder'), b.folder.abs('NEW FOLDER'));

    // The pull fails, retryable, and makes nothing: `new folder` is not made again before the scan.
    const failed = await b.puller.pullNow('fb').then(() => null, (error: unknown) => error);
    expect(b.tree()).toEqual({ 'NEW FOLDER/a longer name first.txt': 'other', 'NEW FOLDER/data.bin': 'v1' });
    expect(failed).toMatchObject({ code: 'parent_gone', retryable: true, retryAfterSeconds: 1 });

    await b.scanner.scanPaths(['NEW FOLDER', 'new folder'], false);
    expect(b.folder.store.queue.getByPath('fb', 'NEW FOLDER')).toMatchObject({ op: 'upsert', moveFrom: 'new folder' });
    expect(b.folder.store.index.get('fb', 'NEW FOLDER/data.bin')).toMatchObject({ moveFrom: 'new folder/data.bin', moveBase: v1 });
    // a's version comes here under the old name (the move will carry it on the server); the moved bytes stay an unedited v1.
    await b.puller.pullNow('fb');
    await b.scanner.reconcile();
    expect(b.folder.store.queue.getByPath('fb', 'NEW FOLDER/data.bin')).toBeUndefined();
    expect(b.tree()['new folder/data.bin']).toBe('v1, appended on a');
  });
});

// Chaos seed 19797: b's new empty file reached a, whose user had just created a file of that
// name (opened with truncation, its bytes not written yet). The pull took the two empty files
// for the same content (U4) and recorded b's revision under a's file; a's bytes then went up as
// an edit of it, and b's version was gone, unseen. The pull now waits for such a file
// (docs/conflict-rules.md, "caught being written").
describe('an empty file caught being written meets an empty remote file (chaos seed 19797)', () => {
  const rig = usePullRig();

  it('waits while the file is under a second old, then keeps both once its bytes came', async () => {
    const writer = await rig.start();
    const a = rig.device('a');
    await writer.commit({ 'IMG_0001.JPG': '' });
    a.folder.write('IMG_0001.JPG', '');
    await expect(a.puller.pullNow('fb')).rejects.toMatchObject({ code: 'being_written', retryable: true });
    expect(a.folder.store.index.get('fb', 'IMG_0001.JPG')).toBeUndefined();

    a.folder.write('IMG_0001.JPG', 'the photo');
    expect(await a.puller.pullNow('fb')).toMatchObject({ conflicts: 1, tokenStored: true });
    const copy = Object.keys(a.tree()).find((p) => p.startsWith('IMG_0001 (conflict from a '))!;
    expect(a.tree()).toEqual({ 'IMG_0001.JPG': '', [copy]: 'the photo' });
  });

  it('takes an empty file that has stayed so for a second for the same content, and records it', async () => {
    const writer = await rig.start();
    const a = rig.device('a');
    await writer.commit({ 'empty.txt': '' });
    a.folder.write('empty.txt', '');
    const past = (Date.now() - 2000) / 1000;
    utimesSync(a.folder.abs('empty.txt'), past, past);
    expect(await a.puller.pullNow('fb')).toMatchObject({ conflicts: 0, tokenStored: true });
    expect(a.folder.store.index.get('fb', 'empty.txt')?.syncedRevision).toBe(writer.revisions.get('empty.txt'));
    expect(a.tree()).toEqual({ 'empty.txt': '' });
  });
});

// Found by a new-user try: two devices wrote shared.txt every 0.3 s; b's upload waited in flight on a
// retry (path_locked). The pull kept b's newer bytes as a conflict copy and placed a's version; the
// next pull, a moment later, took that placed version for b's change (the row in flight was still
// live) and kept it as a second copy named after b: a's bytes under b's name, on every device.
describe('a second remote change while an upload whose bytes the pull moved to a copy is in flight', () => {
  const FIXED = Date.UTC(2026, 11, 7, 18, 17, 52);
  const rig = usePullRig();

  for (const answered of [false, true]) {
  it(`downloads over the version the first pull placed: one copy, holding this device's bytes${answered ? " (the upload answered conflict first, found by review)" : ''}`, async () => {
    const writer = await rig.start({ clock: () => FIXED });
    const b = rig.device('b');
    await writer.commit({ 'shared.txt': 'a 1' });
    await b.puller.pullNow('fb');
    // b's edit goes up (claimed: in flight), and b's user writes again before its answer.
    b.folder.write('shared.txt', 'b 1');
    await b.scanner.scanPaths(['shared.txt']);
    const [held] = b.folder.store.queue.claim({ limit: 1 });
    expect(held).toMatchObject({ path: 'shared.txt', baseRevision: writer.revisions.get('shared.txt') });
    b.folder.write('shared.txt', 'b 2');
    await b.scanner.scanPaths(['shared.txt']);

    await writer.commit({ 'shared.txt': 'a 2' });
    expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 1 });
    const copy = conflictPath('shared.txt', 'b', new Date(FIXED));
    expect(b.tree()).toEqual({ 'shared.txt': 'a 2', [copy]: 'b 2' });

    // The upload's answer: a conflict, which lets go of the row (what waited behind it stays live).
    if (answered) {
      b.folder.store.queue.fail(held!, { code: 'conflict', message: 'Path was changed on the server' }, Date.now() + 60_000);
      expect(b.folder.store.queue.getByPath('fb', 'shared.txt')).toMatchObject({ inFlightGeneration: null, state: 'pending' });
    }
    await writer.commit({ 'shared.txt': 'a 3' });
    expect(await b.puller.pullNow('fb')).toMatchObject({ conflicts: 0, downloaded: 1 });
    // Refused: a copy of a's "a 2" named after b.
    expect(b.tree()).toEqual({ 'shared.txt': 'a 3', [copy]: 'b 2' });
    expect(b.folder.store.index.get('fb', 'shared.txt')).toMatchObject({ syncedRevision: writer.revisions.get('shared.txt') });
  });
  }
});
