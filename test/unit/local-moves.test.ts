import { describe, expect, it } from 'vitest';
import { movedAway } from '../../main/engine/local-moves';
import type { IndexEntry } from '../../main/store/file-index';

// Which local deletes are half of a move (docs/conflict-rules.md, "Moves and renames").
const row = (path: string, over: Partial<IndexEntry> = {}): IndexEntry => ({
  folderId: 'f',
  path,
  kind: 'file',
  size: 10,
  mtimeMs: 1000,
  inode: 1,
  contentHash: 'h1',
  blocks: ['b1'],
  syncedRevision: '5',
  updatedAt: 0,
  ...over,
});

describe('movedAway', () => {
  it('pairs a gone file with the file that has its inode and size now, sent already or not', () => {
    const gone = [row('old/a.txt', { inode: 11 }), row('old/b.txt', { inode: 12, contentHash: 'h2' })];
    const now = [row('new/a.txt', { inode: 11, syncedRevision: '9' }), row('new/b.txt', { inode: 12, contentHash: 'h2', syncedRevision: null })];
    expect([...movedAway(gone, now)].sort()).toEqual(['old/a.txt', 'old/b.txt']);
  });

  it('across a restart (new inode): pairs by size and content hash with a file not synced yet, never with an old copy', () => {
    const gone = [row('a.txt', { inode: 11 })];
    expect([...movedAway(gone, [row('moved.txt', { inode: 99, syncedRevision: null })])]).toEqual(['a.txt']);
    expect([...movedAway(gone, [row('old-copy.txt', { inode: 99, syncedRevision: '3' })])]).toEqual([]);
  });

  it('a delete whose bytes are nowhere else is a delete; other sizes or contents do not pair', () => {
    const gone = [row('a.txt', { inode: 11 })];
    expect([...movedAway(gone, [row('x.txt', { inode: 11, size: 12 })])]).toEqual([]);
    expect([...movedAway(gone, [row('y.txt', { inode: 99, contentHash: 'other', syncedRevision: null })])]).toEqual([]);
    expect([...movedAway(gone, [])]).toEqual([]);
  });

  it('one new name accounts for one gone file: two deletes of the same bytes and one new copy leave one delete', () => {
    const gone = [row('a.txt', { inode: 11 }), row('b.txt', { inode: 12 })];
    expect(movedAway(gone, [row('c.txt', { inode: 99, syncedRevision: null })]).size).toBe(1);
  });

  it('never pairs a gone file with another gone path, a directory, or a file never synced', () => {
    const gone = [row('a.txt', { inode: 11 }), row('b.txt', { inode: 11 })];
    expect([...movedAway(gone, gone)]).toEqual([]);
    expect([...movedAway([row('d', { kind: 'dir', inode: 5 })], [row('e', { kind: 'dir', inode: 5 })])]).toEqual([]);
    expect([...movedAway([row('new.txt', { syncedRevision: null })], [row('n2.txt', { syncedRevision: null })])]).toEqual([]);
  });
});
