import { describe, expect, it } from 'vitest';
import { decideDirMove, decideMove, type BaseState, type DirMoveInput, type LocalState, type MoveInput, type RemoteState } from '../../main/engine/pull/decide';

// Rows M1-M3 of docs/conflict-rules.md ("Moves and renames"): a remote move as a local rename.
const A = ['a'.repeat(64)];
const B = ['b'.repeat(64)];

const moved = (blocks = A, over: Partial<RemoteState> = {}): RemoteState => ({ revision: '9', deleted: false, size: 10, blocks, ...over });
const base = (over: Partial<BaseState> = {}): BaseState => ({ kind: 'file', syncedRevision: '1', size: 10, mtimeMs: 1000, inode: 7, blocks: A, ...over });
const file = (blocks: readonly string[] | null, over: Partial<{ size: number; mtimeMs: number; inode: number }> = {}): LocalState => ({ type: 'file', size: 10, mtimeMs: 1000, inode: 7, blocks, ...over });
const absent: LocalState = { type: 'absent' };

function rule(over: { remote?: RemoteState; source?: Partial<MoveInput['source']>; target?: Partial<MoveInput['target']> } = {}): string {
  const a = decideMove({
    remote: over.remote ?? moved(),
    source: { base: base(), local: file(A), pending: null, pendingInFlight: false, ...over.source },
    target: { local: absent, pending: null, ...over.target },
  });
  return `${a.kind}/${a.rule}`;
}

describe('decideMove', () => {
  it('M1: the source is unchanged since sync and holds what moved, the target is free: a local rename', () => {
    expect(rule()).toBe('move-local/M1');
    // Unchanged by content though the stat moved (touched): still the synced bytes.
    expect(rule({ source: { local: file(A, { mtimeMs: 5000 }) } })).toBe('move-local/M1');
  });

  it('M2: the source was edited here (on disk or queued) and the move carries the version it was synced at: the edit follows the file', () => {
    expect(rule({ source: { local: file(B, { mtimeMs: 2000 }) } })).toBe('move-local/M2');
    expect(rule({ source: { pending: 'upsert' } })).toBe('move-local/M2');
    // Being written (not hashed yet): it is moved with whatever it holds, and scanned there.
    expect(rule({ source: { local: file(null, { mtimeMs: 2000 }) } })).toBe('move-local/M2');
  });

  // Found by review: the source's queued upload was one the pull replaced (its bytes in a copy); taken
  // as an edit (M2), the pull's version went up as this device's.
  it('M1 when the queued upload is one the pull replaced and the file holds the synced bytes; M2 when its bytes differ', () => {
    expect(rule({ source: { pending: 'upsert', pendingReplaced: true } })).toBe('move-local/M1');
    expect(rule({ source: { pending: 'upsert', pendingReplaced: true, local: file(B) } })).toBe('move-local/M2');
  });

  it('M3: another device moved and edited the file: no rename, the usual rows decide both paths', () => {
    expect(rule({ remote: moved(B) })).toBe('no-move/M3');
    expect(rule({ remote: moved(A, { size: 11 }) })).toBe('no-move/M3');
  });

  it('M3: the target is taken here (a file, a folder, a queued change): a move never replaces anything', () => {
    expect(rule({ target: { local: file(B) } })).toBe('no-move/M3');
    expect(rule({ target: { local: { type: 'dir', empty: true } } })).toBe('no-move/M3');
    expect(rule({ target: { pending: 'delete' } })).toBe('no-move/M3');
  });

  it('M3: no synced local file to move (absent, a folder, a symlink, never synced)', () => {
    expect(rule({ source: { local: absent } })).toBe('no-move/M3');
    expect(rule({ source: { local: { type: 'other', what: 'symlink' } } })).toBe('no-move/M3');
    expect(rule({ source: { base: undefined } })).toBe('no-move/M3');
    expect(rule({ source: { base: base({ syncedRevision: null }) } })).toBe('no-move/M3');
  });

  it('M3: an edit of the source in flight, or a queued delete of it: left to the pusher and the usual rows', () => {
    expect(rule({ source: { pending: 'upsert', pendingInFlight: true } })).toBe('no-move/M3');
    expect(rule({ source: { pending: 'delete' } })).toBe('no-move/M3');
  });

  it('M3: a directory or a delete is never a file move', () => {
    expect(rule({ remote: moved([], { kind: 'dir', size: 0 }) })).toBe('no-move/M3');
    expect(rule({ remote: moved(A, { deleted: true }) })).toBe('no-move/M3');
  });
});

