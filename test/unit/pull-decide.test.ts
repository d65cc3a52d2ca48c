import { describe, expect, it } from 'vitest';
import { decide, needsHash, type BaseState, type DecideInput, type LocalState, type RemoteState } from '../../main/engine/pull/decide';
import { isOwnInFlight, replacedByPull, type PendingRef } from '../../main/engine/pull/store-port';

const R1 = '1';
const R2 = '2';
const A = ['a'.repeat(64)];
const B = ['b'.repeat(64)];
const C = ['c'.repeat(64)];

const remoteUp = (revision = R2, blocks = B): RemoteState => ({ revision, deleted: false, size: 10, blocks });
const remoteDel = (revision: string | null = R2): RemoteState => ({ revision, deleted: true, size: 0, blocks: [] });
const base = (over: Partial<BaseState> = {}): BaseState => ({ kind: 'file', syncedRevision: R1, size: 10, mtimeMs: 1000, inode: 7, blocks: A, ...over });
const file = (blocks: readonly string[] | null, over: Partial<{ size: number; mtimeMs: number; inode: number }> = {}): LocalState => ({
  type: 'file',
  size: 10,
  mtimeMs: 1000,
  inode: 7,
  blocks,
  ...over,
});
const absent: LocalState = { type: 'absent' };
const edited = (blocks: readonly string[]) => file(blocks, { mtimeMs: 2000 });

const rule = (input: Partial<DecideInput> & Pick<DecideInput, 'remote'>) => {
  const a = decide({ base: undefined, local: absent, pending: null, ...input });
  return `${a.kind}/${a.rule}`;
};

describe('decide: our own commit still in flight', () => {
  it('O1 skips it whatever the local side holds (upsert, delete, directory); the pusher records it', () => {
    expect(rule({ remote: remoteUp(), base: base(), local: edited(C), pending: 'upsert', ownInFlight: true })).toBe('skip/O1');
    expect(rule({ remote: remoteDel(), base: base(), local: absent, pending: 'delete', ownInFlight: true })).toBe('skip/O1');
    expect(rule({ remote: { ...remoteUp(), kind: 'dir' }, local: absent, pending: 'upsert', ownInFlight: true })).toBe('skip/O1');
  });
  it('without it the same situation is a conflict (U6)', () => {
    expect(rule({ remote: remoteUp(), base: base(), local: edited(C), pending: 'upsert' })).toBe('conflict-copy-then-download/U6');
  });
});

// Chaos seed 18086: this device's create was in flight (its answer in a persisted async task,
// polled after a restart) when the pull met another device's edit built on it.
// Found by a new-user try (two devices writing one file every 0.3 s): an upload waited in flight on
// a retry; the pull kept the user's newer bytes as a conflict copy and placed the other device's
// version. The next remote change met the in-flight row and took the placed version for this
// device's change: a second copy, named after this device, held the other device's bytes.
describe('decide: an upload whose bytes the pull has replaced at the path since (while it was in flight)', () => {
  it('is no change of the file here: the next change downloads over the placed version (U5), a delete removes it (D4)', () => {
    const unchanged = file(A);
    expect(rule({ remote: remoteUp(), base: base(), local: unchanged, pending: 'upsert', pendingReplaced: true })).toBe('download/U5');
    expect(rule({ remote: remoteDel(), base: base(), local: unchanged, pending: 'upsert', pendingReplaced: true })).toBe('delete-local/D4');
  });

  it('without it, a conflict copy of the placed version (U6) and a re-upload of it (D5); a file written since is still changed', () => {
    expect(rule({ remote: remoteUp(), base: base(), local: file(A), pending: 'upsert' })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: remoteDel(), base: base(), local: file(A), pending: 'upsert' })).toBe('reupload-local/D5');
    expect(rule({ remote: remoteUp(), base: base(), local: edited(C), pending: 'upsert', pendingReplaced: true })).toBe('conflict-copy-then-download/U6');
    // Decided on bytes alone (found by review): a same-size edit within the mtime step, or bytes not read, are changed.
    expect(rule({ remote: remoteUp(), base: base(), local: file(C), pending: 'upsert', pendingReplaced: true })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: remoteDel(), base: base(), local: file(null), pending: 'upsert', pendingReplaced: true })).toBe('reupload-local/D5');
  });

  it('is told by the upload\'s bytes differing from what the index records there', () => {
    const inFlight = (blocks: readonly string[] | null, over: Partial<PendingRef> = {}): PendingRef => ({ id: 1, op: 'upsert', generation: 3, baseRevision: R1, moveFrom: null, inFlight: true, sending: null, kind: 'file', blocks, ...over });
    const indexed = { kind: 'file' as const, syncedRevision: R2, blocks: B };
    expect(replacedByPull(inFlight(A), indexed)).toBe(true);
    // Let go of by its answer (a conflict parks it, a done one rebases what waited behind): still not here.
    expect(replacedByPull(inFlight(A, { inFlight: false }), indexed)).toBe(true);
    // The bytes the index records (the user's own edit: the scanner writes both), a move, a delete, blocks unknown, nothing synced: a change as ever.
    expect(replacedByPull(inFlight(B), indexed)).toBe(false);
    expect(replacedByPull(inFlight(null), indexed)).toBe(false);
    expect(replacedByPull(inFlight(A, { moveFrom: 'old' }), indexed)).toBe(false);
    expect(replacedByPull(inFlight(null, { op: 'delete' }), indexed)).toBe(false);
    expect(replacedByPull(inFlight(A), { ...indexed, syncedRevision: null })).toBe(false);
    expect(replacedByPull(null, indexed)).toBe(false);
  });
});

