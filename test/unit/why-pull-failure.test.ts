import { describe, expect, it } from 'vitest';
import type { PathExplanation, WhyReason } from '../../main/engine/agent/why';
import { serverReason, withPullFailure } from '../../main/engine/agent/why-server';

// The folder's failing pull as a reason of `why` (docs/architecture.md, "Why a path is not in
// sync"): said for a path the server did not confirm this device has at its newest, never for
// one it confirmed; refused: an "in sync" said from the local facts alone while pulls fail.
const failure = { code: 'unavailable', message: 'feed under maintenance', at: '2026-12-02T08:00:00.000Z', retryable: true, nextTryAt: '2026-12-02T08:00:05.000Z' };
const answer = (reasons: WhyReason[], lastPullError: PathExplanation['lastPullError'] = failure): PathExplanation => ({
  folderId: 'docs',
  path: 'a.txt',
  inSync: reasons[0]?.code === 'in_sync',
  reasons,
  local: { exists: true, kind: 'file', size: 1, modifiedAt: null },
  synced: { revision: '7', size: 1 },
  deletedHere: false,
  lastPullError,
});
const codes = (a: PathExplanation) => a.reasons.map((r) => r.code);

describe('why: the folder’s failing pull', () => {
  it('leaves a path the server confirmed in sync as it is, and says nothing without a failure', () => {
    const inSync = answer([{ code: 'in_sync', message: 'In sync' }]);
    expect(withPullFailure(inSync, true)).toBe(inSync);
    const healthy = answer([{ code: 'in_sync', message: 'In sync' }], null);
    expect(withPullFailure(healthy, false)).toBe(healthy);
  });

  it('takes the place of an unconfirmed "in sync", naming the error, the revision here and the next try', () => {
    const said = withPullFailure(answer([{ code: 'in_sync', message: 'In sync' }]), false);
    expect(said.inSync).toBe(false);
    expect(said.reasons).toEqual([
      {
        code: 'pull_failed',
        message:
          "The folder's pulls fail, so the server's newest version may not be here (this device has revision 7): unavailable: feed under maintenance (last failed 2026-12-02T08:00:00.000Z; retryable; next try 2026-12-02T08:00:05.000Z)",
      },
    ]);
  });

  it('comes right after "on the server", after the queue’s reasons otherwise', () => {
    expect(codes(withPullFailure(answer([{ code: 'on_server', message: 'On the server' }, { code: 'conflict', message: 'c' }]), false))).toEqual(['on_server', 'pull_failed', 'conflict']);
    expect(codes(withPullFailure(answer([{ code: 'pending', message: 'p' }]), false))).toEqual(['pending', 'pull_failed']);
    expect(codes(withPullFailure(answer([{ code: 'unknown', message: 'u' }]), false))).toEqual(['pull_failed', 'unknown']);
  });

  it('is not said twice: not beside the path’s own pull failure, a full disk already said, or an ignore rule', () => {
    for (const reasons of [[{ code: 'pull_failed', message: 'its own' }], [{ code: 'ignored', message: 'i' }]] as WhyReason[][]) {
      expect(codes(withPullFailure(answer(reasons), false))).toEqual(reasons.map((r) => r.code));
    }
    const full = answer([{ code: 'disk_full', message: 'full' }], { ...failure, code: 'disk_full', retryable: true });
    expect(codes(withPullFailure(full, false))).toEqual(['disk_full']);
    expect(withPullFailure(answer([{ code: 'pending', message: 'p' }], { ...failure, retryable: false, nextTryAt: null }), false).reasons[1]!.message).toMatch(
      /\(last failed .+; not retryable: it fails until its cause is fixed; the pull runs again\)$/,
    );
  });

  it('the server\'s newer revision comes with the next pull, or once Ferry is resumed while paused', () => {
    const unknown = { ...answer([{ code: 'in_sync', message: 'i' }], null), synced: { revision: '7', size: 1 } };
    const newer = { revision: '9', kind: 'file' as const, deleted: false, size: 2, mtime: 0, modificationDate: '2030-01-01T00:00:00.000Z', device: 'd2' };
    expect(serverReason(unknown, newer, () => 'desktop')?.reason.message).toBe('On the server at revision 9 written by desktop; this device has revision 7: the next pull brings it here');
    expect(serverReason(unknown, newer, () => 'desktop', true)?.reason.message).toBe('On the server at revision 9 written by desktop; this device has revision 7: the next pull brings it here once you resume');
  });

  // A new-user try: a file renamed on another device read "deleted here and on the server".
  it('says a path moved away on the server as the move, with where to', () => {
    const moved = { revision: '9', kind: 'file' as const, deleted: true, size: 0, mtime: 0, modificationDate: '2030-01-01T00:00:00.000Z', device: 'd2', movedTo: 'renamed.txt' };
    const goneHere = { ...answer([{ code: 'unknown', message: 'u' }], null), local: { exists: false, kind: null, size: null, modifiedAt: null }, synced: null };
    expect(serverReason(goneHere, moved, () => 'alpha')?.reason.message).toBe('In sync: moved to renamed.txt on the server (revision 9, by alpha), and not here either');
    const { movedTo: _, ...deleted } = moved;
    expect(serverReason(goneHere, deleted, () => 'alpha')?.reason.message).toBe('In sync: deleted on the server (revision 9, by alpha), and not here either');
    const stillHere = { ...answer([{ code: 'in_sync', message: 'i' }], null), synced: { revision: '7', size: 1 } };
    expect(serverReason(stillHere, moved, () => 'alpha')?.reason.message).toBe('Moved to renamed.txt on the server at revision 9 by alpha; this device has revision 7: the next pull brings it here');
  });
});
