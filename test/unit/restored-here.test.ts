import { describe, expect, it } from 'vitest';
import { RestoredHere } from '../../main/engine/history/restored-here';
import type { RestoreOutcome } from '../../main/engine/history/restore-batch';

const outcome = (revisions: RestoreOutcome['revisions']): RestoreOutcome => ({ restored: revisions, folders: 0, revisions, failed: [], skipped: [] });

// docs/conflict-rules.md, O2's notes: what this device's restores made is never its own upload to
// the pull: the paths from when the restore plans them (the server commits before it answers),
// the revisions once its answer names them. Refused: a restore's revision taken for an upload.
describe('RestoredHere', () => {
  it('marks the paths while the restore is on its way, then keeps exactly the revisions its answer names', async () => {
    const restores = new RestoredHere();
    let seenDuring = false;
    await restores.during('docs', async (onPlanned) => {
      onPlanned(['a.txt']);
      // Any revision of a.txt meanwhile: the answer has not named one yet.
      seenDuring = restores.has('docs', 'a.txt', '7') && !restores.has('docs', 'b.txt', '7') && !restores.has('other', 'a.txt', '7');
      return outcome([{ path: 'a.txt', revision: '8' }]);
    });
    expect(seenDuring).toBe(true);
    expect(restores.has('docs', 'a.txt', '8')).toBe(true);
    // A later upload of the same path is a new revision: its own again.
    expect(restores.has('docs', 'a.txt', '9')).toBe(false);
  });

  it('lets the paths go when the restore fails, and keeps another restore\'s mark of the same path', async () => {
    const restores = new RestoredHere();
    let release!: () => void;
    const slow = restores.during('docs', (onPlanned) => {
      onPlanned(['a.txt']);
      return new Promise<RestoreOutcome>((resolve) => (release = () => resolve(outcome([]))));
    });
    await expect(
      restores.during('docs', async (onPlanned) => {
        onPlanned(['a.txt']);
        throw new Error('offline');
      }),
    ).rejects.toThrow('offline');
    expect(restores.has('docs', 'a.txt', '5')).toBe(true);
    release();
    await slow;
    expect(restores.has('docs', 'a.txt', '5')).toBe(false);
  });
});