describe('decide: another device\'s change while our upload of the same bytes is in flight (O3)', () => {
  it('waits, for an upsert and for a delete: the answer says whether the remote change is built on our commit', () => {
    expect(rule({ remote: remoteUp(), local: file(A), pending: 'upsert', sentHere: true })).toBe('wait/O3');
    expect(rule({ remote: remoteDel(), local: file(A), pending: 'upsert', sentHere: true })).toBe('wait/O3');
  });
  it('without it, a conflict copy of our own bytes (U6) and a re-upload of a file another device deleted (D3)', () => {
    expect(rule({ remote: remoteUp(), local: file(A), pending: 'upsert' })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: remoteDel(), local: file(A), pending: 'upsert' })).toBe('reupload-local/D3');
  });
  it('never for our own commit (O1 decides it), nor for what we already have (U1)', () => {
    expect(rule({ remote: remoteUp(), base: base(), local: file(A), pending: 'upsert', sentHere: true, own: true, ownInFlight: true })).toBe('skip/O1');
    expect(rule({ remote: remoteUp(R1), base: base(), local: file(A), pending: 'upsert', sentHere: true })).toBe('skip/U1');
  });
});

// Chaos seed 19529: b renamed `b` to `B`, then edited `B/Ärger/IMG_0001.JPG`; the pull saw the
// move land before its answer had moved b's base to the entry's new revision (P9).
describe('decide: an entry our own folder move carried, its answer not in (O4)', () => {
  const carried = (over: Partial<DecideInput>) => rule({ remote: { ...remoteUp(R2, A), movedFrom: 'b/x' }, base: base(), own: true, carriedByOwnMove: true, ...over });
  it('waits when the file here is not those bytes: edited (scanned or not), deleted, or a folder now', () => {
    expect(carried({ local: edited(C) })).toBe('wait/O4');
    expect(carried({ local: edited(C), pending: 'upsert', pendingBase: R1 })).toBe('wait/O4');
    expect(carried({ local: absent, pending: 'delete', pendingBase: R1 })).toBe('wait/O4');
    expect(carried({ local: { type: 'dir', empty: false }, pending: 'upsert' })).toBe('wait/O4');
  });
  it('records the same bytes at once (U4), and leaves what it already has (U1)', () => {
    expect(carried({ local: file(A) })).toBe('record-only/U4');
    expect(carried({ remote: { ...remoteUp(R1, A), movedFrom: 'b/x' }, local: edited(C) })).toBe('skip/U1');
  });
  it('without it, an edit made since the rename is a conflict copy of itself (U6)', () => {
    expect(rule({ remote: { ...remoteUp(R2, A), movedFrom: 'b/x' }, base: base(), own: true, local: edited(C) })).toBe('conflict-copy-then-download/U6');
  });
});

