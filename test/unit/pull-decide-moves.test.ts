import { describe, expect, it } from 'vitest';
import { decideMove, type BaseState, type LocalState, type MoveInput, type RemoteState } from '../../main/engine/pull/decide';

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