// Rows MD1-MD6 ("A moved directory in one rename"): a remote directory move as one local rename.
describe('decideDirMove', () => {
  const dirBase = (over: Partial<BaseState> = {}): BaseState => ({ kind: 'dir', syncedRevision: '4', size: 0, mtimeMs: 1000, inode: 9, blocks: null, ...over });
  const dir: LocalState = { type: 'dir', empty: false };
  const movedDir = (over: Partial<RemoteState> = {}): RemoteState => ({ kind: 'dir', revision: '12', deleted: false, size: 0, blocks: [], ...over });

  function dirRule(over: { remote?: RemoteState; source?: Partial<DirMoveInput['source']>; target?: Partial<DirMoveInput['target']>; feedMatches?: boolean; alreadyHere?: boolean } = {}): string {
    const a = decideDirMove({
      remote: over.remote ?? movedDir(),
      source: { base: dirBase(), local: dir, queued: false, disk: 'same', ...over.source },
      target: { local: absent, indexed: false, queued: false, ...over.target },
      feedMatches: over.feedMatches ?? true,
      alreadyHere: over.alreadyHere ?? false,
    });
    return a.kind === 'walk' ? 'walk' : `${a.kind}/${a.rule}`;
  }

  it('MD0: the move is here already (this device made it, or an earlier pull applied it): nothing to do for any entry', () => {
    expect(dirRule({ alreadyHere: true, source: { local: absent, base: undefined }, target: { local: dir, indexed: true } })).toBe('already-here/MD0');
  });

  it('MD1: the synced folder is as synced on disk, nothing queued, the target free, the feed moves exactly it: one rename', () => {
    expect(dirRule()).toBe('move-dir-local/MD1');
  });

  it('the disk is walked last, only once every cheaper check holds', () => {
    expect(dirRule({ source: { disk: 'unwalked' } })).toBe('walk');
    expect(dirRule({ source: { disk: 'unwalked', queued: true } })).toBe('no-dir-move/MD3');
  });

  it('MD2: no synced local folder to rename (absent, a file, a symlink, never synced), or not a directory move', () => {
    expect(dirRule({ source: { local: absent } })).toBe('no-dir-move/MD2');
    expect(dirRule({ source: { local: file(A) } })).toBe('no-dir-move/MD2');
    expect(dirRule({ source: { local: { type: 'other', what: 'symlink' } } })).toBe('no-dir-move/MD2');
    expect(dirRule({ source: { base: undefined } })).toBe('no-dir-move/MD2');
    expect(dirRule({ source: { base: dirBase({ syncedRevision: null }) } })).toBe('no-dir-move/MD2');
    expect(dirRule({ remote: movedDir({ deleted: true }) })).toBe('no-dir-move/MD2');
    expect(dirRule({ remote: moved() })).toBe('no-dir-move/MD2');
  });

  it('MD3: a change queued at or below the folder (an unsynced file, an edit, one in flight): file by file', () => {
    expect(dirRule({ source: { queued: true } })).toBe('no-dir-move/MD3');
  });

  it('MD4: the target is taken here (on disk, in the index, in the queue): never replaced', () => {
    expect(dirRule({ target: { local: dir } })).toBe('no-dir-move/MD4');
    expect(dirRule({ target: { local: { type: 'dir', empty: true } } })).toBe('no-dir-move/MD4');
    expect(dirRule({ target: { local: file(B) } })).toBe('no-dir-move/MD4');
    expect(dirRule({ target: { indexed: true } })).toBe('no-dir-move/MD4');
    expect(dirRule({ target: { queued: true } })).toBe('no-dir-move/MD4');
  });

  it('MD5: the feed does not move exactly what this device holds (an entry edited before the move, a write after it): file by file', () => {
    expect(dirRule({ feedMatches: false })).toBe('no-dir-move/MD5');
  });

  it('MD6: the disk below the folder differs from the index (a new file, an unscanned edit, a missing one): file by file', () => {
    expect(dirRule({ source: { disk: 'differs' } })).toBe('no-dir-move/MD6');
  });
});