describe('decide: our own commit landed, its answer lost, the file changed again (chaos seed 1029)', () => {
  it('O2 skips it when the queued upload builds on the synced revision (the pull rebases it on our commit)', () => {
    expect(rule({ remote: remoteUp(), base: base(), local: edited(C), pending: 'upsert', pendingBase: R1, own: true })).toBe('skip/O2');
  });
  it('refuses it when anything says another version came between: the usual rows decide', () => {
    // Not ours: another device's edit against the user's queued change.
    expect(rule({ remote: remoteUp(), base: base(), local: edited(C), pending: 'upsert', pendingBase: R1 })).toBe('conflict-copy-then-download/U6');
    // The queued upload builds on another revision than the synced one (a download since, a copy made).
    expect(rule({ remote: remoteUp(), base: base(), local: edited(C), pending: 'upsert', pendingBase: null, own: true })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: remoteUp(), base: base({ syncedRevision: '0' }), local: edited(C), pending: 'upsert', pendingBase: R1, own: true })).toBe('conflict-copy-then-download/U6');
    // Nothing queued: a local change the scanner has not seen is no upload to rebase.
    expect(rule({ remote: remoteUp(), base: base(), local: edited(C), pending: null, own: true })).toBe('conflict-copy-then-download/U6');
    // A queued delete is not rebased by O2 (the local file is there again: the scanner decides).
    expect(rule({ remote: remoteUp(), base: base(), local: edited(C), pending: 'delete', pendingBase: R1, own: true })).toBe('conflict-copy-then-download/U6');
  });
  // Chaos seed 8001 (--disk-full): dev-b renamed `a` to `A` while dev-a's edit of
  // `a/Ärger/a.tar.gz` had just landed; the server's move carried dev-a's bytes to
  // `A/Ärger/a.tar.gz` under dev-b's name. dev-b's own next version of the file, queued on the
  // revision dev-b had synced, was rebased on that entry (O2) and overwrote dev-a's edit unseen.
  it("chaos seed 8001: refuses O2 for an entry a move carried unless the queued item is that move: the other device's bytes are kept (U6)", () => {
    const carried = { ...remoteUp(), movedFrom: 'a/Ärger/a.tar.gz' };
    expect(rule({ remote: carried, base: base(), local: edited(C), pending: 'upsert', pendingBase: R1, own: true })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: carried, base: base(), local: edited(C), pending: 'upsert', pendingBase: R1, own: true, pendingMoveFrom: 'a/other' })).toBe('conflict-copy-then-download/U6');
    // The queued item is that very move (its answer lost): the server checked its base, O2 holds.
    expect(rule({ remote: carried, base: base(), local: edited(C), pending: 'upsert', pendingBase: R1, own: true, pendingMoveFrom: 'a/Ärger/a.tar.gz' })).toBe('skip/O2');
  });
  // Chaos seed 4035: a new file's upload (no base) landed, its answer lost; the user wrote it again.
  it('O2 also skips it for a new file: no synced revision and a queued upload on no base (chaos seed 4035)', () => {
    expect(rule({ remote: remoteUp(), base: base({ syncedRevision: null }), local: edited(C), pending: 'upsert', pendingBase: null, own: true })).toBe('skip/O2');
    expect(rule({ remote: remoteUp(), local: edited(C), pending: 'upsert', pendingBase: null, own: true })).toBe('skip/O2');
    // Refused: another device's commit at the path.
    expect(rule({ remote: remoteUp(), local: edited(C), pending: 'upsert', pendingBase: null })).toBe('conflict-copy-then-download/U6');
  });
  // Found by review: an edit's answer lost, then the file deleted and made again (the upload took
  // the delete's base, S22), or a file move's answer lost. The index names no revision; the queued
  // change's base is the one this device's push went on, and our commit is the server's newest.
  it('O2 also skips it when the index names no revision and the queued change carries the base our push went on', () => {
    expect(rule({ remote: remoteUp(), base: base({ syncedRevision: null }), local: edited(C), pending: 'upsert', pendingBase: R1, own: true })).toBe('skip/O2');
    expect(rule({ remote: remoteUp(), local: edited(C), pending: 'upsert', pendingBase: R1, own: true })).toBe('skip/O2');
    // A file move landing, with the move still queued (its answer lost) and an edit behind it.
    const moved = { ...remoteUp(), movedFrom: 'F.txt' };
    expect(rule({ remote: moved, base: base({ syncedRevision: null }), local: edited(C), pending: 'upsert', pendingBase: R1, own: true, pendingMoveFrom: 'F.txt' })).toBe('skip/O2');
    // Refused: a move's row for a commit that is not that move; another device's commit.
    expect(rule({ remote: remoteUp(), base: base({ syncedRevision: null }), local: edited(C), pending: 'upsert', pendingBase: R1, own: true, pendingMoveFrom: 'F.txt' })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: remoteUp(), base: base({ syncedRevision: null }), local: edited(C), pending: 'upsert', pendingBase: R1 })).toBe('conflict-copy-then-download/U6');
  });
  // Found by review: a kind change after our own commit whose answer was lost; U7/DU4 skipped it
  // and the queued upload of the new kind conflicted at every recheck.
  it('O2 also skips our own commit when the user turned the path into the other kind since', () => {
    const folder: LocalState = { type: 'dir', empty: false };
    expect(rule({ remote: remoteUp(), base: base({ kind: 'dir' }), local: folder, pending: 'upsert', pendingBase: R1, own: true })).toBe('skip/O2');
    expect(rule({ remote: { ...remoteUp(), kind: 'dir' }, local: edited(C), pending: 'upsert', pendingBase: null, own: true })).toBe('skip/O2');
    // Refused: another device's commit (the folder, a change of it queued, is kept as a copy), or
    // nothing queued (our own new file there is kept as a copy).
    expect(rule({ remote: remoteUp(), base: base({ kind: 'dir' }), local: folder, pending: 'upsert', pendingBase: R1 })).toBe('dir-copy-then-download/U9');
    expect(rule({ remote: { ...remoteUp(), kind: 'dir' }, local: edited(C), pending: null, own: true })).toBe('conflict-copy-then-dir/DU6');
  });
  // Chaos seed 11715: a new file's batch was taken by the server as it was killed and run at its
  // restart; the answer never came, and the user moved the file away (its folder renamed). The
  // delete of the old path, queued on no base, met the landed create; downloaded (U2), the file
  // came back at its old path, and the folder's delete behind it conflicted for ever.
  it('chaos seed 11715: O2 skips our own create when the path is gone here and its delete is queued on what the index synced', () => {
    expect(rule({ remote: remoteUp(), local: absent, pending: 'delete', pendingBase: null, own: true })).toBe('skip/O2');
    expect(rule({ remote: { ...remoteUp(), kind: 'dir' }, local: absent, pending: 'delete', pendingBase: null, own: true })).toBe('skip/O2');
    // A delete on a revision while the index names none (the user deleted the file after an edit
    // whose answer was lost; found by review): the same, it goes on our commit.
    expect(rule({ remote: remoteUp(), local: absent, pending: 'delete', pendingBase: '0', own: true })).toBe('skip/O2');
    // Refused: another device's create (U2 brings it), a delete on a revision other than the one
    // the index still names, the file here again, a move's entry for another row.
    expect(rule({ remote: remoteUp(), local: absent, pending: 'delete', pendingBase: null })).toBe('download/U2');
    expect(rule({ remote: remoteUp(), base: base(), local: absent, pending: 'delete', pendingBase: '0', own: true })).toBe('download/U3');
    expect(rule({ remote: remoteUp(), local: edited(C), pending: 'delete', pendingBase: null, own: true })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: { ...remoteUp(), movedFrom: 'x' }, local: absent, pending: 'delete', pendingBase: null, own: true })).toBe('download/U2');
  });
  it('leaves the rows before it first: same content is recorded (U4), already synced is skipped (U1)', () => {
    expect(rule({ remote: remoteUp(R2, C), base: base(), local: edited(C), pending: 'upsert', pendingBase: R1, own: true })).toBe('record-only/U4');
    expect(rule({ remote: remoteUp(R1), base: base(), local: edited(C), pending: 'upsert', pendingBase: R1, own: true })).toBe('skip/U1');
  });
});

