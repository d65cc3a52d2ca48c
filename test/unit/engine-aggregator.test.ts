import { describe, expect, it } from 'vitest';
import { ChangeAggregator } from '../../main/engine/aggregator';
import { ManualTimers } from '../helpers/local-folder';

function setup(settleMs = 100, maxDelayMs = 1000) {
  const timers = new ManualTimers();
  const flushed: string[][] = [];
  const agg = new ChangeAggregator({ settleMs, maxDelayMs, timers, onFlush: (p) => flushed.push(p) });
  return { timers, flushed, agg };
}

describe('change aggregator', () => {
  it('collapses a burst on one path into one flush after it settles', () => {
    const { timers, flushed, agg } = setup();
    for (let i = 0; i < 10; i++) {
      agg.add('a.txt');
      timers.advance(50);
    }
    expect(flushed).toEqual([]);
    timers.advance(100);
    expect(flushed).toEqual([['a.txt']]);
    expect(agg.size).toBe(0);
  });

  it('flushes paths that settled together in one sorted batch, leaving busy ones', () => {
    const { timers, flushed, agg } = setup();
    agg.add('b');
    agg.add('a');
    agg.add('busy');
    timers.advance(60);
    agg.add('busy');
    timers.advance(40);
    expect(flushed).toEqual([['a', 'b']]);
    timers.advance(60);
    expect(flushed).toEqual([['a', 'b'], ['busy']]);
  });

  it('a path that never goes quiet is flushed at the max delay', () => {
    const { timers, flushed, agg } = setup(100, 300);
    for (let i = 0; i < 20; i++) {
      agg.add('log.txt');
      timers.advance(20);
    }
    expect(flushed.flat().filter((p) => p === 'log.txt').length).toBeGreaterThanOrEqual(1);
    expect(flushed[0]).toEqual(['log.txt']);
  });

  it('an explicit delay (retry) postpones the path; drain hands everything over', () => {
    const { timers, flushed, agg } = setup();
    agg.add('growing.bin', 1000);
    timers.advance(999);
    expect(flushed).toEqual([]);
    timers.advance(1);
    expect(flushed).toEqual([['growing.bin']]);
    agg.add('x');
    expect(agg.drain()).toEqual(['x']);
    timers.advance(500);
    expect(flushed).toHaveLength(1);
  });
});
