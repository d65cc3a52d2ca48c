import { describe, expect, it } from 'vitest';
import { differingPaths } from '../chaos/why-check';
import { liveLocalTree, type Tree } from '../chaos/snapshot';

const tree = (files: Record<string, string[]>): Tree => ({
  files: new Map(Object.entries(files).map(([p, blocks]) => [p, { size: blocks.length, blocks }])),
  dirs: new Set(),
  nfcClashes: [],
  temps: [],
  links: [],
});

// Invariant 7 asks `why` about exactly the paths that differ: only here, only there, or other bytes.
describe('chaos invariant 7: the paths that differ between a device and the server', () => {
  it('lists a path on one side only and one with other blocks; not one that is the same on both', () => {
    const local = tree({ 'same.txt': ['a'], 'edited.txt': ['b1'], 'only-here.txt': ['c'] });
    const server = tree({ 'same.txt': ['a'], 'edited.txt': ['b2'], 'only-there.txt': ['d'] });
    expect(differingPaths(local, server)).toEqual(['edited.txt', 'only-here.txt', 'only-there.txt']);
  });

  it('is empty when both sides hold the same files', () => {
    expect(differingPaths(tree({ 'x/y.txt': ['1', '2'] }), tree({ 'x/y.txt': ['1', '2'] }))).toEqual([]);
  });
});

// Chaos seed 60105: the harness read a file the pull had just turned into a folder (EISDIR), and
// the run ended in a harness error. Such a read starts again, as for a file gone meanwhile.
describe('a live snapshot of a folder its agent is still changing', () => {
  const failing = (codes: string[]) => {
    let calls = 0;
    const read = async (): Promise<Tree> => {
      const code = codes[calls++];
      if (code) throw Object.assign(new Error(code), { code });
      return tree({ 'x/inner.txt': ['a'] });
    };
    return { read, calls: () => calls };
  };

  it('reads again when an entry went or changed kind between its listing and its reading', async () => {
    const reader = failing(['EISDIR', 'ENOENT', 'ENOTDIR']);
    expect([...(await liveLocalTree('/unused', 20, reader.read)).files.keys()]).toEqual(['x/inner.txt']);
    expect(reader.calls()).toBe(4);
  });

  it('refused: any other error ends the snapshot at once', async () => {
    const reader = failing(['EACCES']);
    await expect(liveLocalTree('/unused', 20, reader.read)).rejects.toMatchObject({ code: 'EACCES' });
    expect(reader.calls()).toBe(1);
  });
});