describe('decide: remote upsert', () => {
  // Chaos seed 300: the user deleted a synced file (the scanner dropped its row and queued the
  // delete), the agent was killed before the pull stored its token, and the pull read the same
  // revision again: U2 downloaded it and the deleted file was back.
  it('U1 also skips the very revision a queued delete removes (chaos seed 300)', () => {
    expect(rule({ remote: remoteUp(R1), local: absent, pending: 'delete', pendingBase: R1 })).toBe('skip/U1');
    expect(rule({ remote: { ...remoteUp(R1), kind: 'dir' }, local: absent, pending: 'delete', pendingBase: R1 })).toBe('skip/DU1');
    // A newer remote revision than the one deleted is a remote change: restored (U3 needs the row; U2 here).
    expect(rule({ remote: remoteUp(R2), local: absent, pending: 'delete', pendingBase: R1 })).toBe('download/U2');
  });
  // Chaos seed 10993: dev-a uploaded docs/x (r1), then renamed it to deep/x (a move queued on r1).
  // The pull read its own commit of docs/x after the rename: the path absent, no index row there
  // (it went to deep/x with the file), so U2 downloaded it and the moved file came back twice.
  it('U1 also skips the very revision a queued move takes away from the path (chaos seed 10993)', () => {
    expect(rule({ remote: remoteUp(R1), local: absent, pending: null, movedAwayBase: R1 })).toBe('skip/U1');
    expect(rule({ remote: { ...remoteUp(R1), kind: 'dir' }, local: absent, pending: null, movedAwayBase: R1 })).toBe('skip/DU1');
    // Another device's newer version of the old path is its edit: restored there (the move will be refused, P8).
    expect(rule({ remote: remoteUp(R2), local: absent, pending: null, movedAwayBase: R1 })).toBe('download/U2');
  });
  it('U1 skips a revision already synced (the echo of our own push)', () => {
    expect(rule({ remote: remoteUp(R1), base: base(), local: edited(C) })).toBe('skip/U1');
  });
  it('U2 downloads a path that is absent and never synced', () => {
    expect(rule({ remote: remoteUp() })).toBe('download/U2');
    expect(rule({ remote: remoteUp(), base: base({ syncedRevision: null }) })).toBe('download/U2');
  });
  it('U3 restores the remote version over a local delete', () => {
    expect(rule({ remote: remoteUp(), base: base(), pending: 'delete' })).toBe('download/U3');
    expect(rule({ remote: remoteUp(), base: base() })).toBe('download/U3');
  });
  it('U4 only records identical content, even when both sides changed', () => {
    expect(rule({ remote: remoteUp(R2, C), base: base(), local: edited(C), pending: 'upsert' })).toBe('record-only/U4');
    expect(rule({ remote: remoteUp(R2, C), local: file(C) })).toBe('record-only/U4');
  });
  it('U4 needs the same size too', () => {
    expect(rule({ remote: { ...remoteUp(R2, C), size: 11 }, local: file(C) })).not.toBe('record-only/U4');
  });
  it('U5 overwrites a local file unchanged since the last sync (by stat or by blocks)', () => {
    expect(rule({ remote: remoteUp(), base: base(), local: file(A) })).toBe('download/U5');
    expect(rule({ remote: remoteUp(), base: base(), local: file(A, { mtimeMs: 5 }) })).toBe('download/U5');
  });
  it('U6 keeps both when the local file changed or is new', () => {
    expect(rule({ remote: remoteUp(), base: base(), local: edited(C) })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: remoteUp(), base: base(), local: file(A), pending: 'upsert' })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: remoteUp(), local: file(C) })).toBe('conflict-copy-then-download/U6');
    expect(rule({ remote: remoteUp(), base: base({ syncedRevision: null }), local: file(A) })).toBe('conflict-copy-then-download/U6');
    // Unknown blocks (the file was being written) are never "unchanged".
    expect(rule({ remote: remoteUp(), base: base(), local: edited(null as never) })).toBe('conflict-copy-then-download/U6');
  });
  it('U9 keeps a folder the server never had as a copy; U8 skips symlinks and special files', () => {
    expect(rule({ remote: remoteUp(), local: { type: 'dir', empty: true } })).toBe('dir-copy-then-download/U9');
    expect(rule({ remote: remoteUp(), local: { type: 'other', what: 'symlink' } })).toBe('skip/U8');
  });
});

