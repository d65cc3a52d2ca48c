import { describe, expect, it } from 'vitest';
import { agentStateLabel, formatBytes, formatCount, formatCountOf, formatRate, formatRelative, percentDone, restoreOutcomeLine, syncSummary, undoOutcome, waitingForServer } from '../../renderer/format';
import type { FolderStatus } from '../../shared/ui-contract';
import { routeFromHash } from '../../renderer/router';
import { reconnectDelay } from '../../renderer/api/backoff';
import { parseLoginFragment } from '../../renderer/api/session';

describe('renderer formatting', () => {
  it('says what a waiting agent waits for: the answer to a held delete, or a folder not made yet', () => {
    expect(agentStateLabel('waiting', [{ state: 'error' }, { state: 'paused_mass_delete' }])).toBe('waiting for you');
    // Refused (a new-user try): "waiting for you" for a folder that is not made yet.
    expect(agentStateLabel('waiting', [{ state: 'error' }, { state: 'ok' }])).toBe('waiting for a folder');
    expect(agentStateLabel('auth_failed')).toBe('sign-in refused');
    expect(agentStateLabel('idle')).toBe('idle');
  });

  it('a restore says what came back, with a pronoun that agrees, and when: nothing back is said as such', () => {
    expect(restoreOutcomeLine({ restored: 2, folders: 2 }, false)).toBe('Restored 2 files and 2 folders; they come back here with the next pull.');
    expect(restoreOutcomeLine({ restored: 1, folders: 0 }, false)).toBe('Restored 1 file; it comes back here with the next pull.');
    // Paused, the next pull waits for the resume.
    expect(restoreOutcomeLine({ restored: 3, folders: 0 }, true)).toBe('Restored 3 files; they come back here once you resume.');
    // Refused: "Restored 0 files; they come back with the next pull".
    expect(restoreOutcomeLine({ restored: 0, folders: 0 }, false)).toBe('Nothing restored.');
  });
  it('the Undo banner says what came back, and that nothing did when every file was back already', () => {
    const skipped = (n: number) => Array.from({ length: n }, (_, i) => ({ path: `f${i}`, reason: 'not deleted' }));
    expect(undoOutcome({ restored: 8, failed: [], skipped: [] }, '/home/me/Docs')).toEqual({
      headline: 'Undo: 8 files restored in /home/me/Docs.',
      detail: 'They come back here and on every other device with the next pull.',
    });
    expect(undoOutcome({ restored: 1, failed: [{ path: 'x', code: 'blocks_collected', message: '' }], skipped: skipped(1) }, 'D').detail).toBe(
      'They come back here and on every other device with the next pull; 2 left as they are (written again or restored since, or no longer kept).',
    );
    // Refused: "0 files restored… They come back here", of files restored already.
    expect(undoOutcome({ restored: 0, failed: [], skipped: skipped(3) }, 'D')).toEqual({ headline: 'Undo: nothing to bring back in D.', detail: '3 files left as they are (written again or restored since, or no longer kept).' });
    expect(undoOutcome({ restored: 0, failed: [], skipped: skipped(1) }, 'D').detail).toBe('1 file left as it is (written again or restored since, or no longer kept).');
  });
  it('an item in flight while the server is unreachable or refuses the sign-in reads as waiting for it', () => {
    expect(waitingForServer('in_flight', 'auth_failed')).toBe('waiting for the server (sign-in refused)');
    expect(waitingForServer('in_flight', 'offline')).toBe('waiting for the server (offline)');
    // Online (or any other state), and for an item not claimed, the queue's own state is the truth.
    expect(waitingForServer('in_flight', 'syncing')).toBeNull();
    expect(waitingForServer('pending', 'offline')).toBeNull();
    expect(waitingForServer('in_flight', undefined)).toBeNull();
  });

  it('formats sizes and rates in SI units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.5 KB');
    expect(formatBytes(1_250_000)).toBe('1.3 MB');
    expect(formatBytes(250_000_000)).toBe('250 MB');
    expect(formatBytes(-1)).toBe('–');
    expect(formatRate(2_000_000_000)).toBe('2.0 GB/s');
    expect(formatCount(100000)).toBe('100,000');
  });

  it('says one file, not "1 files"', () => {
    expect(formatCountOf(1, 'file')).toBe('1 file');
    expect(formatCountOf(0, 'file')).toBe('0 files');
    expect(formatCountOf(1000, 'file')).toBe('1,000 files');
    expect(formatCountOf(2, 'entry', 'entries')).toBe('2 entries');
  });

  it('formats times relative to now', () => {
    const now = Date.parse('2025-01-01T12:00:00Z');
    expect(formatRelative(null, now)).toBe('never');
    expect(formatRelative('2025-01-01T12:00:30Z', now)).toBe('in 30 s');
    expect(formatRelative('2025-01-01T11:57:00Z', now)).toBe('3 min ago');
    expect(formatRelative('2025-01-01T10:00:00Z', now)).toBe('2 h ago');
    expect(formatRelative('2025-01-01T12:00:02Z', now)).toBe('just now');
  });

  it('computes progress percentages within 0-100', () => {
    expect(percentDone(512, 1024)).toBe(50);
    expect(percentDone(5, 0)).toBe(0);
    expect(percentDone(2000, 1000)).toBe(100);
  });
});

