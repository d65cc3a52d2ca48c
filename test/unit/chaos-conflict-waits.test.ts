import { describe, expect, it } from 'vitest';
import { checkConflictWaits, describeRecheck } from '../chaos/invariants';

// Invariant 6 of the chaos harness (issue 13: items waited a minute for the conflict recheck).
// A conflict is due right after the next pull of its folder that applied changes, so once the
// faults stop none should still wait out its minute.
describe('chaos invariant 6: no conflict left to its minute after the faults stop', () => {
  it('refuses a conflict the settle had to retry by hand', () => {
    const note = { device: 'dev-b', path: 'Ärger/x', code: 'conflict', message: 'the server has a newer revision' };
    expect(checkConflictWaits([note])).toEqual([
      '[6] dev-b: "Ärger/x" still waited for the minute-long conflict recheck 20 s after the faults stopped (the server has a newer revision)',
    ]);
    expect(describeRecheck(note)).toBe('dev-b Ärger/x (conflict: the server has a newer revision)');
  });

  it('lets other waits pass (a backoff the faults grew is not a conflict)', () => {
    expect(checkConflictWaits([{ device: 'dev-a', path: 'a.txt', code: 'network', message: 'socket hang up' }])).toEqual([]);
  });
});