describe('decide: remote delete', () => {
  it('D1 skips a tombstone already synced', () => {
    expect(rule({ remote: remoteDel(R1), base: base(), local: file(A) })).toBe('skip/D1');
  });
  it('D2 records a delete of something already gone', () => {
    expect(rule({ remote: remoteDel() })).toBe('record-only/D2');
    expect(rule({ remote: remoteDel(), base: base(), pending: 'delete' })).toBe('record-only/D2');
  });
  it('D3 keeps and re-uploads a local file the server never had from us', () => {
    expect(rule({ remote: remoteDel(), local: file(C) })).toBe('reupload-local/D3');
    expect(rule({ remote: remoteDel(null), base: base({ syncedRevision: null }), local: file(A) })).toBe('reupload-local/D3');
  });
  it('D4 deletes a local file unchanged since the last sync', () => {
    expect(rule({ remote: remoteDel(), base: base(), local: file(A) })).toBe('delete-local/D4');
    expect(rule({ remote: remoteDel(null), base: base(), local: file(null) })).toBe('delete-local/D4');
  });
  it('D5 keeps a local file changed since the last sync', () => {
    expect(rule({ remote: remoteDel(), base: base(), local: edited(C) })).toBe('reupload-local/D5');
    expect(rule({ remote: remoteDel(), base: base(), local: file(A), pending: 'upsert' })).toBe('reupload-local/D5');
  });
  // Chaos --kinds: another device turned the folder into a file and deleted that; the folder here,
  // emptied by the pull, went up again as new.
  it('D8 removes a folder the server had, nothing queued at it, once emptied (DD5 keeps one still holding something)', () => {
    expect(rule({ remote: remoteDel(), base: base({ kind: 'dir' }), local: { type: 'dir', empty: false } })).toBe('delete-local/D8');
    expect(rule({ remote: remoteDel(), base: base({ kind: 'dir', syncedRevision: null }), local: { type: 'dir', empty: true } })).toBe('reupload-local/D6');
  });

  it('D6 keeps a folder that has the deleted file\'s name, empty or not, and uploads it as new', () => {
    expect(rule({ remote: remoteDel(), base: base(), local: { type: 'dir', empty: true } })).toBe('reupload-local/D6');
    expect(rule({ remote: remoteDel(), base: base({ kind: 'dir' }), local: { type: 'dir', empty: false }, pending: 'upsert' })).toBe('reupload-local/D6');
  });
  it('D7 never touches a symlink', () => {
    expect(rule({ remote: remoteDel(), base: base(), local: { type: 'other', what: 'symlink' } })).toBe('skip/D7');
  });
});

