import { describe, expect, it } from 'vitest';
import { deviceStateParts, SILENT_AFTER_MS } from '../../shared/device-words';

// Found by a new-user try: a device whose agent was quit read "up to date" on the others for
// three minutes, until the silence rule took it. Its last report says it stopped: said at once.
describe('a device whose agent was quit, in words', () => {
  // This computer's local time, whatever the test machine's time zone.
  const quitAt = new Date(2026, 11, 7, 14, 2, 30).getTime();
  const base = { behind: 0, pending: 0, failedCount: 0, self: false, lastSeen: new Date(quitAt).toISOString() };

  it('says it stopped, with the time it quit, at once: not up to date, not the silence rule', () => {
    const state = deviceStateParts({ ...base, stopped: true }, String, quitAt + 5_000);
    expect(state).toEqual({ parts: ['stopped (quit at 14:02)', 'up to date when it quit'], inSync: false });
    // Long after, it is still quit, not "not reporting".
    const later = deviceStateParts({ ...base, stopped: true, behind: 3 }, String, quitAt + SILENT_AFTER_MS + 60_000);
    expect(later).toEqual({ parts: ['stopped (quit at 14:02)', '3 changes behind'], inSync: false });
  });

  it('names the day when it quit on another day', () => {
    const state = deviceStateParts({ ...base, stopped: true }, String, quitAt + 2 * 86_400_000);
    expect(state.parts[0]).toBe('stopped (quit on 2026-12-07 at 14:02)');
  });

  it('reads a device that did not say it stopped (killed) by the silence rule, and one that reports again as it says', () => {
    expect(deviceStateParts(base, String, quitAt + 5_000)).toEqual({ parts: ['up to date'], inSync: true });
    expect(deviceStateParts(base, String, quitAt + SILENT_AFTER_MS + 1000).parts[0]).toBe('not reporting (stopped, or cannot reach the server)');
  });

  it('does not say this device itself stopped: it runs', () => {
    expect(deviceStateParts({ ...base, stopped: true, self: true }, String, quitAt + 5_000)).toEqual({ parts: ['up to date'], inSync: true });
  });
});
