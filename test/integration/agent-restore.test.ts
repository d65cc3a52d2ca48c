import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as history from '../../main/control/commands/history';
import * as restore from '../../main/control/commands/restore';
import { startControlServer, type ControlServer } from '../../main/control/control-server';
import { ensureControlToken, writeAgentInfo } from '../../main/control/control-token';
import type { Agent } from '../../main/engine/agent';
import { toAgentService } from '../../main/ui-adapter/agent-service';
import { agentsOnServer, blockUploads, captureIo, deleteConfirmedOnBoth, holdsAll, twoDevicesHolding } from '../helpers/agents-on-server';
import { waitFor } from '../helpers/wait';

// Undo a mass delete (docs/sync-api.md, "History and restore"): two real agents on the real
// server over loopback, a confirmed delete of 1,000 files on both devices, then one
// `ferry restore --deleted` brings every file back on both, byte for byte, with no block
// uploaded (a proxy in front of the server counts every request).
describe('ferry restore undoes a confirmed mass delete on every device', () => {
  const setup = agentsOnServer('ferry-restore-', { local: { settleMs: 30 } }, undefined, { remoteId: 'docs', proxied: true });
  const deleted = Array.from({ length: 1000 }, (_, i) => `doomed-${String(i).padStart(4, '0')}.txt`);
  const kept = Array.from({ length: 10 }, (_, i) => `kept-${i}.txt`);
  let a: Agent;
  let b: Agent;
  let folderA: string;
  let folderB: string;
  let dataA: string;
  let control: ControlServer;

  const files = (folder: string) => readdirSync(folder).filter((n) => !n.startsWith('.ferry')).sort();

  beforeAll(async () => {
    await setup.start();
    ({ a, b, folderA, folderB } = await twoDevicesHolding(setup, [...deleted, ...kept]));
    dataA = setup.dataDir('a');
    control = await startControlServer({ service: toAgentService(a), token: await ensureControlToken(dataA) });
    await writeAgentInfo(dataA, { pid: process.pid, controlUrl: control.url, startedAt: new Date().toISOString() });
  }, 120_000);

  afterAll(async () => {
    await control?.close();
    await setup.stop();
  });

  it('brings all 1,000 files back on both devices with one command, uploading nothing', async () => {
    // The delete: held by the guard on each device, and confirmed there by the user.
    await deleteConfirmedOnBoth(a, b, folderA, folderB, deleted);
    expect(files(folderB)).toEqual(kept);
    expect(files(folderA)).toEqual(kept);
    const uploadsBefore = blockUploads(setup.proxy);

    // A look first: what would come back, and nothing restored by looking.
    const look = captureIo();
    expect(await restore.run(['--deleted', '--folder', 'docs', '--data', dataA, '--dry-run'], look), look.stderr).toBe(0);
    const lines = look.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`Would restore ${deleted.length.toLocaleString('en')} files in 'docs' (nothing restored yet; run again without --dry-run):`);
    expect(lines.slice(1, 21).every((l) => /^ {2}\S.*: deleted \S+ by \S/.test(l))).toBe(true);
    expect(lines.at(-1)).toBe(`  and ${(deleted.length - 20).toLocaleString('en')} more (--json lists them all)`);
    const looked = captureIo();
    expect(await restore.run(['--deleted', '--folder', 'docs', '--data', dataA, '--dry-run', '--json'], looked)).toBe(0);
    expect((JSON.parse(looked.stdout) as { items: Array<{ path: string }> }).items.map((i) => i.path).sort()).toEqual([...deleted].sort());
    expect(files(folderA)).toEqual(kept);
    // --since goes with --deleted only (--dry-run goes with every form now).
    expect(await restore.run(['x.txt', '--since', '2h', '--data', dataA], captureIo())).toBe(2);

    // One command on device A.
    const io = captureIo();
    expect(await restore.run(['--deleted', '--folder', 'docs', '--data', dataA], io), io.stderr).toBe(0);
    expect(io.stdout).toContain(`Restored ${deleted.length.toLocaleString('en')} files in 'docs'`);

    await waitFor(() => holdsAll(folderA, deleted) && holdsAll(folderB, deleted), { timeoutMs: 90_000, message: 'every file back on both devices' });
    expect(files(folderA)).toEqual([...deleted, ...kept].sort());
    expect(files(folderB)).toEqual([...deleted, ...kept].sort());
    await waitFor(() => a.status().state === 'idle' && b.status().state === 'idle', { timeoutMs: 30_000 });
    expect(blockUploads(setup.proxy)).toBe(uploadsBefore);

    // Nothing is left to restore, and the history of one file shows delete and restore.
    const again = captureIo();
    expect(await restore.run(['--deleted', '--folder', 'docs', '--data', dataA, '--json'], again)).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ restored: 0, failed: [], skipped: [] });
    const shown = captureIo();
    expect(await history.run([path.join(folderA, deleted[7]!), '--data', dataA, '--json'], shown)).toBe(0);
    const versions = (JSON.parse(shown.stdout) as { path: string; items: Array<{ deleted: boolean }> });
    expect(versions.path).toBe(deleted[7]);
    expect(versions.items.map((v) => v.deleted)).toEqual([false, true, false]);
  }, 240_000);

  it('while the server is known unreachable, a restore is refused at once with the reason, and works once it is back', async () => {
    await setup.proxy.goOffline();
    try {
      await waitFor(() => a.status().state === 'offline', { timeoutMs: 30_000, message: 'A sees the server gone' });
      // Refused: the restore's retries of every call before the error (about 15 s on a new-user try).
      const refused = await a.handlers.restore({ folderId: 'docs', request: { kind: 'deleted', paths: [deleted[0]!] } }).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'offline', retryable: true, message: expect.stringMatching(/^Cannot restore while the server cannot be reached \(.+\)\. Try again once Ferry is back online\.$/) });
    } finally {
      await setup.proxy.goOnline();
    }
    await waitFor(() => a.status().state !== 'offline', { timeoutMs: 30_000, message: 'A sees the server back' });
    const outcome = await a.handlers.restore({ folderId: 'docs', request: { kind: 'deleted', paths: [deleted[0]!] } });
    expect(outcome.failed).toEqual([]);
  });

  // A new-user try: the history of a name renamed twice since pointed to the first new name,
  // whose own history then said "moved" again. It names where the file is now.
  it('ferry history of a name renamed twice since names where the file is now, and its restore hint goes there', async () => {
    const historyOf = async (p: string) => (await a.handlers.getHistory({ folderId: 'docs', path: p })).items[0];
    renameSync(path.join(folderA, kept[3]!), path.join(folderA, 'step-1.txt'));
    await waitFor(async () => (await historyOf(kept[3]!))?.movedTo === 'step-1.txt', { timeoutMs: 30_000, message: 'the first rename landed as a move' });
    renameSync(path.join(folderA, 'step-1.txt'), path.join(folderA, 'step-2.txt'));
    await waitFor(async () => (await historyOf('step-1.txt'))?.movedTo === 'step-2.txt', { timeoutMs: 30_000, message: 'the second rename landed as a move' });
    expect(await a.handlers.getHistory({ folderId: 'docs', path: kept[3]! })).toMatchObject({ nameNow: 'step-2.txt' });
    expect((await a.handlers.getHistory({ folderId: 'docs', path: 'step-2.txt' })).nameNow).toBeUndefined();
    const io = captureIo();
    expect(await history.run([kept[3]!, '--folder', 'docs', '--data', dataA], io), io.stderr).toBe(0);
    expect(io.stdout).toContain('Restore one with: ferry restore step-2.txt --revision REV --folder docs');
    expect(io.stdout).toContain('Its versions since the move: ferry history step-1.txt --folder docs (moved on since; its name now: step-2.txt)');
    // The hint works: a version of the first name, restored at the name now (the same bytes: no new version).
    const first = (await a.handlers.getHistory({ folderId: 'docs', path: kept[3]! })).items[1]!.revision;
    const back = await a.handlers.restore({ folderId: 'docs', request: { kind: 'paths', paths: ['step-2.txt'], revision: first } });
    expect(back).toMatchObject({ failed: [], skipped: [{ path: 'step-2.txt', reason: 'it has those bytes already: no new version was made' }] });
    // Nothing deleted where it looked: said where, not a bare "Nothing was restored".
    const none = captureIo();
    expect(await restore.run(['--deleted', '--prefix', 'no-such-dir', '--folder', 'docs', '--data', dataA], none), none.stderr).toBe(0);
    expect(none.stdout).toBe("Nothing was restored in 'docs'.\n  nothing under no-such-dir is deleted on the server ('ferry history PATH' lists a file's versions)\n");
    // A path the server never had: said, with exit 1 as `ferry restore` of it (a new-user try: 0).
    const unknown = captureIo();
    expect(await history.run(['no-such-file.txt', '--folder', 'docs', '--data', dataA], unknown)).toBe(1);
    expect(unknown.stdout).toBe("The server keeps no history of no-such-file.txt in 'docs'.\n");
    // The folder's id typed in front of a path: a failure that says what was meant.
    const typo = captureIo();
    expect(await restore.run([`docs/${kept[4]!}`, '--folder', 'docs', '--data', dataA], typo)).toBe(1);
    expect(typo.stdout).toContain(`not restored: docs/${kept[4]!}: the server has no history of this path: check its name, and that it is in this folder (not_found); paths are inside the folder: did you mean ${kept[4]!}?`);
  });

  // A new-user try: a file renamed since its last edit read "it has no earlier version" by its name
  // (R5, docs/conflict-rules.md): its earlier content is found back through the rename.
  it('ferry restore of a file renamed since its edit brings back its content before that edit, under its name now', async () => {
    const historyOf = async (p: string) => (await a.handlers.getHistory({ folderId: 'docs', path: p })).items;
    writeFileSync(path.join(folderA, 'draft.txt'), 'first words');
    await waitFor(async () => (await historyOf('draft.txt')).length === 1, { timeoutMs: 30_000, message: 'the draft on the server' });
    const first = (await historyOf('draft.txt'))[0]!.revision;
    writeFileSync(path.join(folderA, 'draft.txt'), 'second words, longer');
    await waitFor(async () => (await historyOf('draft.txt')).length === 2, { timeoutMs: 30_000, message: 'the edit on the server' });
    renameSync(path.join(folderA, 'draft.txt'), path.join(folderA, 'final.txt'));
    await waitFor(async () => (await historyOf('draft.txt'))[0]?.movedTo === 'final.txt', { timeoutMs: 30_000, message: 'the rename landed as a move' });
    const look = captureIo();
    expect(await restore.run(['final.txt', '--folder', 'docs', '--data', dataA, '--dry-run'], look), look.stderr).toBe(0);
    expect(look.stdout).toContain(`  final.txt: revision ${first} of draft.txt (renamed since)`);
    const io = captureIo();
    expect(await restore.run(['final.txt', '--folder', 'docs', '--data', dataA], io), io.stderr).toBe(0);
    await waitFor(() => existsSync(path.join(folderA, 'final.txt')) && readFileSync(path.join(folderA, 'final.txt'), 'utf8') === 'first words', { timeoutMs: 30_000, message: 'the first words back in final.txt' });
    expect(existsSync(path.join(folderA, 'draft.txt'))).toBe(false);
  });

  // A new-user try restored a deleted folder by its path and found it empty on both devices, unsaid.
  it('a folder restored by its path says it comes back without the files deleted with it, and how to bring them', async () => {
    mkdirSync(path.join(folderA, 'album'));
    for (const n of ['one.jpg', 'two.jpg']) writeFileSync(path.join(folderA, 'album', n), `photo ${n}`);
    const historyOf = async (p: string) => (await a.handlers.getHistory({ folderId: 'docs', path: p })).items[0];
    await waitFor(async () => (await historyOf('album/two.jpg'))?.deleted === false, { timeoutMs: 30_000, message: 'the album on the server' });
    rmSync(path.join(folderA, 'album'), { recursive: true });
    await waitFor(async () => (await historyOf('album'))?.deleted === true, { timeoutMs: 30_000, message: 'the album deleted on the server' });
    const hint = "  a folder comes back by itself: files deleted with it stay deleted; 'ferry restore --deleted --prefix album/' brings them back, or 'ferry restore album --at TIME' the folder as it was then";
    const look = captureIo();
    expect(await restore.run(['album', '--folder', 'docs', '--data', dataA, '--dry-run'], look), look.stderr).toBe(0);
    expect(look.stdout.trimEnd().split('\n').at(-1)).toBe(hint);
    const io = captureIo();
    expect(await restore.run(['album', '--folder', 'docs', '--data', dataA], io), io.stderr).toBe(0);
    expect(io.stdout.trimEnd().split('\n').at(-1)).toBe(hint);
    // The way it names brings the files back.
    expect(await restore.run(['--deleted', '--prefix', 'album/', '--folder', 'docs', '--data', dataA], captureIo())).toBe(0);
    await waitFor(() => existsSync(path.join(folderA, 'album', 'one.jpg')) && existsSync(path.join(folderA, 'album', 'two.jpg')), { timeoutMs: 30_000, message: 'the photos back' });
    // A file restored with the deleted folder above it: no such line (found by review: it named the file as a folder).
    mkdirSync(path.join(folderA, 'trip'));
    writeFileSync(path.join(folderA, 'trip', 'map.jpg'), 'a map');
    await waitFor(async () => (await historyOf('trip/map.jpg'))?.deleted === false, { timeoutMs: 30_000, message: 'the trip on the server' });
    rmSync(path.join(folderA, 'trip'), { recursive: true });
    await waitFor(async () => (await historyOf('trip'))?.deleted === true, { timeoutMs: 30_000, message: 'the trip deleted on the server' });
    const file = captureIo();
    expect(await restore.run(['trip/map.jpg', '--folder', 'docs', '--data', dataA], file), file.stderr).toBe(0);
    expect(file.stdout).toContain('Restored 1 file and 1 folder');
    expect(file.stdout).not.toContain('a folder comes back by itself');
  });

  it('refuses --revision with two paths and --deleted with a path, before asking the agent', async () => {
    const io = captureIo();
    expect(await restore.run(['x.txt', 'y.txt', '--revision', '4', '--data', dataA], io)).toBe(2);
    expect(io.stderr).toMatch(/one PATH/);
    expect(await restore.run(['x.txt', '--deleted', '--data', dataA], io)).toBe(2);
    expect(await restore.run(['--at', 'soon', 'x.txt', '--data', dataA], io)).toBe(2);
    // A moment still to come: everything is "as it was" then, most likely a typo (new-user try).
    const future = captureIo();
    expect(await restore.run(['--at', '2999-01-01T00:00:00Z', 'x.txt', '--data', dataA], future)).toBe(2);
    expect(future.stderr).toContain('--at 2999-01-01T00:00:00.000Z is in the future: give a moment that has passed');
  });
});
