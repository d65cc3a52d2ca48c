import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// Runs in a child process: the flags change the whole V8 heap of the process they are set in.
const probe = (small: boolean): number => {
  const script = `
    ${small ? `const { preferSmallHeap } = await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../main/small-heap.ts'))}); preferSmallHeap();` : ''}
    const v8 = await import('node:v8');
    // Many short-lived objects, a good share of them surviving a scavenge or two: what makes
    // V8 grow its young generation.
    const keep = new Array(20000);
    for (let i = 0; i < 2_000_000; i++) keep[i % keep.length] = { i, s: 'x' + i, a: [i, i + 1] };
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(space.space_size);
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return Number(out.trim());
};

describe('preferSmallHeap (the agent process)', () => {
  it('keeps V8 young generation near its first size, where by default it grows several times over', () => {
    const MiB = 1024 * 1024;
    const grown = probe(false);
    const small = probe(true);
    // Node 20: 32 MiB against 1 MiB; Node 24: 64 MiB against 3.4 MiB.
    expect(grown).toBeGreaterThanOrEqual(16 * MiB);
    expect(small).toBeLessThanOrEqual(grown / 8);
  });
});