describe('needsHash', () => {
  const input = (over: Partial<DecideInput>): DecideInput => ({ remote: remoteUp(), base: base(), local: edited(null as never), pending: null, ...over });
  it('hashes for an upsert so identical content is recognised', () => {
    expect(needsHash(input({}))).toBe(true);
  });
  it('does not hash an echo, a known hash, or a missing file', () => {
    expect(needsHash(input({ remote: remoteUp(R1) }))).toBe(false);
    expect(needsHash(input({ local: file(A) }))).toBe(false);
    expect(needsHash(input({ local: absent }))).toBe(false);
  });
  it('hashes a delete only when "unchanged since sync" is the question', () => {
    expect(needsHash(input({ remote: remoteDel() }))).toBe(true);
    expect(needsHash(input({ remote: remoteDel(), pending: 'upsert' }))).toBe(false);
    expect(needsHash(input({ remote: remoteDel(), base: undefined }))).toBe(false);
  });
});

describe('isOwnInFlight', () => {
  const entry = (over: Partial<{ device: string; deleted: boolean; kind: 'file' | 'dir'; blocks: string[] }> = {}) => ({ device: 'me', deleted: false, blocks: A, ...over });
  const pending = (sending: PendingRef['sending'], inFlight = true): PendingRef => ({ id: 1, op: 'upsert', generation: 2, baseRevision: null, moveFrom: null, inFlight, sending, kind: 'file', blocks: sending?.blocks ?? null });
  const file = (blocks: string[]) => ({ kind: 'file' as const, blocks });
  const sendingA = { op: 'upsert' as const, kind: 'file' as const, blocks: A };

  it('is our commit in flight: our device, the same change, still what the folder holds', () => {
    expect(isOwnInFlight(entry(), 'me', pending(sendingA), file(A))).toBe(true);
    expect(isOwnInFlight(entry({ deleted: true, blocks: [] }), 'me', pending({ op: 'delete', kind: 'file', blocks: null }), undefined)).toBe(true);
    expect(isOwnInFlight(entry({ kind: 'dir', blocks: [] }), 'me', pending({ op: 'upsert', kind: 'dir', blocks: null }), { kind: 'dir', blocks: null })).toBe(true);
  });
  it('cannot compare when a newer change waits behind the push, and takes it for ours', () => {
    expect(isOwnInFlight(entry(), 'me', pending(null), file(B))).toBe(true);
  });
  it('is not: another device, nothing in flight, an earlier commit of ours while another is in flight', () => {
    expect(isOwnInFlight(entry({ device: 'other' }), 'me', pending(null), file(A))).toBe(false);
    expect(isOwnInFlight(entry(), 'me', pending(null, false), file(A))).toBe(false);
    expect(isOwnInFlight(entry(), 'me', pending({ op: 'upsert', kind: 'file', blocks: B }), file(B))).toBe(false);
    expect(isOwnInFlight(entry({ deleted: true, blocks: [] }), 'me', pending(sendingA), file(A))).toBe(false);
  });
  // Chaos seed 10836: café.txt renamed to CAFÉ.TXT (a move queued), then appended to (P2: the
  // move, then the upload). The pull saw the move land while it was in flight; the row sent the
  // edit's bytes, the entry held the moved ones, so it was taken for another device's change and
  // the user's edit became a conflict copy of their own file.
  it('is our file move landing while the row carries it and an edit after it (seed 10836)', () => {
    const moving = (moveFrom: string): PendingRef => ({ ...pending({ op: 'upsert', kind: 'file', blocks: B }), moveFrom });
    expect(isOwnInFlight({ ...entry(), movedFrom: 'café.txt' }, 'me', moving('café.txt'), file(B))).toBe(true);
    // Not: another device's move, a move from elsewhere, or nothing in flight.
    expect(isOwnInFlight({ ...entry({ device: 'other' }), movedFrom: 'café.txt' }, 'me', moving('café.txt'), file(B))).toBe(false);
    expect(isOwnInFlight({ ...entry(), movedFrom: 'other.txt' }, 'me', moving('café.txt'), file(B))).toBe(false);
    expect(isOwnInFlight({ ...entry(), movedFrom: 'café.txt' }, 'me', { ...moving('café.txt'), inFlight: false }, file(B))).toBe(false);
  });
  // Chaos seed 254: the pull had moved the bytes being sent to a conflict copy and downloaded
  // another device's version; taking the commit for O1 then recorded its revision over that
  // download, and the folder kept bytes the server no longer had.
  it('is not: our commit whose bytes the pull has since moved away (seed 254), or a delete of a file the pull brought back', () => {
    expect(isOwnInFlight(entry(), 'me', pending(sendingA), file(C))).toBe(false);
    expect(isOwnInFlight(entry({ deleted: true, blocks: [] }), 'me', pending({ op: 'delete', kind: 'file', blocks: null }), file(C))).toBe(false);
  });
});

