import { describe, expect, it } from 'vitest';
import { deviceLine, formatDevices } from '../../main/control/commands/devices';
import type { DeviceView } from '../../shared/ui-contract';

const now = Date.parse('2026-12-02T12:00:00Z');
const device = (over: Partial<DeviceView>): DeviceView => ({
  device: 'd1',
  name: 'desktop',
  version: 'ferry/0.1.0',
  self: false,
  lastSeen: new Date(now - 5 * 60_000).toISOString(),
  behind: 0,
  upToDate: true,
  pending: 0,
  failedCount: 0,
  failures: [],
  ...over,
});

describe('ferry devices output', () => {
  it('says up to date, N behind or not pulled yet, with when it was last seen', () => {
    expect(deviceLine(device({ self: true, name: 'laptop', lastSeen: new Date(now).toISOString() }), now)).toBe('laptop (this device) · up to date · last seen just now');
    expect(deviceLine(device({ behind: 1, upToDate: false }), now)).toBe('desktop · 1 change behind · last seen 5 min ago');
    expect(deviceLine(device({ behind: 12, upToDate: false, pending: 3 }), now)).toBe('desktop · 12 changes behind · last seen 5 min ago · 3 not sent yet');
    expect(deviceLine(device({ behind: null, upToDate: false }), now)).toBe('desktop · has not pulled yet · last seen 5 min ago');
  });

  it('names the failing paths with their codes, the first three', () => {
    const failures = ['a', 'b', 'c', 'd'].map((p) => ({ path: `${p}.txt`, code: 'local_io' }));
    expect(deviceLine(device({ failedCount: 4, failures }), now)).toBe(
      'desktop · up to date · last seen 5 min ago · 4 failing: a.txt (local_io), b.txt (local_io), c.txt (local_io), …',
    );
  });

  it('says why a folder’s devices could not be listed', () => {
    expect(formatDevices([{ folderId: 'docs', devices: [], error: 'The sync server cannot be reached' }], now)).toEqual([
      'docs:',
      '  could not ask the server: The sync server cannot be reached',
    ]);
    expect(formatDevices([{ folderId: 'docs', devices: [], error: null }], now)).toEqual(['docs:', '  no device has reported yet']);
  });
});
