import { describe, expect, it } from 'vitest';
import { ChangeAggregator } from '../../main/engine/local-side';
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

  describe('a path written in steps', () => {
    function busySetup() {
      const timers = new ManualTimers();
      const flushed: string[][] = [];
      const agg = new ChangeAggregator({ settleMs: 30, busySettleMs: 250, busyWindowMs: 1000, maxDelayMs: 5000, timers, onFlush: (p) => flushed.push(p) });
      return { timers, flushed, agg };
    }

    it('is looked at after the short settle the first time', () => {
      const { timers, flushed, agg } = busySetup();
      agg.add('saved.txt');
      timers.advance(29);
      expect(flushed).toEqual([]);
      timers.advance(1);
      expect(flushed).toEqual([['saved.txt']]);
    });

    it('changing again within the busy window after a look waits for the long settle', () => {
      const { timers, flushed, agg } = busySetup();
      agg.add('copy.bin');
      timers.advance(30);
      expect(flushed).toEqual([['copy.bin']]);
      // The writer goes on in steps 100 ms apart: no look until 250 ms after the last step.
      for (let i = 0; i < 5; i++) {
        timers.advance(70);
        agg.add('copy.bin');
      }
      timers.advance(249);
      expect(flushed).toHaveLength(1);
      timers.advance(1);
      expect(flushed).toEqual([['copy.bin'], ['copy.bin']]);
    });

    it('after the busy window has passed, the short settle applies again', () => {
      const { timers, flushed, agg } = busySetup();
      agg.add('notes.txt');
      timers.advance(30);
      timers.advance(1000);
      agg.add('notes.txt');
      timers.advance(30);
      expect(flushed).toEqual([['notes.txt'], ['notes.txt']]);
    });

    it('only the path that changed again is slowed, not its neighbours', () => {
      const { timers, flushed, agg } = busySetup();
      agg.add('log.txt');
      timers.advance(30);
      agg.add('log.txt');
      agg.add('other.txt');
      timers.advance(30);
      expect(flushed).toEqual([['log.txt'], ['other.txt']]);
      timers.advance(220);
      expect(flushed).toEqual([['log.txt'], ['other.txt'], ['log.txt']]);
    });

    it('a busy path is still looked at by the max delay', () => {
      const timers = new ManualTimers();
      const flushed: string[][] = [];
      const agg = new ChangeAggregator({ settleMs: 30, busySettleMs: 250, maxDelayMs: 400, timers, onFlush: (p) => flushed.push(p) });
      agg.add('stream.log');
      timers.advance(30);
      for (let i = 0; i < 20; i++) {
        agg.add('stream.log');
        timers.advance(50);
      }
      expect(flushed.length).toBeGreaterThanOrEqual(3);
    });
  });
});
