import { describe, expect, it } from 'vitest';
import { BatchRequest, ChangeItem, ChangesPage, Operation, type OperationInput } from '../../protocol';

// Directories in Sync API v1 (docs/sync-api.md, "Directories"): optional `kind` on upserts
// and change items; absent means 'file', so older clients and servers keep working.
const HASH = 'a'.repeat(64);
const file = (over: Record<string, unknown> = {}) => ({ key: 'k', action: 'upsert', path: 'a.txt', size: 3, mtime: 1, blocks: [HASH], baseRevision: null, ...over });
const dir = (over: Record<string, unknown> = {}) => ({ key: 'd', action: 'upsert', kind: 'dir', path: 'photos', mtime: 1, baseRevision: null, ...over });
const item = (over: Record<string, unknown> = {}) => ({
  path: 'photos',
  revision: '4',
  deleted: false,
  size: 0,
  mtime: 1,
  blocks: [],
  modificationDate: '2030-01-01T00:00:00.000Z',
  device: 'laptop-1',
  ...over,
});

describe('upsert kind', () => {
  it('defaults to file, and a file upsert still needs its size and blocks', () => {
    expect(Operation.parse(file())).toMatchObject({ kind: 'file', size: 3, blocks: [HASH] });
    expect(Operation.parse(file({ kind: 'file' }))).toMatchObject({ kind: 'file' });
    const { size: _s, ...noSize } = file();
    const { blocks: _b, ...noBlocks } = file();
    expect(Operation.safeParse(noSize).success).toBe(false);
    expect(Operation.safeParse(noBlocks).success).toBe(false);
  });

  it('accepts a directory upsert without size and blocks, and fills in 0 and []', () => {
    expect(Operation.parse(dir())).toEqual({ key: 'd', action: 'upsert', kind: 'dir', path: 'photos', size: 0, mtime: 1, blocks: [], baseRevision: null });
    expect(Operation.parse(dir({ size: 0, blocks: [] }))).toMatchObject({ kind: 'dir', size: 0, blocks: [] });
  });

  it('refuses a directory with content, an unknown kind, and a directory without mtime', () => {
    expect(Operation.safeParse(dir({ size: 1 })).success).toBe(false);
    expect(Operation.safeParse(dir({ blocks: [HASH] })).success).toBe(false);
    expect(Operation.safeParse(dir({ kind: 'symlink' })).success).toBe(false);
    const { mtime: _m, ...noMtime } = dir();
    expect(Operation.safeParse(noMtime).success).toBe(false);
  });

  it('keeps the batch rules for directories: paths are checked and unique', () => {
    const bad = BatchRequest.safeParse({ operations: [dir({ path: 'a/../b' })] });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('invalid_path');
    expect(BatchRequest.safeParse({ operations: [dir(), file({ path: 'photos' })] }).success).toBe(false);
    expect(BatchRequest.safeParse({ operations: [dir(), file({ path: 'photos/a.txt' })] }).success).toBe(true);
  });

  it('lets a caller build a directory upsert with the input type (no size or blocks)', () => {
    const op: OperationInput = { key: 'd', action: 'upsert', kind: 'dir', path: 'x', mtime: 0, baseRevision: '3' };
    expect(Operation.parse(op)).toMatchObject({ kind: 'dir', baseRevision: '3' });
  });

  it('leaves deletes without a kind (a delete names whatever the path is)', () => {
    expect(Operation.parse({ key: 'x', action: 'delete', path: 'photos', baseRevision: '4' })).toEqual({ key: 'x', action: 'delete', path: 'photos', baseRevision: '4' });
    expect(Operation.safeParse({ key: 'x', action: 'delete', kind: 'dir', path: 'photos', baseRevision: '4' }).success).toBe(false);
  });
});

describe('change item kind', () => {
  it('reads kind dir and defaults a missing kind to file (servers before directories)', () => {
    expect(ChangeItem.parse(item({ kind: 'dir' })).kind).toBe('dir');
    expect(ChangeItem.parse(item()).kind).toBe('file');
    expect(ChangeItem.safeParse(item({ kind: 'link' })).success).toBe(false);
  });

  it('carries kind through a whole page, tombstones included', () => {
    const page = ChangesPage.parse({
      items: [item({ kind: 'dir' }), item({ path: 'old', kind: 'dir', deleted: true, revision: '5' })],
      _links: { 'upcoming-modifications': { href: '/v1/folders/f/changes?syncModifications=true&syncToken=t' } },
    });
    expect(page.items.map((i) => [i.path, i.kind, i.deleted])).toEqual([
      ['photos', 'dir', false],
      ['old', 'dir', true],
    ]);
  });
});
