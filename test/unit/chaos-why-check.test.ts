import { describe, expect, it } from 'vitest';
import { differingPaths } from '../chaos/why-check';
import type { Tree } from '../chaos/snapshot';

const tree = (files: Record<string, string[]>): Tree => ({
  files: new Map(Object.entries(files).map(([p, blocks]) => [p, { size: blocks.length, blocks }])),
  dirs: new Set(),
  nfcClashes: [],
  temps: [],
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
