import { describe, expect, it } from 'vitest';
import { EMPTY_HASH, keptAsCopyOf, Ledger } from '../chaos/ledger';

// The chaos harness's record of what users wrote (invariant 2 checks it): these pin down which
// writes must survive, so a harness change cannot quietly stop checking them.
describe('chaos ledger', () => {
  const X = 'x'.repeat(64);
  const Y = 'y'.repeat(64);

  it('keeps every version no user knowingly replaced', () => {
    const l = new Ledger();
    l.replace('a', 'f', null);
    l.write('a', 'f', X, 1);
    l.replace('b', 'f', null); // b never saw a's version: concurrent
    l.write('b', 'f', Y, 2);
    expect(l.live.map((v) => v.hash)).toEqual([X, Y]);
    expect(l.concurrent.has('f')).toBe(true);
  });

  // Chaos seed 3 on the move operation: dev-c renamed folder b while dev-a's new b/café.txt was
  // on the server and not yet on dev-c; the server moved it with the folder (docs/conflict-rules.md,
  // P9). The version counts at the renamed path, and only for renames after it was written.
  it('a version follows a later rename of its folder (chaos seed 3), not its own device\'s earlier one', () => {
    const l = new Ledger();
    l.dirMoved('a', 'old', 'first', 1);
    l.write('a', 'b/café.txt', X, 43);
    l.dirMoved('a', 'b', 'Ärger/new folder', 50);
    l.dirMoved('c', 'Ärger/new folder', 'c', 55);
    l.write('a', 'b/later.txt', Y, 51);
    l.write('a', 'old/x', X, 0);
    const at = (p: string) => [...l.pathsOf(l.live.find((v) => v.path === p)!)];
    expect(at('b/café.txt')).toEqual(['b/café.txt', 'Ärger/new folder/café.txt', 'c/café.txt']);
    expect(at('b/later.txt')).toEqual(['b/later.txt']);
    expect(at('old/x')).toEqual(['old/x', 'first/x']);
  });

  // Chaos seed 3 on merged main: dev-b renamed folder b at step 40; dev-c, not having pulled
  // that yet, edited b/a/empty at step 56. The server refused the edit on its stale base and
  // dev-c's pull moved the edited file to the new folder (docs/conflict-rules.md, M2). And a new
  // b/café.txt written after the rename reached the server before dev-b's move, and moved with
  // the folder (P9). Another device's rename of a folder may take any version below it; an
  // edit follows another device's rename of the file, a new file there does not.
  it('a version follows another device\'s earlier rename of its folder; an edit also another device\'s rename of the file (chaos seed 3)', () => {
    const l = new Ledger();
    l.dirMoved('b', 'b', 'Ärger/new folder', 40);
    const [A, B, C, D] = ['a', 'b', 'c', 'd'].map((ch) => ch.repeat(64)) as [string, string, string, string];
    l.replace('b', 'n', A);
    l.deleted('b', 'n');
    l.replace('b', 'N', null);
    l.movedFile('b', 'n', 'N', A, 41);
    l.replace('c', 'b/a/empty', EMPTY_HASH);
    l.write('c', 'b/a/empty', X, 56);
    l.replace('c', 'b/new.txt', null);
    l.write('c', 'b/new.txt', Y, 57);
    l.replace('c', 'n', A);
    l.write('c', 'n', B, 58);
    l.replace('b', 'b/mine.txt', C); // the mover's own later edit at the old name: a file of its own
    l.write('b', 'b/mine.txt', D, 59);
    const at = (p: string) => [...l.pathsOf(l.live.find((v) => v.path === p)!)];
    expect(at('b/a/empty')).toEqual(['b/a/empty', 'Ärger/new folder/a/empty']);
    expect(at('b/new.txt')).toEqual(['b/new.txt', 'Ärger/new folder/new.txt']);
    expect(at('n')).toEqual(['n', 'N']);
    l.replace('b', 'k', C);
    l.deleted('b', 'k');
    l.replace('b', 'K', null);
    l.movedFile('b', 'k', 'K', C, 60);
    l.replace('a', 'k', null);
    l.write('a', 'k', X, 61); // a new file where b moved one away: not that file
    expect(at('k')).toEqual(['k']);
    expect(at('b/mine.txt')).toEqual(['b/mine.txt']);
  });

  // Chaos seed 7003: a conflict copy made in Ärger (two devices wrote Ärger/x) was carried by
  // another device's rename of Ärger to ärger: its origin had that earlier name.
  it('a path\'s earlier names go back through folder renames (chaos seed 7003)', () => {
    const l = new Ledger();
    l.dirMoved('a', 'Ärger', 'ärger', 10);
    l.dirMoved('b', 'ärger', 'photos/ärger', 12);
    expect([...l.earlierNamesOf('photos/ärger/x')].sort()).toEqual(['photos/ärger/x', 'Ärger/x', 'ärger/x'].sort());
    expect([...l.earlierNamesOf('other/x')]).toEqual(['other/x']);
  });

  // Chaos seed 10750: a wrote notes.txt; b renamed it to NOTES.TXT and appended to it; a, not
  // having pulled the rename, edited notes.txt. a's pull moved its edit along (M2) and met b's
  // append at NOTES.TXT: a conflict copy of NOTES.TXT, which the ledger called spurious (no
  // concurrent edits of NOTES.TXT) though both devices edited that one file.
  it('a conflict copy of a renamed file is justified by concurrent edits under its old name (chaos seed 10750)', () => {
    const Z = 'z'.repeat(64);
    /** a writes `from`; b renames it to `to`, then (after `between`) writes new bytes there. */
    const renamedAndEdited = (from: string, to: string, between: (l: Ledger) => void = () => undefined): Ledger => {
      const l = new Ledger();
      l.replace('a', from, null);
      l.write('a', from, X, 18);
      l.replace('b', from, X);
      l.deleted('b', from);
      l.replace('b', to, null);
      l.movedFile('b', from, to, X, 38);
      between(l);
      l.replace('b', to, X);
      l.write('b', to, Z, 47);
      return l;
    };
    // a edits notes.txt before it pulled the rename.
    const l = renamedAndEdited('notes.txt', 'NOTES.TXT', (x) => (x.replace('a', 'notes.txt', X), x.write('a', 'notes.txt', Y, 43)));
    expect(l.concurrent.has('NOTES.TXT')).toBe(false);
    expect([...l.editedAsOf('NOTES.TXT')].some((n) => l.concurrent.has(n))).toBe(true);
    // A rename alone, with no edit racing it, justifies nothing.
    const quiet = renamedAndEdited('f', 'F');
    expect([...quiet.editedAsOf('F')].sort()).toEqual(['F', 'f']);
    expect([...quiet.editedAsOf('F')].some((n) => quiet.concurrent.has(n))).toBe(false);
  });

  // Chaos seed 5022: dev-b wrote an empty .hidden, dev-a took it and edited it, dev-b renamed it
  // to .HIDDEN; the server moved it, dev-a's edit followed the move (docs/conflict-rules.md, M2)
  // and dev-a then deleted .HIDDEN. The moved empty bytes were the base of dev-a's edit.
  it('a file renamed after another device edited its bytes is that edit\'s base, not a version of its own (chaos seed 5022)', () => {
    const l = new Ledger();
    l.replace('b', '.hidden', null);
    l.write('b', '.hidden', EMPTY_HASH, 2);
    l.replace('a', '.hidden', EMPTY_HASH); // a has b's empty file, and edits it
    l.write('a', '.hidden', X, 5);
    l.replace('b', '.hidden', EMPTY_HASH); // b renames its (unedited) copy
    l.deleted('b', '.hidden');
    l.replace('b', '.HIDDEN', null);
    l.movedFile('b', '.hidden', '.HIDDEN', EMPTY_HASH, 7);
    expect(l.live.filter((v) => v.path === '.HIDDEN')).toEqual([]);
    // Bytes nobody else built on are a version at the new name, as before.
    l.replace('b', 'g', null);
    l.write('b', 'g', Y, 8);
    l.replace('b', 'g', Y);
    l.deleted('b', 'g');
    l.replace('b', 'h', null);
    l.movedFile('b', 'g', 'h', Y, 9);
    expect(l.live.filter((v) => v.path === 'h').map((v) => v.hash)).toEqual([Y]);
  });

  // Chaos seed 1054: a wrote .hidden (R); b had it. a deleted .hidden and wrote it anew before
  // the delete went out: one upload on R's revision. b renamed .hidden to .HIDDEN; a's upload
  // followed the move (M2) and replaced R at .HIDDEN. R is what a's user deleted: no loss.
  // Either order of the rename and the re-create, as the ledger records them.
  it('a file made anew before its delete went out replaces the deleted bytes where another device renamed them (chaos seed 1054)', () => {
    const R = 'r'.repeat(64);
    for (const renameFirst of [false, true]) {
      const l = new Ledger();
      l.replace('a', '.hidden', null);
      l.write('a', '.hidden', R, 10);
      l.replace('a', '.hidden', R); // a deletes it
      l.deleted('a', '.hidden');
      const rename = () => {
        l.replace('b', '.hidden', R); // b renames the R it pulled
        l.deleted('b', '.hidden');
        l.replace('b', '.HIDDEN', null);
        l.movedFile('b', '.hidden', '.HIDDEN', R, 31);
      };
      if (renameFirst) rename();
      l.replace('a', '.hidden', null); // ... and makes it anew
      l.write('a', '.hidden', X, 30);
      if (!renameFirst) rename();
      expect(l.live.map((v) => `${v.device}:${v.path}:${v.hash[0]}`)).toEqual(['a:.hidden:x']);
      // a's new file is an edit of R: it follows b's rename.
      expect(l.pathsOf(l.live[0]!).has('.HIDDEN')).toBe(true);
    }
    // A file made where the device's user deleted nothing is new: a rename elsewhere of other bytes stays a version.
    const l = new Ledger();
    l.replace('a', 'g', null);
    l.write('a', 'g', R, 1);
    l.replace('b', 'g', R);
    l.deleted('b', 'g');
    l.replace('b', 'G', null);
    l.movedFile('b', 'g', 'G', R, 2);
    l.replace('a', 'h', null);
    l.write('a', 'h', X, 3);
    expect(l.live.filter((v) => v.path === 'G').map((v) => v.hash)).toEqual([R]);
  });

  // Chaos seed 16019: c wrote ü/data.bin; b renamed ü to photos/Ärger before it had pulled that
  // file, and the server moved it with the folder (P9); c, before its pull brought the rename,
  // wrote a new photos/Ärger/data.bin. The two met there: c's file became a conflict copy.
  it('a new file where another device\'s folder rename carried a version is concurrent with it (chaos seed 16019)', () => {
    const l = new Ledger();
    l.replace('c', 'ü/data.bin', null);
    l.write('c', 'ü/data.bin', X, 33);
    l.dirMoved('b', 'ü', 'photos/Ärger', 36); // b never had data.bin: no movedFile
    l.replace('c', 'photos/Ärger/other.bin', null); // a name the rename carried nothing to
    l.write('c', 'photos/Ärger/other.bin', Y, 41);
    expect(l.concurrent.has('photos/Ärger/other.bin')).toBe(false);
    l.replace('c', 'photos/Ärger/data.bin', null);
    l.write('c', 'photos/Ärger/data.bin', Y, 42);
    expect(l.concurrent.has('photos/Ärger/data.bin')).toBe(true);
    expect([...l.editedAsOf('photos/Ärger/data.bin')].some((n) => l.concurrent.has(n))).toBe(true);
    // Both versions are still owed: c's moved data.bin at the new name, c's new one there too (as a copy).
    expect(l.live.map((v) => `${v.path}:${v.hash[0]}`)).toEqual(['ü/data.bin:x', 'photos/Ärger/other.bin:y', 'photos/Ärger/data.bin:y']);
  });

  // Chaos seed 8844 (--gc): c wrote Ärger/Ärger/README; a renamed Ärger to ärger before its pull
  // had brought that file, and the server moved it with the folder (P9); a then wrote a new
  // ärger/Ärger/README. The two met there: a's file became a conflict copy, rightly, since a never
  // had c's version. The ledger counted only other devices' renames as carrying versions.
  it('a new file where this device\'s own folder rename carried a version it never had is concurrent with it (chaos seed 8844)', () => {
    const l = new Ledger();
    l.replace('c', 'Ärger/Ärger/README', null);
    l.write('c', 'Ärger/Ärger/README', X, 45);
    l.dirMoved('a', 'Ärger', 'ärger', 48); // a never had README: no movedFile
    l.replace('a', 'ärger/Ärger/other', null); // a name the rename carried nothing to
    l.write('a', 'ärger/Ärger/other', Y, 50);
    expect(l.concurrent.has('ärger/Ärger/other')).toBe(false);
    l.replace('a', 'ärger/Ärger/README', null);
    l.write('a', 'ärger/Ärger/README', Y, 54);
    expect(l.concurrent.has('ärger/Ärger/README')).toBe(true);
    // c's own rename carried c's own version: a new file of c's there meets nothing it never had.
    l.replace('c', 'docs/mine', null);
    l.write('c', 'docs/mine', X, 55);
    l.dirMoved('c', 'docs', 'b', 56);
    l.replace('c', 'b/mine', null);
    l.write('c', 'b/mine', Y, 57);
    expect(l.concurrent.has('b/mine')).toBe(false);
  });

  it('a file written where another device made a folder, or put a file in one, is concurrent with it (chaos seed 60135)', () => {
    const l = new Ledger();
    l.dirMade('b', 'new folder/Docs/deep');
    l.replace('a', 'new folder', null);
    l.write('a', 'new folder', X, 4);
    expect(l.concurrent.has('new folder')).toBe(true);
    l.write('b', 'other/x.txt', Y, 5);
    l.replace('a', 'other', null);
    l.write('a', 'other', X, 6);
    expect(l.concurrent.has('other')).toBe(true);
    // Its own folder, or another device's elsewhere, is no meeting.
    l.dirMade('a', 'mine/sub');
    l.replace('a', 'mine', null);
    l.write('a', 'mine', X, 7);
    l.replace('a', 'new', null);
    l.write('a', 'new', X, 8);
    expect(l.concurrent.has('mine')).toBe(false);
    expect(l.concurrent.has('new')).toBe(false);
  });

  it('a file written, or a folder made, below another device\'s file this device never had is concurrent with it (chaos seed 60261)', () => {
    const l = new Ledger();
    l.replace('a', 'deep/IMG.JPG', null);
    l.write('a', 'deep/IMG.JPG', X, 1);
    l.write('b', 'deep/IMG.JPG/naïve résumé.pdf', Y, 2);
    expect(l.concurrent.has('deep/IMG.JPG')).toBe(true);
    l.replace('a', 'x', null);
    l.write('a', 'x', X, 3);
    l.dirMade('c', 'x/sub');
    expect(l.concurrent.has('x')).toBe(true);
    // One it had (and so turned into a folder knowingly, a kind change) or its own is no meeting.
    l.replace('a', 'seen', null);
    l.write('a', 'seen', X, 4);
    l.replace('b', 'seen', X);
    l.write('b', 'seen/in.txt', Y, 5);
    l.write('a', 'own', X, 6);
    l.write('a', 'own/in.txt', Y, 7);
    expect(l.concurrent.has('seen')).toBe(false);
    expect(l.concurrent.has('own')).toBe(false);
  });

  it('an edit of bytes another device renamed away and back meets that rename (chaos seed 60282)', () => {
    const l = new Ledger();
    l.replace('a', 'docs/a.tar.gz', null);
    l.write('a', 'docs/a.tar.gz', X, 1);
    // dev-a renames it to DOCS/ and back; dev-b, which had X there all along, edits it.
    l.replace('a', 'DOCS/a.tar.gz', null);
    l.movedFile('a', 'docs/a.tar.gz', 'DOCS/a.tar.gz', X, 2);
    l.replace('a', 'docs/a.tar.gz', null);
    l.movedFile('a', 'DOCS/a.tar.gz', 'docs/a.tar.gz', X, 3);
    l.replace('b', 'docs/a.tar.gz', X);
    l.write('b', 'docs/a.tar.gz', Y, 4);
    expect(l.concurrent.has('docs/a.tar.gz')).toBe(true);
    // A rename to a new name is no way back: an edit there builds on it.
    l.replace('a', 'new.txt', null);
    l.movedFile('a', 'docs/a.tar.gz', 'new.txt', Y, 5);
    l.replace('b', 'new.txt', Y);
    l.write('b', 'new.txt', X, 6);
    expect(l.concurrent.has('new.txt')).toBe(false);
  });

  it('drops a version its reader replaced', () => {
    const l = new Ledger();
    l.replace('a', 'f', null);
    l.write('a', 'f', X, 1);
    l.replace('b', 'f', X); // b had a's version on disk
    l.write('b', 'f', Y, 2);
    expect(l.live.map((v) => v.hash)).toEqual([Y]);
    expect(l.concurrent.has('f')).toBe(false);
  });

  // Chaos seed 23: b emptied a file, wrote to it, and emptied it again while a's edit of the
  // synced (empty) version was on its way: b's side ends where it began, a's edit wins.
  it('does not count a device undoing its own edit back to bytes the server had (chaos seed 23)', () => {
    const l = new Ledger();
    l.replace('b', 'f', null);
    l.write('b', 'f', EMPTY_HASH, 1);
    l.replace('a', 'f', EMPTY_HASH); // a synced b's empty file, then edited it
    l.write('a', 'f', X, 2);
    l.replace('b', 'f', EMPTY_HASH);
    l.write('b', 'f', Y, 3);
    l.replace('b', 'f', Y);
    l.write('b', 'f', EMPTY_HASH, 4);
    expect(l.reverts).toBe(1);
    expect(l.live.map((v) => `${v.device}:${v.hash[0]}`)).toEqual(['a:x']);
  });

  // Chaos seed 453 (npm run chaos -- --seed 453): b wrote an empty IMG_0001.JPG (step 41),
  // a synced it; in a burst (step 54) both wrote, b's write recorded first, so b's empty version
  // had left the live list when a's replace of it was recorded, and the ledger forgot that a's
  // empty bytes came from b through the server. a then truncated to 0 (step 57): back to its
  // synced version, unchanged three-way (docs/conflict-rules.md, "unchanged"), so b's next edit
  // rightly replaced it. The ledger reported a's empty version lost.
  it('does not count a revert whose synced bytes were written by another device that replaced them since (chaos seed 453)', () => {
    const l = new Ledger();
    l.replace('b', 'f', null);
    l.write('b', 'f', EMPTY_HASH, 41);
    // The burst: b's write is recorded first, then a's (a had b's empty file on disk).
    l.replace('b', 'f', EMPTY_HASH);
    l.write('b', 'f', Y, 54);
    l.replace('a', 'f', EMPTY_HASH);
    l.write('a', 'f', X, 54);
    l.replace('a', 'f', X);
    l.write('a', 'f', EMPTY_HASH, 57);
    expect(l.reverts).toBe(1);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual(['b:54']);
  });

  // Chaos seed 1038 (npm run chaos -- --seed 1038): a had b's empty 日本語.txt (synced), wrote
  // 1.5 MB over it, appended, then wrote it empty again before any of that went up: back to its
  // synced bytes, so b's delete rightly removed it (D4). Two edits in between, not one.
  it('does not count going back to the synced bytes after several edits of its own (chaos seed 1038)', () => {
    const l = new Ledger();
    l.replace('b', 'f', null);
    l.write('b', 'f', EMPTY_HASH, 3);
    l.replace('a', 'f', EMPTY_HASH); // a had b's empty file
    l.write('a', 'f', X, 6);
    l.replace('a', 'f', X);
    l.write('a', 'f', Y, 7);
    l.replace('a', 'f', Y);
    l.write('a', 'f', EMPTY_HASH, 8);
    expect(l.reverts).toBe(1);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual([]);
  });

  // Chaos seed 10549: a emptied b/naïve résumé.pdf, b synced that empty file; then, in a burst,
  // b emptied it again while a wrote 37 KB over it. b's file never changed, so a's edit rightly
  // replaced it (U5) and b's "version" never went up. The ledger reported it lost.
  it('does not count writing the synced bytes again as a version (chaos seed 10549)', () => {
    const l = new Ledger();
    l.replace('b', 'f', null);
    l.write('b', 'f', Y, 1);
    l.replace('a', 'f', Y); // a had b's file
    l.write('a', 'f', EMPTY_HASH, 15);
    // The burst: both devices at once, a's replace recorded before b's write.
    l.replace('a', 'f', EMPTY_HASH);
    l.replace('b', 'f', EMPTY_HASH); // b had a's empty file
    l.write('b', 'f', EMPTY_HASH, 16);
    l.write('a', 'f', X, 16);
    expect(l.reverts).toBe(1);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual(['a:16']);
  });

  // Chaos seed 8231 with --gc: a emptied b/IMG_0001.JPG (step 24), which reached the server
  // before b's rename of the folder b to B (step 25), so the empty version moved with the folder
  // (P9). a then wrote over B/IMG_0001.JPG, replacing its own empty version there; the ledger
  // kept looking for it at b/ and reported it lost.
  it('lets a write replace an empty version a folder rename carried to its path (chaos seed 8231)', () => {
    const l = new Ledger();
    l.replace('b', 'b/f', null);
    l.write('b', 'b/f', Y, 22);
    l.replace('a', 'b/f', Y);
    l.write('a', 'b/f', EMPTY_HASH, 24);
    l.dirMoved('b', 'b', 'B', 25);
    l.replace('a', 'B/f', EMPTY_HASH);
    l.write('a', 'B/f', X, 33);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual(['a:33']);
  });

  // Chaos seed 11103: a's empty Docs/Docs/Ünïcödé.log became a conflict copy beside b's version; b
  // renamed Docs to docs (the copy went along, P9), had the copy, and deleted docs/Docs with it.
  it('lets a delete remove an empty version\'s conflict copy that a folder rename carried (chaos seed 11103)', () => {
    const run = (deletedAt: string) => {
      const l = new Ledger();
      l.replace('a', 'Docs/Docs/Ünïcödé.log', null);
      l.write('a', 'Docs/Docs/Ünïcödé.log', EMPTY_HASH, 1);
      l.dirMoved('b', 'Docs', 'docs', 2);
      l.replace('b', deletedAt, EMPTY_HASH);
      return l.live.map((v) => `${v.device}:${v.step}`);
    };
    expect(run('docs/Docs/Ünïcödé (conflict from dev-a 2026-12-02 182821).log')).toEqual([]);
    // An empty file elsewhere is another one: deleting it leaves a's version live.
    expect(run('docs/Docs/other (conflict from dev-a 2026-12-02 182821).log')).toEqual(['a:1']);
  });

  // Chaos seed 60157 (--kinds): b's empty Docs/deep/data.bin was kept in a folder conflict copy
  // (U9) when a turned Docs/deep into a file; a then had the copy, and deleted it with Docs.
  it('lets a delete remove an empty version kept in a folder conflict copy (chaos seed 60157)', () => {
    const l = new Ledger();
    l.replace('b', 'Docs/deep/data.bin', null);
    l.write('b', 'Docs/deep/data.bin', EMPTY_HASH, 22);
    l.replace('a', 'Docs/deep (conflict from dev-b 2026-12-05 113402)/data.bin', EMPTY_HASH);
    expect(l.live).toEqual([]);
  });

  // Chaos seed 11278: a wrote an empty Ärger/café.txt; c renamed it to Ärger/CAFÉ.TXT; a, not
  // having pulled the rename, wrote one byte into café.txt: the edit follows the moved file (M2)
  // and replaces the moved empty version at CAFÉ.TXT.
  it('lets an edit under the old name replace the empty version another device renamed it to (chaos seed 11278)', () => {
    const run = (editor: string) => {
      const l = new Ledger();
      l.replace('a', 'Ärger/café.txt', null);
      l.write('a', 'Ärger/café.txt', EMPTY_HASH, 25);
      l.replace('c', 'Ärger/café.txt', EMPTY_HASH);
      l.deleted('c', 'Ärger/café.txt');
      l.replace('c', 'Ärger/CAFÉ.TXT', null);
      l.movedFile('c', 'Ärger/café.txt', 'Ärger/CAFÉ.TXT', EMPTY_HASH, 33);
      l.replace(editor, 'Ärger/café.txt', EMPTY_HASH);
      l.write(editor, 'Ärger/café.txt', X, 54);
      return l.live.map((v) => `${v.device}:${v.path}`);
    };
    expect(run('a')).toEqual(['a:Ärger/café.txt']);
    // The renamer's own edit of the old name is a new file there (P8), not that file: the moved version stays.
    expect(run('c')).toEqual(['c:Ärger/CAFÉ.TXT', 'c:Ärger/café.txt']);
  });

  // Chaos seed 40381 (--guard): c emptied its synced a.tar.gz and renamed it to café.txt before the
  // scan saw the write: a move of the synced bytes, then the edit (P2). b, having pulled the move
  // and not the edit, renamed café.txt to CAFÉ.TXT; c's edit followed it there (M2), and c's own
  // next write at CAFÉ.TXT replaced it. The ledger kept c's empty version at café.txt as lost.
  it('lets this device\'s edit carried by its own rename follow another device\'s rename of the new name (chaos seed 40381)', () => {
    const l = new Ledger();
    /** What the harness's rename records: the bytes moved away from `from`, onto nothing at `to`. */
    const renamed = (device: string, from: string, to: string, hash: string, step: number) => {
      l.replace(device, from, hash);
      l.deleted(device, from);
      l.replace(device, to, null);
      l.movedFile(device, from, to, hash, step);
    };
    l.replace('a', 'a.tar.gz', null);
    l.write('a', 'a.tar.gz', X, 2);
    l.replace('c', 'a.tar.gz', X);
    l.write('c', 'a.tar.gz', EMPTY_HASH, 9);
    renamed('c', 'a.tar.gz', 'café.txt', EMPTY_HASH, 11);
    renamed('b', 'café.txt', 'CAFÉ.TXT', X, 13);
    l.replace('c', 'CAFÉ.TXT', EMPTY_HASH);
    l.write('c', 'CAFÉ.TXT', Y, 15);
    expect(l.live.map((v) => `${v.device}:${v.path}`)).toEqual(['c:CAFÉ.TXT']);
  });

  // Chaos seed 11421: the same through a folder rename: c's empty Ärger/naïve résumé.pdf, b renamed
  // Ärger to deep/ü, a appended to the file under its old name (the server moved a's edit along, P9).
  it('lets an edit under the old name replace the empty version a folder rename carried elsewhere (chaos seed 11421)', () => {
    const l = new Ledger();
    l.replace('c', 'Ärger/naïve résumé.pdf', null);
    l.write('c', 'Ärger/naïve résumé.pdf', EMPTY_HASH, 14);
    l.dirMoved('b', 'Ärger', 'deep/ü', 18);
    l.replace('b', 'deep/ü/naïve résumé.pdf', null);
    l.movedFile('b', 'Ärger/naïve résumé.pdf', 'deep/ü/naïve résumé.pdf', EMPTY_HASH, 18);
    l.replace('a', 'Ärger/naïve résumé.pdf', EMPTY_HASH);
    l.write('a', 'Ärger/naïve résumé.pdf', X, 21);
    expect(l.live.map((v) => `${v.device}:${v.path}`)).toEqual(['a:Ärger/naïve résumé.pdf']);
  });

  // Chaos seed 11611: c wrote Ärger/data.bin and renamed it to IMG_0001.JPG; b had appended to
  // data.bin, and that edit followed the rename (M2); a, with c's bytes at IMG_0001.JPG, renamed
  // the folder: those bytes are b's edit's base, not a version of a's own.
  it('a file renamed whose bytes another device edited under an earlier name is that edit\'s base (chaos seed 11611)', () => {
    const l = new Ledger();
    l.replace('c', 'Ärger/data.bin', null);
    l.write('c', 'Ärger/data.bin', X, 0);
    l.replace('b', 'Ärger/data.bin', X);
    l.write('b', 'Ärger/data.bin', Y, 1);
    l.replace('c', 'Ärger/IMG_0001.JPG', null);
    l.movedFile('c', 'Ärger/data.bin', 'Ärger/IMG_0001.JPG', X, 2);
    l.dirMoved('a', 'Ärger', 'ärger', 9);
    l.replace('a', 'ärger/IMG_0001.JPG', null);
    l.movedFile('a', 'Ärger/IMG_0001.JPG', 'ärger/IMG_0001.JPG', X, 9);
    expect(l.live.filter((v) => v.device === 'a')).toEqual([]);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toContain('b:1');
  });

  // Chaos seed 10605: c's new .hidden went up empty, caught between its creation and its first
  // write; b pulled that empty file and renamed it to café.txt; c's write of .hidden, built on the
  // empty version, followed the rename and replaced it there (M2). No user wrote those bytes.
  it('does not count a rename of an empty file no user wrote there (chaos seed 10605)', () => {
    const l = new Ledger();
    l.replace('c', 'a/.hidden', null);
    l.write('c', 'a/.hidden', X, 14);
    l.replace('b', 'a/.hidden', EMPTY_HASH); // what b pulled: c's file caught being written
    l.deleted('b', 'a/.hidden');
    l.replace('b', 'a/café.txt', null);
    l.movedFile('b', 'a/.hidden', 'a/café.txt', EMPTY_HASH, 16);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual(['c:14']);
  });

  it('still counts a rename of an empty file a user wrote', () => {
    const l = new Ledger();
    l.replace('c', 'a/.hidden', null);
    l.write('c', 'a/.hidden', EMPTY_HASH, 14);
    l.replace('b', 'a/.hidden', EMPTY_HASH);
    l.deleted('b', 'a/.hidden');
    l.replace('b', 'a/café.txt', null);
    l.movedFile('b', 'a/.hidden', 'a/café.txt', EMPTY_HASH, 16);
    expect(l.live.map((v) => `${v.device}:${v.path}`)).toEqual(['b:a/café.txt']);
  });

  // Gate seed 2 on a CI run: an empty conflict copy of a/ünïcödé.log, a file another device's
  // agent caught being written (it went up empty); no user wrote an empty file there. Invariant 3
  // lets such an empty copy be, and only such a one.
  it('knows whether a user wrote given bytes at a path or at a name it had before a folder rename', () => {
    const l = new Ledger();
    l.replace('a', 'a/x.log', null);
    l.write('a', 'a/x.log', X, 50);
    expect(l.userWrote('a/x.log', EMPTY_HASH)).toBe(false);
    expect(l.userWrote('a/x.log', X)).toBe(true);
    l.replace('b', 'd/e.txt', null);
    l.write('b', 'd/e.txt', EMPTY_HASH, 51);
    l.dirMoved('a', 'd', 'D', 52);
    expect(l.userWrote('D/e.txt', EMPTY_HASH)).toBe(true);
  });

  it('still counts writing again bytes no other device ever had', () => {
    const l = new Ledger();
    l.replace('b', 'f', null);
    l.write('b', 'f', X, 1);
    l.replace('b', 'f', X);
    l.write('b', 'f', X, 2);
    expect(l.reverts).toBe(0);
  });

  // Chaos seed 19545 (npm run chaos -- --seed 19545 --ops 60 --devices 3): a wrote data.bin
  // empty, then X; c's Y came through the server; a wrote it empty again, an edit of Y. c renamed
  // its Y to DATA.BIN, and a's edit followed the rename (M2), replacing Y there. The ledger took
  // a's write for a going back to its own empty bytes (no version, nothing built on Y), and
  // reported c's Y at DATA.BIN lost.
  it('counts going back to earlier bytes over a version from elsewhere as an edit of it (chaos seed 19545)', () => {
    const l = new Ledger();
    l.replace('a', 'f', null);
    l.write('a', 'f', EMPTY_HASH, 27);
    l.replace('c', 'f', EMPTY_HASH);
    l.write('c', 'f', Y, 36);
    l.replace('a', 'f', EMPTY_HASH);
    l.write('a', 'f', X, 31);
    l.replace('a', 'f', Y); // c's Y reached a
    l.write('a', 'f', EMPTY_HASH, 52);
    expect(l.reverts).toBe(0);
    l.replace('c', 'f', Y);
    l.replace('c', 'F', null);
    l.movedFile('c', 'f', 'F', Y, 54);
    // c's rename makes no version of its own at F: it is the base a's edit replaced there.
    expect(l.live.map((v) => `${v.device}:${v.path}:${v.step}`)).toEqual(['a:f:31', 'a:f:52']);
  });

  it('still counts going back to bytes no other device ever had', () => {
    const l = new Ledger();
    l.replace('b', 'f', null);
    l.write('b', 'f', X, 1);
    l.replace('b', 'f', X);
    l.write('b', 'f', Y, 2);
    l.replace('b', 'f', Y);
    l.write('b', 'f', X, 3);
    expect(l.reverts).toBe(0);
    expect(l.live.map((v) => v.step)).toEqual([3]);
  });

  // Chaos seed 1016 (npm run chaos -- --seed 1016 --ops 60 --devices 3): c wrote Ärger/x (step
  // 26), it reached the server; c deleted the whole folder (step 41), a delete the bulk-delete
  // hold and a kill kept on c for ten seconds; b, restarted after a kill, had never had c's x
  // and wrote its own (step 43) while its pull was placing c's. The new file met c's version: a
  // conflict copy of b's bytes, then c's delete removed c's version (docs/conflict-rules.md,
  // after U8). The ledger took b's write for one made after c's delete and the copy for spurious.
  /** `writer` writes f, `deleter` (having those bytes) deletes it, `creator` writes a new f. */
  const writeDeleteCreate = (writer: string, deleter: string, creator: string): Ledger => {
    const l = new Ledger();
    l.replace(writer, 'f', null);
    l.write(writer, 'f', X, 26);
    l.replace(deleter, 'f', X);
    l.deleted(deleter, 'f');
    l.replace(creator, 'f', null);
    l.write(creator, 'f', Y, 43);
    return l;
  };

  it('counts a new file at a path another device deleted bytes of, bytes this device never had, as concurrent (chaos seed 1016)', () => {
    const l = writeDeleteCreate('c', 'c', 'b');
    expect(l.concurrent.has('f')).toBe(true);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual(['b:43']);
  });

  it('does not count a new file after a delete of bytes the device had as concurrent', () => {
    // Its own bytes, deleted by another device.
    expect(writeDeleteCreate('b', 'c', 'b').concurrent.has('f')).toBe(false);
    // Bytes it had on disk: it edited another device's version, which that device then deleted.
    const l = new Ledger();
    const edit = (device: string, before: string | null, after: string) => (l.replace(device, 'f', before), l.write(device, 'f', after, 1));
    edit('c', null, X);
    edit('b', X, Y);
    l.replace('c', 'f', Y);
    l.deleted('c', 'f');
    edit('b', null, X); // b saw the delete, then wrote a new file
    expect(l.concurrent.has('f')).toBe(false);
  });

  // Chaos seed 3018 (npm run chaos -- --seed 3018 --ops 60 --devices 3): a wrote an empty
  // Ärger/Ärger/Notes.txt (step 2) and, while its upload waited out faults, wrote over it twice
  // (steps 3 and 6). b, with a file of its own there, wrote it empty at step 6, and b's empty
  // file reached the server first. a's upload of its empty file was answered with b's revision
  // (the same bytes) and a's next version was built on it, replacing it: three-way, b's bytes
  // were the base (docs/conflict-rules.md, "same content"). The ledger reported b's empty lost.
  /** Plays edits of 'f' (device, the bytes it replaced, the bytes it wrote) in order. */
  const play = (edits: Array<[string, string | null, string]>): Ledger => {
    const l = new Ledger();
    edits.forEach(([device, before, after], step) => (l.replace(device, 'f', before), l.write(device, 'f', after, step)));
    return l;
  };

  it('does not count a new file with bytes another device had at the path and built on (chaos seed 3018)', () => {
    // a: empty, then its own edit; b: a new file of its own, then written empty.
    const l = play([['a', null, EMPTY_HASH], ['a', EMPTY_HASH, X], ['b', null, Y], ['b', Y, EMPTY_HASH]]);
    expect(l.sameAsBuiltOn).toBe(1);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual(['a:1']);
  });

  // Chaos seed 18488: b wrote an empty a/data.bin; a, with it, wrote over it and renamed a to
  // Ärger/photos. The server moved the empty file there, and a's edit went up on it. b, not yet
  // pulled, wrote a new empty Ärger/photos/data.bin: the pull found it the same as the moved
  // revision (U4), and a's edit then replaced it, rightly. The ledger looked at the path only.
  it('does not count a new file with bytes another device built on under the path\'s name before a folder rename (chaos seed 18488)', () => {
    const l = new Ledger();
    l.replace('b', 'a/data.bin', null);
    l.write('b', 'a/data.bin', EMPTY_HASH, 0);
    l.replace('a', 'a/data.bin', EMPTY_HASH);
    l.write('a', 'a/data.bin', X, 5);
    l.dirMoved('a', 'a', 'Ärger/photos', 6);
    l.replace('b', 'Ärger/photos/data.bin', null);
    l.write('b', 'Ärger/photos/data.bin', EMPTY_HASH, 7);
    expect(l.sameAsBuiltOn).toBe(1);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual(['a:5']);
    // Bytes nobody built on under any earlier name stay a version of their own.
    l.replace('b', 'Ärger/photos/other', null);
    l.write('b', 'Ärger/photos/other', EMPTY_HASH, 8);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual(['a:5', 'b:8']);
  });

  it('still counts an edit of a synced version to bytes another device built on before', () => {
    // b had a's empty file and edited it; a had b's edit and emptied it: a version of its own.
    const l = play([['a', null, EMPTY_HASH], ['b', EMPTY_HASH, X], ['a', X, EMPTY_HASH]]);
    expect(l.sameAsBuiltOn).toBe(0);
    expect(l.live.map((v) => `${v.device}:${v.step}`)).toEqual(['a:2']);
  });
});

