import { describe, expect, it } from 'vitest';
import { Batcher } from '../../main/engine/push/send';
import { FakeTimers } from './push-fake-timers';

interface It {
  folder: string;
  n: number;
  size: number;
}

function rig(o: { maxCount?: number; maxBytes?: number; lingerMs?: number } = {}) {
  const timers = new FakeTimers();
  const flushed: Array<[string, number[]]> = [];
  const b = new Batcher<It>({
    maxCount: o.maxCount ?? 3,
    maxBytes: o.maxBytes ?? 1000,
    lingerMs: o.lingerMs ?? 50,
    timers,
    groupOf: (i) => i.folder,
    bytesOf: (i) => i.size,
    onFlush: (g, items) => flushed.push([g, items.map((i) => i.n)]),
  });
  return { timers, flushed, b };
}

describe('push batcher', () => {
  it('flushes a group as soon as it holds maxCount items', () => {
    const { b, flushed } = rig();
    for (let n = 1; n <= 7; n++) b.add({ folder: 'a', n, size: 1 });
    expect(flushed).toEqual([
      ['a', [1, 2, 3]],
      ['a', [4, 5, 6]],
    ]);
    expect(b.pending).toBe(1);
  });

  it('flushes on bytes', () => {
    const { b, flushed } = rig({ maxBytes: 100 });
    b.add({ folder: 'a', n: 1, size: 60 });
    expect(flushed).toEqual([]);
    b.add({ folder: 'a', n: 2, size: 60 });
    expect(flushed).toEqual([['a', [1, 2]]]);
  });

  it('flushes after the linger, counted from the first item', async () => {
    const { b, flushed, timers } = rig();
    b.add({ folder: 'a', n: 1, size: 1 });
    await timers.advance(30);
    b.add({ folder: 'a', n: 2, size: 1 });
    await timers.advance(19);
    expect(flushed).toEqual([]);
    await timers.advance(1);
    expect(flushed).toEqual([['a', [1, 2]]]);
    expect(timers.count).toBe(0);
  });

  it('keeps folders apart and flushes all on demand', () => {
    const { b, flushed, timers } = rig();
    b.add({ folder: 'a', n: 1, size: 1 });
    b.add({ folder: 'b', n: 2, size: 1 });
    b.add({ folder: 'a', n: 3, size: 1 });
    b.flushAll();
    expect(flushed).toEqual([
      ['a', [1, 3]],
      ['b', [2]],
    ]);
    expect(timers.count).toBe(0);
    expect(b.drain()).toEqual([]);
  });
});
