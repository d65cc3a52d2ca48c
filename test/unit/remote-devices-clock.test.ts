import { describe, expect, it } from 'vitest';
import type { DeviceState } from '../../protocol';
import { onLocalClock } from '../../main/remote/client';

// `lastSeen` is by the server's clock; "not reporting" compares it with this computer's
// (docs/sync-api.md, "Devices"). Moved by the difference when the reply came, a server minutes
// behind or ahead reads the same as one in step.
describe('onLocalClock', () => {
  const device = (lastSeen: string): DeviceState => ({ device: 'd', name: 'desk', version: 'ferry/test', lastSeen, behind: 0, upToDate: true, pending: 0, failedCount: 0, failures: [] });
  const server = Date.parse('2026-12-07T18:00:00.000Z');

  it('moves lastSeen by how far this clock is from the server\'s', () => {
    const seen = device('2026-12-07T17:59:30.000Z'); // 30 s before the server answered
    const tenMinutesAhead = server + 10 * 60_000;
    expect(onLocalClock([seen], server, tenMinutesAhead)[0]!.lastSeen).toBe(new Date(tenMinutesAhead - 30_000).toISOString());
    const behind = server - 5 * 60_000;
    expect(onLocalClock([seen], server, behind)[0]!.lastSeen).toBe(new Date(behind - 30_000).toISOString());
  });

  it('leaves the list as it is when the clocks agree, or the server time is unreadable', () => {
    const list = [device('2026-12-07T17:59:30.000Z')];
    expect(onLocalClock(list, server, server)).toBe(list);
    expect(onLocalClock(list, Number.NaN, server)).toBe(list);
  });
});