// Chaos --kinds: a folder turned into a file on one device stayed a folder on a device that never
// touched it, and one holding a file of its own stayed for ever (U7 was a type clash, reported).
// (The directory rows DU4, DU6 and DD6-DD8 are in pull-decide-dirs.test.ts.)
describe('decide: another device turned the folder into a file', () => {
  const folder = (empty: boolean): LocalState => ({ type: 'dir', empty });

  it('U7: a folder the server had, nothing queued at it, is replaced by the file (once emptied by the pull)', () => {
    expect(rule({ remote: remoteUp(), base: base({ kind: 'dir' }), local: folder(false) })).toBe('replace-with-file/U7');
    expect(rule({ remote: remoteUp(), base: base({ kind: 'dir' }), local: folder(true) })).toBe('replace-with-file/U7');
  });

  it('U9: a folder never synced, or with a change of it queued, is moved to a conflict copy', () => {
    expect(rule({ remote: remoteUp(), base: base({ kind: 'dir', syncedRevision: null }), local: folder(true) })).toBe('dir-copy-then-download/U9');
    expect(rule({ remote: remoteUp(), base: base({ kind: 'dir' }), local: folder(true), pending: 'upsert', pendingBase: R1 })).toBe('dir-copy-then-download/U9');
    expect(rule({ remote: remoteUp(), base: base(), local: folder(true) })).toBe('dir-copy-then-download/U9');
  });
});
