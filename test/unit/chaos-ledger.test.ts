import { describe, expect, it } from 'vitest';
import { EMPTY_HASH, Ledger } from '../chaos/ledger';

// The chaos harness's record of what users wrote (invariant 2 checks it): these pin down which
// writes must survive, so a harness change cannot quietly stop checking them.
describe('chaos ledger', () => {
  const X = 'x'.repeat(64);
  const Y = 'y'.repeat(64);

  it('keeps every version no user knowingly replaced', () => {
    const l = new Ledger();
    l.replace('a', 'f', null);
    l.write('a', 'f', X, 1);
    l.replace('b', 'f', null); // b never saw a's version: concurrent
    l.write('b', 'f', Y, 2);
    expect(l.live.map((v) => v.hash)).toEqual([X, Y]);
    expect(l.concurrent.has('f')).toBe(true);
  });

  it('drops a version its reader replaced', () => {
    const l = new Ledger();
    l.replace('a', 'f', null);
    l.write('a', 'f', X, 1);
    l.replace('b', 'f', X); // b had a's version on disk
    l.write('b', 'f', Y, 2);
    expect(l.live.map((v) => v.hash)).toEqual([Y]);
    expect(l.concurrent.has('f')).toBe(false);
  });

  // Chaos seed 23: b emptied a file, wrote to it, and emptied it again while a's edit of the
  // synced (empty) version was on its way: b's side ends where it began, a's edit wins.
  it('does not count a device undoing its own edit back to bytes the server had (chaos seed 23)', () => {
    const l = new Ledger();
    l.replace('b', 'f', null);
    l.write('b', 'f', EMPTY_HASH, 1);
    l.replace('a', 'f', EMPTY_HASH); // a synced b's empty file, then edited it
    l.write('a', 'f', X, 2);
    l.replace('b', 'f', EMPTY_HASH);
    l.write('b', 'f', Y, 3);
    l.replace('b', 'f', Y);
    l.write('b', 'f', EMPTY_HASH, 4);
    expect(l.reverts).toBe(1);
    expect(l.live.map((v) => `${v.device}:${v.hash[0]}`)).toEqual(['a:x']);
  });

  it('still counts going back to bytes no other device ever had', () => {
    const l = new Ledger();
    l.replace('b', 'f', null);
    l.write('b', 'f', X, 1);
    l.replace('b', 'f', X);
    l.write('b', 'f', Y, 2);
    l.replace('b', 'f', Y);
    l.write('b', 'f', X, 3);
    expect(l.reverts).toBe(0);
    expect(l.live.map((v) => v.step)).toEqual([3]);
  });
});