describe('renderer routing and session', () => {
  it('routes by hash and falls back to the folders view', () => {
    expect(routeFromHash('#/settings')).toBe('settings');
    expect(routeFromHash('#/activity')).toBe('activity');
    expect(routeFromHash('')).toBe('folders');
    expect(routeFromHash('#/nope')).toBe('folders');
    expect(routeFromHash('#login=abc')).toBe('folders');
    expect(routeFromHash('#/queue')).toBe('queue');
  });

  it('reads a login code only from a well-formed fragment', () => {
    expect(parseLoginFragment('#login=Ab-_09')).toBe('Ab-_09');
    expect(parseLoginFragment('#/queue')).toBeUndefined();
    expect(parseLoginFragment('#login=<script>')).toBeUndefined();
    expect(parseLoginFragment('#login=')).toBeUndefined();
  });

  it('backs off exponentially to a cap, with bounded jitter', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 10].map((attempt) => reconnectDelay(attempt, mid))).toEqual([500, 1000, 2000, 4000, 15000]);
    expect(reconnectDelay(0, () => 0)).toBe(375);
    expect(reconnectDelay(0, () => 1)).toBe(625);
  });
});

// A new-user try: a revoked device's folder card read "everything in sync" beside "sign-in refused".
describe('syncSummary: the folder card\'s line', () => {
  const folder = { id: 'docs', localPath: '/d', remoteId: 'docs', state: 'ok', error: null, lastSyncAt: null, pendingDelete: null } as unknown as FolderStatus;

  it('says everything is in sync only while the server can be asked', () => {
    expect(syncSummary(folder, 0, 0, 'idle')).toBe('everything in sync');
    expect(syncSummary(folder, 0, 0, 'auth_failed')).toBe("nothing to send; the server's changes are not known while signed out");
    expect(syncSummary(folder, 0, 0, 'offline')).toBe("nothing to send; the server's changes are not known while it cannot be reached");
  });

  it('names what is not in sync, or what the server has, first', () => {
    expect(syncSummary(folder, 2, 0, 'auth_failed')).toBe('2 not in sync');
    expect(syncSummary({ ...folder, pullError: 'unauthorized: refused' }, 0, 0, 'auth_failed')).toBe('changes from the server not coming');
    expect(syncSummary(folder, 0, 3, 'offline')).toBe('3 changes from the server not here yet');
  });

  // By review: "everything in sync" while `ferry why` said "not in sync: ignored" (docs/conflict-rules.md, "Ignored paths").
  it('never says everything is in sync while the server has paths a rule keeps from here, and says them after the rest', () => {
    expect(syncSummary({ ...folder, ignoredOnServer: 2 }, 0, 0, 'idle')).toBe('in sync except 2 paths on the server ignored here');
    expect(syncSummary({ ...folder, ignoredOnServer: 1 }, 0, 0, 'idle')).toBe('in sync except 1 path on the server ignored here');
    expect(syncSummary({ ...folder, ignoredOnServer: 2 }, 1, 3, 'idle')).toBe('1 not in sync; 3 changes from the server not here yet; 2 paths on the server ignored here');
    expect(syncSummary({ ...folder, ignoredOnServer: 2 }, 0, 0, 'offline')).toBe("nothing to send; the server's changes are not known while it cannot be reached; 2 paths on the server ignored here");
    // A held delete or a folder in error leads alone, as before.
    expect(syncSummary({ ...folder, state: 'error', ignoredOnServer: 2 }, 0, 0, 'idle')).toBe('not syncing');
  });
});
