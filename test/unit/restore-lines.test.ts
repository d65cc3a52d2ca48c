import { describe, expect, it } from 'vitest';
import type { HistoryItem } from '../../protocol';
import { currentName, lineAt, movedAwaySince, nameOfRevision, placeOf, previousOnLine } from '../../main/engine/history/lines';

// The lines of docs/conflict-rules.md, "A folder as it was at a moment, across renames" (R1, R2),
// over histories as the server lists them (newest first). Times: revision n was written at n.

const T = 10;
const WHEN = 'T';
let seq = 0;
const v = (at: number, extra: Partial<HistoryItem> = {}): HistoryItem => ({
  revision: String(at),
  kind: 'file',
  deleted: false,
  size: 1,
  mtime: 0,
  modificationDate: new Date(at).toISOString(),
  device: `d${seq++}`,
  ...extra,
});
const gone = (at: number, movedTo?: string) => v(at, { deleted: true, ...(movedTo ? { movedTo } : {}) });
const histories = (entries: Record<string, HistoryItem[]>) => new Map(Object.entries(entries));

describe('lines', () => {
  it('R2: a path unchanged since T is its own state then, not changed; one edited since is changed', () => {
    const h = histories({ a: [v(5)], b: [v(12), v(5)] });
    expect(lineAt('a', T, h, WHEN)).toEqual({ path: 'a', item: h.get('a')![0], changed: false });
    expect(lineAt('b', T, h, WHEN)).toEqual({ path: 'b', item: h.get('b')![1], changed: true });
  });

  it('R2: a rename since T continues at the old name, below the move; only renamed is not changed', () => {
    // old: made at 3, moved to new at 14 (new revision 13, tombstone 14); new edited at 15.
    const h = histories({ old: [gone(14, 'new'), v(3)], new: [v(15), v(13, { movedFrom: 'old' })] });
    expect(lineAt('new', T, h, WHEN)).toEqual({ path: 'old', item: h.get('old')![1], changed: true });
    const renamedOnly = histories({ old: [gone(14, 'new'), v(3)], new: [v(13, { movedFrom: 'old' })] });
    expect(lineAt('new', T, renamedOnly, WHEN)).toMatchObject({ path: 'old', changed: false });
    // The old name's history is read only when the walk gets there.
    expect(lineAt('new', T, histories({ new: [v(13, { movedFrom: 'old' })] }), WHEN)).toEqual({ need: 'old' });
  });

  it('R2: a delete met on the way back means the file at that name now was made after T', () => {
    const h = histories({ a: [v(16), gone(12), v(5)] });
    expect(lineAt('a', T, h, WHEN)).toEqual({ reason: 'this one was made after T; what had its name then was deleted since' });
    expect(lineAt('a', T, histories({ a: [v(16), gone(12, 'b'), v(5)] }), WHEN)).toEqual({ reason: 'this one was made after T; what had its name then was moved to b since' });
    // Made after T, deleted, made again: nothing had the name at T (a review).
    expect(lineAt('a', T, histories({ a: [v(16), gone(12), v(11)] }), WHEN)).toEqual({ reason: 'it did not exist at T' });
    // Its newest revision a delete: the line ended there, its state at T comes back.
    expect(lineAt('b', T, histories({ b: [gone(12), v(5)] }), WHEN)).toMatchObject({ path: 'b', changed: true });
    expect(lineAt('c', T, histories({ c: [] }), WHEN)).toEqual({ reason: 'the server has no history of this path' });
  });

  // A new-user try: after one Undo, `ferry restore DIR --at T` said of every file "made after T".
  it('R2: a delete followed by a restore of the file (an Undo, a Cancel) does not end its line', () => {
    const undone = histories({ a: [v(16, { restoredFrom: '5' }), gone(12), v(5)] });
    expect(lineAt('a', T, undone, WHEN)).toEqual({ path: 'a', item: undone.get('a')![2], changed: true });
    // Deleted, restored, deleted and restored again: the same file all along.
    const twice = histories({ a: [v(20, { restoredFrom: '16' }), gone(18), v(16, { restoredFrom: '5' }), gone(12), v(5)] });
    expect(lineAt('a', T, twice, WHEN)).toMatchObject({ path: 'a', item: twice.get('a')![4] });
    // A delete followed by a file made again (no restore just after it) still ends the line there.
    expect(lineAt('a', T, histories({ a: [v(17), v(16, { restoredFrom: '5' }), gone(14), v(13), gone(12), v(5)] }), WHEN)).toEqual({ reason: 'this one was made after T; what had its name then was deleted since' });
  });

  // A new-user try: a file renamed three times since its last edit read "it has no earlier version".
  it('R5: the last change of a file renamed since its edit is found back through its renames, by content', () => {
    const c = (at: number, hash: string, extra: Partial<HistoryItem> = {}) => v(at, { contentHash: hash.repeat(64), ...extra });
    // a: v1 (3), v2 (5); renamed to b (move 13, tombstone 14); b renamed to c (move 17, tombstone 18).
    const h = histories({
      a: [gone(14, 'b'), c(5, '2'), c(3, '1')],
      b: [gone(18, 'c'), c(13, '2', { movedFrom: 'a' })],
      c: [c(17, '2', { movedFrom: 'b' })],
    });
    expect(previousOnLine('c', h)).toEqual({ name: 'a', revision: '3' });
    // Read only as the walk gets there.
    expect(previousOnLine('c', histories({ c: h.get('c')! }))).toEqual({ need: 'b' });
    // Edited once, renamed once: nothing earlier than that content.
    expect(previousOnLine('b', histories({ a: [gone(14, 'b'), c(5, '2')], b: [c(13, '2', { movedFrom: 'a' })] }))).toBeUndefined();
    // Renamed away and back (A → B → A), found by review: its own move away does not end the line.
    const back = histories({ a: [c(20, '2', { movedFrom: 'b' }), gone(14, 'b'), c(5, '2'), c(3, '1')], b: [gone(21, 'a'), c(13, '2', { movedFrom: 'a' })] });
    expect(previousOnLine('a', back)).toEqual({ name: 'a', revision: '3' });
    // The old name's earlier life (deleted, then made again before the rename) ends the line.
    expect(previousOnLine('b', histories({ a: [gone(14, 'b'), c(9, '2'), gone(7), c(3, '1')], b: [c(13, '2', { movedFrom: 'a' })] }))).toBeUndefined();
  });

  it('R1: a moved-away path lives on at the end of its moves; deleted there, it comes back there unless that name was taken', () => {
    const twice = histories({ a: [gone(14, 'b'), v(3)], b: [gone(18, 'c'), v(13, { movedFrom: 'a' })], c: [v(17, { movedFrom: 'b' })] });
    expect(currentName('a', twice)).toBe('c');
    expect(currentName('c', twice)).toBe('c');
    const deletedThere = histories({ a: [gone(14, 'b'), v(3)], b: [gone(20), v(13, { movedFrom: 'a' })] });
    expect(currentName('a', deletedThere)).toBe('b');
    const taken = histories({ a: [gone(14, 'b'), v(3)], b: [v(25), gone(20), v(13, { movedFrom: 'a' })] });
    expect(currentName('a', taken)).toBe('a');
    // The move's revision pruned: it cannot be followed, and stays where it was found.
    expect(currentName('a', histories({ a: [gone(14, 'b'), v(3)], b: [v(30)] }))).toBe('a');
    expect(currentName('a', histories({ a: [gone(14, 'b'), v(3)] }))).toEqual({ need: 'b' });
  });

  it('R1: what a name held at T and a move took away since is found where it lives now, though the name holds something new', () => {
    const h = histories({ q: [v(20, { kind: 'dir' }), gone(15, 'r'), v(3, { kind: 'dir' })], r: [v(14, { kind: 'dir', movedFrom: 'q' })] });
    expect(movedAwaySince('q', T, h)).toBe('r');
    // Deleted, not moved, or made after T: nothing to follow.
    expect(movedAwaySince('s', T, histories({ s: [v(20), gone(15), v(3)] }))).toBeUndefined();
    expect(movedAwaySince('t', T, histories({ t: [v(20)] }))).toBeUndefined();
  });

  it('finds a revision of a line under the old name it was written under', () => {
    const h = histories({ old: [gone(14, 'new'), v(7), v(3)], new: [v(15), v(13, { movedFrom: 'old' })] });
    expect(nameOfRevision('new', '3', h)).toBe('old');
    expect(nameOfRevision('new', '15', h)).toBe('new');
    // A revision of the old name written after the move is another line's.
    expect(nameOfRevision('new', '99', h)).toBeUndefined();
  });

  it('R1: a line deleted in a folder renamed since comes back in the folder under its new name', () => {
    const h = histories({ 'p/x': [gone(12), v(3)], p: [gone(15, 'q'), v(1, { kind: 'dir' })], q: [v(14, { kind: 'dir', movedFrom: 'p' })] });
    expect(placeOf('p/x', h)).toBe('q/x');
    // A live path, or a folder not renamed, stays where it is.
    expect(placeOf('q', h)).toBe('q');
    expect(placeOf('r/x', histories({ 'r/x': [gone(12), v(3)], r: [v(1, { kind: 'dir' })] }))).toBe('r/x');
  });
});