// Chaos --kinds (seeds 60001 and 60008): one device turned a folder into a file while another
// wrote into it. The pull keeps the loser as a conflict copy: a file copy of the path (DU6), or
// the whole folder under a copy's name (U9), with the other device's file inside.
describe('kind changes (chaos --kinds)', () => {
  const X = 'a'.repeat(64);

  it('finds a version kept in a copy of its file or of a folder above it (seed 60008)', () => {
    const copy = (name: string) => `${name} (conflict from dev-a 2026-12-05 053152)`;
    expect(keptAsCopyOf('Ärger/ärger/Notes.txt', `Ärger/${copy('ärger')}/Notes.txt`)).toBe(true);
    expect(keptAsCopyOf('b/x.txt', 'b/x (conflict from dev-a 2026-12-05 053152).txt')).toBe(true);
    expect(keptAsCopyOf('b/c/x.txt', `${copy('b')}/c/x (conflict from dev-a 2026-12-05 053152).txt`)).toBe(true);
    // Refused: the path itself, another name, another folder.
    expect(keptAsCopyOf('b/x.txt', 'b/x.txt')).toBe(false);
    expect(keptAsCopyOf('b/x.txt', 'b/y.txt')).toBe(false);
    expect(keptAsCopyOf('b/x.txt', `${copy('c')}/x.txt`)).toBe(false);
  });

  it('a write below a path another device turned into the other kind is concurrent with it, in either order (seed 60001)', () => {
    const before = new Ledger();
    before.replace('c', 'b/docs/x', null);
    before.write('c', 'b/docs/x', X, 1);
    before.kindChanged('a', 'b', 'file');
    expect(before.concurrent.has('b')).toBe(true);
    const after = new Ledger();
    after.kindChanged('a', 'b', 'file');
    after.replace('c', 'b/docs/x', null);
    after.write('c', 'b/docs/x', X, 2);
    expect(after.concurrent.has('b')).toBe(true);
    // The device's own writes below its own kind change meet nothing.
    const own = new Ledger();
    own.kindChanged('a', 'b', 'file');
    own.replace('a', 'b/x', null);
    own.write('a', 'b/x', X, 3);
    expect(own.concurrent.has('b')).toBe(false);
  });

  // Chaos seed 60039: b emptied Ärger/notes.txt; a, with that version, turned the file into a
  // folder; b, not yet pulled, renamed Ärger to ärger, carrying the empty file. The server moved
  // a's folder to ärger/notes.txt and b's pull rightly took the synced, unchanged file away (DU4).
  it('a file another device turned into a folder, then carried by a folder rename, is no version of its own (chaos seed 60039)', () => {
    const l = new Ledger();
    l.replace('b', 'Ärger/notes.txt', null);
    l.write('b', 'Ärger/notes.txt', EMPTY_HASH, 8);
    l.replace('a', 'Ärger/notes.txt', EMPTY_HASH);
    l.deleted('a', 'Ärger/notes.txt');
    l.kindChanged('a', 'Ärger/notes.txt', 'file');
    l.dirMoved('b', 'Ärger', 'ärger', 32);
    l.replace('b', 'Ärger/notes.txt', EMPTY_HASH);
    l.deleted('b', 'Ärger/notes.txt');
    l.replace('b', 'ärger/notes.txt', null);
    l.movedFile('b', 'Ärger/notes.txt', 'ärger/notes.txt', EMPTY_HASH, 32);
    expect(l.live.filter((v) => v.path === 'ärger/notes.txt')).toEqual([]);
    // The same rename of a file nobody turned into anything is a version at its new name.
    const plain = new Ledger();
    plain.replace('b', 'Ärger/notes.txt', null);
    plain.write('b', 'Ärger/notes.txt', X, 8);
    plain.dirMoved('b', 'Ärger', 'ärger', 32);
    plain.replace('b', 'Ärger/notes.txt', X);
    plain.deleted('b', 'Ärger/notes.txt');
    plain.replace('b', 'ärger/notes.txt', null);
    plain.movedFile('b', 'Ärger/notes.txt', 'ärger/notes.txt', X, 32);
    expect(plain.live.map((v) => v.path)).toContain('ärger/notes.txt');
  });
});
